/**
 * Where dataset files come from: lookup order, cache folder, checksummed downloads, and the error that
 * lists every place looked when a dataset is missing and cannot be fetched.
 *
 * Lookup order for a dataset `name` (each loader passes its own list of required files):
 *   1. an explicit `dataDir` option (e.g. the CLI's --data-dir)
 *   2. $NINO_DATA_DIR and $NINO_DATA_DIR/<name>
 *   3. /usr/share/datasets/<name> (Debian `dataset-*` packages, e.g. dataset-fashion-mnist)
 *   4. the cache: $NINO_CACHE_DIR/<name> or ~/.cache/nino/<name>
 *   5. download from the official URL into the cache (checksum-verified), unless `download: false` or
 *      NINO_OFFLINE=1.
 *
 *   const dir = findDir('fashion-mnist', [['train-images-idx3-ubyte.gz', 'train-images-idx3-ubyte']], opts);
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface SourceOptions {
  /** explicit folder holding the dataset files (highest priority) */
  dataDir?: string;
  /** cache folder root (default $NINO_CACHE_DIR or ~/.cache/nino) */
  cacheDir?: string;
  /** allow downloading into the cache (default: true unless NINO_OFFLINE=1) */
  download?: boolean;
  /** root of system-installed datasets (default /usr/share/datasets); tests point it elsewhere */
  systemRoot?: string;
}

/** Root of nino's cache: NINO_CACHE_DIR, else ~/.cache/nino. */
export function cacheRoot(opts: SourceOptions = {}): string {
  return opts.cacheDir ?? process.env.NINO_CACHE_DIR ?? join(homedir(), '.cache', 'nino');
}

/** Cache folder for one dataset (not created). */
export function cacheDirFor(name: string, opts: SourceOptions = {}): string {
  return join(cacheRoot(opts), name);
}

export function downloadAllowed(opts: SourceOptions = {}): boolean {
  if (opts.download !== undefined) return opts.download;
  const off = process.env.NINO_OFFLINE;
  return !(off && off !== '0' && off.toLowerCase() !== 'false');
}

/** Candidate folders for a dataset, in lookup order (without the download step). */
export function candidateDirs(name: string, opts: SourceOptions = {}, extraSubdirs: string[] = []): string[] {
  const roots: string[] = [];
  if (opts.dataDir) roots.push(opts.dataDir);
  const env = process.env.NINO_DATA_DIR;
  if (env) roots.push(env, join(env, name));
  roots.push(join(opts.systemRoot ?? '/usr/share/datasets', name));
  roots.push(cacheDirFor(name, opts));
  const out: string[] = [];
  for (const r of roots) {
    out.push(r);
    for (const s of extraSubdirs) out.push(join(r, s));
  }
  return [...new Set(out)];
}

/** A dataset that is neither on disk nor downloadable; `looked` lists every place tried. */
export class DatasetNotFoundError extends Error {
  constructor(
    readonly dataset: string,
    readonly looked: string[],
    readonly howToGet: string[],
    readonly downloadError?: string,
  ) {
    super(
      [
        `dataset '${dataset}' not found. Looked in:`,
        ...looked.map((l) => `  - ${l}`),
        ...(downloadError ? [`download failed: ${downloadError}`] : []),
        'How to get it:',
        ...howToGet.map((h) => `  - ${h}`),
      ].join('\n'),
    );
    this.name = 'DatasetNotFoundError';
  }
}

/**
 * Resolves the first file among `alternatives` inside `dir`, or null.
 * alternatives e.g. ['train-images-idx3-ubyte.gz', 'train-images-idx3-ubyte'].
 */
export function firstExisting(dir: string, alternatives: readonly string[]): string | null {
  for (const a of alternatives) {
    const p = join(dir, a);
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  return null;
}

/**
 * The first candidate folder that holds every required file (each given as a list of alternative names).
 * Returns the folder and the resolved file paths, or null with `looked` filled in.
 */
export function findDir(
  candidates: readonly string[],
  required: readonly (readonly string[])[],
  looked: string[] = [],
): { dir: string; files: string[] } | null {
  for (const dir of candidates) {
    const files = required.map((alts) => firstExisting(dir, alts));
    if (files.every((f) => f !== null)) return { dir, files: files as string[] };
    const missing = required.filter((_, i) => files[i] === null).map((a) => a[0]);
    looked.push(existsSync(dir) ? `${dir} (missing ${missing.join(', ')})` : `${dir} (no such folder)`);
  }
  return null;
}

export type Digest = { md5?: string; sha256?: string };

/** Hex digest of a file, streaming (works for multi-GB archives). */
export async function fileDigest(path: string, algo: 'md5' | 'sha256'): Promise<string> {
  const h = createHash(algo);
  await new Promise<void>((resolve, reject) => {
    const s = createReadStream(path);
    s.on('data', (c) => h.update(c));
    s.on('end', () => resolve());
    s.on('error', reject);
  });
  return h.digest('hex');
}

/** Throws if the file does not match the given md5/sha256 (when given). */
export async function verifyDigest(path: string, digest: Digest): Promise<void> {
  for (const algo of ['sha256', 'md5'] as const) {
    const want = digest[algo];
    if (!want) continue;
    const got = await fileDigest(path, algo);
    if (got !== want.toLowerCase()) throw new Error(`${algo} mismatch for ${path}: got ${got}, expected ${want}`);
  }
}

/**
 * Downloads `url` to `dest` (streamed to a .part file, so multi-GB archives never sit in memory),
 * verifies the checksum, then renames into place.
 */
export async function downloadFile(url: string, dest: string, digest: Digest = {}): Promise<void> {
  mkdirSync(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    throw new Error(`cannot fetch ${url}: ${(e as Error).message}${cause ? ` (${cause})` : ''}`);
  }
  if (!res.ok || !res.body) throw new Error(`cannot fetch ${url}: HTTP ${res.status}`);
  await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(part));
  try {
    await verifyDigest(part, digest);
  } catch (e) {
    unlinkSync(part);
    throw e;
  }
  renameSync(part, dest);
}
