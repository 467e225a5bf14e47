/**
 * The two sparse graph primitives the GNN needs, behind local functions so the implementation can be
 * switched (src/core/kernels/ops.ts is the intended fast home). Both are differentiable (tf.customGrad):
 *   gatherRows(x [N,H], idx [E]) -> [E,H]          grad: segmentSum(dy, idx, N)
 *   segmentSum(x [E,H], seg [E], numSegments) -> [numSegments,H]   grad: gatherRows(dy, seg)
 * The fallback segment sum runs in JS on the host (sum in edge order, float32 accumulation), which is
 * O(E*H) on every backend (tfjs' cpu UnsortedSegmentSum is O(N*E*H); wasm has none).
 */
import * as tf from '@tensorflow/tfjs';

type Idx = Int32Array | tf.Tensor1D;

function idxArray(idx: Idx): Int32Array {
  return idx instanceof Int32Array ? idx : (idx.dataSync() as Int32Array);
}

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

/** [E,H] = x[idx] (x: [N,H]) */
export function gatherRows(x: tf.Tensor2D, idx: Idx): tf.Tensor2D {
  const N = x.shape[0];
  const idxArr = idx instanceof Int32Array ? idx : null;
  const f = tf.customGrad(((xx: tf.Tensor) => {
    const it = idxTensor(idx);
    const value = tf.gather(xx as tf.Tensor2D, it) as tf.Tensor2D;
    if (it !== idx) it.dispose();
    return {
      value,
      gradFunc: (dy: tf.Tensor) => segmentSum(dy as tf.Tensor2D, idxArr ?? idxArray(idx), N),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as tf.Tensor2D;
}

/** [numSegments,H] = sum of x rows per segment id (x: [E,H], seg: [E]) */
export function segmentSum(x: tf.Tensor2D, seg: Idx, numSegments: number): tf.Tensor2D {
  const f = tf.customGrad(((xx: tf.Tensor) => {
    const H = xx.shape[1] as number;
    const s = idxArray(seg);
    const value = tf.tensor2d(segmentSumHost(xx.dataSync() as Float32Array, s, numSegments, H), [numSegments, H]);
    return { value, gradFunc: (dy: tf.Tensor) => gatherRows(dy as tf.Tensor2D, seg) };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as tf.Tensor2D;
}
