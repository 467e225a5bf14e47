/**
 * Reads official PyTorch `.pt` checkpoints without Python: the zip archive is read with src/core/zip.ts
 * (stored or deflated entries, zip64, CRC-checked) and data.pkl by a restricted pickle VM that only
 * knows the opcodes and globals a `torch.save`d state_dict needs. Anything else is refused with a clear error, so a hostile
 * pickle cannot run code (there is no code to run: globals are a fixed allow-list of pure builders).
 *
 *   const obj = readTorchCheckpoint(bytes);   // e.g. Map-like dicts: obj.state_dict (Map), obj.model_args
 *   tensors: { dtype: 'float32', shape: [15, 128], data: Float32Array }
 * Dicts come back as `Map` for state dicts/OrderedDicts and plain objects are NOT used, so key order and
 * non-string keys survive; `readTorchCheckpoint` converts the top-level dict's plain string-keyed
 * entries (like model_args) to objects for convenience.
 */
import { listZip, readZipEntry } from '../core/zip.ts';

// ---------------------------------------------------------------- pickle

export type TorchDType =
  'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export interface TorchTensor {
  /** original torch dtype; float16/bfloat16 are upcast to float32 data */
  dtype: TorchDType;
  shape: number[];
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;
}

interface Storage {
  __storage: true;
  dtype: TorchDType;
  key: string;
  numel: number;
}
class Global {
  constructor(readonly name: string) {}
}
class Tuple extends Array<unknown> {}
const MARK = Symbol('mark');

const STORAGE_DTYPES: Record<string, TorchDType> = {
  'torch.FloatStorage': 'float32',
  'torch.DoubleStorage': 'float64',
  'torch.HalfStorage': 'float16',
  'torch.BFloat16Storage': 'bfloat16',
  'torch.LongStorage': 'int64',
  'torch.IntStorage': 'int32',
  'torch.ShortStorage': 'int16',
  'torch.CharStorage': 'int8',
  'torch.ByteStorage': 'uint8',
  'torch.BoolStorage': 'bool',
};
const DTYPE_BYTES: Record<TorchDType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};
const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  ...Object.keys(STORAGE_DTYPES),
]);

function half2float(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function typedFromBytes(bytes: Uint8Array, dtype: TorchDType): TorchTensor['data'] {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const b = copy.buffer;
  switch (dtype) {
    case 'float32':
      return new Float32Array(b);
    case 'float64':
      return new Float64Array(b);
    case 'int64':
      return new BigInt64Array(b);
    case 'int32':
      return new Int32Array(b);
    case 'int16':
      return new Int16Array(b);
    case 'int8':
      return new Int8Array(b);
    case 'uint8':
    case 'bool':
      return copy;
    case 'float16': {
      const u = new Uint16Array(b);
      return Float32Array.from(u, half2float);
    }
    case 'bfloat16': {
      const u = new Uint16Array(b);
      const out = new Float32Array(u.length);
      const o32 = new Uint32Array(out.buffer);
      for (let i = 0; i < u.length; i++) o32[i] = u[i] << 16;
      return out;
    }
  }
}

/**
 * Runs the restricted pickle VM. `persistentLoad` resolves BINPERSID ids; `callGlobal` applies REDUCE
 * to an allowed global.
 */
export function unpickle(
  data: Uint8Array,
  persistentLoad: (pid: unknown) => unknown,
  callGlobal: (name: string, args: unknown[]) => unknown,
  source = 'pickle',
): unknown {
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const dec = new TextDecoder();
  let p = 0;
  const need = (n: number) => {
    if (p + n > data.length) throw new Error(`${source}: truncated pickle`);
  };
  /** the next n bytes as a string (the string opcodes) */
  const str = (n: number): string => {
    need(n);
    const v = dec.decode(data.subarray(p, p + n));
    p += n;
    return v;
  };
  const popMark = (): unknown[] => {
    let i = stack.length - 1;
    while (i >= 0 && stack[i] !== MARK) i--;
    if (i < 0) throw new Error(`${source}: pickle MARK not found`);
    const items = stack.splice(i + 1);
    stack.pop();
    return items;
  };
  const top = () => {
    if (!stack.length) throw new Error(`${source}: pickle stack underflow`);
    return stack[stack.length - 1];
  };
  const pop = () => {
    if (!stack.length) throw new Error(`${source}: pickle stack underflow`);
    return stack.pop();
  };
  const setItems = (d: unknown, kv: unknown[]) => {
    if (!(d instanceof Map)) throw new Error(`${source}: SETITEM(S) on a non-dict`);
    for (let i = 0; i + 1 < kv.length; i += 2) d.set(kv[i], kv[i + 1]);
  };
  for (;;) {
    need(1);
    const op = data[p++];
    switch (op) {
      case 0x80:
        need(1);
        if (data[p] > 5) throw new Error(`${source}: pickle protocol ${data[p]} not supported`);
        p += 1;
        break; // PROTO
      case 0x95:
        need(8);
        p += 8;
        break; // FRAME
      case 0x7d:
        stack.push(new Map());
        break; // } EMPTY_DICT
      case 0x5d:
        stack.push([]);
        break; // ] EMPTY_LIST
      case 0x29:
        stack.push(new Tuple());
        break; // ) EMPTY_TUPLE
      case 0x28:
        stack.push(MARK);
        break; // ( MARK
      case 0x71:
        need(1);
        memo.set(data[p++], top());
        break; // q BINPUT
      case 0x72:
        need(4);
        memo.set(dv.getUint32(p, true), top());
        p += 4;
        break; // r LONG_BINPUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x68: {
        need(1);
        const k = data[p++];
        if (!memo.has(k)) throw new Error(`${source}: bad memo key ${k}`);
        stack.push(memo.get(k));
        break;
      } // h BINGET
      case 0x6a: {
        need(4);
        const k = dv.getUint32(p, true);
        p += 4;
        if (!memo.has(k)) throw new Error(`${source}: bad memo key ${k}`);
        stack.push(memo.get(k));
        break;
      } // j LONG_BINGET
      case 0x58: {
        need(4);
        const n = dv.getUint32(p, true);
        p += 4;
        stack.push(str(n));
        break;
      } // X BINUNICODE
      case 0x8c: {
        need(1);
        const n = data[p++];
        stack.push(str(n));
        break;
      } // SHORT_BINUNICODE
      case 0x54: {
        need(4);
        const n = dv.getInt32(p, true);
        p += 4;
        stack.push(str(n));
        break;
      } // T BINSTRING
      case 0x55: {
        need(1);
        const n = data[p++];
        stack.push(str(n));
        break;
      } // U SHORT_BINSTRING
      case 0x63: {
        // c GLOBAL
        const nl1 = data.indexOf(0x0a, p);
        const nl2 = data.indexOf(0x0a, nl1 + 1);
        if (nl1 < 0 || nl2 < 0) throw new Error(`${source}: truncated GLOBAL`);
        const name = `${dec.decode(data.subarray(p, nl1))}.${dec.decode(data.subarray(nl1 + 1, nl2))}`;
        p = nl2 + 1;
        if (!ALLOWED_GLOBALS.has(name))
          throw new Error(`${source}: refusing pickle global '${name}' (not needed by a checkpoint)`);
        stack.push(new Global(name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const n = pop();
        const m = pop();
        const name = `${m}.${n}`;
        if (!ALLOWED_GLOBALS.has(name))
          throw new Error(`${source}: refusing pickle global '${name}' (not needed by a checkpoint)`);
        stack.push(new Global(name));
        break;
      }
      case 0x51:
        stack.push(persistentLoad(pop()));
        break; // Q BINPERSID
      case 0x4b:
        need(1);
        stack.push(data[p++]);
        break; // K BININT1
      case 0x4d:
        need(2);
        stack.push(dv.getUint16(p, true));
        p += 2;
        break; // M BININT2
      case 0x4a:
        need(4);
        stack.push(dv.getInt32(p, true));
        p += 4;
        break; // J BININT
      case 0x8a: {
        // LONG1
        need(1);
        const n = data[p++];
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[p + i]);
        if (n > 0 && data[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47:
        need(8);
        stack.push(dv.getFloat64(p, false));
        p += 8;
        break; // G BINFLOAT
      case 0x74:
        stack.push(Tuple.from(popMark()) as Tuple);
        break; // t TUPLE
      case 0x85: {
        const a = pop();
        const t = new Tuple();
        t.push(a);
        stack.push(t);
        break;
      } // TUPLE1
      case 0x86: {
        const b = pop();
        const a = pop();
        const t = new Tuple();
        t.push(a, b);
        stack.push(t);
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        const t = new Tuple();
        t.push(a, b, c);
        stack.push(t);
        break;
      } // TUPLE3
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x4e:
        stack.push(null);
        break; // N NONE
      case 0x52: {
        // R REDUCE
        const args = pop();
        const f = pop();
        if (!(f instanceof Global)) throw new Error(`${source}: REDUCE on a non-global`);
        if (!Array.isArray(args)) throw new Error(`${source}: REDUCE args are not a tuple`);
        stack.push(callGlobal(f.name, args));
        break;
      }
      case 0x62: {
        // b BUILD: only OrderedDict/_metadata-style attribute state is accepted (ignored)
        const state = pop();
        const obj = top();
        if (!(obj instanceof Map) || !(state instanceof Map || state === null))
          throw new Error(`${source}: unsupported BUILD`);
        break;
      }
      case 0x73: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      } // s SETITEM
      case 0x75: {
        const kv = popMark();
        setItems(top(), kv);
        break;
      } // u SETITEMS
      case 0x61: {
        const v = pop();
        const l = top();
        if (!Array.isArray(l)) throw new Error(`${source}: APPEND on a non-list`);
        l.push(v);
        break;
      } // a APPEND
      case 0x65: {
        const items = popMark();
        const l = top();
        if (!Array.isArray(l)) throw new Error(`${source}: APPENDS on a non-list`);
        l.push(...items);
        break;
      } // e APPENDS
      case 0x2e:
        return pop(); // . STOP
      default:
        throw new Error(
          `${source}: unsupported pickle opcode 0x${op.toString(16)} at byte ${p - 1} (not needed by a checkpoint)`,
        );
    }
  }
}

function materialize(
  bytes: Uint8Array,
  dtype: TorchDType,
  offset: number,
  shape: number[],
  stride: number[],
  source: string,
): TorchTensor {
  const all = typedFromBytes(bytes, dtype);
  const n = shape.reduce((a, b) => a * b, 1);
  // contiguous fast path
  let contiguous = true;
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== acc) contiguous = false;
    acc *= shape[i];
  }
  let maxIdx = offset;
  for (let i = 0; i < shape.length; i++) if (shape[i] > 0) maxIdx += (shape[i] - 1) * stride[i];
  if (n > 0 && maxIdx >= all.length) throw new Error(`${source}: tensor view runs past its storage`);
  const Ctor = all.constructor as new (n: number) => TorchTensor['data'];
  if (contiguous) {
    const out = new Ctor(n);
    (out as Float32Array).set((all as Float32Array).subarray(offset, offset + n));
    return { dtype, shape, data: out };
  }
  const out = new Ctor(n) as Float32Array;
  const idx = new Array(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let o = offset;
    for (let d = 0; d < shape.length; d++) o += idx[d] * stride[d];
    out[i] = (all as Float32Array)[o];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return { dtype, shape, data: out };
}

/**
 * Reads a torch.save zip checkpoint. Returns the unpickled object: dicts are `Map`s, tensors are
 * `TorchTensor`s, tuples/lists arrays. The top-level dict (if any) is returned as a plain object whose
 * values keep their types, except nested string-keyed non-tensor dicts (e.g. model_args) which become
 * plain objects too; state dicts stay `Map`s.
 */
export function readTorchCheckpoint(buf: Uint8Array, source = '.pt'): unknown {
  const entries = listZip(buf, source);
  const pkl = entries.find((e) => e.name === 'data.pkl' || e.name.endsWith('/data.pkl'));
  if (!pkl)
    throw new Error(`${source}: no data.pkl in the archive (legacy non-zip torch.save files are not supported)`);
  const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const bo = byName.get(`${prefix}byteorder`);
  if (bo) {
    const order = new TextDecoder().decode(readZipEntry(buf, bo, source)).trim();
    if (order !== 'little') throw new Error(`${source}: byteorder '${order}' not supported`);
  }
  const storageBytes = new Map<string, Uint8Array>();
  const persistentLoad = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5)
      throw new Error(`${source}: unsupported persistent id ${JSON.stringify(pid)}`);
    const [, type, key, , numel] = pid as [string, unknown, string, string, number];
    if (!(type instanceof Global) || !(type.name in STORAGE_DTYPES))
      throw new Error(`${source}: unsupported storage type`);
    return { __storage: true, dtype: STORAGE_DTYPES[type.name], key: String(key), numel: Number(numel) };
  };
  const callGlobal = (name: string, args: unknown[]): unknown => {
    if (name === 'collections.OrderedDict') {
      const m = new Map();
      if (args.length && Array.isArray(args[0])) for (const kv of args[0] as unknown[][]) m.set(kv[0], kv[1]);
      return m;
    }
    if (name === 'torch._utils._rebuild_parameter') return args[0];
    if (name === 'torch._utils._rebuild_tensor_v2') {
      const [st, offset, size, stride] = args as [Storage, number, number[], number[]];
      if (!st || !(st as Storage).__storage) throw new Error(`${source}: _rebuild_tensor_v2 without a storage`);
      let bytes = storageBytes.get(st.key);
      if (!bytes) {
        const ent = byName.get(`${prefix}data/${st.key}`);
        if (!ent) throw new Error(`${source}: storage '${st.key}' missing from the archive`);
        bytes = readZipEntry(buf, ent, source);
        if (bytes.length !== st.numel * DTYPE_BYTES[st.dtype])
          throw new Error(
            `${source}: storage '${st.key}' has ${bytes.length} bytes, expected ${st.numel * DTYPE_BYTES[st.dtype]}`,
          );
        storageBytes.set(st.key, bytes);
      }
      return materialize(bytes, st.dtype, Number(offset), [...size].map(Number), [...stride].map(Number), source);
    }
    if (name in STORAGE_DTYPES) throw new Error(`${source}: direct storage construction is not supported`);
    throw new Error(`${source}: refusing to call '${name}'`);
  };
  const obj = unpickle(readZipEntry(buf, pkl, source), persistentLoad, callGlobal, `${source}:data.pkl`);
  const isTensorMap = (m: Map<unknown, unknown>) =>
    [...m.values()].some((v) => v && typeof v === 'object' && 'shape' in (v as object));
  const toPlain = (v: unknown): unknown => {
    if (v instanceof Map && !isTensorMap(v) && [...v.keys()].every((k) => typeof k === 'string')) {
      return Object.fromEntries([...v.entries()].map(([k, x]) => [k, toPlain(x)]));
    }
    return v;
  };
  if (obj instanceof Map && [...obj.keys()].every((k) => typeof k === 'string') && !isTensorMap(obj)) {
    return Object.fromEntries([...obj.entries()].map(([k, v]) => [k, toPlain(v)]));
  }
  return obj;
}
