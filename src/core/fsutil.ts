/**
 * Small file-system helpers: atomic writes (tmp file + rename, never a half file under the final name,
 * and no tmp file left behind when the write fails), folder creation that cannot loop, and removal of
 * the tmp files a killed process left.
 *
 *   ensureDir('runs/traj/FM-16-3k');            // clear error for '/proc/nope', a file in the way, EACCES
 *   writeFileAtomic('runs/x/summary.json', json);
 *   removeOrphanTmp('runs/nino', 'ckpt');        // after a successful resume
 *   createFileExclusive('runs/x/.lock', owner);  // false when it exists (locks, shard layouts)
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { threadId } from 'node:worker_threads';

/** A name no other process or worker thread picks at the same time: pid + thread id + random. */
export function uniqueSuffix(): string {
  return `${process.pid}.${threadId}.${randomBytes(4).toString('hex')}`;
}

/** the tmp file name writeFileAtomic uses for `path` */
export function tmpNameFor(path: string): string {
  return `${path}.${uniqueSuffix()}.tmp`;
}

/** errors of a file system without hard links (FUSE mounts of object stores such as s3fs, gcsfuse) */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Creates `path` with `data` only if it does not exist: false when it does. A fully written tmp file is
 * hard-linked to the name, so a reader never sees a half-written file; on a file system without hard
 * links it falls back to an exclusive create (O_EXCL), where a reader may for a moment see a shorter
 * file (lock readers wait for that, see core/lock.ts).
 */
export function createFileExclusive(path: string, data: string): boolean {
  const tmp = tmpNameFor(path);
  writeFileSync(tmp, data);
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (!NO_LINKS.has(code)) throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
  try {
    writeFileSync(path, data, { flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/**
 * mkdir -p without node's recursive mkdir (which loops forever on e.g. '/proc/nope'): walks up to the
 * first existing ancestor, then creates each missing folder once. Throws one clear line on failure.
 */
export function ensureDir(dir: string): void {
  const abs = resolve(dir);
  const missing: string[] = [];
  for (let cur = abs; ;) {
    let st;
    try {
      st = statSync(cur);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR')
        throw new Error(`cannot create folder '${dir}': ${cur} is not accessible (${code})`, { cause: e });
    }
    if (st) {
      if (!st.isDirectory()) throw new Error(`cannot create folder '${dir}': ${cur} exists and is not a folder`);
      break;
    }
    missing.push(cur);
    const up = dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(d).isDirectory()) continue;
      throw new Error(`cannot create folder '${dir}': mkdir ${d} failed (${code ?? (e as Error).message})`, {
        cause: e,
      });
    }
  }
}

/** Writes `path` atomically: a tmp file beside it, fsync, rename. A failed write removes its tmp file. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  ensureDir(dirname(path));
  const tmp = tmpNameFor(path);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w');
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // already failing: keep the first error
      }
    }
    rmSync(tmp, { force: true });
    // fs messages of write/fsync ("ENOSPC: no space left on device, write") do not name the file
    const msg = (e as Error).message;
    throw Object.assign(new Error(`cannot write ${path}: ${msg}`, { cause: e }), {
      code: (e as NodeJS.ErrnoException).code,
    });
  }
}

/**
 * Removes tmp files of writeFileAtomic (`<name>.<pid>.<thread>.<random>.tmp`, and the older `<name>.<pid>.tmp`)
 * in `dir` whose name starts with `prefix`: left by a process killed mid-write. Call only while holding
 * the folder's lock (another live writer's tmp file would go too). Returns the removed names.
 */
export function removeOrphanTmp(dir: string, prefix: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const f of names) {
    if (!f.startsWith(prefix) || !/\.\d+(\.\d+\.[0-9a-f]+)?\.tmp$/.test(f)) continue;
    rmSync(join(dir, f), { force: true });
    removed.push(basename(f));
  }
  return removed;
}
