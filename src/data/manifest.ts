/**
 * Dataset manifests: what nino knows about each dataset (sources, file names, checksums, format, licence,
 * Debian package) lives in the top-level datasets/<name>.json files, read and checked here; the loaders
 * take their URLs, file lists and digests from them instead of constants in code.
 *
 *   const m = datasetManifest('fashion-mnist');   // m.files[0].md5, m.download?.baseUrl, m.debianPackage
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** datasets/ at the package root (two levels above this module, in the sources and in a build). */
export const DATASETS_DIR = fileURLToPath(new URL('../../datasets/', import.meta.url));

export interface ManifestFile {
  /** file name as downloaded/installed */
  name: string;
  /** other names accepted on disk (e.g. the un-gzipped file) */
  alternatives?: string[];
  /** which part of the dataset the file holds ('train', 'test') */
  split?: string;
  md5?: string;
  sha256?: string;
}

export interface DatasetManifest {
  name: string;
  title: string;
  homepage: string;
  license: string;
  format: string;
  /** Debian package installing the files under /usr/share/datasets/<name> */
  debianPackage?: string;
  /** npm package holding the files (installed with nino) */
  npmPackage?: string;
  /** layouts also looked for inside each candidate folder */
  subfolders?: string[];
  /** baseUrl: per-file downloads (baseUrl + file name); url (+ md5/sha256): one archive */
  download?: { baseUrl?: string; url?: string; md5?: string; sha256?: string; note?: string };
  files: ManifestFile[];
  /** format details specific to one loader (e.g. CIFAR label bytes, LM1B folders, WikiText variants) */
  [extra: string]: unknown;
}

const HEX = { md5: /^[0-9a-f]{32}$/, sha256: /^[0-9a-f]{64}$/ } as const;

/** Checks the shape of a parsed manifest; errors name the file and the field. */
export function checkManifest(m: unknown, file: string): DatasetManifest {
  const bad = (what: string): never => {
    throw new Error(`dataset manifest ${file}: ${what}`);
  };
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return bad('not a JSON object');
  const o = m as Record<string, unknown>;
  for (const k of ['name', 'title', 'homepage', 'license', 'format'])
    if (typeof o[k] !== 'string' || !(o[k] as string).length) bad(`'${k}' must be a non-empty string`);
  for (const k of ['debianPackage', 'npmPackage'])
    if (o[k] !== undefined && typeof o[k] !== 'string') bad(`'${k}' must be a string`);
  if (o.subfolders !== undefined && !(Array.isArray(o.subfolders) && o.subfolders.every((s) => typeof s === 'string')))
    bad("'subfolders' must be a list of strings");
  const digests = (x: Record<string, unknown>, where: string) => {
    for (const a of ['md5', 'sha256'] as const)
      if (x[a] !== undefined && !(typeof x[a] === 'string' && HEX[a].test(x[a] as string)))
        bad(`${where}: '${a}' must be ${a === 'md5' ? 32 : 64} lowercase hex digits`);
  };
  if (o.download !== undefined) {
    if (typeof o.download !== 'object' || o.download === null) bad("'download' must be an object");
    const d = o.download as Record<string, unknown>;
    for (const k of ['baseUrl', 'url', 'note'])
      if (d[k] !== undefined && typeof d[k] !== 'string') bad(`download.${k} must be a string`);
    digests(d, 'download');
  }
  if (!Array.isArray(o.files)) bad("'files' must be a list");
  (o.files as unknown[]).forEach((f, i) => {
    if (typeof f !== 'object' || f === null || typeof (f as { name?: unknown }).name !== 'string')
      bad(`files[${i}] needs a 'name'`);
    const x = f as Record<string, unknown>;
    if (
      x.alternatives !== undefined &&
      !(Array.isArray(x.alternatives) && x.alternatives.every((s) => typeof s === 'string'))
    )
      bad(`files[${i}].alternatives must be a list of strings`);
    digests(x, `files[${i}] (${x.name})`);
  });
  return o as DatasetManifest;
}

const cache = new Map<string, DatasetManifest>();

/** The manifest datasets/<name>.json (read once), or an error listing the known datasets. */
export function datasetManifest(name: string, dir: string = DATASETS_DIR): DatasetManifest {
  const file = join(dir, `${name}.json`);
  const hit = cache.get(file);
  if (hit) return hit;
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(name) || !existsSync(file))
    throw new Error(`no dataset manifest '${name}' in ${dir}; known: ${manifestNames(dir).join(', ')}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`dataset manifest ${file}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  const m = checkManifest(parsed, file);
  if (m.name !== name)
    throw new Error(`dataset manifest ${file}: 'name' is '${m.name}', expected '${name}' (the file name)`);
  cache.set(file, m);
  return m;
}

/** Names of the manifests in `dir`, sorted. */
export function manifestNames(dir: string = DATASETS_DIR): string[] {
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => f.slice(0, -5))
        .sort()
    : [];
}
