/**
 * Fast differentiable gather / segment-sum for message passing (the NiNo GNN), on any tfjs backend.
 *
 *   gatherRows(x [N,H], idx int32 [E])              -> [E,H]   out[e] = x[idx[e]]
 *   segmentSum(x [E,H], seg int32 [E], numSegments) -> [N,H]   out[n] = sum_{e: seg[e]=n} x[e]
 *
 * Both are `tf.customGrad` pairs: d gatherRows / dx = segmentSum(dy, idx, N) and
 * d segmentSum / dx = gatherRows(dy, seg), so tfjs's generic gradients (a slow broadcast comparison) are
 * never used. Rows beyond rank 2 work too (x [N, ...inner]). Indices must lie in [0, N) / [0, numSegments)
 * (segmentSum drops out-of-range ids in the forward; the gradient of such rows is then the gathered value
 * of a clamped id, so do not rely on that).
 * On wasm both run nino's kernels (GatherV2, UnsortedSegmentSum); on the cpu backend, whose stock kernels
 * are slow (segment sum loops once per segment, O(N*E*H); gather computes indices per element), they run
 * typed-array loops on the data; elsewhere the stock ops.
 *
 *   import { gatherRows, segmentSum } from '../core/kernels/ops.ts';
 *   const msg = gatherRows(h, src);            // [E,H]
 *   const agg = segmentSum(msg, dst, numNodes); // [N,H]
 *
 * Try: npx vitest run test/kernels.test.ts
 */
import * as tf from '@tensorflow/tfjs';
import { segmentSumInto } from './unsorted_segment_sum.ts';

function asInt32(t: tf.Tensor): tf.Tensor {
  return t.dtype === 'int32' ? t : t.toInt();
}

/** Non-differentiable segment sum on the fastest path of the active backend. */
export function segmentSumRaw(x: tf.Tensor, seg: tf.Tensor, numSegments: number): tf.Tensor {
  if (tf.getBackend() !== 'cpu') return tf.unsortedSegmentSum(x, asInt32(seg) as tf.Tensor1D, numSegments);
  const rows = seg.size;
  const inner = rows === 0 ? sizeOf(x.shape.slice(1)) : x.size / rows;
  const outShape = [numSegments, ...x.shape.slice(seg.rank)];
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  if (rows > 0) {
    const xv = x.dataSync() as Float32Array | Int32Array;
    const sv = seg.dtype === 'int32' ? (seg.dataSync() as Int32Array) : Int32Array.from(seg.dataSync());
    segmentSumInto(xv, sv, inner, numSegments, out);
  }
  return tf.tensor(out, outShape, x.dtype === 'int32' ? 'int32' : 'float32');
}

/** Non-differentiable row gather on the fastest path of the active backend. */
export function gatherRowsRaw(x: tf.Tensor, idx: tf.Tensor): tf.Tensor {
  const it = asInt32(idx);
  if (tf.getBackend() !== 'cpu' || (x.dtype !== 'float32' && x.dtype !== 'int32')) return tf.gather(x, it, 0);
  const n = x.shape[0];
  const inner = sizeOf(x.shape.slice(1));
  const iv = it.dataSync() as Int32Array;
  const xv = x.dataSync() as Float32Array | Int32Array;
  const out = x.dtype === 'int32' ? new Int32Array(iv.length * inner) : new Float32Array(iv.length * inner);
  for (let e = 0; e < iv.length; e++) {
    const r = iv[e];
    if (!(r >= 0 && r < n)) throw new Error(`gatherRows: index ${r} is not in [0, ${n - 1}]`);
    out.set(xv.subarray(r * inner, (r + 1) * inner), e * inner);
  }
  return tf.tensor(out, [iv.length, ...x.shape.slice(1)], x.dtype);
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * out[e, ...] = x[idx[e], ...]. x [N, ...inner] float32, idx [E] int32 -> [E, ...inner].
 * Gradient w.r.t. x: segmentSum(dy, idx, N). No gradient flows to idx.
 */
export function gatherRows<T extends tf.Tensor>(x: T, idx: tf.Tensor): T {
  const n = x.shape[0];
  const f = tf.customGrad(
    (xx: tf.Tensor | tf.GradSaveFunc, ii: tf.Tensor | tf.GradSaveFunc, save: tf.Tensor | tf.GradSaveFunc) => {
      const xt = xx as tf.Tensor;
      const it = asInt32(ii as tf.Tensor);
      (save as tf.GradSaveFunc)([it]);
      return {
        value: gatherRowsRaw(xt, it),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [segmentSumRaw(dy, saved[0], n), tf.zeros(saved[0].shape)],
      };
    },
  );
  return f(x, idx) as T;
}

/**
 * out[s, ...] = sum of x[e, ...] over e with seg[e] = s. x [E, ...inner] float32, seg [E] int32
 * -> [numSegments, ...inner]. Gradient w.r.t. x: gatherRows(dy, seg). No gradient flows to seg.
 */
export function segmentSum<T extends tf.Tensor>(x: T, seg: tf.Tensor, numSegments: number): T {
  const f = tf.customGrad(
    (xx: tf.Tensor | tf.GradSaveFunc, ss: tf.Tensor | tf.GradSaveFunc, save: tf.Tensor | tf.GradSaveFunc) => {
      const xt = xx as tf.Tensor;
      const st = asInt32(ss as tf.Tensor);
      (save as tf.GradSaveFunc)([st]);
      return {
        value: segmentSumRaw(xt, st, numSegments),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          // clamp so dropped (out-of-range) ids do not make gather fail
          const ids = tf.clipByValue(saved[0], 0, Math.max(numSegments - 1, 0));
          return [gatherRowsRaw(dy, ids), tf.zeros(saved[0].shape)];
        },
      };
    },
  );
  return f(x, seg) as T;
}
