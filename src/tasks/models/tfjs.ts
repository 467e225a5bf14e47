/**
 * The interpreter of a task's tfjs layers model (task files' `"family": "tfjs"`): `makeTfjsModel` turns
 * the description resolved from a saved model.json (tasks/models/tfjs-resolve.ts: resolveTfjsModel) into
 * a pure function of nino's flat parameter tensors (PyTorch layouts, like every model family), so
 * gradients, AdamW and NiNo's nowcasts act on those tensors directly.
 *
 * Parameters: the model's weights in layer order (kernel, bias / gamma, beta), each in the PyTorch
 * layout tfjs/graph.ts documents (Conv2D [out,in,kh,kw], Dense [out,in], Dense after Flatten of P
 * positions x C channels [out,C,P] when P <= 9 (folded), else [out,C*P]).
 * forward(params, x): x [B,...] is reshaped to the model's input shape -> logits [B,classes] (a final
 * softmax is left out: the loss is softmax cross-entropy on the logits, so softmax(forward) equals
 * model.predict). Dropout layers are the identity (nino's training is deterministic).
 * init: `'saved'` (default) = the saved weights, the same for every seed (the seed varies the data
 * order); `'seed'` = each layer's own saved initializer (GlorotUniform, Zeros ...) seeded from the run
 * seed, so seeds differ in their initial weights too.
 *
 *   const args = resolveTfjsModel('/abs/my-model/model.json', 'saved');   // TfjsModelArgs (JSON)
 *   const m = makeTfjsModel(args);   m.forward(params, x)
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerDesc, LayersDesc, LayerWeightDesc } from '../../core/layers.ts';
import { weightKind } from '../../core/layers.ts';
import type { ParamSpec } from '../../core/params.ts';
import type { Rng } from '../../core/rng.ts';
import type { Batch, ModelDef } from '../types.ts';
import { finalActivation, initializerOf, prod, readSavedWeights, type TfjsModelArgs } from './tfjs-resolve.ts';

/** Feature slots of the official nowcasters: a Dense after a Flatten of at most this many positions is folded (graph/layers.ts). */
const MAX_FEAT = 9;

/** One weight's place in the flat vector: tfjs tensor -> reshape(view) -> transpose(perm) = torch layout. */
interface WeightLayout {
  layer: LayerDesc;
  weight: LayerWeightDesc;
  tfShape: number[];
  view: number[];
  perm: number[];
  torchShape: number[];
}

/** The flat vector's layouts, following graph/layers.ts (Dense after a Flatten: folded when P <= 9). */
function weightLayouts(d: LayersDesc): WeightLayout[] {
  const flat = new Map<string, { positions: number; channels: number } | undefined>();
  for (const i of d.inputs) flat.set(i.id, undefined);
  const shapeOf = new Map<string, number[]>(d.inputs.map((i) => [i.id, i.shape.slice(1) as number[]]));
  const out: WeightLayout[] = [];
  for (const l of d.layers) {
    const inId = l.inputs[0].id;
    const inShape = shapeOf.get(inId)!;
    const fin = flat.get(inId);
    const id = l.outputs[0].id;
    shapeOf.set(id, l.outputs[0].shape.slice(1) as number[]);
    if (l.className === 'Flatten') {
      const P = prod(inShape.slice(0, -1));
      flat.set(id, fin ?? (P > 1 ? { positions: P, channels: inShape[inShape.length - 1] } : undefined));
    } else if (
      ['Activation', 'ReLU', 'LeakyReLU', 'ELU', 'Softmax', 'Dropout', 'SpatialDropout1D'].includes(l.className)
    )
      flat.set(id, fin);
    else flat.set(id, undefined);
    for (const w of l.weights) {
      const kind = weightKind(w);
      if (kind !== 'kernel') {
        out.push({ layer: l, weight: w, tfShape: w.shape, view: w.shape, perm: [0], torchShape: w.shape });
      } else if (l.className === 'Dense') {
        const units = w.shape[1];
        if (fin)
          out.push({
            layer: l,
            weight: w,
            tfShape: w.shape,
            view: [fin.positions, fin.channels, units],
            perm: [2, 1, 0],
            torchShape:
              fin.positions <= MAX_FEAT ? [units, fin.channels, fin.positions] : [units, fin.channels * fin.positions],
          });
        else
          out.push({
            layer: l,
            weight: w,
            tfShape: w.shape,
            view: w.shape,
            perm: [1, 0],
            torchShape: [units, w.shape[0]],
          });
      } else {
        const ks = w.shape.slice(0, -2);
        const [cin, cout] = w.shape.slice(-2);
        out.push({
          layer: l,
          weight: w,
          tfShape: w.shape,
          view: w.shape,
          perm: ks.length === 2 ? [3, 2, 0, 1] : [2, 1, 0],
          torchShape: [cout, cin, ...ks],
        });
      }
    }
  }
  return out;
}

/** data of shape `shape` transposed by perm (out dim i = in dim perm[i]), row-major. */
function permute(data: Float32Array, shape: number[], perm: number[]): Float32Array {
  const outShape = perm.map((p) => shape[p]);
  const inStride = shape.map((_, i) => prod(shape.slice(i + 1)));
  const out = new Float32Array(data.length);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let i = 0; i < idx.length; i++) src += idx[i] * inStride[perm[i]];
    out[o] = data[src];
    for (let i = idx.length - 1; i >= 0; i--) {
      if (++idx[i] < outShape[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

const inversePerm = (p: number[]) => {
  const inv = new Array<number>(p.length);
  p.forEach((d, i) => (inv[d] = i));
  return inv;
};

const ACT: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  linear: (x) => x,
  relu: (x) => tf.relu(x),
  relu6: (x) => tf.relu6(x),
  elu: (x) => tf.elu(x),
  selu: (x) => tf.selu(x),
  sigmoid: (x) => tf.sigmoid(x),
  hard_sigmoid: (x) => tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1),
  hardSigmoid: (x) => tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1),
  tanh: (x) => tf.tanh(x),
  softmax: (x) => tf.softmax(x),
  softplus: (x) => tf.softplus(x),
  softsign: (x) => tf.div(x, tf.add(tf.abs(x), 1)),
  swish: (x) => tf.mul(x, tf.sigmoid(x)),
  mish: (x) => tf.mul(x, tf.tanh(tf.softplus(x))),
};

/** The model of a resolved tfjs task model: a pure function of the flat vector's tensors. */
export function makeTfjsModel(a: TfjsModelArgs): ModelDef {
  const d = a.layers;
  const layouts = weightLayouts(d);
  const specs: ParamSpec[] = layouts.map((w) => ({ name: w.weight.name, shape: w.torchShape }));
  const index = new Map(layouts.map((w, i) => [w.weight, i]));
  // the layer whose softmax makes the output probabilities: left out, forward returns logits
  const fin = finalActivation(d);
  const outLayer = fin.act === 'softmax' ? fin.layer : undefined;
  const inShape = a.inputShape;
  const inSize = prod(inShape);

  /** tfjs-layout weight from nino's torch-layout tensor (differentiable) */
  const tfWeight = (params: tf.Tensor[], w: LayerWeightDesc): tf.Tensor => {
    const i = index.get(w)!;
    const L = layouts[i];
    const t = params[i];
    if (L.perm.length === 1) return t;
    return tf.reshape(
      tf.transpose(
        tf.reshape(
          t,
          L.perm.map((p) => L.view[p]),
        ),
        inversePerm(L.perm),
      ),
      L.tfShape,
    );
  };

  const forward = (params: tf.Tensor[], x: tf.Tensor): tf.Tensor =>
    tf.tidy(() => {
      if (params.length !== specs.length)
        throw new Error(`tfjs model '${d.name}': expected ${specs.length} params, got ${params.length}`);
      if (x.size / x.shape[0] !== inSize)
        throw new Error(
          `tfjs model '${d.name}': an example has ${x.size / x.shape[0]} values, the model's input [${inShape}] has ${inSize}`,
        );
      const values = new Map<string, tf.Tensor>([
        [d.inputs[0].id, tf.reshape(tf.cast(x, 'float32'), [x.shape[0], ...inShape])],
      ]);
      for (const l of d.layers) {
        const ins = l.inputs.map((i) => values.get(i.id)!);
        const h = ins[0];
        const c = l.config;
        const W = (kind: string) => {
          const w = l.weights.find((v) => weightKind(v) === kind);
          return w ? tfWeight(params, w) : undefined;
        };
        const last = l === outLayer;
        // the output's softmax is left to the loss: forward returns logits
        const act = (t: tf.Tensor) => {
          const name = (c.activation as string | undefined) ?? 'linear';
          return last && name === 'softmax' ? t : ACT[name](t);
        };
        let y: tf.Tensor;
        switch (l.className) {
          case 'Dense': {
            const k = W('kernel')!;
            const units = k.shape[1] as number;
            let z = tf.matMul(tf.reshape(h, [-1, k.shape[0] as number]), k);
            const b = W('bias');
            if (b) z = tf.add(z, b);
            y = act(tf.reshape(z, [...h.shape.slice(0, -1), units]));
            break;
          }
          case 'Conv2D':
          case 'Conv1D': {
            const k = W('kernel')!;
            const s = c.strides as number[];
            const dl = c.dilationRate as number[];
            const pad = c.padding as 'valid' | 'same';
            let z =
              l.className === 'Conv2D'
                ? tf.conv2d(
                    h as tf.Tensor4D,
                    k as tf.Tensor4D,
                    s as [number, number],
                    pad,
                    'NHWC',
                    dl as [number, number],
                  )
                : tf.conv1d(h as tf.Tensor3D, k as tf.Tensor3D, s[0], pad, 'NWC', dl[0]);
            const b = W('bias');
            if (b) z = tf.add(z, b);
            y = act(z);
            break;
          }
          case 'MaxPooling2D':
          case 'AveragePooling2D': {
            const f = l.className === 'MaxPooling2D' ? tf.maxPool : tf.avgPool;
            y = f(
              h as tf.Tensor4D,
              c.poolSize as [number, number],
              c.strides as [number, number],
              c.padding as 'valid' | 'same',
            );
            break;
          }
          case 'MaxPooling1D':
          case 'AveragePooling1D': {
            const f = l.className === 'MaxPooling1D' ? tf.maxPool : tf.avgPool;
            const [B, L, C] = h.shape;
            const p = f(
              tf.reshape(h, [B, L, 1, C]) as tf.Tensor4D,
              [(c.poolSize as number[])[0], 1],
              [(c.strides as number[])[0], 1],
              c.padding as 'valid' | 'same',
            );
            y = tf.reshape(p, [B, p.shape[1] as number, C]);
            break;
          }
          case 'GlobalAveragePooling1D':
            y = tf.mean(h, 1);
            break;
          case 'GlobalAveragePooling2D':
            y = tf.mean(h, [1, 2]);
            break;
          case 'GlobalMaxPooling1D':
            y = tf.max(h, 1);
            break;
          case 'GlobalMaxPooling2D':
            y = tf.max(h, [1, 2]);
            break;
          case 'Flatten':
            y = tf.reshape(h, [h.shape[0], -1]);
            break;
          case 'Activation':
            y = act(h);
            break;
          case 'ReLU':
            y =
              c.maxValue !== undefined && c.maxValue !== null ? tf.clipByValue(h, 0, c.maxValue as number) : tf.relu(h);
            break;
          case 'LeakyReLU':
            y = tf.leakyRelu(h, (c.alpha as number | undefined) ?? 0.3);
            break;
          case 'ELU':
            y = tf.elu(h);
            break;
          case 'Softmax':
            y = last ? h : tf.softmax(h);
            break;
          case 'Dropout':
          case 'SpatialDropout1D':
            y = h;
            break;
          case 'Add':
            y = ins.slice(1).reduce((s, t) => tf.add(s, t), h);
            break;
          case 'LayerNormalization': {
            const { mean, variance } = tf.moments(h, -1, true);
            let z = tf.mul(tf.sub(h, mean), tf.rsqrt(tf.add(variance, (c.epsilon as number | undefined) ?? 1e-3)));
            const g = W('gamma');
            const b = W('beta');
            if (g) z = tf.mul(z, g);
            if (b) z = tf.add(z, b);
            y = z;
            break;
          }
          default:
            throw new Error(`tfjs model '${d.name}': layer '${l.name}' (${l.className}) has no interpreter rule`);
        }
        values.set(l.outputs[0].id, y);
      }
      return values.get(d.outputs[0])!;
    });

  const init = (rng: Rng): Float32Array[] => {
    if (a.init === 'saved') {
      const saved = readSavedWeights(a);
      return layouts.map((L) => permute(saved.get(L.weight.originalName)!, L.view, L.perm));
    }
    return layouts.map((L) => {
      const ic = L.layer.config[`${weightKind(L.weight)}Initializer`] as {
        className: string;
        config: Record<string, unknown>;
      };
      const seed = Math.floor(rng.uniform() * 2 ** 31);
      const data = tf.tidy(
        () =>
          initializerOf(ic.className)!({ ...ic.config, seed })
            .apply(L.tfShape, 'float32')
            .dataSync() as Float32Array,
      );
      return permute(Float32Array.from(data), L.view, L.perm);
    });
  };

  return {
    arch: 'tfjs',
    specs,
    graphInfo: { numClasses: a.numClasses },
    layers: d,
    init,
    forward,
    loss(params: tf.Tensor[], batch: Batch): tf.Scalar {
      return tf.tidy(() => {
        const logits = forward(params, batch.x) as tf.Tensor2D;
        const y = batch.y.dtype === 'int32' ? batch.y : batch.y.toInt();
        const onehot = tf.oneHot(y.flatten() as tf.Tensor1D, a.numClasses);
        return tf.losses.softmaxCrossEntropy(onehot, logits, undefined, 0, tf.Reduction.MEAN) as tf.Scalar;
      });
    },
  };
}
