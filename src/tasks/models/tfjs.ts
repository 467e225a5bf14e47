/**
 * A tfjs layers model saved with `model.save('file://...')` (model.json + weight shards) as a task's
 * model: the model family of task files' `"family": "tfjs"`. Nothing is instantiated: the saved Keras
 * topology is read into a plain description (core/layers.ts), which `makeTfjsModel` interprets as a
 * pure function of nino's flat parameter tensors (PyTorch layouts, like every model family), so
 * gradients, AdamW and NiNo's nowcasts act on those tensors directly. The same description gives the
 * neural graph (graph arch 'tfjs', graph/layers.ts: the graph modelGraph(LayersModel) builds).
 *
 * Resolving (`resolveTfjsModel`, sync, when the task file is parsed) checks everything before any long
 * work: the file is JSON with a layers topology and a weights manifest, every layer is one the
 * interpreter supports (TASK_LAYERS), every weight is in the manifest with its shape (float32), the
 * shards exist with the right sizes; it records a SHA-256 of model.json and the shards (a changed
 * model is another task: bench re-runs). The resolved args (path, description, classes, input shape,
 * hash) are stored in the task definition, so workers and train-nino rebuild the model from it alone.
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
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../../core/errors.ts';
import type { LayerDesc, LayersDesc, LayerWeightDesc } from '../../core/layers.ts';
import { weightKind } from '../../core/layers.ts';
import type { ParamSpec } from '../../core/params.ts';
import type { Rng } from '../../core/rng.ts';
import type { Batch, ModelDef } from '../types.ts';

/** Layer classes a task's tfjs model may use (what the interpreter computes and the graph builder knows). */
export const TASK_LAYERS = [
  'InputLayer', 'Dense', 'Conv2D', 'Conv1D', 'LayerNormalization', 'MaxPooling1D', 'MaxPooling2D',
  'AveragePooling1D', 'AveragePooling2D', 'GlobalAveragePooling1D', 'GlobalAveragePooling2D',
  'GlobalMaxPooling1D', 'GlobalMaxPooling2D', 'Flatten', 'Activation', 'ReLU', 'LeakyReLU', 'ELU',
  'Softmax', 'Dropout', 'SpatialDropout1D', 'Add',
] as const;

const ACTIVATIONS = ['linear', 'relu', 'relu6', 'elu', 'selu', 'sigmoid', 'hard_sigmoid', 'hardSigmoid', 'tanh', 'softmax', 'softplus', 'softsign', 'swish', 'mish'];

/** Feature slots of the official nowcasters: a Dense after a Flatten of at most this many positions is folded (graph/layers.ts). */
const MAX_FEAT = 9;

/** How a task file's tfjs model starts. */
export type TfjsInit = 'saved' | 'seed';

/** The resolved model of a `"family": "tfjs"` task (plain JSON, stored in the task definition). */
export interface TfjsModelArgs {
  arch: 'tfjs';
  /** absolute path of model.json */
  path: string;
  init: TfjsInit;
  /** SHA-256 of model.json and its weight shards, in manifest order */
  sha256: string;
  /** the model's input shape without the batch dimension */
  inputShape: number[];
  numClasses: number;
  layers: LayersDesc;
}

/** Problems with a model.json: bad input (exit 2); the task file layer prefixes the field. */
export class TfjsModelError extends InputError {}

const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const pair = (v: unknown, d: number[], n: number): number[] =>
  v === undefined || v === null ? d : Array.isArray(v) ? (v as number[]) : new Array<number>(n).fill(v as number);
const prod = (a: readonly number[]) => a.reduce((x, y) => x * y, 1);

interface KerasLayer {
  class_name: string;
  name?: string;
  config: Record<string, unknown>;
  inbound_nodes?: unknown[];
}

/** The config fields the interpreter and the graph builder read, camelCase, normalised. */
function layerConfig(cls: string, raw: Record<string, unknown>, rank: number): Record<string, unknown> {
  const c: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    const key = camel(k);
    if (['name', 'trainable', 'dtype', 'batchInputShape', 'inputShape', 'sparse', 'kernelRegularizer', 'biasRegularizer', 'activityRegularizer', 'kernelConstraint', 'biasConstraint', 'betaRegularizer', 'gammaRegularizer', 'betaConstraint', 'gammaConstraint', 'noiseShape', 'seed'].includes(key)) continue;
    if (key.endsWith('Initializer') && v && typeof v === 'object') {
      const init = v as { class_name?: string; config?: Record<string, unknown> };
      const cfg: Record<string, unknown> = {};
      for (const [ik, iv] of Object.entries(init.config ?? {})) cfg[camel(ik)] = typeof iv === 'string' && (ik === 'mode' || ik === 'distribution') ? camel(iv) : iv;
      c[key] = { className: init.class_name, config: cfg };
    } else c[key] = v;
  }
  if (typeof c.dataFormat === 'string') c.dataFormat = camel(c.dataFormat);
  const sp = cls.endsWith('1D') ? 1 : 2;
  if (cls === 'Conv2D' || cls === 'Conv1D') {
    c.kernelSize = pair(c.kernelSize, [], sp);
    c.strides = pair(c.strides, new Array(sp).fill(1), sp);
    c.dilationRate = pair(c.dilationRate, new Array(sp).fill(1), sp);
  }
  if (cls.startsWith('MaxPooling') || cls.startsWith('AveragePooling')) {
    c.poolSize = pair(c.poolSize, new Array(sp).fill(2), sp);
    c.strides = pair(c.strides, c.poolSize as number[], sp);
  }
  if (c.padding === undefined && (cls.startsWith('Conv') || cls.includes('Pooling'))) c.padding = 'valid';
  if (cls === 'LayerNormalization' && c.axis === undefined) c.axis = -1;
  void rank;
  return c;
}

/** Output shape (no batch dim) of a layer given its input shapes, for the supported layers. */
function outputShape(l: LayerDesc, ins: number[][], fail: (m: string) => never): number[] {
  const c = l.config;
  const x = ins[0];
  const cls = l.className;
  const spatial = (n: number, k: number, s: number, d: number, pad: string) => (pad === 'same' ? Math.ceil(n / s) : Math.ceil((n - d * (k - 1)) / s));
  switch (cls) {
    case 'Dense':
      return [...x.slice(0, -1), c.units as number];
    case 'Conv2D':
    case 'Conv1D':
    case 'MaxPooling2D':
    case 'MaxPooling1D':
    case 'AveragePooling2D':
    case 'AveragePooling1D': {
      const sp = cls.endsWith('1D') ? 1 : 2;
      if (x.length !== sp + 1) fail(`expects a rank-${sp + 2} input [batch, ${sp === 2 ? 'height, width' : 'steps'}, channels], got [batch, ${x.join(', ')}]`);
      if (c.dataFormat !== undefined && c.dataFormat !== 'channelsLast') fail(`dataFormat '${String(c.dataFormat)}' is not supported; use channels_last (the tfjs default)`);
      if (c.padding !== 'valid' && c.padding !== 'same') fail(`padding '${String(c.padding)}' is not supported (valid, same)`);
      const conv = cls.startsWith('Conv');
      const k = (conv ? c.kernelSize : c.poolSize) as number[];
      const s = c.strides as number[];
      const d = conv ? (c.dilationRate as number[]) : [1, 1];
      if (conv && d.some((v) => v !== 1) && s.some((v) => v !== 1)) fail('dilation together with strides is not supported');
      const out = x.slice(0, sp).map((n, i) => spatial(n, k[i], s[i], d[i], c.padding as string));
      if (out.some((n) => n < 1)) fail(`the input [${x}] is too small for it`);
      return [...out, conv ? (c.filters as number) : x[sp]];
    }
    case 'GlobalAveragePooling1D':
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling1D':
    case 'GlobalMaxPooling2D': {
      const sp = cls.endsWith('1D') ? 1 : 2;
      if (x.length !== sp + 1) fail(`expects a rank-${sp + 2} input, got [batch, ${x.join(', ')}]`);
      return [x[sp]];
    }
    case 'Flatten':
      return [prod(x)];
    case 'Add':
      if (ins.length < 2 || ins.some((s) => s.join(',') !== x.join(','))) fail(`needs two or more inputs of one shape, got ${ins.map((s) => `[${s}]`).join(', ')}`);
      return x;
    case 'Softmax':
      if (c.axis !== undefined && c.axis !== -1 && c.axis !== x.length && !(Array.isArray(c.axis) && c.axis.length === 1 && (c.axis[0] === -1 || c.axis[0] === x.length))) fail('softmax over an axis other than the last is not supported');
      return x;
    case 'LayerNormalization': {
      const ax = Array.isArray(c.axis) && c.axis.length === 1 ? c.axis[0] : c.axis;
      if (ax !== -1 && ax !== x.length) fail(`normalization over axis ${JSON.stringify(c.axis)} is not supported; only the last (channels) axis`);
      return x;
    }
    default:
      return x;
  }
}

/** Weights a layer class has, by kind, in the order nino's flat vector takes them. */
function expectedWeights(l: LayerDesc, inShape: number[]): { kind: string; shape: number[] }[] {
  const c = l.config;
  const cin = inShape[inShape.length - 1];
  switch (l.className) {
    case 'Dense':
      return [{ kind: 'kernel', shape: [cin, c.units as number] }, ...(c.useBias === false ? [] : [{ kind: 'bias', shape: [c.units as number] }])];
    case 'Conv2D':
    case 'Conv1D':
      return [{ kind: 'kernel', shape: [...(c.kernelSize as number[]), cin, c.filters as number] }, ...(c.useBias === false ? [] : [{ kind: 'bias', shape: [c.filters as number] }])];
    case 'LayerNormalization':
      return [...(c.scale === false ? [] : [{ kind: 'gamma', shape: [cin] }]), ...(c.center === false ? [] : [{ kind: 'beta', shape: [cin] }])];
    default:
      return [];
  }
}

interface Manifest {
  paths: string[];
  weights: { name: string; shape: number[]; dtype?: string; quantization?: unknown }[];
}

/** Reads and checks a saved tfjs layers model (sync); throws TfjsModelError saying what is wrong. */
export function resolveTfjsModel(pathIn: string, init: TfjsInit = 'saved'): TfjsModelArgs {
  let path = resolve(pathIn);
  if (existsSync(path) && statSync(path).isDirectory()) path = join(path, 'model.json');
  if (!existsSync(path) || !statSync(path).isFile()) throw new TfjsModelError(`model file '${path}' does not exist (a model.json written by tfjs's model.save('file://...'))`);
  const bytes = readFileSync(path);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new TfjsModelError(`'${path}' is not valid JSON (${(e as Error).message})`);
  }
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw new TfjsModelError(`'${path}' is not a tfjs model.json (expected an object with modelTopology and weightsManifest)`);
  if (j.format === 'graph-model') throw new TfjsModelError(`'${path}' is a tfjs graph model (a converted SavedModel); nino needs a layers model saved with tf.LayersModel.save()`);
  let topo = j.modelTopology as Record<string, unknown> | undefined;
  if (topo && typeof topo === 'object' && topo.model_config) topo = topo.model_config as Record<string, unknown>;
  if (!topo || typeof topo !== 'object' || typeof topo.class_name !== 'string' || !topo.config || typeof topo.config !== 'object')
    throw new TfjsModelError(`'${path}': no modelTopology with class_name and config (is it a model.json written by model.save()?)`);
  const manifest = j.weightsManifest as Manifest[] | undefined;
  if (!Array.isArray(manifest) || manifest.some((g) => !g || !Array.isArray(g.paths) || !Array.isArray(g.weights)))
    throw new TfjsModelError(`'${path}': no weightsManifest (a list of { paths, weights }); save the model with its weights`);
  const desc = describeTopology(topo as { class_name: string; config: Record<string, unknown> }, path);

  // the weights: every one the layers need is in the manifest, float32, with its shape; the shards hold exactly them
  const manifestW = new Map<string, { shape: number[]; dtype: string }>();
  const hash = createHash('sha256').update(bytes);
  for (const g of manifest) {
    for (const w of g.weights) {
      if (w.quantization) throw new TfjsModelError(`'${path}': weight '${w.name}' is quantized; save the model without quantization (float32)`);
      if ((w.dtype ?? 'float32') !== 'float32') throw new TfjsModelError(`'${path}': weight '${w.name}' has dtype '${w.dtype}'; nino reads float32 weights`);
      manifestW.set(w.name, { shape: w.shape, dtype: 'float32' });
    }
    const need = 4 * g.weights.reduce((s, w) => s + prod(w.shape), 0);
    let have = 0;
    for (const p of g.paths) {
      const f = resolve(dirname(path), p);
      if (!existsSync(f) || !statSync(f).isFile()) throw new TfjsModelError(`'${path}': weight file '${f}' does not exist`);
      const b = readFileSync(f);
      have += b.byteLength;
      hash.update(b);
    }
    if (have !== need) throw new TfjsModelError(`'${path}': weight files ${g.paths.join(', ')} hold ${have} bytes, the manifest's weights need ${need}`);
  }
  for (const l of desc.layers) {
    for (const w of l.weights) {
      const m = manifestW.get(w.originalName);
      if (!m) throw new TfjsModelError(`'${path}': weight '${w.originalName}' of layer '${l.name}' (${l.className}) is missing from the weightsManifest`);
      if (m.shape.join(',') !== w.shape.join(',')) throw new TfjsModelError(`'${path}': weight '${w.originalName}' has shape [${m.shape}] in the manifest, the layer implies [${w.shape}]`);
    }
  }
  const inShape = desc.inputs[0].shape.slice(1) as number[];
  const out = desc.layers.find((l) => l.outputs[0].id === desc.outputs[0])!;
  const outShape = out.outputs[0].shape.slice(1) as number[];
  if (outShape.length !== 1 || outShape[0] < 2) throw new TfjsModelError(`'${path}': the output must be [batch, classes] with 2 or more classes (a classifier), got [batch, ${outShape.join(', ')}]`);
  const fin = finalActivation(desc).act;
  if (fin !== 'linear' && fin !== 'softmax') throw new TfjsModelError(`'${path}': the output layer '${out.name}' ends in activation '${fin}'; nino trains classifiers on logits or a softmax (linear or softmax output)`);
  if (init === 'seed') {
    for (const l of desc.layers)
      for (const w of l.weights) {
        const ic = l.config[`${weightKind(w)}Initializer`] as { className?: string } | undefined;
        if (!ic?.className || !initializerOf(ic.className)) throw new TfjsModelError(`'${path}': layer '${l.name}' has no initializer nino knows for '${weightKind(w)}' (${ic?.className ?? 'none'}; known: ${Object.keys(tf.initializers).join(', ')}); use init 'saved'`);
      }
  }
  return { arch: 'tfjs', path, init, sha256: hash.digest('hex'), inputShape: inShape, numClasses: outShape[0], layers: desc };
}

type Init = { apply(shape: number[], dtype?: tf.DataType): tf.Tensor };
function initializerOf(className: string): ((c: Record<string, unknown>) => Init) | undefined {
  const k = Object.keys(tf.initializers).find((n) => n.toLowerCase() === className.toLowerCase());
  return k ? ((tf.initializers as unknown as Record<string, (c: Record<string, unknown>) => Init>)[k]) : undefined;
}

/** The activation the model output goes through last ('linear' when none), and the layer applying it. */
function finalActivation(d: LayersDesc): { act: string; layer: LayerDesc } {
  let l = d.layers.find((x) => x.outputs[0].id === d.outputs[0])!;
  // pass-through layers after the last activation (Dropout) do not change it
  while ((l.className === 'Dropout' || l.className === 'SpatialDropout1D') && l.inputs.length) {
    const prev = d.layers.find((x) => x.outputs[0].id === l.inputs[0].id);
    if (!prev) break;
    l = prev;
  }
  if (l.className === 'Softmax') return { act: 'softmax', layer: l };
  if (l.className === 'ReLU' || l.className === 'LeakyReLU' || l.className === 'ELU') return { act: l.className.toLowerCase(), layer: l };
  return { act: (l.config.activation as string | undefined) ?? 'linear', layer: l };
}

/** Keras topology (Sequential or functional 'Model') -> the plain description, shapes inferred. */
function describeTopology(topo: { class_name: string; config: Record<string, unknown> }, path: string): LayersDesc {
  const cfg = topo.config;
  const raw = (Array.isArray(cfg) ? cfg : cfg.layers) as KerasLayer[] | undefined;
  if (!Array.isArray(raw) || !raw.length) throw new TfjsModelError(`'${path}': modelTopology has no layers`);
  const modelName = (!Array.isArray(cfg) && typeof cfg.name === 'string' ? cfg.name : 'model') as string;
  const supported = TASK_LAYERS as readonly string[];
  const bad = (l: KerasLayer, why: string): never => {
    throw new TfjsModelError(`'${path}': layer '${l.config?.name ?? l.name ?? '?'}' (${l.class_name}): ${why}`);
  };
  for (const l of raw) {
    if (!l || typeof l.class_name !== 'string' || !l.config || typeof l.config !== 'object') throw new TfjsModelError(`'${path}': a layer without class_name and config`);
    if (!supported.includes(l.class_name)) {
      const why = l.class_name === 'BatchNormalization' ? ' (its moving statistics are not trainable parameters)' : l.class_name === 'Embedding' ? ' (task data are real-valued)' : '';
      bad(l, `not supported in a task's model${why}; supported layers: ${TASK_LAYERS.join(', ')}`);
    }
    if (l.config.trainable === false) bad(l, 'frozen layers (trainable: false) are not supported in a task\'s model');
  }
  const shapes = new Map<string, number[]>();
  const inputs: LayersDesc['inputs'] = [];
  const layers: LayerDesc[] = [];
  const inputShapeOf = (l: KerasLayer): (number | null)[] | undefined => {
    const c = l.config;
    if (Array.isArray(c.batch_input_shape)) return c.batch_input_shape as (number | null)[];
    if (Array.isArray(c.input_shape)) return [null, ...(c.input_shape as number[])];
    return undefined;
  };
  const addInput = (id: string, s: (number | null)[] | undefined, l: KerasLayer) => {
    if (!s || s.slice(1).some((v) => typeof v !== 'number' || v < 1)) bad(l, `the model input needs a fixed shape (got ${JSON.stringify(s)}); give the first layer an inputShape`);
    inputs.push({ id, shape: [null, ...(s!.slice(1) as number[])] });
    shapes.set(id, s!.slice(1) as number[]);
  };
  const add = (l: KerasLayer, ins: string[], applications: number) => {
    const name = String(l.config.name ?? l.name);
    const inShapes = ins.map((i) => shapes.get(i)!);
    const d: LayerDesc = { name, className: l.class_name, config: layerConfig(l.class_name, l.config, inShapes[0].length), inputs: ins.map((id) => ({ id, from: id })), outputs: [], applications, weights: [] };
    const fail = (m: string): never => bad(l, m);
    const act = d.config.activation;
    if (act !== undefined && act !== null && !ACTIVATIONS.includes(act as string)) fail(`activation '${String(act)}' is not supported (supported: ${ACTIVATIONS.join(', ')})`);
    if (l.class_name === 'ELU' && d.config.alpha !== undefined && d.config.alpha !== 1) fail('ELU with alpha other than 1 is not supported');
    const o = outputShape(d, inShapes, fail);
    d.outputs = [{ id: name, shape: [null, ...o] }];
    d.weights = expectedWeights(d, inShapes[0]).map((w) => ({ name: `${name}/${w.kind}`, originalName: `${name}/${w.kind}`, shape: w.shape, trainable: true }) satisfies LayerWeightDesc);
    shapes.set(name, o);
    layers.push(d);
  };
  let outputs: string[];
  if (topo.class_name === 'Sequential') {
    let prev = '';
    for (const [i, l] of raw.entries()) {
      if (i === 0) {
        prev = l.class_name === 'InputLayer' ? String(l.config.name) : `${modelName}_input`;
        addInput(prev, inputShapeOf(l), l);
        if (l.class_name === 'InputLayer') continue;
      } else if (l.class_name === 'InputLayer') bad(l, 'an InputLayer inside a Sequential model');
      add(l, [prev], 1);
      prev = String(l.config.name);
    }
    outputs = [prev];
  } else if (topo.class_name === 'Model' || topo.class_name === 'Functional') {
    const c = cfg as { input_layers?: unknown[][]; output_layers?: unknown[][] };
    for (const l of raw) {
      const name = String(l.name ?? l.config.name);
      if (l.class_name === 'InputLayer') {
        addInput(name, inputShapeOf(l), l);
        continue;
      }
      const nodes = (l.inbound_nodes ?? []) as unknown[][][];
      if (nodes.length !== 1) bad(l, `a layer applied ${nodes.length} times (shared weights) is not supported`);
      const ins = nodes[0].map((e) => {
        if (!Array.isArray(e) || e[1] !== 0 || e[2] !== 0) bad(l, `inbound node ${JSON.stringify(e)} is not supported (one output per layer)`);
        if (!shapes.has(String(e[0]))) bad(l, `input '${String(e[0])}' is not computed before it (layers must be in topological order)`);
        return String(e[0]);
      });
      add({ ...l, config: { ...l.config, name } }, ins, 1);
    }
    outputs = (c.output_layers ?? []).map((e) => String(e[0]));
    if ((c.input_layers ?? []).length !== 1) throw new TfjsModelError(`'${path}': the model has ${(c.input_layers ?? []).length} inputs; a task's model takes one`);
  } else throw new TfjsModelError(`'${path}': modelTopology class '${topo.class_name}' is not supported (Sequential or Model)`);
  if (inputs.length !== 1) throw new TfjsModelError(`'${path}': the model has ${inputs.length} inputs; a task's model takes one`);
  if (outputs.length !== 1 || !layers.some((l) => l.outputs[0].id === outputs[0])) throw new TfjsModelError(`'${path}': the model needs exactly one output computed by a layer`);
  if (!layers.some((l) => l.weights.length)) throw new TfjsModelError(`'${path}': the model has no trainable weights`);
  return { name: modelName, inputs, layers, outputs };
}

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
    } else if (['Activation', 'ReLU', 'LeakyReLU', 'ELU', 'Softmax', 'Dropout', 'SpatialDropout1D'].includes(l.className)) flat.set(id, fin);
    else flat.set(id, undefined);
    for (const w of l.weights) {
      const kind = weightKind(w);
      if (kind !== 'kernel') {
        out.push({ layer: l, weight: w, tfShape: w.shape, view: w.shape, perm: [0], torchShape: w.shape });
      } else if (l.className === 'Dense') {
        const units = w.shape[1];
        if (fin) out.push({ layer: l, weight: w, tfShape: w.shape, view: [fin.positions, fin.channels, units], perm: [2, 1, 0], torchShape: fin.positions <= MAX_FEAT ? [units, fin.channels, fin.positions] : [units, fin.channels * fin.positions] });
        else out.push({ layer: l, weight: w, tfShape: w.shape, view: w.shape, perm: [1, 0], torchShape: [units, w.shape[0]] });
      } else {
        const ks = w.shape.slice(0, -2);
        const [cin, cout] = w.shape.slice(-2);
        out.push({ layer: l, weight: w, tfShape: w.shape, view: w.shape, perm: ks.length === 2 ? [3, 2, 0, 1] : [2, 1, 0], torchShape: [cout, cin, ...ks] });
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

const savedCache = new Map<string, Map<string, Float32Array>>();

/** The saved weights by name (float32, tfjs layouts); fails when the files changed since the task was resolved. */
export function readSavedWeights(a: TfjsModelArgs): Map<string, Float32Array> {
  const hit = savedCache.get(a.sha256);
  if (hit) return hit;
  const j = JSON.parse(readFileSync(a.path, 'utf8')) as { weightsManifest: Manifest[] };
  const hash = createHash('sha256').update(readFileSync(a.path));
  const out = new Map<string, Float32Array>();
  for (const g of j.weightsManifest) {
    const bufs = g.paths.map((p) => readFileSync(resolve(dirname(a.path), p)));
    for (const b of bufs) hash.update(b);
    const all = Buffer.concat(bufs);
    let off = 0;
    for (const w of g.weights) {
      const n = prod(w.shape);
      const f = new Float32Array(n);
      new Uint8Array(f.buffer).set(all.subarray(off, off + 4 * n));
      out.set(w.name, f);
      off += 4 * n;
    }
  }
  if (hash.digest('hex') !== a.sha256) throw new TfjsModelError(`model '${a.path}' or its weight files changed since the task was resolved (SHA-256 differs); run again to use the new model`);
  savedCache.set(a.sha256, out);
  return out;
}

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
    return tf.reshape(tf.transpose(tf.reshape(t, L.perm.map((p) => L.view[p])), inversePerm(L.perm)), L.tfShape);
  };

  const forward = (params: tf.Tensor[], x: tf.Tensor): tf.Tensor =>
    tf.tidy(() => {
      if (params.length !== specs.length) throw new Error(`tfjs model '${d.name}': expected ${specs.length} params, got ${params.length}`);
      if (x.size / x.shape[0] !== inSize) throw new Error(`tfjs model '${d.name}': an example has ${x.size / x.shape[0]} values, the model's input [${inShape}] has ${inSize}`);
      const values = new Map<string, tf.Tensor>([[d.inputs[0].id, tf.reshape(tf.cast(x, 'float32'), [x.shape[0], ...inShape])]]);
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
            let z = l.className === 'Conv2D'
              ? tf.conv2d(h as tf.Tensor4D, k as tf.Tensor4D, s as [number, number], pad, 'NHWC', dl as [number, number])
              : tf.conv1d(h as tf.Tensor3D, k as tf.Tensor3D, s[0], pad, 'NWC', dl[0]);
            const b = W('bias');
            if (b) z = tf.add(z, b);
            y = act(z);
            break;
          }
          case 'MaxPooling2D':
          case 'AveragePooling2D': {
            const f = l.className === 'MaxPooling2D' ? tf.maxPool : tf.avgPool;
            y = f(h as tf.Tensor4D, c.poolSize as [number, number], c.strides as [number, number], c.padding as 'valid' | 'same');
            break;
          }
          case 'MaxPooling1D':
          case 'AveragePooling1D': {
            const f = l.className === 'MaxPooling1D' ? tf.maxPool : tf.avgPool;
            const [B, L, C] = h.shape;
            const p = f(tf.reshape(h, [B, L, 1, C]) as tf.Tensor4D, [(c.poolSize as number[])[0], 1], [(c.strides as number[])[0], 1], c.padding as 'valid' | 'same');
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
            y = c.maxValue !== undefined && c.maxValue !== null ? tf.clipByValue(h, 0, c.maxValue as number) : tf.relu(h);
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
      const ic = L.layer.config[`${weightKind(L.weight)}Initializer`] as { className: string; config: Record<string, unknown> };
      const seed = Math.floor(rng.uniform() * 2 ** 31);
      const data = tf.tidy(() => initializerOf(ic.className)!({ ...ic.config, seed }).apply(L.tfShape, 'float32').dataSync() as Float32Array);
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
