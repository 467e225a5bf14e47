/**
 * A minimal zip reader (stored and deflate entries, no zip64/encryption) for the WikiText archives, plus
 * a tiny writer for tests. Entries are CRC-checked when extracted.
 *
 *   const entries = listZip(buf);  const bytes = readZipEntry(buf, entries.find(e => e.name.endsWith('wiki.valid.raw'))!);
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  method: number;
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

export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Central-directory listing. */
export function listZip(buf: Uint8Array): ZipEntry[] {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (v.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('zip: end of central directory not found (not a zip file?)');
  const count = v.getUint16(eocd + 10, true);
  let off = v.getUint32(eocd + 16, true);
  if (off === 0xffffffff || count === 0xffff) throw new Error('zip: zip64 archives are not supported');
  const out: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (v.getUint32(off, true) !== 0x02014b50) throw new Error('zip: bad central directory entry');
    const nameLen = v.getUint16(off + 28, true);
    const extraLen = v.getUint16(off + 30, true);
    const commentLen = v.getUint16(off + 32, true);
    out.push({
      method: v.getUint16(off + 10, true),
      crc32: v.getUint32(off + 16, true),
      compressedSize: v.getUint32(off + 20, true),
      size: v.getUint32(off + 24, true),
      localHeaderOffset: v.getUint32(off + 42, true),
      name: Buffer.from(buf.subarray(off + 46, off + 46 + nameLen)).toString('utf8'),
    });
    off += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** Uncompressed bytes of one entry (CRC-checked). */
export function readZipEntry(buf: Uint8Array, e: ZipEntry): Buffer {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const o = e.localHeaderOffset;
  if (v.getUint32(o, true) !== 0x04034b50) throw new Error(`zip: bad local header for ${e.name}`);
  const start = o + 30 + v.getUint16(o + 26, true) + v.getUint16(o + 28, true);
  const raw = buf.subarray(start, start + e.compressedSize);
  let data: Buffer;
  if (e.method === 0) data = Buffer.from(raw);
  else if (e.method === 8) data = inflateRawSync(raw);
  else throw new Error(`zip: compression method ${e.method} of ${e.name} not supported`);
  if (data.length !== e.size) throw new Error(`zip: ${e.name} inflated to ${data.length} bytes, expected ${e.size}`);
  if (crc32(data) !== e.crc32) throw new Error(`zip: CRC mismatch in ${e.name}`);
  return data;
}

/** Minimal zip writer (deflate), for tests. */
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
