/**
 * CIFAR-10 / CIFAR-100 readers for the official *binary* versions -> VisionData (NHWC float32, 32x32x3).
 *
 * Record format: CIFAR-10 = 1 label byte + 3072 pixel bytes; CIFAR-100 = 1 coarse + 1 fine label byte +
 * 3072 pixel bytes. Pixels are channel-major (1024 R, 1024 G, 1024 B, each row-major 32x32); we transpose
 * to HWC. Files: cifar-10-batches-bin/data_batch_{1..5}.bin + test_batch.bin (10000 records each);
 * cifar-100-binary/train.bin (50000) + test.bin (10000).
 *
 * URLs, md5s, file lists and label bytes come from datasets/cifar10.json and cifar100.json. Lookup as in
 * fetch.ts (the explicit dataDir / $NINO_DATA_DIR[/<name>] only, else /usr/share/datasets/<name> and the
 * cache), each also with the archive's own folder name; then download the official tar.gz (md5-checked, as
 * on https://www.cs.toronto.edu/~kriz/cifar.html) into the cache and extract the .bin files with tar.ts.
 * Normalization default 'nino': the CIFAR-10 constants of the official NiNo code, also for CIFAR-100.
 *
 *   const c10 = await loadCifar10();  const c100 = await loadCifar100({ labels: 'coarse' });
 */
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  DatasetNotFoundError,
  cacheDirFor,
  candidateDirs,
  downloadAllowed,
  downloadFile,
  failIfExplicit,
  findDir,
  verifyDigest,
  type SourceOptions,
} from './fetch.ts';
import { datasetManifest } from './manifest.ts';
import { extractTar } from './tar.ts';
import { NINO_CIFAR_NORM, normalizeU8, resolveNorm, type Normalization, type VisionData } from './vision.ts';

export const CIFAR_PIXELS = 3072;

interface CifarSource {
  name: 'cifar10' | 'cifar100';
  url: string;
  md5: string;
  folder: string;
  train: string[];
  test: string[];
  labelBytes: number;
}

/** A CIFAR source from its manifest (datasets/<name>.json). */
function cifarSource(name: 'cifar10' | 'cifar100'): CifarSource {
  const m = datasetManifest(name);
  const split = (k: string) => m.files.filter((f) => f.split === k).map((f) => f.name);
  return {
    name,
    url: m.download!.url!,
    md5: m.download!.md5!,
    folder: m.subfolders![0],
    train: split('train'),
    test: split('test'),
    labelBytes: m.labelBytes as number,
  };
}

export const CIFAR10_SOURCE: CifarSource = cifarSource('cifar10');
export const CIFAR100_SOURCE: CifarSource = cifarSource('cifar100');

/**
 * Parses concatenated binary records. labelIndex picks which label byte (CIFAR-100: 0 coarse, 1 fine).
 * Returns pixels u8 [N,32,32,3] (HWC) and labels [N].
 */
export function parseCifarRecords(
  buf: Uint8Array,
  labelBytes: number,
  labelIndex = labelBytes - 1,
): { x: Uint8Array; y: Int32Array } {
  const rec = labelBytes + CIFAR_PIXELS;
  if (buf.length % rec !== 0)
    throw new Error(`CIFAR binary: ${buf.length} bytes is not a multiple of the ${rec}-byte record`);
  const n = buf.length / rec;
  const x = new Uint8Array(n * CIFAR_PIXELS);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * rec;
    y[i] = buf[o + labelIndex];
    const px = o + labelBytes;
    const out = i * CIFAR_PIXELS;
    for (let c = 0; c < 3; c++) {
      const plane = px + c * 1024;
      for (let p = 0; p < 1024; p++) x[out + p * 3 + c] = buf[plane + p];
    }
  }
  return { x, y };
}

export interface CifarOptions extends SourceOptions {
  normalize?: Normalization;
}

export async function locateCifar(src: CifarSource, opts: SourceOptions): Promise<string[]> {
  const files = [...src.train, ...src.test];
  const required = files.map((f) => [f]);
  const looked: string[] = [];
  const found = findDir(candidateDirs(src.name, opts, [src.folder]), required, looked);
  if (found) return found.files;
  failIfExplicit(src.name, opts, looked, files);
  const cache = cacheDirFor(src.name, opts);
  const archive = join(cache, src.url.split('/').pop()!);
  let downloadError: string | undefined;
  if (downloadAllowed(opts) || existsSync(archive)) {
    try {
      if (existsSync(archive)) await verifyDigest(archive, { md5: src.md5 });
      else await downloadFile(src.url, archive, { md5: src.md5 });
      await extractTar(archive, cache, (n) => files.includes(n.split('/').pop()!));
      const again = findDir([join(cache, src.folder)], required);
      if (again) {
        unlinkSync(archive);
        return again.files;
      }
      downloadError = `archive ${archive} did not contain ${src.folder}/{${files.join(',')}}`;
    } catch (e) {
      downloadError = (e as Error).message;
    }
  } else {
    downloadError = 'downloads disabled (download: false or NINO_OFFLINE=1)';
  }
  throw new DatasetNotFoundError(
    src.name,
    looked,
    [
      `download ${src.url} (md5 ${src.md5}), extract it, and pass --data-dir <folder holding ${src.folder}/> (or set NINO_DATA_DIR)`,
      `or put the .tar.gz at ${archive} and run again (it is verified and extracted)`,
      `or allow a download into ${cache}`,
    ],
    downloadError,
  );
}

async function load(src: CifarSource, opts: CifarOptions, labelIndex: number, numClasses: number): Promise<VisionData> {
  const paths = await locateCifar(src, opts);
  const read = (ps: string[], what: string) => {
    const parts = ps.map((p) => parseCifarRecords(readFileSync(p), src.labelBytes, labelIndex));
    const n = parts.reduce((a, p) => a + p.y.length, 0);
    const x = new Uint8Array(n * CIFAR_PIXELS);
    const y = new Int32Array(n);
    let o = 0;
    for (const p of parts) {
      x.set(p.x, o * CIFAR_PIXELS);
      y.set(p.y, o);
      o += p.y.length;
    }
    for (const v of y) if (v >= numClasses) throw new Error(`${src.name} ${what}: label ${v} >= ${numClasses}`);
    return { x, y };
  };
  const tr = read(paths.slice(0, src.train.length), 'train');
  const te = read(paths.slice(src.train.length), 'test');
  const { mean, std } = resolveNorm(opts.normalize ?? 'nino', NINO_CIFAR_NORM, tr.x, 3);
  return {
    trainX: normalizeU8(tr.x, mean, std),
    trainY: tr.y,
    testX: normalizeU8(te.x, mean, std),
    testY: te.y,
    shape: [32, 32, 3],
    numClasses,
    mean,
    std,
    source: dirname(paths[0]),
  };
}

/** CIFAR-10: 50k train / 10k test, 10 classes. */
export function loadCifar10(opts: CifarOptions = {}): Promise<VisionData> {
  return load(CIFAR10_SOURCE, opts, 0, 10);
}

/** CIFAR-100: 50k train / 10k test; fine labels (100 classes, default) or coarse (20 superclasses). */
export function loadCifar100(opts: CifarOptions & { labels?: 'fine' | 'coarse' } = {}): Promise<VisionData> {
  const coarse = opts.labels === 'coarse';
  return load(CIFAR100_SOURCE, opts, coarse ? 0 : 1, coarse ? 20 : 100);
}
