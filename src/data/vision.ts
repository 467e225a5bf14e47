/**
 * Vision datasets as plain typed arrays (no tfjs): NHWC float32 images, int32 labels, plus the official
 * NiNo train/held-out split and per-channel normalization.
 *
 * Normalization follows the official NiNo code (utils/vision.py, `transforms.Normalize(*task['norm'])`):
 *   Fashion-MNIST uses the *MNIST* constants mean 0.1307, std 0.3081 (not FM's own 0.2860/0.3530);
 *   CIFAR-10 and CIFAR-100 both use the CIFAR-10 constants
 *   mean (0.49139968, 0.48215827, 0.44653124), std (0.24703233, 0.24348505, 0.26158768).
 * `normalize: 'computed'` uses the training images' own per-channel mean/std instead; 'none' gives x/255.
 *
 * Split (train_vision.py): the first n - floor(n/12) training images train, the last floor(n/12) are
 * held out (60k FM -> 55k/5k; 50k CIFAR -> 45,834/4,166). The test set gives test accuracy.
 *
 *   const d = await loadFashionMnist();  const s = splitHoldout(d);  s.train.x  // [55000*28*28*1]
 */

export const NINO_MNIST_NORM = { mean: [0.1307], std: [0.3081] } as const;
export const NINO_CIFAR_NORM = {
  mean: [0.49139968, 0.48215827, 0.44653124],
  std: [0.24703233, 0.24348505, 0.26158768],
} as const;

export type Normalization = 'nino' | 'computed' | 'none' | { mean: readonly number[]; std: readonly number[] };

export interface VisionData {
  /** [N,H,W,C] normalized, row-major */
  trainX: Float32Array;
  /** [N] class ids */
  trainY: Int32Array;
  /** [M,H,W,C] normalized */
  testX: Float32Array;
  /** [M] */
  testY: Int32Array;
  /** [H,W,C] */
  shape: [number, number, number];
  numClasses: number;
  /** per-channel constants actually applied: x = (u8/255 - mean[c]) / std[c] */
  mean: number[];
  std: number[];
  /** where the files were read from */
  source: string;
}

/** One part of a split. x [count,H,W,C], y [count]. */
export interface VisionArrays {
  x: Float32Array;
  y: Int32Array;
  count: number;
}

export interface VisionSplit {
  train: VisionArrays;
  /** held-out part of the training set */
  val: VisionArrays;
  test: VisionArrays;
  shape: [number, number, number];
  numClasses: number;
}

/** Per-channel mean and (population) std of uint8 NHWC pixels scaled to [0,1]. */
export function channelStats(u8: Uint8Array, channels: number): { mean: number[]; std: number[] } {
  const sum = new Float64Array(channels);
  const sq = new Float64Array(channels);
  for (let i = 0; i < u8.length; i++) {
    const v = u8[i] / 255;
    const c = i % channels;
    sum[c] += v;
    sq[c] += v * v;
  }
  const n = u8.length / channels;
  const mean = Array.from(sum, (s) => s / n);
  const std = Array.from(sq, (s, c) => Math.sqrt(Math.max(0, s / n - mean[c] * mean[c])));
  return { mean, std };
}

/** Resolves the normalization constants for `channels`, given the default ('nino') constants. */
export function resolveNorm(
  norm: Normalization,
  nino: { mean: readonly number[]; std: readonly number[] },
  trainU8: Uint8Array,
  channels: number,
): { mean: number[]; std: number[] } {
  if (norm === 'none') return { mean: Array(channels).fill(0), std: Array(channels).fill(1) };
  if (norm === 'computed') return channelStats(trainU8, channels);
  const src = norm === 'nino' ? nino : norm;
  if (src.mean.length !== channels || src.std.length !== channels) {
    throw new Error(`normalization needs ${channels} channel(s), got mean ${src.mean.length}, std ${src.std.length}`);
  }
  return { mean: [...src.mean], std: [...src.std] };
}

/** u8 NHWC -> float32 (u8/255 - mean[c]) / std[c]. */
export function normalizeU8(u8: Uint8Array, mean: readonly number[], std: readonly number[]): Float32Array {
  const C = mean.length;
  const out = new Float32Array(u8.length);
  const scale = mean.map((_, c) => 1 / (255 * std[c]));
  const shift = mean.map((m, c) => m / std[c]);
  for (let i = 0; i < u8.length; i++) {
    const c = i % C;
    out[i] = u8[i] * scale[c] - shift[c];
  }
  return out;
}

/** Number of training examples kept by the official split: n - floor(n/12). */
export function ninoTrainCount(n: number): number {
  return n - Math.floor(n / 12);
}

/**
 * The official split: first `ninoTrainCount(N)` train, the rest held out (views, no copy).
 * `holdout` overrides the held-out count (0 keeps the whole training set).
 */
export function splitHoldout(d: VisionData, opts: { holdout?: number } = {}): VisionSplit {
  const N = d.trainY.length;
  const per = d.shape[0] * d.shape[1] * d.shape[2];
  const nTrain = opts.holdout === undefined ? ninoTrainCount(N) : N - opts.holdout;
  if (nTrain <= 0 || nTrain > N) throw new Error(`bad holdout ${opts.holdout} for ${N} examples`);
  return {
    train: { x: d.trainX.subarray(0, nTrain * per), y: d.trainY.subarray(0, nTrain), count: nTrain },
    val: { x: d.trainX.subarray(nTrain * per), y: d.trainY.subarray(nTrain), count: N - nTrain },
    test: { x: d.testX, y: d.testY, count: d.testY.length },
    shape: d.shape,
    numClasses: d.numClasses,
  };
}

/** Gathers examples `idx` into a new contiguous batch: x [B,H,W,C], y [B]. */
export function gatherExamples(
  a: VisionArrays,
  idx: ArrayLike<number>,
  perExample: number,
): { x: Float32Array; y: Int32Array } {
  const B = idx.length;
  const x = new Float32Array(B * perExample);
  const y = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const i = idx[b];
    if (i < 0 || i >= a.count) throw new Error(`example index ${i} out of range [0, ${a.count})`);
    x.set(a.x.subarray(i * perExample, (i + 1) * perExample), b * perExample);
    y[b] = a.y[i];
  }
  return { x, y };
}
