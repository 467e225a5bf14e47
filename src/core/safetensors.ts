/**
 * safetensors read/write (https://huggingface.co/docs/safetensors): u64 LE header length, JSON header,
 * raw little-endian tensor data. Used for golden data, official checkpoints and nino's own checkpoints.
 *
 *   const st = readSafetensors(fs.readFileSync(path)); st.tensors['edge_index'].data
 *   fs.writeFileSync(path, writeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float32Array(2) } }, { key: 'v' }));
 */
export type DType = 'F32' | 'F64' | 'I32' | 'I64' | 'U8';
export type TypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface StTensor {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

export interface Safetensors {
  tensors: Record<string, StTensor>;
  /** key order as in the file header */
  order: string[];
  metadata: Record<string, string>;
}

const CTOR: Record<DType, { new (buf: ArrayBuffer, off: number, len: number): TypedArray; BYTES: number }> = {
  F32: Object.assign(Float32Array, { BYTES: 4 }) as never,
  F64: Object.assign(Float64Array, { BYTES: 8 }) as never,
  I32: Object.assign(Int32Array, { BYTES: 4 }) as never,
  I64: Object.assign(BigInt64Array, { BYTES: 8 }) as never,
  U8: Object.assign(Uint8Array, { BYTES: 1 }) as never,
};

export function readSafetensors(buf: Uint8Array, source = 'safetensors buffer'): Safetensors {
  if (buf.byteLength < 8) throw new Error(`${source}: too short to be a safetensors file (${buf.byteLength} bytes)`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n <= 0 || 8 + n > buf.byteLength) throw new Error(`${source}: bad safetensors header length ${n}`);
  let header: Record<
    string,
    { dtype: DType; shape: number[]; data_offsets: [number, number] } | Record<string, string>
  >;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n)));
  } catch (e) {
    throw new Error(`${source}: safetensors header is not valid JSON (${(e as Error).message})`, { cause: e });
  }
  const dataStart = 8 + n;
  const tensors: Record<string, StTensor> = {};
  const order: string[] = [];
  let metadata: Record<string, string> = {};
  for (const [key, v] of Object.entries(header)) {
    if (key === '__metadata__') {
      metadata = v as Record<string, string>;
      continue;
    }
    const t = v as { dtype: DType; shape: number[]; data_offsets: [number, number] };
    const ctor = CTOR[t.dtype];
    if (!ctor) throw new Error(`${source}: tensor '${key}' has unsupported dtype ${t.dtype}`);
    const [a, b] = t.data_offsets;
    if (dataStart + b > buf.byteLength)
      throw new Error(`${source}: tensor '${key}' runs past the end of the file (truncated?)`);
    const bytes = b - a;
    // copy so the array is aligned and independent of the file buffer
    const copy = new Uint8Array(bytes);
    copy.set(buf.subarray(dataStart + a, dataStart + b));
    tensors[key] = { dtype: t.dtype, shape: t.shape, data: new ctor(copy.buffer, 0, bytes / ctor.BYTES) };
    order.push(key);
  }
  return { tensors, order, metadata };
}

export function writeSafetensors(tensors: Record<string, StTensor>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  const keys = Object.keys(tensors);
  for (const k of keys) {
    const t = tensors[k];
    const bytes = t.data.byteLength;
    header[k] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  const json = JSON.stringify(header);
  const enc = new TextEncoder();
  let hb = enc.encode(json);
  const pad = (8 - (hb.byteLength % 8)) % 8;
  if (pad) hb = enc.encode(json + ' '.repeat(pad));
  const out = new Uint8Array(8 + hb.byteLength + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.byteLength), true);
  out.set(hb, 8);
  let p = 8 + hb.byteLength;
  for (const k of keys) {
    const d = tensors[k].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), p);
    p += d.byteLength;
  }
  return out;
}
