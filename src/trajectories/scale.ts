/**
 * Per-tensor parameter scaling (official `utils/scale.py: scale_params(method='std')`, README §1).
 *
 * For each original tensor (ParamLayout entry, NOT the expanded GPT entries) take its (numel, ctx) block
 * of the states matrix and compute, float32-faithfully as torch 1.13 on CPU does:
 *   mean = float32(cascadeSum_f32(W)) / (numel*ctx)            (torch `mean` = float32 `sum` then `div_`)
 *   std  = float32(sqrt(sum_f64((W_i - mean)^2) / (numel*ctx-1))) (torch `std_var_all_cpu`, double 2nd pass)
 *   W'   = f32(f32(W - mean) / f32(std + 1e-6))
 * Unscaling is `x * std + mean` (no eps).
 *
 *   const { scaled, scales } = scaleStates(states, layout, 5);  // states/scaled: [n, ctx], scales: [T, 2]
 *   const params = unscaleVector(predScaled, layout, scales);   // [n]
 */
import type { ParamLayout } from '../core/params.ts';

const f32 = Math.fround;

/**
 * Vector width (floats per SIMD register) of torch's `Vectorized<float>` used by the reference build.
 * 8 = AVX2, 16 = AVX-512. The golden data matches `SUM_VEC_WIDTH` (see test/scale.test.ts).
 */
export const SUM_VEC_WIDTH = 8;

function ceilLog2(x: number): number {
  // c10 utils::CeilLog2: x <= 2 → 1, else findLastSet(x - 1) + 1
  if (x <= 2) return 1;
  return x - 1 >= 2 ** 32 ? Math.ceil(Math.log2(x)) : 32 - Math.clz32(x - 1);
}

/**
 * float32 sum of `x[start..start+len)` in exactly the order of torch 1.13's CPU `cascade_sum`
 * (SumKernel.cpp: vectorized_inner_sum → row_sum (ilp 4) → multi_row_sum (4-level cascade)).
 * `w` is the SIMD width in floats.
 */
export function torchSumF32(x: Float32Array, start: number, len: number, w = SUM_VEC_WIDTH): number {
  if (len < w) {
    // non-vectorized path: (in_strides[0] == sizeof && size0 >= vec size) fails → scalar row_sum (ilp 4)
    return rowSumScalar(x, start, len);
  }
  const vecSize = Math.floor(len / w);
  // row_sum over vecSize "elements" that are vectors of w lanes
  const ilp = 4;
  const sizeIlp = Math.floor(vecSize / ilp);
  const numLevels = 4;
  const levelPower = Math.max(4, Math.floor(ceilLog2(sizeIlp) / numLevels));
  const levelStep = 1 << levelPower;
  const levelMask = levelStep - 1;
  // acc[level][row k][lane]
  const acc = new Float32Array(numLevels * ilp * w);
  const A = (j: number, k: number) => (j * ilp + k) * w;
  let i = 0;
  const loadAdd = (j: number, vecIdx: number, k: number) => {
    const base = A(j, k);
    const src = start + vecIdx * w;
    for (let l = 0; l < w; l++) acc[base + l] = f32(acc[base + l] + x[src + l]);
  };
  for (; i + levelStep <= sizeIlp;) {
    for (let j = 0; j < levelStep; ++j, ++i) {
      for (let k = 0; k < ilp; k++) loadAdd(0, i * ilp + k, k);
    }
    for (let j = 1; j < numLevels; j++) {
      for (let k = 0; k < ilp; k++) {
        const a = A(j, k),
          b = A(j - 1, k);
        for (let l = 0; l < w; l++) {
          acc[a + l] = f32(acc[a + l] + acc[b + l]);
          acc[b + l] = 0;
        }
      }
      // torch: if ((i & (level_mask << (j * level_power))) != 0) break;
      if ((Math.floor(i / 2 ** (j * levelPower)) & levelMask) !== 0) break;
    }
  }
  for (; i < sizeIlp; ++i) for (let k = 0; k < ilp; k++) loadAdd(0, i * ilp + k, k);
  for (let j = 1; j < numLevels; j++) {
    for (let k = 0; k < ilp; k++) {
      const a = A(0, k),
        b = A(j, k);
      for (let l = 0; l < w; l++) acc[a + l] = f32(acc[a + l] + acc[b + l]);
    }
  }
  // partial_sums[0] += remaining vectors
  for (let v = sizeIlp * ilp; v < vecSize; v++) {
    const src = start + v * w;
    for (let l = 0; l < w; l++) acc[l] = f32(acc[l] + x[src + l]);
  }
  for (let k = 1; k < ilp; k++) {
    const b = A(0, k);
    for (let l = 0; l < w; l++) acc[l] = f32(acc[l] + acc[b + l]);
  }
  let fin = 0;
  for (let k = vecSize * w; k < len; k++) fin = f32(fin + x[start + k]);
  for (let l = 0; l < w; l++) fin = f32(fin + acc[l]);
  return fin;
}

function rowSumScalar(x: Float32Array, start: number, len: number): number {
  // row_sum<float> with ilp 4 and the same cascade (only tiny sizes reach here: no cascade flush)
  const ilp = 4;
  const sizeIlp = Math.floor(len / ilp);
  const p = [0, 0, 0, 0];
  for (let i = 0; i < sizeIlp; i++) for (let k = 0; k < ilp; k++) p[k] = f32(p[k] + x[start + i * ilp + k]);
  for (let i = sizeIlp * ilp; i < len; i++) p[0] = f32(p[0] + x[start + i]);
  for (let k = 1; k < ilp; k++) p[0] = f32(p[0] + p[k]);
  return p[0];
}

export interface ScaleResult {
  /** [numParams, ctx] row-major, scaled states */
  scaled: Float32Array;
  /** [T, 2] per original tensor: [mean, std] (raw std, no eps) */
  scales: Float32Array;
}

/**
 * Scales a states matrix per original tensor (README §1).
 * @param states [numParams, ctx] row-major (column t = state t, oldest first)
 * @param layout the model's ParamLayout (original tensors, named_parameters order)
 * @param ctx number of states per parameter (5 for NiNo)
 */
export function scaleStates(states: Float32Array, layout: ParamLayout, ctx: number, eps = 1e-6): ScaleResult {
  if (states.length !== layout.total * ctx) {
    throw new Error(`scaleStates: states has ${states.length} values, expected numParams*ctx = ${layout.total}*${ctx}`);
  }
  const T = layout.entries.length;
  const scaled = new Float32Array(states.length);
  const scales = new Float32Array(T * 2);
  const epsF = f32(eps);
  for (let ti = 0; ti < T; ti++) {
    const e = layout.entries[ti];
    const start = e.offset * ctx;
    const len = e.numel * ctx;
    const mean = f32(torchSumF32(states, start, len) / len);
    let ss = 0;
    for (let i = start; i < start + len; i++) {
      const d = states[i] - mean;
      ss += d * d;
    }
    const std = f32(Math.sqrt(ss / Math.max(0, len - 1)));
    scales[2 * ti] = mean;
    scales[2 * ti + 1] = std;
    const denom = f32(std + epsF);
    for (let i = start; i < start + len; i++) scaled[i] = f32(f32(states[i] - mean) / denom);
  }
  return { scaled, scales };
}

/**
 * Inverse scaling of a flat vector: `x * std + mean` per original tensor (float32, no eps).
 * @param x [numParams] scaled values (e.g. `toVector` output)
 * @param scales [T, 2] from `scaleStates`
 * @returns [numParams]
 */
export function unscaleVector(x: Float32Array, layout: ParamLayout, scales: Float32Array): Float32Array {
  if (x.length !== layout.total) throw new Error(`unscaleVector: got ${x.length} values, expected ${layout.total}`);
  const out = new Float32Array(x.length);
  layout.entries.forEach((e, ti) => {
    const mean = scales[2 * ti];
    const std = scales[2 * ti + 1];
    for (let i = e.offset; i < e.offset + e.numel; i++) out[i] = f32(f32(x[i] * std) + mean);
  });
  return out;
}
