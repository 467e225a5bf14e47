/**
 * Loaders for the user's own data named by task files (src/tasks/taskfile.ts): an IDX folder like
 * MNIST's, a folder of .txt documents (byte or GPT-2 tokens), and a CSV file with a label column.
 * Each checks the files first and names what is missing or malformed (DatasetFileError, exit 2).
 *
 *   const split = loadIdxFolder('/data/my-digits', { holdout: 100 });   // VisionSplit, test = t10k files
 *   const tok = await loadTextFolder('/data/poems', { tokenizer: 'byte', valFraction: 0.1 });
 *   const tab = loadCsvFile('/data/iris.csv', { labelColumn: 'label', testFraction: 0.2, standardize: true });
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatasetFileError } from './fetch.ts';
import { parseIdx } from './fashion_mnist.ts';
import { buildTokenData, tokenCacheKey, valDocCount, type CacheOptions, type TokenData } from './token-data.ts';
import type { TokenizerName } from './tokenize.ts';
import { normalizeU8, resolveNorm, splitHoldout, type VisionData, type VisionSplit } from './vision.ts';

/** The four files of an IDX folder (each also accepted with a .gz suffix). */
export const IDX_FILES = [
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
] as const;

/** Paths of the four IDX files in `dir`; fails naming the missing ones. */
export function locateIdxFolder(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new DatasetFileError(
      `IDX folder '${dir}' does not exist; it needs ${IDX_FILES.join(', ')} (each may end in .gz)`,
    );
  const found = IDX_FILES.map((f) => [join(dir, f), join(dir, `${f}.gz`)].find((p) => existsSync(p)) ?? null);
  const missing = IDX_FILES.filter((_, i) => !found[i]);
  if (missing.length)
    throw new DatasetFileError(`IDX folder '${dir}' lacks ${missing.join(', ')} (each may end in .gz)`);
  return found as string[];
}

/** An IDX folder as a vision split: images normalized with the training images' own mean/std. */
export function loadIdxFolder(dir: string, o: { holdout?: number } = {}): VisionSplit {
  const paths = locateIdxFolder(dir);
  const [tri, trl, tei, tel] = paths.map((p) => {
    try {
      return parseIdx(readFileSync(p), p);
    } catch (e) {
      throw new DatasetFileError((e as Error).message);
    }
  });
  const shapeOf = (d: number[], p: string): [number, number, number] => {
    if (d.length === 3) return [d[1], d[2], 1];
    if (d.length === 4) return [d[1], d[2], d[3]];
    throw new DatasetFileError(`${p}: expected images [N,H,W] or [N,H,W,C], got [${d}]`);
  };
  const shape = shapeOf(tri.dims, paths[0]);
  const testShape = shapeOf(tei.dims, paths[2]);
  if (shape.join() !== testShape.join())
    throw new DatasetFileError(`${paths[2]}: images are [${testShape}], the training images [${shape}]`);
  for (const [img, lab, p] of [
    [tri, trl, paths[1]],
    [tei, tel, paths[3]],
  ] as const)
    if (lab.dims.length !== 1 || lab.dims[0] !== img.dims[0])
      throw new DatasetFileError(`${p}: ${img.dims[0]} images but labels [${lab.dims}]`);
  let numClasses = 0;
  for (const v of trl.data) numClasses = Math.max(numClasses, v + 1);
  for (const v of tel.data) numClasses = Math.max(numClasses, v + 1);
  const { mean, std } = resolveNorm('computed', { mean: [], std: [] }, tri.data, shape[2]);
  const data: VisionData = {
    trainX: normalizeU8(
      tri.data,
      mean,
      std.map((s) => s || 1),
    ),
    trainY: Int32Array.from(trl.data),
    testX: normalizeU8(
      tei.data,
      mean,
      std.map((s) => s || 1),
    ),
    testY: Int32Array.from(tel.data),
    shape,
    numClasses,
    mean,
    std,
    source: dir,
  };
  if (o.holdout !== undefined && o.holdout >= data.trainY.length)
    throw new DatasetFileError(
      `holdout ${o.holdout} leaves no training images in '${dir}' (${data.trainY.length} images)`,
    );
  return splitHoldout(data, { holdout: o.holdout });
}

/** Sorted .txt files of a folder; fails when there are fewer than two (one is held out). */
export function textFolderFiles(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new DatasetFileError(`text folder '${dir}' does not exist; it needs .txt files (one document each)`);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort();
  if (files.length < 2)
    throw new DatasetFileError(
      `text folder '${dir}' has ${files.length} .txt file(s); it needs at least 2 (the last ones are held out)`,
    );
  return files.map((f) => join(dir, f));
}

/** A folder of .txt documents as train/val token streams (the last files by name are held out). */
export async function loadTextFolder(
  dir: string,
  o: { tokenizer: TokenizerName; valFraction: number } & CacheOptions,
): Promise<TokenData> {
  const files = textFolderFiles(dir);
  const nVal = valDocCount(files.length, o.valFraction);
  const nTrain = files.length - nVal;
  const fingerprint = {
    v: 1,
    dir,
    tokenizer: o.tokenizer,
    nVal,
    files: files.map((f) => [f, statSync(f).size, statSync(f).mtimeMs]),
  };
  const read = (fs: string[]) =>
    function* () {
      for (const f of fs) yield readFileSync(f, 'utf8');
    };
  return buildTokenData(
    {
      key: tokenCacheKey(`textdir-${o.tokenizer}`, fingerprint),
      tokenizer: o.tokenizer,
      source: dir,
      trainDocs: read(files.slice(0, nTrain)),
      valDocs: read(files.slice(nTrain)),
      docCounts: { train: nTrain, val: nVal },
    },
    o,
  );
}

/** A CSV file (header row, numeric features, an integer label column) as a split of shape [1,1,features]. */
export function loadCsvFile(
  path: string,
  o: { labelColumn: string; testFraction: number; standardize: boolean },
): VisionSplit {
  if (!existsSync(path) || !statSync(path).isFile()) throw new DatasetFileError(`CSV file '${path}' does not exist`);
  const lines = readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  if (lines.length < 3) throw new DatasetFileError(`${path}: needs a header row and at least 2 data rows`);
  const head = lines[0].split(',').map((h) => h.trim());
  const li = head.indexOf(o.labelColumn);
  if (li < 0)
    throw new DatasetFileError(
      `${path}: no label column '${o.labelColumn}' in the header (columns: ${head.join(', ')})`,
    );
  const F = head.length - 1;
  if (F < 1) throw new DatasetFileError(`${path}: no feature columns besides '${o.labelColumn}'`);
  const N = lines.length - 1;
  const x = new Float32Array(N * F);
  const y = new Int32Array(N);
  for (let r = 0; r < N; r++) {
    const cells = lines[r + 1].split(',');
    if (cells.length !== head.length)
      throw new DatasetFileError(`${path}:${r + 2}: ${cells.length} values, the header has ${head.length}`);
    let f = 0;
    for (let c = 0; c < cells.length; c++) {
      const v = Number(cells[c]);
      if (cells[c].trim() === '' || !Number.isFinite(v))
        throw new DatasetFileError(`${path}:${r + 2}: column '${head[c]}' is not a number ('${cells[c]}')`);
      if (c === li) {
        if (!Number.isInteger(v) || v < 0)
          throw new DatasetFileError(`${path}:${r + 2}: label ${cells[c]} is not a class id (0, 1, ...)`);
        y[r] = v;
      } else x[r * F + f++] = v;
    }
  }
  const nTest = Math.min(N - 1, Math.max(1, Math.ceil(o.testFraction * N)));
  const nTrain = N - nTest;
  if (o.standardize) {
    for (let f = 0; f < F; f++) {
      let m = 0;
      for (let r = 0; r < nTrain; r++) m += x[r * F + f];
      m /= nTrain;
      let v = 0;
      for (let r = 0; r < nTrain; r++) v += (x[r * F + f] - m) ** 2;
      const sd = Math.sqrt(v / nTrain) || 1;
      for (let r = 0; r < N; r++) x[r * F + f] = (x[r * F + f] - m) / sd;
    }
  }
  let numClasses = 0;
  for (const v of y) numClasses = Math.max(numClasses, v + 1);
  return {
    train: { x: x.subarray(0, nTrain * F), y: y.subarray(0, nTrain), count: nTrain },
    val: { x: new Float32Array(0), y: new Int32Array(0), count: 0 },
    test: { x: x.subarray(nTrain * F), y: y.subarray(nTrain), count: nTest },
    shape: [1, 1, F],
    numClasses,
  };
}
