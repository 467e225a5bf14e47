/**
 * Data readers: IDX parsing, the Fashion-MNIST loader (small IDX files written here, and the real set at
 * /usr/share/datasets/fashion-mnist when installed), the official split, normalization, lookup errors,
 * and deterministic batch sampling.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { idxUbyte } from './helpers/fake-data.ts';
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/core/rng.ts';
import { EpochSampler, evalWindows, sampleWindows } from '../src/data/batching.ts';
import { exitCodeOf } from '../src/core/errors.ts';
import { readEnv } from '../src/cli/env.ts';
import { DataDirError, DatasetNotFoundError } from '../src/data/fetch.ts';
import { loadFashionMnist, parseIdx } from '../src/data/fashion_mnist.ts';
import { gatherExamples, ninoTrainCount, splitHoldout } from '../src/data/vision.ts';

function writeTinyFm(dir: string, nTrain: number, nTest: number, gz: boolean): void {
  mkdirSync(dir, { recursive: true });
  const px = (n: number, seed: number) => Uint8Array.from({ length: n * 784 }, (_, i) => (i * 7 + seed) % 256);
  const lab = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 10);
  const files: [string, Buffer][] = [
    ['train-images-idx3-ubyte', idxUbyte([nTrain, 28, 28], px(nTrain, 1))],
    ['train-labels-idx1-ubyte', idxUbyte([nTrain], lab(nTrain))],
    ['t10k-images-idx3-ubyte', idxUbyte([nTest, 28, 28], px(nTest, 2))],
    ['t10k-labels-idx1-ubyte', idxUbyte([nTest], lab(nTest))],
  ];
  for (const [name, buf] of files) writeFileSync(join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(buf) : buf);
}

const tmp = () => mkdtempSync(join(tmpdir(), 'nino-data-'));
const noSystem = (d: string) => ({ systemRoot: join(d, 'no-system'), cacheDir: join(d, 'cache'), download: false });
/** The options the CLI adds from the environment (cli/env.ts): the library itself reads no variables. */
const withEnv = <T extends object>(o: T) => ({ ...readEnv().source, ...o });

describe('IDX', () => {
  it('parses raw and gzipped files, big-endian dims', () => {
    const data = Uint8Array.from([1, 2, 3, 4, 5, 6]);
    for (const buf of [idxUbyte([2, 3], data), gzipSync(idxUbyte([2, 3], data))]) {
      const a = parseIdx(buf);
      expect(a.dims).toEqual([2, 3]);
      expect(Array.from(a.data)).toEqual([1, 2, 3, 4, 5, 6]);
    }
    const big = idxUbyte([300], new Uint8Array(300));
    expect(parseIdx(big).dims).toEqual([300]);
  });
  it('rejects bad magic, other dtypes and truncated data', () => {
    expect(() => parseIdx(Buffer.from([1, 0, 8, 1, 0, 0, 0, 1, 5]))).toThrow(/magic/);
    expect(() => parseIdx(Buffer.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 5, 5, 5, 5]))).toThrow(/unsupported/);
    expect(() => parseIdx(idxUbyte([4], new Uint8Array(4)).subarray(0, 10))).toThrow(/expected 4/);
  });
});

describe('Fashion-MNIST loader', () => {
  it('reads small gz and plain IDX files from dataDir, NHWC float32 normalized', async () => {
    for (const gz of [true, false]) {
      const d = tmp();
      writeTinyFm(join(d, 'fm'), 24, 6, gz);
      const fm = await loadFashionMnist({ dataDir: join(d, 'fm'), ...noSystem(d) });
      expect(fm.shape).toEqual([28, 28, 1]);
      expect(fm.trainX.length).toBe(24 * 784);
      expect(fm.testX.length).toBe(6 * 784);
      expect(Array.from(fm.trainY.slice(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
      // pixel 5 of train image 0 is (5*7+1)%256 = 36 -> (36/255 - 0.1307)/0.3081
      expect(fm.trainX[5]).toBeCloseTo((36 / 255 - 0.1307) / 0.3081, 5);
      expect(fm.mean).toEqual([0.1307]);
      const raw = await loadFashionMnist({ dataDir: join(d, 'fm'), ...noSystem(d), normalize: 'none' });
      expect(raw.trainX[5]).toBeCloseTo(36 / 255, 6);
      const comp = await loadFashionMnist({ dataDir: join(d, 'fm'), ...noSystem(d), normalize: 'computed' });
      let s = 0,
        s2 = 0;
      for (const v of comp.trainX) {
        s += v;
        s2 += v * v;
      }
      const m = s / comp.trainX.length;
      expect(Math.abs(m)).toBeLessThan(1e-4);
      expect(Math.sqrt(s2 / comp.trainX.length - m * m)).toBeCloseTo(1, 3);
    }
  });

  it('finds files via NINO_DATA_DIR/<name> and a torchvision FashionMNIST/raw folder', async () => {
    const d = tmp();
    writeTinyFm(join(d, 'env', 'fashion-mnist'), 12, 12, true);
    const old = process.env.NINO_DATA_DIR;
    process.env.NINO_DATA_DIR = join(d, 'env');
    try {
      const fm = await loadFashionMnist(withEnv(noSystem(d)));
      expect(fm.trainY.length).toBe(12);
      expect(fm.source).toBe(join(d, 'env', 'fashion-mnist'));
    } finally {
      if (old === undefined) delete process.env.NINO_DATA_DIR;
      else process.env.NINO_DATA_DIR = old;
    }
    writeTinyFm(join(d, 'tv', 'FashionMNIST', 'raw'), 13, 12, false);
    expect((await loadFashionMnist({ dataDir: join(d, 'tv'), ...noSystem(d) })).trainY.length).toBe(13);
  });

  it('offline and missing: the error lists every place looked and how to get the data', async () => {
    const d = tmp();
    const old = process.env.NINO_DATA_DIR;
    delete process.env.NINO_DATA_DIR;
    try {
      const err = await loadFashionMnist(withEnv(noSystem(d))).catch((e) => e);
      expect(err).toBeInstanceOf(DatasetNotFoundError);
      const msg = (err as Error).message;
      expect(msg).toContain('nino data fetch fashion-mnist');
      expect(msg).toContain(join(d, 'no-system', 'fashion-mnist'));
      expect(msg).toContain(join(d, 'cache', 'fashion-mnist'));
      expect(msg).toContain('apt-get install -y dataset-fashion-mnist');
      expect(msg).toContain('--data-dir');
      expect(msg).toContain('downloads disabled');
    } finally {
      if (old !== undefined) process.env.NINO_DATA_DIR = old;
    }
  });

  it('an explicit dataDir or NINO_DATA_DIR that is missing or empty is an error naming it; nothing else is tried', async () => {
    const d = tmp();
    writeTinyFm(join(d, 'cache', 'fashion-mnist'), 12, 12, true); // the search list would find this
    const old = process.env.NINO_DATA_DIR;
    delete process.env.NINO_DATA_DIR;
    try {
      expect((await loadFashionMnist(withEnv(noSystem(d)))).trainY.length).toBe(12);
      const missing = await loadFashionMnist({ ...noSystem(d), dataDir: join(d, 'nothing') }).catch((e) => e);
      expect(missing).toBeInstanceOf(DataDirError);
      expect(exitCodeOf(missing)).toBe(2);
      expect(missing.message).toMatch(new RegExp(`^--data-dir '${join(d, 'nothing')}' does not exist`));
      expect(missing.message).not.toContain('\n');
      mkdirSync(join(d, 'empty'));
      const empty = await loadFashionMnist({
        ...noSystem(d),
        dataDir: join(d, 'empty'),
        download: true,
        mirror: 'http://127.0.0.1:9/',
      }).catch((e) => e);
      expect(empty).toBeInstanceOf(DataDirError);
      expect(empty.message).toContain(
        `not found in ${join(d, 'empty')} (given by --data-dir): missing train-images-idx3-ubyte.gz`,
      );
      expect(empty.message).not.toContain(join(d, 'cache'));
      process.env.NINO_DATA_DIR = join(d, 'empty');
      const env = await loadFashionMnist(withEnv(noSystem(d))).catch((e) => e);
      expect(env).toBeInstanceOf(DataDirError);
      expect(env.message).toContain(`(given by $NINO_DATA_DIR)`);
      expect(env.message).toContain(join(d, 'empty', 'fashion-mnist'));
      process.env.NINO_DATA_DIR = join(d, 'gone');
      expect((await loadFashionMnist(withEnv(noSystem(d))).catch((e) => e)).message).toMatch(
        /^\$NINO_DATA_DIR '.*gone' does not exist/,
      );
    } finally {
      if (old === undefined) delete process.env.NINO_DATA_DIR;
      else process.env.NINO_DATA_DIR = old;
    }
  });

  it('a truncated .gz is an input error naming the file', async () => {
    const d = tmp();
    writeTinyFm(join(d, 'fm'), 10, 5, true);
    const f = join(d, 'fm', 't10k-images-idx3-ubyte.gz');
    writeFileSync(f, readFileSync(f).subarray(0, 100));
    const err = await loadFashionMnist({ dataDir: join(d, 'fm'), ...noSystem(d) }).catch((e) => e);
    expect(err.message).toMatch(new RegExp(`^${f}: truncated or corrupt gzip data`));
    expect(exitCodeOf(err)).toBe(2);
  });

  it('downloads from a mirror into the cache and checks the official md5 (a re-gzipped file is rejected)', async () => {
    const d = tmp();
    writeTinyFm(join(d, 'srv'), 12, 12, true);
    const server = createServer((req, res) => {
      const f = join(d, 'srv', (req.url ?? '').slice(1));
      if (existsSync(f)) res.end(readFileSync(f));
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const err = await loadFashionMnist({ ...noSystem(d), download: true, mirror }).catch((e) => e);
      expect(err).toBeInstanceOf(DatasetNotFoundError);
      expect(err.message).toMatch(
        /md5 mismatch .*train-images-idx3-ubyte\.gz.*expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d/,
      );
      expect(existsSync(join(d, 'cache', 'fashion-mnist', 'train-images-idx3-ubyte.gz'))).toBe(false);
    } finally {
      server.close();
    }
  });

  it('rejects mismatched image/label counts', async () => {
    const d = tmp();
    writeTinyFm(join(d, 'fm'), 10, 5, true);
    writeFileSync(join(d, 'fm', 'train-labels-idx1-ubyte.gz'), gzipSync(idxUbyte([9], new Uint8Array(9))));
    await expect(loadFashionMnist({ dataDir: join(d, 'fm'), ...noSystem(d) })).rejects.toThrow(
      /10 images but labels \[9\]/,
    );
  });

  const real = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz';
  it.skipIf(!existsSync(real))('reads the real Fashion-MNIST (60k/10k) from the Debian package', async () => {
    const fm = await loadFashionMnist({ download: false });
    expect(fm.trainY.length).toBe(60000);
    expect(fm.testY.length).toBe(10000);
    expect(fm.trainX.length).toBe(60000 * 784);
    const counts = new Array(10).fill(0);
    for (const y of fm.trainY) counts[y]++;
    expect(counts).toEqual(new Array(10).fill(6000));
    // raw pixel mean of FM train is 0.2860 -> (0.2860 - 0.1307)/0.3081 = 0.504 after NiNo's normalization
    let s = 0;
    for (const v of fm.trainX) s += v;
    expect(s / fm.trainX.length).toBeCloseTo((0.286 - 0.1307) / 0.3081, 2);
    const sp = splitHoldout(fm);
    expect([sp.train.count, sp.val.count, sp.test.count]).toEqual([55000, 5000, 10000]);
    expect(sp.val.y[0]).toBe(fm.trainY[55000]);
  });
});

describe('split and gather', () => {
  it('keeps the first n - floor(n/12) examples for training', () => {
    expect(ninoTrainCount(60000)).toBe(55000);
    expect(ninoTrainCount(50000)).toBe(45834);
    const d = {
      trainX: Float32Array.from({ length: 24 * 2 }, (_, i) => i),
      trainY: Int32Array.from({ length: 24 }, (_, i) => i),
      testX: new Float32Array(4),
      testY: new Int32Array(2),
      shape: [1, 2, 1] as [number, number, number],
      numClasses: 24,
      mean: [0],
      std: [1],
      source: 'mem',
    };
    const s = splitHoldout(d);
    expect(s.train.count).toBe(22);
    expect(Array.from(s.val.y)).toEqual([22, 23]);
    expect(Array.from(s.val.x)).toEqual([44, 45, 46, 47]);
    const g = gatherExamples(s.train, [3, 0], 2);
    expect(Array.from(g.x)).toEqual([6, 7, 0, 1]);
    expect(Array.from(g.y)).toEqual([3, 0]);
    expect(() => gatherExamples(s.train, [22], 2)).toThrow(/out of range/);
    expect(splitHoldout(d, { holdout: 0 }).train.count).toBe(24);
  });
});

describe('batching', () => {
  it('EpochSampler: each epoch is a permutation, deterministic, different across epochs, resumable', () => {
    const s = new EpochSampler(10, 4, new Rng(1));
    expect(s.batchesPerEpoch).toBe(3);
    const e0 = [...s.next(), ...s.next(), ...s.next()];
    expect(e0.length).toBe(10);
    expect([...e0].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const b = s.next();
    expect(s.epoch).toBe(1);
    const s2 = new EpochSampler(10, 4, new Rng(1));
    expect([...s2.next(), ...s2.next(), ...s2.next()]).toEqual(e0);
    expect(Array.from(s2.next())).toEqual(Array.from(b));
    expect(Array.from(s.permutation(1))).not.toEqual(Array.from(s.permutation(0)));
    const st = s2.getState();
    const want = [s2.next(), s2.next()].map((x) => Array.from(x));
    const s3 = new EpochSampler(10, 4, new Rng(1));
    s3.setState(st);
    expect([s3.next(), s3.next()].map((x) => Array.from(x))).toEqual(want);
    const s4 = new EpochSampler(10, 4, new Rng(2));
    expect(Array.from(s4.permutation(0))).not.toEqual(e0);
    const dl = new EpochSampler(10, 4, new Rng(1), { dropLast: true });
    expect([dl.next().length, dl.next().length, dl.next().length]).toEqual([4, 4, 4]);
    expect(dl.epoch).toBe(1);
  });

  it('sampleWindows: y is x shifted by one, deterministic from the rng', () => {
    const tokens = Int32Array.from({ length: 100 }, (_, i) => i);
    const a = sampleWindows(tokens, 5, 8, new Rng(3));
    const b = sampleWindows(tokens, 5, 8, new Rng(3));
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    for (let r = 0; r < 5; r++) {
      const s = a.x[r * 8];
      expect(s).toBeLessThanOrEqual(100 - 9);
      for (let t = 0; t < 8; t++) {
        expect(a.x[r * 8 + t]).toBe(s + t);
        expect(a.y[r * 8 + t]).toBe(s + t + 1);
      }
    }
    expect(() => sampleWindows(tokens.subarray(0, 8), 1, 8, new Rng(1))).toThrow(/shorter/);
    // the last possible start (len - T - 1) is reachable
    const short = Int32Array.from({ length: 10 }, (_, i) => i);
    const starts = new Set<number>();
    const r = new Rng(5);
    for (let i = 0; i < 200; i++) starts.add(sampleWindows(short, 1, 8, r).x[0]);
    expect([...starts].sort()).toEqual([0, 1]);
  });

  it('evalWindows tiles the stream without overlap', () => {
    const tokens = Int32Array.from({ length: 26 }, (_, i) => i);
    const w = evalWindows(tokens, 5, 2);
    expect(w.map((b) => b.batchSize)).toEqual([2, 2, 1]);
    expect(Array.from(w[2].x)).toEqual([20, 21, 22, 23, 24]);
    expect(Array.from(w[2].y)).toEqual([21, 22, 23, 24, 25]);
    expect(evalWindows(tokens, 5, 2, 3).reduce((a, b) => a + b.batchSize, 0)).toBe(3);
  });
});
