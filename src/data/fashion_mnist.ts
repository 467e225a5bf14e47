/**
 * Fashion-MNIST reader: IDX files (gzipped or not) -> VisionData (NHWC float32, H=W=28, C=1).
 *
 * Files, URL, md5s and layouts come from datasets/fashion-mnist.json. Lookup (see fetch.ts): the explicit
 * location only (opts.dataDir, else $NINO_DATA_DIR[/fashion-mnist]) when given; otherwise
 * /usr/share/datasets/fashion-mnist (Debian `dataset-fashion-mnist`), then the cache ($NINO_CACHE_DIR or
 * ~/.cache/nino)/fashion-mnist; each also checked with a torchvision-style `FashionMNIST/raw` subfolder.
 * Then download from the official URL into the cache, checking torchvision's md5 of each .gz. Local files
 * are only checked structurally (magic, dims, counts): the Debian package re-gzipped the files, so their
 * .gz checksums differ from the official ones. A truncated or corrupt file is an error naming it.
 *
 *   const d = await loadFashionMnist();  // d.trainX [60000*28*28], d.trainY [60000], d.testY [10000]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  DatasetFileError,
  DatasetNotFoundError,
  cacheDirFor,
  candidateDirs,
  downloadAllowed,
  downloadFile,
  failIfExplicit,
  findDir,
  type SourceOptions,
} from './fetch.ts';
import { datasetManifest, type DatasetManifest } from './manifest.ts';
import { NINO_MNIST_NORM, normalizeU8, resolveNorm, type Normalization, type VisionData } from './vision.ts';

const MANIFEST = datasetManifest('fashion-mnist');
export const FASHION_MNIST_URL: string = MANIFEST.download!.baseUrl!;

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/**
 * Parses an IDX buffer (gzip detected by its 1f 8b magic). Only unsigned-byte data (type 0x08) is
 * supported, which is what (Fashion-)MNIST uses.
 */
export function parseIdx(buf: Uint8Array, what = 'IDX'): IdxArray {
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (e) {
      throw new Error(`${what}: truncated or corrupt gzip data (${(e as Error).message})`, { cause: e });
    }
  }
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0) throw new Error(`${what}: not an IDX file (bad magic)`);
  if (buf[2] !== 0x08) throw new Error(`${what}: IDX data type 0x${buf[2].toString(16)} unsupported (only ubyte 0x08)`);
  const nd = buf[3];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < nd; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const start = 4 + 4 * nd;
  const n = dims.reduce((a, b) => a * b, 1);
  if (buf.length - start !== n)
    throw new Error(`${what}: expected ${n} data bytes for dims [${dims}], found ${buf.length - start}`);
  return { dims, data: buf.subarray(start, start + n) };
}

export interface FashionMnistOptions extends LocateOptions {
  /** default 'nino': mean 0.1307, std 0.3081 (the MNIST constants the official NiNo code uses) */
  normalize?: Normalization;
}

export interface LocateOptions extends SourceOptions {
  /** base URL to download from instead of the manifest's (files are still checksum-checked) */
  mirror?: string;
  /** the dataset manifest (default datasets/fashion-mnist.json); tests pass their own files and digests */
  manifest?: DatasetManifest;
}

/** Finds the 4 files, downloading them into the cache if allowed. Returns their paths in manifest order. */
export async function locateFashionMnist(opts: LocateOptions = {}): Promise<string[]> {
  const m = opts.manifest ?? MANIFEST;
  const required = m.files.map((f) => [f.name, ...(f.alternatives ?? [])]);
  const looked: string[] = [];
  const found = findDir(candidateDirs(m.name, opts, m.subfolders), required, looked);
  if (found) return found.files;
  failIfExplicit(
    m.name,
    opts,
    looked,
    m.files.map((f) => f.name),
  );
  const cache = cacheDirFor(m.name, opts);
  const baseUrl = opts.mirror ?? m.download?.baseUrl ?? FASHION_MNIST_URL;
  let downloadError: string | undefined;
  if (downloadAllowed(opts)) {
    try {
      for (const f of m.files) {
        const dest = join(cache, f.name);
        if (findDir([cache], [[f.name]])) continue;
        await downloadFile(`${baseUrl}${f.name}`, dest, { md5: f.md5, sha256: f.sha256 });
      }
      const again = findDir([cache], required);
      if (again) return again.files;
    } catch (e) {
      downloadError = (e as Error).message;
    }
  } else {
    downloadError = 'downloads disabled (download: false or NINO_OFFLINE=1)';
  }
  throw new DatasetNotFoundError(
    m.name,
    looked,
    [
      `nino data fetch ${m.name}  (downloads it with checksums, else installs the Debian package)`,
      ...(m.debianPackage
        ? [
            `or sudo apt-get update && sudo apt-get install -y ${m.debianPackage}  (installs /usr/share/datasets/${m.name})`,
          ]
        : []),
      `or put ${m.files.map((f) => f.name).join(', ')} in a folder and pass --data-dir <folder> (or set NINO_DATA_DIR)`,
      `or allow a download from ${baseUrl} into ${cache}`,
    ],
    downloadError,
  );
}

/** Loads Fashion-MNIST (60k train, 10k test, 28x28x1, 10 classes), normalized. */
export async function loadFashionMnist(opts: FashionMnistOptions = {}): Promise<VisionData> {
  const paths = await locateFashionMnist(opts);
  const [tri, trl, tei, tel] = paths.map((p) => {
    try {
      return parseIdx(readFileSync(p), p);
    } catch (e) {
      throw new DatasetFileError(
        `${(e as Error).message}: delete it and fetch it again (nino data fetch fashion-mnist)`,
      );
    }
  });
  for (const [img, lab, p] of [
    [tri, trl, paths[0]],
    [tei, tel, paths[2]],
  ] as const) {
    if (img.dims.length !== 3 || img.dims[1] !== 28 || img.dims[2] !== 28)
      throw new DatasetFileError(`${p}: expected [N,28,28] images, got [${img.dims}]`);
    if (lab.dims.length !== 1 || lab.dims[0] !== img.dims[0])
      throw new DatasetFileError(`${p}: ${img.dims[0]} images but labels [${lab.dims}]`);
    for (const v of lab.data) if (v > 9) throw new DatasetFileError(`${p}: label ${v} out of range`);
  }
  const { mean, std } = resolveNorm(opts.normalize ?? 'nino', NINO_MNIST_NORM, tri.data, 1);
  return {
    trainX: normalizeU8(tri.data, mean, std),
    trainY: Int32Array.from(trl.data),
    testX: normalizeU8(tei.data, mean, std),
    testY: Int32Array.from(tel.data),
    shape: [28, 28, 1],
    numClasses: 10,
    mean,
    std,
    source: join(paths[0], '..'),
  };
}
