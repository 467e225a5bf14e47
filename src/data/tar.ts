/**
 * A minimal tar reader (ustar, GNU long names 'L', PAX 'x' path records), in memory or streaming from a
 * .tar.gz on disk (multi-GB archives such as LM1B's never sit in memory), plus a tiny writer for tests.
 *
 *   const entries = readTar(gunzipSync(buf));                   // [{ name, type, data }]
 *   const written = await extractTar('x.tar.gz', outDir, (name) => name.endsWith('.bin'));
 */
import { createReadStream, mkdirSync, openSync, closeSync, writeSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import { createGunzip, gunzipSync } from 'node:zlib';

export interface TarEntry {
  name: string;
  size: number;
  type: 'file' | 'dir' | 'other';
  /** file contents (readTar only) */
  data?: Uint8Array;
}

const BLOCK = 512;

function cstr(b: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return Buffer.from(b.subarray(off, end)).toString('utf8');
}

function octal(b: Uint8Array, off: number, len: number): number {
  if (b[off] & 0x80) {
    // GNU base-256 for large sizes
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i];
    return v;
  }
  const s = cstr(b, off, len).trim();
  return s ? parseInt(s, 8) : 0;
}

interface Header {
  name: string;
  size: number;
  flag: string;
}

/** Parses a 512-byte header; null for an all-zero (end) block. Verifies the checksum. */
function parseHeader(b: Uint8Array): Header | null {
  let zero = true;
  for (let i = 0; i < BLOCK; i++)
    if (b[i] !== 0) {
      zero = false;
      break;
    }
  if (zero) return null;
  const stored = octal(b, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : b[i];
  if (sum !== stored) throw new Error(`tar: bad header checksum (stored ${stored}, computed ${sum}); not a tar file?`);
  let name = cstr(b, 0, 100);
  const magic = cstr(b, 257, 6);
  if (magic.startsWith('ustar')) {
    const prefix = cstr(b, 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  const flag = String.fromCharCode(b[156] || 48);
  return { name, size: octal(b, 124, 12), flag };
}

function paxPath(data: Uint8Array): string | null {
  const s = Buffer.from(data).toString('utf8');
  let i = 0;
  while (i < s.length) {
    const sp = s.indexOf(' ', i);
    if (sp < 0) break;
    const len = parseInt(s.slice(i, sp), 10);
    if (!(len > 0)) break;
    const rec = s.slice(sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (rec.slice(0, eq) === 'path') return rec.slice(eq + 1);
    i += len;
  }
  return null;
}

const kind = (flag: string): TarEntry['type'] =>
  flag === '0' || flag === '7' ? 'file' : flag === '5' ? 'dir' : 'other';

/**
 * Incremental tar parser: feed chunks, get callbacks per entry. `onEntry` returns a data sink for the
 * entry (or null to skip it); the sink receives the entry's bytes in order, then `end()`.
 */
export class TarParser {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private state: 'header' | 'data' | 'pad' | 'meta' | 'done' = 'header';
  private remaining = 0;
  private pad = 0;
  private sink: { write(b: Uint8Array): void; end(): void } | null = null;
  private metaFlag = '';
  private metaBuf: Buffer[] = [];
  private longName: string | null = null;

  constructor(private readonly onEntry: (e: TarEntry) => { write(b: Uint8Array): void; end(): void } | null) {}

  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.pending = rest.length ? [rest] : [];
    this.pendingLen = rest.length;
    return out;
  }

  push(chunk: Uint8Array): void {
    this.pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.pendingLen += chunk.byteLength;
    for (;;) {
      if (this.state === 'done') {
        this.pending = [];
        this.pendingLen = 0;
        return;
      }
      if (this.state === 'header') {
        if (this.pendingLen < BLOCK) return;
        const h = parseHeader(this.take(BLOCK));
        if (!h) {
          this.state = 'done';
          continue;
        }
        this.pad = (BLOCK - (h.size % BLOCK)) % BLOCK;
        this.remaining = h.size;
        if (h.flag === 'L' || h.flag === 'x' || h.flag === 'g') {
          this.metaFlag = h.flag;
          this.metaBuf = [];
          this.state = 'meta';
        } else {
          const name = this.longName ?? h.name;
          this.longName = null;
          this.sink = this.onEntry({ name, size: h.size, type: kind(h.flag) });
          this.state = 'data';
        }
        if (this.remaining === 0) this.finishData();
        continue;
      }
      if (this.state === 'data' || this.state === 'meta') {
        if (this.pendingLen === 0) return;
        const n = Math.min(this.remaining, this.pendingLen);
        const piece = this.take(n);
        if (this.state === 'meta') this.metaBuf.push(Buffer.from(piece));
        else this.sink?.write(piece);
        this.remaining -= n;
        if (this.remaining === 0) this.finishData();
        continue;
      }
      if (this.state === 'pad') {
        if (this.pendingLen < this.pad) return;
        this.take(this.pad);
        this.state = 'header';
      }
    }
  }

  private finishData(): void {
    if (this.state === 'meta') {
      const data = Buffer.concat(this.metaBuf);
      if (this.metaFlag === 'L') this.longName = cstr(data, 0, data.length);
      else if (this.metaFlag === 'x') this.longName = paxPath(data) ?? this.longName;
    } else {
      this.sink?.end();
      this.sink = null;
    }
    this.state = 'pad';
  }

  /** throws if the archive ended in the middle of an entry */
  end(): void {
    const partialHeader = this.state === 'header' && this.pendingLen > 0;
    if (
      partialHeader ||
      this.state === 'data' ||
      this.state === 'meta' ||
      (this.state === 'pad' && this.pendingLen < this.pad)
    ) {
      throw new Error('tar: archive is truncated');
    }
  }
}

/** All entries of an in-memory tar (gzip detected and inflated). */
export function readTar(buf: Uint8Array): TarEntry[] {
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const out: TarEntry[] = [];
  const p = new TarParser((e) => {
    const parts: Buffer[] = [];
    out.push(e);
    return {
      write: (b) => parts.push(Buffer.from(b)),
      end: () => {
        e.data = new Uint8Array(Buffer.concat(parts));
      },
    };
  });
  p.push(buf);
  p.end();
  for (const e of out) if (!e.data) e.data = new Uint8Array(0);
  return out;
}

/** Rejects absolute names and names escaping the destination. */
export function safeEntryPath(dest: string, name: string): string {
  const n = normalize(name);
  if (n.startsWith(sep) || n.startsWith('..') || n.includes(`${sep}..${sep}`) || /^[A-Za-z]:/.test(n)) {
    throw new Error(`tar: refusing entry outside the destination: ${name}`);
  }
  return join(dest, n);
}

/**
 * Streams a .tar or .tar.gz from disk into `dest`, writing the regular files whose name passes `filter`.
 * Returns the written paths.
 */
export async function extractTar(
  archive: string,
  dest: string,
  filter: (name: string) => boolean = () => true,
): Promise<string[]> {
  const written: string[] = [];
  const parser = new TarParser((e) => {
    if (e.type !== 'file' || !filter(e.name)) return null;
    const path = safeEntryPath(dest, e.name);
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, 'w');
    written.push(path);
    return { write: (b) => void writeSync(fd, b), end: () => closeSync(fd) };
  });
  const head = await new Promise<Buffer>((resolve, reject) => {
    const s = createReadStream(archive, { start: 0, end: 1 });
    const parts: Buffer[] = [];
    s.on('data', (c) => parts.push(c as Buffer));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
  const gz = head[0] === 0x1f && head[1] === 0x8b;
  await new Promise<void>((resolve, reject) => {
    const src = createReadStream(archive);
    const stream = gz ? src.pipe(createGunzip()) : src;
    src.on('error', reject);
    stream.on('data', (c: Buffer) => {
      try {
        parser.push(c);
      } catch (e) {
        src.destroy();
        reject(e);
      }
    });
    stream.on('end', () => {
      try {
        parser.end();
        resolve();
      } catch (e) {
        reject(e);
      }
    });
    stream.on('error', reject);
  });
  return written;
}

/** Minimal ustar writer (regular files and directories), for tests and small archives. */
export function writeTar(entries: { name: string; data?: Uint8Array; type?: 'file' | 'dir' }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? new Uint8Array(0);
    const h = Buffer.alloc(BLOCK);
    let name = e.name;
    let prefix = '';
    if (Buffer.byteLength(name) > 100) {
      const cut = name.lastIndexOf('/', name.length - 1);
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
      if (Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155)
        throw new Error(`tar: name too long: ${e.name}`);
    }
    h.write(name, 0, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write(e.type === 'dir' ? '5' : '0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    if (prefix) h.write(prefix, 345, 'utf8');
    h.fill(32, 148, 156);
    let sum = 0;
    for (const v of h) sum += v;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, Buffer.from(data), Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK));
  }
  blocks.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(blocks);
}
