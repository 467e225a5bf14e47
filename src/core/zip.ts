/**
 * The project's one zip reader/writer. Reads an in-memory archive from its central directory (zip64
 * counts, sizes and offsets included), extracts stored and deflated entries and checks each one's size
 * and CRC-32; errors name the source (a path or label) and the entry. Encrypted entries and other
 * compression methods are refused. `writeZip` is a tiny deflate-only writer, used by tests.
 * Users: the WikiText loader (src/data/wikitext.ts) and the PyTorch `.pt` reader (src/model/torch-pt.ts).
 *
 *   const entries = listZip(buf, 'wikitext-103-raw-v1.zip');          // [{ name, method, size, ... }]
 *   const bytes = readZipEntry(buf, entries.find((e) => e.name.endsWith('wiki.valid.raw'))!, 'wikitext-103-raw-v1.zip');
 *   npx tsx -e "import { listZip, writeZip } from './src/core/zip.ts'; console.log(listZip(writeZip([{ name: 'a', data: Buffer.from('hi') }])))"
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate */
  method: number;
  /** general-purpose bit flags (bit 0: encrypted) */
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE, as zip uses it). */
export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function u16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}
function u32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000;
}
function u64(b: Uint8Array, o: number, source: string): number {
  const v = u32(b, o) + u32(b, o + 4) * 0x100000000;
  if (!Number.isSafeInteger(v)) throw new Error(`${source}: zip64 value too large`);
  return v;
}

/** Lists an archive's entries from its central directory (zip64 supported). */
export function listZip(buf: Uint8Array, source = 'zip'): ZipEntry[] {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (buf[i] === 0x50 && buf[i + 1] === 0x4b && buf[i + 2] === 0x05 && buf[i + 3] === 0x06) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${source}: not a zip archive (no end-of-central-directory record)`);
  let count = u16(buf, eocd + 10);
  let cdOff = u32(buf, eocd + 16);
  if (count === 0xffff || cdOff === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(buf, loc) !== 0x07064b50) throw new Error(`${source}: zip64 locator missing`);
    const z = u64(buf, loc + 8, source);
    if (z + 56 > buf.length || u32(buf, z) !== 0x06064b50)
      throw new Error(`${source}: bad zip64 end-of-central-directory record`);
    count = u64(buf, z + 32, source);
    cdOff = u64(buf, z + 48, source);
  }
  const out: ZipEntry[] = [];
  let p = cdOff;
  const dec = new TextDecoder();
  for (let i = 0; i < count; i++) {
    if (p + 46 > buf.length || u32(buf, p) !== 0x02014b50)
      throw new Error(`${source}: corrupt zip central directory at ${p}`);
    const flags = u16(buf, p + 8);
    const method = u16(buf, p + 10);
    const crc = u32(buf, p + 16);
    let compressedSize = u32(buf, p + 20);
    let size = u32(buf, p + 24);
    const nameLen = u16(buf, p + 28);
    const extraLen = u16(buf, p + 30);
    const commentLen = u16(buf, p + 32);
    let localHeaderOffset = u32(buf, p + 42);
    if (p + 46 + nameLen + extraLen + commentLen > buf.length)
      throw new Error(`${source}: corrupt zip central directory at ${p}`);
    const name = dec.decode(buf.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended information extra field: only the saturated fields are present, in this order
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = u16(buf, e);
      const len = u16(buf, e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) {
          size = u64(buf, q, source);
          q += 8;
        }
        if (compressedSize === 0xffffffff) {
          compressedSize = u64(buf, q, source);
          q += 8;
        }
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(buf, q, source);
      }
      e += 4 + len;
    }
    out.push({ name, method, flags, crc32: crc, compressedSize, size, localHeaderOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/**
 * An entry's uncompressed bytes, size- and CRC-checked. Stored entries come back as a view into `buf`
 * (no copy); deflated ones as a fresh buffer.
 */
export function readZipEntry(buf: Uint8Array, e: ZipEntry, source = 'zip'): Buffer {
  const p = e.localHeaderOffset;
  if (p + 30 > buf.length || u32(buf, p) !== 0x04034b50) throw new Error(`${source}: bad local header for '${e.name}'`);
  if (e.flags & 1) throw new Error(`${source}: entry '${e.name}' is encrypted (not supported)`);
  const start = p + 30 + u16(buf, p + 26) + u16(buf, p + 28);
  const raw = buf.subarray(start, start + e.compressedSize);
  if (raw.length !== e.compressedSize) throw new Error(`${source}: entry '${e.name}' is truncated`);
  let data: Buffer;
  if (e.method === 0) data = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  else if (e.method === 8) data = inflateRawSync(raw);
  else throw new Error(`${source}: entry '${e.name}' uses unsupported zip compression method ${e.method}`);
  if (data.length !== e.size)
    throw new Error(`${source}: entry '${e.name}' has ${data.length} bytes, expected ${e.size}`);
  if (crc32(data) !== e.crc32) throw new Error(`${source}: CRC mismatch in entry '${e.name}'`);
  return data;
}

/** Minimal zip writer (deflate, no zip64), for tests. */
export function writeZip(files: { name: string; data: Uint8Array }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const name = Buffer.from(f.name);
    const comp = deflateRawSync(f.data);
    const crc = crc32(f.data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(8, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(comp.length, 18);
    lh.writeUInt32LE(f.data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(8, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(comp.length, 20);
    ch.writeUInt32LE(f.data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, name, comp);
    centrals.push(ch, name);
    offset += 30 + name.length + comp.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(files.length, 8);
  eocd.writeUInt16LE(files.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}
