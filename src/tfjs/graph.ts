/**
 * The neural graph of a tfjs `tf.LayersModel` (Sequential or functional), with no user code: the
 * layers are walked in topological order and each one adds nodes and edge blocks exactly as the
 * official `graph/graph.py: NeuralGraph` does for the equivalent PyTorch model (node order: inputs,
 * then per layer [its 1-D parameter nodes][its output neurons]; edges block by block, input-major;
 * self-loops last). An FM-16 conv net written as a tf.sequential gives the golden graph of case A.
 *
 * Flat parameter vector: the model's weights in layer order (kernel, bias / gamma, beta / embeddings),
 * each converted explicitly to the PyTorch layout of the equivalent torch module, because that is
 * the layout the graph indexes (and the one nino's trajectories and the golden data use):
 *   Conv2D kernel [kh,kw,in,out] -> [out,in,kh,kw]      Conv1D kernel [k,in,out] -> [out,in,k]
 *   Dense kernel  [in,out]       -> [out,in]            Embedding [vocab,dim] (same in both)
 *   Dense after Flatten of [..., P positions, C channels]: kernel [P*C,out] -> [out,C,P] (PyTorch
 *   flattens NCHW channel-major, tfjs NHWC position-major).
 * Every tensor's shape is checked against what its layer implies (kernel in-size = the incoming
 * neurons); a layer outside SUPPORTED_LAYERS fails naming the layer, its class and the list.
 *
 * Flatten (conv -> Flatten -> Dense): the official builder assumes a layer's inputs are the previous
 * layer's output neurons, which is false after Flatten (P*C inputs, C neurons). Rule: a Dense reading a
 * flattened map of P positions is, exactly, a 'valid' convolution whose kernel covers the whole map,
 * so when P fits the checkpoint's feature slots (P <= maxFeat, e.g. a 3x3 map for the official 9) its
 * edges are conv edges channel -> output with the P spatial weights as the P features (edge type
 * conv), the same representation the checkpoint was trained on for 3x3 kernels. When P is larger, each
 * flattened position becomes its own input neuron (C*P nodes, channel-major), tied to its channel's
 * neuron by a parameter-free identity edge (residual type, constant 1), and the Dense connects those
 * nodes as an ordinary fc layer: every weight stays one edge feature, at the cost of C*P extra nodes.
 * BatchNormalization / LayerNormalization / Add on a flattened tensor use the per-position nodes too.
 * A flattened model input (an MLP on images) has no channel neurons to tie to: its C*P values are the
 * input neurons, as in the official MLP graph.
 *
 * The walk itself is graph/layers.ts (buildLayersGraph), over the plain description this module makes
 * of the model (core/layers.ts); a task file's model.json gets the same graph without a live model.
 *
 * Residual Add: the output neurons are those of the input computed last; each other input gets
 * parameter-free residual edges (type 10, constant 1) into them, as NeuralGraphGPT does for residuals.
 * Parameter-free layers (activations, dropout, pooling) keep the neurons of their input.
 *
 *   const mg = modelGraph(model, { maxFeat: 9 });
 *   mg.graph.edgeIndex; const flat = mg.read(); mg.write(flat);   // PyTorch-layout flat vector
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerDesc, LayersDesc } from '../core/layers.ts';
import { buildLayersGraph, SUPPORTED_LAYERS } from '../graph/layers.ts';
import type { NeuralGraph } from '../graph/types.ts';

export { SUPPORTED_LAYERS };

/** One model weight in the flat vector, with its layout conversion. */
export interface ParamBinding {
  /** the model's own variable (read and written in place) */
  variable: tf.LayerVariable;
  layerName: string;
  layerClass: string;
  /** tfjs shape of the variable */
  tfShape: number[];
  /** the tfjs tensor is reshaped to this view, then transposed by `perm` to `torchShape` */
  view: number[];
  perm: number[];
  /** PyTorch-layout shape of this tensor in the flat vector */
  torchShape: number[];
  offset: number;
  numel: number;
}

export interface ModelGraph {
  graph: NeuralGraph;
  bindings: ParamBinding[];
  /** the model's weights as one flat vector in PyTorch layouts */
  read(): Float32Array;
  /** writes a flat vector (PyTorch layouts) into the model's own variables */
  write(flat: Float32Array): void;
}

export interface ModelGraphOptions {
  /** the nowcaster's feature slots per edge (Flatten folding and kernel size checks); default 9 */
  maxFeat?: number;
}

/** The plain description of a built tf.LayersModel (layers de-duplicated, tensor ids as strings). */
export function describeLayersModel(model: tf.LayersModel): { desc: LayersDesc; layers: tf.layers.Layer[] } {
  const layers: tf.layers.Layer[] = [];
  for (const l of model.layers) if (!layers.includes(l)) layers.push(l);
  const descs: LayerDesc[] = layers.map((layer) => {
    const node = layer.inboundNodes[0];
    return {
      name: layer.name,
      className: layer.getClassName(),
      config: layer.getConfig() as Record<string, unknown>,
      inputs: (node?.inputTensors ?? []).map((t) => ({ id: String(t.id), from: t.sourceLayer.name })),
      outputs: (node?.outputTensors ?? []).map((t) => ({ id: String(t.id), shape: [...t.shape] })),
      applications: layer.inboundNodes.length,
      weights: layer.weights.map((w) => ({
        name: w.name,
        originalName: w.originalName,
        shape: [...(w.shape as number[])],
        trainable: w.trainable,
      })),
    };
  });
  return {
    desc: {
      name: model.name,
      inputs: model.inputs.map((t) => ({ id: String(t.id), shape: [...t.shape] })),
      layers: descs,
      outputs: model.outputs.map((t) => String(t.id)),
    },
    layers,
  };
}

/** Builds the neural graph of a built tf.LayersModel and binds its weights to the flat vector. */
export function modelGraph(model: tf.LayersModel, o: ModelGraphOptions = {}): ModelGraph {
  if (!(model instanceof tf.LayersModel)) {
    throw new Error(`expected a tf.LayersModel (tf.sequential or tf.model), got ${describe(model)}`);
  }
  if (!model.inputs?.length) {
    throw new Error(
      `model '${model.name}' is not built: give its first layer an inputShape (or build it) before wrapping it with NiNo`,
    );
  }
  const { desc, layers } = describeLayersModel(model);
  const lg = buildLayersGraph(desc, { maxFeat: o.maxFeat });
  const bindings: ParamBinding[] = lg.params.map((p, i) => {
    const layer = layers[p.layer];
    const variable = layer.weights[p.weight];
    return {
      variable,
      layerName: layer.name,
      layerClass: layer.getClassName(),
      tfShape: [...(variable.shape as number[])],
      view: p.view,
      perm: p.perm,
      torchShape: p.torchShape,
      offset: lg.offsets[i],
      numel: numelOf(p.torchShape),
    };
  });
  const total = lg.total;
  return {
    graph: lg.graph,
    bindings,
    read(): Float32Array {
      const flat = new Float32Array(total);
      for (const b of bindings) {
        const data = tf.tidy(
          () => tf.transpose(tf.reshape(b.variable.read(), b.view), b.perm).dataSync() as Float32Array,
        );
        flat.set(data, b.offset);
      }
      return flat;
    },
    write(flat: Float32Array): void {
      if (flat.length !== total)
        throw new Error(`flat vector has ${flat.length} values, the model has ${total} parameters`);
      for (const b of bindings) {
        if (!b.variable.trainable) continue; // frozen weights stay as they are
        const inv = inversePerm(b.perm);
        const permuted = b.perm.map((d) => b.view[d]);
        tf.tidy(() => {
          const t = tf.reshape(
            tf.transpose(tf.tensor(flat.subarray(b.offset, b.offset + b.numel), permuted, 'float32'), inv),
            b.tfShape,
          );
          b.variable.write(t);
        });
      }
    },
  };
}

function inversePerm(p: number[]): number[] {
  const inv = new Array<number>(p.length);
  p.forEach((d, i) => (inv[d] = i));
  return inv;
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  const c = (x as { constructor?: { name?: string } }).constructor?.name;
  return c ? `a ${c}` : typeof x;
}

function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
