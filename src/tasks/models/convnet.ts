/**
 * The NiNo paper's vision conv net (official `Net`, e.g. FM-16 / C10-16) as a pure function of its
 * parameter list, in tfjs.
 *
 * PyTorch:  fc = Sequential(Conv2d(in,h0,3,stride=2,padding=0), ReLU, Conv2d(h0,h1,3,1,padding=1), ReLU,
 *                           Conv2d(h1,h2,3,1,padding=1), ReLU, AdaptiveAvgPool2d(1), Flatten, Linear(h2,C))
 * Parameters (named_parameters() order, PyTorch layouts in the flat vector):
 *   fc.0.weight [h0,in,3,3]  fc.0.bias [h0]   fc.2.weight [h1,h0,3,3]  fc.2.bias [h1]
 *   fc.4.weight [h2,h1,3,3]  fc.4.bias [h2]   fc.8.weight [C,h2]       fc.8.bias [C]
 * FM-16 (hid 16,32,32, in 1, C 10) has 14,378 parameters; C10-16 (in 3) has 14,666.
 *
 * forward(params, x): x [B,H,W,in] float32 NHWC -> logits [B,C]. Conv weights are transposed inside to
 * tfjs HWIO ([kh,kw,in,out]); stride-2 valid conv = PyTorch padding 0; stride-1 'same' = padding 1.
 * loss: mean softmax cross-entropy over the batch; y [B] int32 class ids.
 * init: PyTorch defaults, kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and
 * the same bound for biases; fan_in = in*3*3 (conv) or h2 (linear); drawn in parameter order, row-major.
 *
 * On wasm the convolution gradients run nino's kernels (src/core/kernels); see scripts/bench-step.ts.
 *
 *   const m = makeConvNet({ hid: [16, 32, 32], inChannels: 1, numClasses: 10 });
 *   const params = m.init(new Rng(0)).map((a, i) => tf.tensor(a, m.specs[i].shape));
 *   const logits = m.forward(params, x);   // x [B,28,28,1] -> [B,10]
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamSpec } from '../../core/params.ts';
import { numel } from '../../core/params.ts';
import type { Rng } from '../../core/rng.ts';
import type { Batch, ModelDef } from '../types.ts';

export interface ConvNetConfig {
  /** channels of the three conv layers, e.g. [16, 32, 32] */
  hid: number[];
  inChannels: number;
  numClasses: number;
  /** input height = width in pixels (informational; the net pools adaptively). Default 28 for 1 channel, 32 otherwise. */
  imageSize?: number;
}

/** Parameter specs in PyTorch named_parameters() order. */
export function convNetSpecs(c: ConvNetConfig): ParamSpec[] {
  if (c.hid.length !== 3) throw new Error(`convnet: hid must have 3 entries, got [${c.hid.join(',')}]`);
  const [h0, h1, h2] = c.hid;
  return [
    { name: 'fc.0.weight', shape: [h0, c.inChannels, 3, 3] },
    { name: 'fc.0.bias', shape: [h0] },
    { name: 'fc.2.weight', shape: [h1, h0, 3, 3] },
    { name: 'fc.2.bias', shape: [h1] },
    { name: 'fc.4.weight', shape: [h2, h1, 3, 3] },
    { name: 'fc.4.bias', shape: [h2] },
    { name: 'fc.8.weight', shape: [c.numClasses, h2] },
    { name: 'fc.8.bias', shape: [c.numClasses] },
  ];
}

/** (stride, tfjs pad) of the three convs, mirroring PyTorch (stride 2, padding 0), (1, 1), (1, 1). */
const CONV_LAYERS: { stride: number; pad: 'valid' | 'same' }[] = [
  { stride: 2, pad: 'valid' },
  { stride: 1, pad: 'same' },
  { stride: 1, pad: 'same' },
];

/** PyTorch [out,in,kh,kw] -> tfjs [kh,kw,in,out]. */
function toHWIO(w: tf.Tensor): tf.Tensor4D {
  return tf.transpose(w, [2, 3, 1, 0]) as tf.Tensor4D;
}

/** True inside tf.grads / tf.variableGrads (a gradient tape is recording). */
function isRecordingGradients(): boolean {
  return (tf.engine().state as unknown as { gradientDepth: number }).gradientDepth > 0;
}

/**
 * h [B,H,W,C] + b [C] with the bias gradient computed as dy^T [C,B*H*W] @ ones [B*H*W,1] (one GEMM) instead of
 * tfjs's broadcast-add gradient (a Sum over three axes, ~8x slower on wasm).
 */
const biasAdd = tf.customGrad((h: tf.Tensor | tf.GradSaveFunc, b: tf.Tensor | tf.GradSaveFunc) => ({
  value: tf.add(h as tf.Tensor, b as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => {
    const c = dy.shape[dy.rank - 1];
    const m = dy.size / c;
    // dy^T [C,M] @ ones [M,1]: explicit transpose, and the GEMM's packed operand is the small ones
    const db = tf.matMul(tf.transpose(tf.reshape(dy, [m, c])), tf.ones([m, 1])).reshape([c]);
    return [dy, db];
  },
})) as (h: tf.Tensor, b: tf.Tensor) => tf.Tensor4D;

/**
 * AdaptiveAvgPool2d(1) + Flatten: h [B,H,W,C] -> [B,C]. Forward as a mean over axis 1 of [B,H*W,C]
 * (0.7 ms vs 1.1 ms for axes [1,2] on wasm at FM-16 size); gradient as one broadcast multiply
 * (dy/(H*W)) [B,1,1,C] x ones [1,H,W,1] (0.5 ms) instead of tfjs's ones(x.shape) * dy / n (4.5 ms).
 * (tf.broadcastTo / Tile is far slower on wasm: 50 ms.)
 */
const meanPool = tf.customGrad((h: tf.Tensor | tf.GradSaveFunc) => {
  const x = h as tf.Tensor4D;
  const [b, hh, ww, c] = x.shape;
  return {
    value: tf.mean(tf.reshape(x, [b, hh * ww, c]), 1) as tf.Tensor2D,
    gradFunc: (dy: tf.Tensor) => tf.mul(tf.reshape(tf.mul(dy, 1 / (hh * ww)), [b, 1, 1, c]), tf.ones([1, hh, ww, 1])),
  };
}) as (h: tf.Tensor) => tf.Tensor2D;

export function makeConvNet(c: ConvNetConfig): ModelDef {
  const specs = convNetSpecs(c);
  const imageSize = c.imageSize ?? (c.inChannels === 1 ? 28 : 32);

  const forward = (params: tf.Tensor[], x: tf.Tensor): tf.Tensor =>
    tf.tidy(() => {
      if (params.length !== specs.length)
        throw new Error(`convnet: expected ${specs.length} params, got ${params.length}`);
      if (x.rank !== 4 || x.shape[3] !== c.inChannels) {
        throw new Error(`convnet: x must be [B,H,W,${c.inChannels}] NHWC, got [${x.shape.join(',')}]`);
      }
      const training = isRecordingGradients();
      let h = x as tf.Tensor4D;
      for (let l = 0; l < 3; l++) {
        const { stride, pad } = CONV_LAYERS[l];
        const filter = toHWIO(params[2 * l]);
        if (training) {
          h = tf.relu(biasAdd(tf.conv2d(h, filter, stride, pad), params[2 * l + 1]));
        } else {
          // inference: one fused XNNPACK call for conv + bias + relu
          h = tf.fused.conv2d({ x: h, filter, strides: stride, pad, bias: params[2 * l + 1], activation: 'relu' });
        }
      }
      const pooled = meanPool(h); // [B,h2]
      // explicit transpose: wasm's transposed matMul variants are ~10x slower
      const wT = tf.transpose(params[6]) as tf.Tensor2D; // [h2,C]
      return tf.add(tf.matMul(pooled, wT), params[7]);
    });

  const loss = (params: tf.Tensor[], batch: Batch): tf.Scalar =>
    tf.tidy(() => {
      const logits = forward(params, batch.x);
      const y = batch.y.dtype === 'int32' ? batch.y : batch.y.toInt();
      const onehot = tf.oneHot(y.flatten() as tf.Tensor1D, c.numClasses);
      return tf.losses.softmaxCrossEntropy(onehot, logits, undefined, 0, tf.Reduction.MEAN) as tf.Scalar;
    });

  const init = (rng: Rng): Float32Array[] => {
    const out: Float32Array[] = [];
    for (let i = 0; i < specs.length; i += 2) {
      const wShape = specs[i].shape;
      const fanIn = numel(wShape.slice(1)); // in*kh*kw or in
      const bound = 1 / Math.sqrt(fanIn);
      for (const s of [specs[i], specs[i + 1]]) {
        const a = new Float32Array(numel(s.shape));
        for (let k = 0; k < a.length; k++) a[k] = (2 * rng.uniform() - 1) * bound;
        out.push(a);
      }
    }
    return out;
  };

  return {
    arch: 'convnet',
    specs,
    graphInfo: {
      inChannels: c.inChannels,
      numClasses: c.numClasses,
      imageSize,
      hid: c.hid.join(','),
      numConvLayers: 3,
    },
    init,
    forward,
    loss,
  };
}
