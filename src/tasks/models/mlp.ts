/**
 * A multilayer perceptron classifier (PyTorch `Sequential(Flatten, Linear, ReLU, ..., Linear)`) as a pure
 * function of its parameter list, in tfjs. The model family of task files' `"family": "mlp"`.
 *
 * Parameters (named_parameters() order, PyTorch layouts): for widths [w0, w1, ...] and C classes,
 *   fc.0.weight [w0,in] fc.0.bias [w0]  fc.2.weight [w1,w0] fc.2.bias [w1] ... fc.2k.weight [C,w_last] fc.2k.bias [C]
 * (indices skip the ReLUs, like PyTorch's Sequential). Sequential, so the generic neural graph
 * (src/graph/sequential.ts) describes it.
 *
 * forward(params, x): x [B, ...] float32 (images are flattened) -> logits [B,C]; loss: mean softmax CE.
 * init: PyTorch defaults, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases, in parameter order.
 *
 *   const m = makeMlp({ inFeatures: 784, hidden: [32], numClasses: 10 });
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamSpec } from '../../core/params.ts';
import { numel } from '../../core/params.ts';
import type { Rng } from '../../core/rng.ts';
import type { Batch, ModelDef } from '../types.ts';

export interface MlpConfig {
  inFeatures: number;
  /** hidden layer widths (may be empty: a linear classifier) */
  hidden: number[];
  numClasses: number;
}

export function mlpSpecs(c: MlpConfig): ParamSpec[] {
  const dims = [c.inFeatures, ...c.hidden, c.numClasses];
  const out: ParamSpec[] = [];
  for (let l = 0; l + 1 < dims.length; l++) {
    out.push({ name: `fc.${2 * l}.weight`, shape: [dims[l + 1], dims[l]] });
    out.push({ name: `fc.${2 * l}.bias`, shape: [dims[l + 1]] });
  }
  return out;
}

export function makeMlp(c: MlpConfig): ModelDef {
  const specs = mlpSpecs(c);
  const forward = (params: tf.Tensor[], x: tf.Tensor): tf.Tensor =>
    tf.tidy(() => {
      let h: tf.Tensor = tf.reshape(x, [x.shape[0], -1]);
      if (h.shape[1] !== c.inFeatures)
        throw new Error(`mlp: input has ${h.shape[1]} features, the model expects ${c.inFeatures}`);
      const L = specs.length / 2;
      for (let l = 0; l < L; l++) {
        h = tf.add(tf.matMul(h, params[2 * l], false, true), params[2 * l + 1]);
        if (l + 1 < L) h = tf.relu(h);
      }
      return h;
    });
  return {
    arch: 'mlp',
    specs,
    graphInfo: {},
    init(rng: Rng): Float32Array[] {
      return specs.map((s) => {
        const fanIn = s.shape.length > 1 ? s.shape[1] : specs[specs.indexOf(s) - 1].shape[1];
        const b = 1 / Math.sqrt(fanIn);
        const a = new Float32Array(numel(s.shape));
        for (let i = 0; i < a.length; i++) a[i] = (rng.uniform() * 2 - 1) * b;
        return a;
      });
    },
    forward,
    loss(params: tf.Tensor[], batch: Batch): tf.Scalar {
      return tf.tidy(() => {
        const logits = forward(params, batch.x) as tf.Tensor2D;
        const onehot = tf.oneHot(batch.y.flatten() as tf.Tensor1D, c.numClasses);
        return tf.losses.softmaxCrossEntropy(onehot, logits, undefined, 0, tf.Reduction.MEAN) as tf.Scalar;
      });
    },
  };
}
