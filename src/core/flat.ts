/**
 * Flat parameter vectors <-> parameter tensors (named_parameters order; see params.ts).
 *
 *   const v = flatten(params);  unflattenInto(params, v);
 */
import * as tf from '@tensorflow/tfjs';

/** Concatenates parameter tensors into one flat Float32Array (named_parameters order). */
export function flatten(params: readonly tf.Tensor[]): Float32Array {
  let n = 0;
  for (const p of params) n += p.size;
  const out = new Float32Array(n);
  let off = 0;
  for (const p of params) {
    out.set(p.dataSync() as Float32Array, off);
    off += p.size;
  }
  return out;
}

/** Writes a flat vector back into the variables (shapes from the variables). */
export function unflattenInto(params: readonly tf.Variable[], flat: Float32Array): void {
  let off = 0;
  for (const p of params) {
    const chunk = flat.subarray(off, off + p.size);
    tf.tidy(() => p.assign(tf.tensor(chunk, p.shape, 'float32')));
    off += p.size;
  }
  if (off !== flat.length) throw new Error(`flat vector has ${flat.length} values, parameters need ${off}`);
}
