/**
 * The two sparse graph primitives the GNN needs, behind local functions so the implementation can be
 * switched. They delegate to src/core/kernels/ops.ts (differentiable tf.customGrad pairs; wasm uses
 * nino's UnsortedSegmentSum kernel, cpu a typed-array loop) and accept host Int32Array indices:
 *   gatherRows(x [N,H], idx [E]) -> [E,H]                             grad: segmentSum(dy, idx, N)
 *   segmentSum(x [E,H], seg [E], numSegments) -> [numSegments,H]      grad: gatherRows(dy, seg)
 * Index tensors created here are tracked by the enclosing tf.tidy (every caller runs inside one).
 * `segmentSumHost` is the plain host loop (sum in edge order, float32 accumulation); `gatherHost` /
 * `gather2Host` are host row gathers (tfjs-wasm's gather is slow), `inDegree` the mean's divisor.
 */
import * as tf from '@tensorflow/tfjs';
import * as ops from '../core/kernels/ops.ts';

type Idx = Int32Array | tf.Tensor1D;

function idxTensor(idx: Idx): tf.Tensor1D {
  return idx instanceof Int32Array ? tf.tensor1d(idx, 'int32') : idx;
}

/** Host segment sum: out[seg[e], :] += x[e, :], in edge order. x: [E*H] */
export function segmentSumHost(x: Float32Array, seg: Int32Array, numSegments: number, H: number): Float32Array {
  const out = new Float32Array(numSegments * H);
  const E = seg.length;
  for (let e = 0; e < E; e++) {
    const s = seg[e];
    if (s < 0 || s >= numSegments) continue;
    const o = s * H;
    const xi = e * H;
    for (let h = 0; h < H; h++) out[o + h] += x[xi + h];
  }
  return out;
}

/** Host accumulate: acc[seg[e], :] += x[e, :] for e in order (acc: [numSegments*H]). */
export function segmentSumAccumulateHost(acc: Float32Array, x: Float32Array, seg: Int32Array, H: number): void {
  const E = seg.length;
  for (let e = 0; e < E; e++) {
    const o = seg[e] * H;
    const xi = e * H;
    for (let h = 0; h < H; h++) acc[o + h] += x[xi + h];
  }
}

/** [E,H] = x[idx] (x: [N,H]) */
export function gatherRows(x: tf.Tensor2D, idx: Idx): tf.Tensor2D {
  return ops.gatherRows(x, idxTensor(idx));
}

/** [numSegments,H] = sum of x rows per segment id (x: [E,H], seg: [E]) */
export function segmentSum(x: tf.Tensor2D, seg: Idx, numSegments: number): tf.Tensor2D {
  return ops.segmentSum(x, idxTensor(seg), numSegments);
}

/** host row gather: out[e] = table[idx[e]] (table [*, H] host array) -> tensor [n, H] */
export function gatherHost(table: Float32Array, idx: Int32Array, H: number): tf.Tensor2D {
  const n = idx.length;
  const out = new Float32Array(n * H);
  for (let e = 0; e < n; e++) out.set(table.subarray(idx[e] * H, idx[e] * H + H), e * H);
  return tf.tensor2d(out, [n, H]);
}

/** host fused gather: out[e] = a[ia[e]] + b[ib[e]]  (a, b: [*, H] host arrays) -> tensor [n, H] */
export function gather2Host(a: Float32Array, ia: Int32Array, b: Float32Array, ib: Int32Array, H: number): tf.Tensor2D {
  const n = ia.length;
  const out = new Float32Array(n * H);
  for (let e = 0; e < n; e++) {
    const o = e * H;
    const pa = ia[e] * H;
    const pb = ib[e] * H;
    for (let h = 0; h < H; h++) out[o + h] = a[pa + h] + b[pb + h];
  }
  return tf.tensor2d(out, [n, H]);
}

/** [N] number of incoming edges per node (of `subset` when given), 1 where none (PyG mean: empty gives 0) */
export function inDegree(dst: Int32Array, N: number, subset: Int32Array | null): Float32Array {
  const cnt = new Float32Array(N);
  if (subset) for (let i = 0; i < subset.length; i++) cnt[dst[subset[i]]]++;
  else for (let i = 0; i < dst.length; i++) cnt[dst[i]]++;
  for (let i = 0; i < N; i++) if (cnt[i] === 0) cnt[i] = 1;
  return cnt;
}
