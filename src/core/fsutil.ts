/** Small file-system helpers: atomic writes (tmp file + rename, never a half file under the final name). */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  try {
    writeAtomic(path, data);
  } catch (e) {
    // fs messages of write/fsync/rename ("ENOSPC: no space left on device, write") do not name the file
    const msg = (e as Error).message;
    throw Object.assign(new Error(msg.includes(path) ? msg : `cannot write ${path}: ${msg}`, { cause: e }), { code: (e as NodeJS.ErrnoException).code });
  }
}

function writeAtomic(path: string, data: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
