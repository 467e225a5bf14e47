/**
 * PyTorch-layout <-> tfjs-layout copies of flat parameter vectors for the tfjs API tests, written out
 * with explicit transposes (independent of src/tfjs, so they check its layout conversion).
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Sets the model's weights (model.getWeights() order) from a PyTorch-layout flat vector of the same
 * tensors: 4-D [out,in,kh,kw] -> [kh,kw,in,out], 2-D [out,in] -> [in,out], 1-D as is.
 */
export function setTorchFlat(model: tf.LayersModel, flat: Float32Array): void {
  let off = 0;
  const vals = model.trainableWeights.map((w) => {
    const s = w.shape as number[];
    const n = s.reduce((a, b) => a * b, 1);
    const chunk = flat.subarray(off, off + n);
    off += n;
    if (s.length === 4) return tf.transpose(tf.tensor(chunk, [s[3], s[2], s[0], s[1]]), [2, 3, 1, 0]);
    if (s.length === 2) return tf.transpose(tf.tensor(chunk, [s[1], s[0]]), [1, 0]);
    return tf.tensor(chunk, s);
  });
  if (off !== flat.length) throw new Error(`flat vector has ${flat.length} values, the model ${off}`);
  model.setWeights(vals);
  tf.dispose(vals);
}

/** The inverse of setTorchFlat: the model's weights as a PyTorch-layout flat vector. */
export function getTorchFlat(model: tf.LayersModel): Float32Array {
  const parts = model.trainableWeights.map((w) =>
    tf.tidy(() => {
      const t = w.read();
      if (t.rank === 4) return tf.transpose(t, [3, 2, 0, 1]).dataSync() as Float32Array;
      if (t.rank === 2) return tf.transpose(t, [1, 0]).dataSync() as Float32Array;
      return t.dataSync() as Float32Array;
    }),
  );
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
