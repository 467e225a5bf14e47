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

/**
 * Saves a model with tfjs's own model.save() into `dir` as model.json + weights.bin, the files
 * `model.save('file://dir')` writes with tfjs-node (which nino does not depend on).
 */
export async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<string> {
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const data =
        a.weightData instanceof ArrayBuffer
          ? a.weightData
          : tf.io.concatenateArrayBuffers(a.weightData as ArrayBuffer[]);
      writeFileSync(join(dir, 'weights.bin'), new Uint8Array(data));
      const json = {
        modelTopology: a.modelTopology,
        format: a.format ?? 'layers-model',
        generatedBy: a.generatedBy,
        convertedBy: a.convertedBy ?? null,
        weightsManifest: [{ paths: ['./weights.bin'], weights: a.weightSpecs }],
      };
      writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return join(dir, 'model.json');
}

/** Loads a saved model.json + shards from disk (the reverse of saveLayersModel, through tf.io.fromMemory). */
export async function loadSavedLayersModel(path: string): Promise<tf.LayersModel> {
  const { readFileSync } = await import('node:fs');
  const { dirname, join } = await import('node:path');
  const j = JSON.parse(readFileSync(path, 'utf8'));
  const bufs = j.weightsManifest.flatMap((g: { paths: string[] }) =>
    g.paths.map((p) => readFileSync(join(dirname(path), p))),
  );
  const all = Buffer.concat(bufs);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const weightSpecs = j.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: j.modelTopology, weightSpecs, weightData }));
}
