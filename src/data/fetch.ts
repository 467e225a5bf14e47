/**
 * Where dataset files come from: lookup order, cache folder, checksummed downloads, and the error that
 * lists every place looked when a dataset is missing and cannot be fetched.
 *
 * Everything comes from the caller's options (SourceOptions); this module reads no environment
 * variables: the CLI turns $NINO_DATA_DIR, $NINO_CACHE_DIR and $NINO_OFFLINE into these options
 * (cli/env.ts), so a library call is not changed by the shell it runs in.
 *
 * An explicit location is the only one tried: the `dataDir` option (the CLI's --data-dir), else
 * `dataDirFromEnv` (the CLI's $NINO_DATA_DIR: itself and <it>/<name>). When it lacks the files (or does
 * not exist) the loader throws `DataDirError` naming it, with exit code 2: nothing else is searched and
 * nothing is downloaded. Without an explicit location, the search list for a dataset `name` is:
 *   1. /usr/share/datasets/<name> (Debian `dataset-*` packages, e.g. dataset-fashion-mnist)
 *   2. the cache: <cacheDir>/<name>, default ~/.cache/nino/<name>
 *   3. download from the official URL into the cache (checksum-verified), unless `download: false`.
 * Each place is also looked at with the dataset's layout subfolders (from its manifest, datasets/).
 *
 *   const dir = findDir('fashion-mnist', [['train-images-idx3-ubyte.gz', 'train-images-idx3-ubyte']], opts);
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InputError } from '../core/errors.ts';

export interface SourceOptions {
  /** explicit folder holding the dataset files: when given, the only place tried (see the module comment) */
  dataDir?: string;
  /**
   * the value of $NINO_DATA_DIR as the CLI read it: used when `dataDir` is not given, looked in as itself
   * and <it>/<dataset>, and named '$NINO_DATA_DIR' in errors
   */
  dataDirFromEnv?: string;
  /** cache folder root (default ~/.cache/nino; the CLI passes $NINO_CACHE_DIR) */
  cacheDir?: string;
  /** allow downloading into the cache (default true; the CLI passes false for NINO_OFFLINE=1) */
  download?: boolean;
  /** root of system-installed datasets (default /usr/share/datasets); tests point it elsewhere */
  systemRoot?: string;
}

/** Root of nino's cache: the cacheDir option, else ~/.cache/nino. */
export function cacheRoot(opts: SourceOptions = {}): string {
  return opts.cacheDir ?? join(homedir(), '.cache', 'nino');
}

/** Cache folder for one dataset (not created). */
export function cacheDirFor(name: string, opts: SourceOptions = {}): string {
  return join(cacheRoot(opts), name);
}

export function downloadAllowed(opts: SourceOptions = {}): boolean {
  return opts.download ?? true;
}

/** The folder the user named (the dataDir option, else dataDirFromEnv) and how it was given, or null. */
export function explicitDataDir(opts: SourceOptions = {}): { dir: string; via: string } | null {
  if (opts.dataDir) return { dir: opts.dataDir, via: '--data-dir' };
  const env = opts.dataDirFromEnv;
  return env ? { dir: env, via: '$NINO_DATA_DIR' } : null;
}

/** Folder of the system-wide (Debian) copy of a dataset. */
export function systemDirFor(name: string, opts: SourceOptions = {}): string {
  return join(opts.systemRoot ?? '/usr/share/datasets', name);
}

/**
 * Candidate folders for a dataset, in lookup order (without the download step): only the explicit
 * location when there is one (see the module comment), else the system folder and the cache.
 */
export function candidateDirs(name: string, opts: SourceOptions = {}, extraSubdirs: readonly string[] = []): string[] {
  const roots: string[] = [];
  const explicit = explicitDataDir(opts);
  if (explicit) roots.push(explicit.dir, ...(explicit.via === '$NINO_DATA_DIR' ? [join(explicit.dir, name)] : []));
  else roots.push(systemDirFor(name, opts), cacheDirFor(name, opts));
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

/** A dataset file that is there but cannot be read (truncated, corrupt): an input error naming the file. */
export class DatasetFileError extends InputError {}

/**
 * A dataset missing from the location the user named (--data-dir / $NINO_DATA_DIR): an input error
 * (exit code 2) on one line, naming the folder and what it lacks.
 */
export class DataDirError extends DatasetNotFoundError {
  readonly exitCode = 2;
  constructor(dataset: string, explicit: { dir: string; via: string }, looked: string[], missing: readonly string[]) {
    super(dataset, looked, []);
    this.name = 'DataDirError';
    this.message = existsSync(explicit.dir)
      ? `dataset '${dataset}' not found in ${explicit.dir} (given by ${explicit.via}): missing ${missing.join(', ')} (looked in ${looked.map((l) => l.replace(/ \(.*\)$/, '')).join(', ')}); only that folder is used when one is given: put the files there, or unset it to search the usual places`
      : `${explicit.via} '${explicit.dir}' does not exist (dataset '${dataset}'); only that folder is used when one is given: fix the path, or unset it to search the usual places`;
  }
}

/**
 * Throws DataDirError when the user named a location (see explicitDataDir) and the dataset was not found
 * there: called by every loader before it falls back to downloading.
 */
export function failIfExplicit(
  dataset: string,
  opts: SourceOptions,
  looked: string[],
  missing: readonly string[],
): void {
  const explicit = explicitDataDir(opts);
  if (explicit) throw new DataDirError(dataset, explicit, looked, missing);
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
export async function downloadFile(
  url: string,
  dest: string,
  digest: Digest = {},
  o: { responseTimeoutMs?: number } = {},
): Promise<void> {
  mkdirSync(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  let res: Response;
  // a host that drops packets (a firewalled CI machine) must not hang the command: give up on no answer
  const timeoutMs = o.responseTimeoutMs ?? 30_000;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    res = await fetch(url, { signal: abort.signal });
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    const why = abort.signal.aborted
      ? `no answer within ${timeoutMs / 1000} s`
      : `${(e as Error).message}${cause ? ` (${cause})` : ''}`;
    throw new Error(`cannot fetch ${url}: ${why}`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
  if (!res.ok || !res.body) throw new Error(`cannot fetch ${url}: HTTP ${res.status}`);
  try {
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(part));
  } catch (e) {
    if (existsSync(part)) unlinkSync(part);
    throw new Error(`downloading ${url} to ${part}: ${(e as Error).message}`, { cause: e });
  }
  try {
    await verifyDigest(part, digest);
  } catch (e) {
    unlinkSync(part);
    throw e;
  }
  renameSync(part, dest);
}
