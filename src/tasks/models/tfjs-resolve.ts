/**
 * A tfjs layers model saved with `model.save('file://...')` (model.json + weight shards) as a task's
 * model: the model family of task files' `"family": "tfjs"`. Nothing is instantiated: the saved Keras
 * topology is read into a plain description (core/layers.ts), which `makeTfjsModel` (tasks/models/tfjs.ts)
 * interprets as a model. The same description gives the neural graph (graph arch 'tfjs',
 * graph/layers.ts: the graph modelGraph(LayersModel) builds).
 *
 * Resolving (`resolveTfjsModel`, sync, when the task file is parsed) checks everything before any long
 * work: the file is JSON with a layers topology and a weights manifest, every layer is one the
 * interpreter supports (TASK_LAYERS), every weight is in the manifest with its shape (float32), the
 * shards exist with the right sizes; it records a SHA-256 of model.json and the shards (a changed
 * model is another task: bench re-runs). The resolved args (path, description, classes, input shape,
 * hash) are stored in the task definition, so workers and train-nino rebuild the model from it alone.
 * `readSavedWeights` reads the saved weights back (tfjs layouts), checking the hash.
 *
 *   const args = resolveTfjsModel('/abs/my-model/model.json', 'saved');   // TfjsModelArgs (JSON)
 *   const saved = readSavedWeights(args);   // Map name -> Float32Array
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../../core/errors.ts';
import type { LayerDesc, LayersDesc, LayerWeightDesc } from '../../core/layers.ts';
import { weightKind } from '../../core/layers.ts';

/** Layer classes a task's tfjs model may use (what the interpreter computes and the graph builder knows). */
export const TASK_LAYERS = [
  'InputLayer',
  'Dense',
  'Conv2D',
  'Conv1D',
  'LayerNormalization',
  'MaxPooling1D',
  'MaxPooling2D',
  'AveragePooling1D',
  'AveragePooling2D',
  'GlobalAveragePooling1D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling1D',
  'GlobalMaxPooling2D',
  'Flatten',
  'Activation',
  'ReLU',
  'LeakyReLU',
  'ELU',
  'Softmax',
  'Dropout',
  'SpatialDropout1D',
  'Add',
] as const;

const ACTIVATIONS = [
  'linear',
  'relu',
  'relu6',
  'elu',
  'selu',
  'sigmoid',
  'hard_sigmoid',
  'hardSigmoid',
  'tanh',
  'softmax',
  'softplus',
  'softsign',
  'swish',
  'mish',
];

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
export const prod = (a: readonly number[]) => a.reduce((x, y) => x * y, 1);

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
    if (
      [
        'name',
        'trainable',
        'dtype',
        'batchInputShape',
        'inputShape',
        'sparse',
        'kernelRegularizer',
        'biasRegularizer',
        'activityRegularizer',
        'kernelConstraint',
        'biasConstraint',
        'betaRegularizer',
        'gammaRegularizer',
        'betaConstraint',
        'gammaConstraint',
        'noiseShape',
        'seed',
      ].includes(key)
    )
      continue;
    if (key.endsWith('Initializer') && v && typeof v === 'object') {
      const init = v as { class_name?: string; config?: Record<string, unknown> };
      const cfg: Record<string, unknown> = {};
      for (const [ik, iv] of Object.entries(init.config ?? {}))
        cfg[camel(ik)] = typeof iv === 'string' && (ik === 'mode' || ik === 'distribution') ? camel(iv) : iv;
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
  const spatial = (n: number, k: number, s: number, d: number, pad: string) =>
    pad === 'same' ? Math.ceil(n / s) : Math.ceil((n - d * (k - 1)) / s);
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
      if (x.length !== sp + 1)
        fail(
          `expects a rank-${sp + 2} input [batch, ${sp === 2 ? 'height, width' : 'steps'}, channels], got [batch, ${x.join(', ')}]`,
        );
      if (c.dataFormat !== undefined && c.dataFormat !== 'channelsLast')
        fail(`dataFormat '${String(c.dataFormat)}' is not supported; use channels_last (the tfjs default)`);
      if (c.padding !== 'valid' && c.padding !== 'same')
        fail(`padding '${String(c.padding)}' is not supported (valid, same)`);
      const conv = cls.startsWith('Conv');
      const k = (conv ? c.kernelSize : c.poolSize) as number[];
      const s = c.strides as number[];
      const d = conv ? (c.dilationRate as number[]) : [1, 1];
      if (conv && d.some((v) => v !== 1) && s.some((v) => v !== 1))
        fail('dilation together with strides is not supported');
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
      if (ins.length < 2 || ins.some((s) => s.join(',') !== x.join(',')))
        fail(`needs two or more inputs of one shape, got ${ins.map((s) => `[${s}]`).join(', ')}`);
      return x;
    case 'Softmax':
      if (
        c.axis !== undefined &&
        c.axis !== -1 &&
        c.axis !== x.length &&
        !(Array.isArray(c.axis) && c.axis.length === 1 && (c.axis[0] === -1 || c.axis[0] === x.length))
      )
        fail('softmax over an axis other than the last is not supported');
      return x;
    case 'LayerNormalization': {
      const ax = Array.isArray(c.axis) && c.axis.length === 1 ? c.axis[0] : c.axis;
      if (ax !== -1 && ax !== x.length)
        fail(`normalization over axis ${JSON.stringify(c.axis)} is not supported; only the last (channels) axis`);
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
      return [
        { kind: 'kernel', shape: [cin, c.units as number] },
        ...(c.useBias === false ? [] : [{ kind: 'bias', shape: [c.units as number] }]),
      ];
    case 'Conv2D':
    case 'Conv1D':
      return [
        { kind: 'kernel', shape: [...(c.kernelSize as number[]), cin, c.filters as number] },
        ...(c.useBias === false ? [] : [{ kind: 'bias', shape: [c.filters as number] }]),
      ];
    case 'LayerNormalization':
      return [
        ...(c.scale === false ? [] : [{ kind: 'gamma', shape: [cin] }]),
        ...(c.center === false ? [] : [{ kind: 'beta', shape: [cin] }]),
      ];
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
  if (!existsSync(path) || !statSync(path).isFile())
    throw new TfjsModelError(
      `model file '${path}' does not exist (a model.json written by tfjs's model.save('file://...'))`,
    );
  const bytes = readFileSync(path);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new TfjsModelError(`'${path}' is not valid JSON (${(e as Error).message})`);
  }
  if (!j || typeof j !== 'object' || Array.isArray(j))
    throw new TfjsModelError(
      `'${path}' is not a tfjs model.json (expected an object with modelTopology and weightsManifest)`,
    );
  if (j.format === 'graph-model')
    throw new TfjsModelError(
      `'${path}' is a tfjs graph model (a converted SavedModel); nino needs a layers model saved with tf.LayersModel.save()`,
    );
  let topo = j.modelTopology as Record<string, unknown> | undefined;
  if (topo && typeof topo === 'object' && topo.model_config) topo = topo.model_config as Record<string, unknown>;
  if (
    !topo ||
    typeof topo !== 'object' ||
    typeof topo.class_name !== 'string' ||
    !topo.config ||
    typeof topo.config !== 'object'
  )
    throw new TfjsModelError(
      `'${path}': no modelTopology with class_name and config (is it a model.json written by model.save()?)`,
    );
  const manifest = j.weightsManifest as Manifest[] | undefined;
  if (!Array.isArray(manifest) || manifest.some((g) => !g || !Array.isArray(g.paths) || !Array.isArray(g.weights)))
    throw new TfjsModelError(
      `'${path}': no weightsManifest (a list of { paths, weights }); save the model with its weights`,
    );
  const desc = describeTopology(topo as { class_name: string; config: Record<string, unknown> }, path);

  // the weights: every one the layers need is in the manifest, float32, with its shape; the shards hold exactly them
  const manifestW = new Map<string, { shape: number[]; dtype: string }>();
  const hash = createHash('sha256').update(bytes);
  for (const g of manifest) {
    for (const w of g.weights) {
      if (w.quantization)
        throw new TfjsModelError(
          `'${path}': weight '${w.name}' is quantized; save the model without quantization (float32)`,
        );
      if ((w.dtype ?? 'float32') !== 'float32')
        throw new TfjsModelError(`'${path}': weight '${w.name}' has dtype '${w.dtype}'; nino reads float32 weights`);
      manifestW.set(w.name, { shape: w.shape, dtype: 'float32' });
    }
    const need = 4 * g.weights.reduce((s, w) => s + prod(w.shape), 0);
    let have = 0;
    for (const p of g.paths) {
      const f = resolve(dirname(path), p);
      if (!existsSync(f) || !statSync(f).isFile())
        throw new TfjsModelError(`'${path}': weight file '${f}' does not exist`);
      const b = readFileSync(f);
      have += b.byteLength;
      hash.update(b);
    }
    if (have !== need)
      throw new TfjsModelError(
        `'${path}': weight files ${g.paths.join(', ')} hold ${have} bytes, the manifest's weights need ${need}`,
      );
  }
  for (const l of desc.layers) {
    for (const w of l.weights) {
      const m = manifestW.get(w.originalName);
      if (!m)
        throw new TfjsModelError(
          `'${path}': weight '${w.originalName}' of layer '${l.name}' (${l.className}) is missing from the weightsManifest`,
        );
      if (m.shape.join(',') !== w.shape.join(','))
        throw new TfjsModelError(
          `'${path}': weight '${w.originalName}' has shape [${m.shape}] in the manifest, the layer implies [${w.shape}]`,
        );
    }
  }
  const inShape = desc.inputs[0].shape.slice(1) as number[];
  const out = desc.layers.find((l) => l.outputs[0].id === desc.outputs[0])!;
  const outShape = out.outputs[0].shape.slice(1) as number[];
  if (outShape.length !== 1 || outShape[0] < 2)
    throw new TfjsModelError(
      `'${path}': the output must be [batch, classes] with 2 or more classes (a classifier), got [batch, ${outShape.join(', ')}]`,
    );
  const fin = finalActivation(desc).act;
  if (fin !== 'linear' && fin !== 'softmax')
    throw new TfjsModelError(
      `'${path}': the output layer '${out.name}' ends in activation '${fin}'; nino trains classifiers on logits or a softmax (linear or softmax output)`,
    );
  if (init === 'seed') {
    for (const l of desc.layers)
      for (const w of l.weights) {
        const ic = l.config[`${weightKind(w)}Initializer`] as { className?: string } | undefined;
        if (!ic?.className || !initializerOf(ic.className))
          throw new TfjsModelError(
            `'${path}': layer '${l.name}' has no initializer nino knows for '${weightKind(w)}' (${ic?.className ?? 'none'}; known: ${Object.keys(tf.initializers).join(', ')}); use init 'saved'`,
          );
      }
  }
  return {
    arch: 'tfjs',
    path,
    init,
    sha256: hash.digest('hex'),
    inputShape: inShape,
    numClasses: outShape[0],
    layers: desc,
  };
}

type Init = { apply(shape: number[], dtype?: tf.DataType): tf.Tensor };
/** The tf.initializers factory for a Keras initializer class name (case-insensitive), used by the init check and by init 'seed'. */
export function initializerOf(className: string): ((c: Record<string, unknown>) => Init) | undefined {
  const k = Object.keys(tf.initializers).find((n) => n.toLowerCase() === className.toLowerCase());
  return k ? (tf.initializers as unknown as Record<string, (c: Record<string, unknown>) => Init>)[k] : undefined;
}

/** The activation the model output goes through last ('linear' when none), and the layer applying it. */
export function finalActivation(d: LayersDesc): { act: string; layer: LayerDesc } {
  let l = d.layers.find((x) => x.outputs[0].id === d.outputs[0])!;
  // pass-through layers after the last activation (Dropout) do not change it
  while ((l.className === 'Dropout' || l.className === 'SpatialDropout1D') && l.inputs.length) {
    const prev = d.layers.find((x) => x.outputs[0].id === l.inputs[0].id);
    if (!prev) break;
    l = prev;
  }
  if (l.className === 'Softmax') return { act: 'softmax', layer: l };
  if (l.className === 'ReLU' || l.className === 'LeakyReLU' || l.className === 'ELU')
    return { act: l.className.toLowerCase(), layer: l };
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
    if (!l || typeof l.class_name !== 'string' || !l.config || typeof l.config !== 'object')
      throw new TfjsModelError(`'${path}': a layer without class_name and config`);
    if (!supported.includes(l.class_name)) {
      const why =
        l.class_name === 'BatchNormalization'
          ? ' (its moving statistics are not trainable parameters)'
          : l.class_name === 'Embedding'
            ? ' (task data are real-valued)'
            : '';
      bad(l, `not supported in a task's model${why}; supported layers: ${TASK_LAYERS.join(', ')}`);
    }
    if (l.config.trainable === false) bad(l, "frozen layers (trainable: false) are not supported in a task's model");
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
    if (!s || s.slice(1).some((v) => typeof v !== 'number' || v < 1))
      bad(l, `the model input needs a fixed shape (got ${JSON.stringify(s)}); give the first layer an inputShape`);
    inputs.push({ id, shape: [null, ...(s!.slice(1) as number[])] });
    shapes.set(id, s!.slice(1) as number[]);
  };
  const add = (l: KerasLayer, ins: string[], applications: number) => {
    const name = String(l.config.name ?? l.name);
    const inShapes = ins.map((i) => shapes.get(i)!);
    const d: LayerDesc = {
      name,
      className: l.class_name,
      config: layerConfig(l.class_name, l.config, inShapes[0].length),
      inputs: ins.map((id) => ({ id, from: id })),
      outputs: [],
      applications,
      weights: [],
    };
    const fail = (m: string): never => bad(l, m);
    const act = d.config.activation;
    if (act !== undefined && act !== null && !ACTIVATIONS.includes(act as string))
      fail(`activation '${String(act)}' is not supported (supported: ${ACTIVATIONS.join(', ')})`);
    if (l.class_name === 'ELU' && d.config.alpha !== undefined && d.config.alpha !== 1)
      fail('ELU with alpha other than 1 is not supported');
    const o = outputShape(d, inShapes, fail);
    d.outputs = [{ id: name, shape: [null, ...o] }];
    d.weights = expectedWeights(d, inShapes[0]).map(
      (w) =>
        ({
          name: `${name}/${w.kind}`,
          originalName: `${name}/${w.kind}`,
          shape: w.shape,
          trainable: true,
        }) satisfies LayerWeightDesc,
    );
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
        if (!Array.isArray(e) || e[1] !== 0 || e[2] !== 0)
          bad(l, `inbound node ${JSON.stringify(e)} is not supported (one output per layer)`);
        if (!shapes.has(String(e[0])))
          bad(l, `input '${String(e[0])}' is not computed before it (layers must be in topological order)`);
        return String(e[0]);
      });
      add({ ...l, config: { ...l.config, name } }, ins, 1);
    }
    outputs = (c.output_layers ?? []).map((e) => String(e[0]));
    if ((c.input_layers ?? []).length !== 1)
      throw new TfjsModelError(
        `'${path}': the model has ${(c.input_layers ?? []).length} inputs; a task's model takes one`,
      );
  } else
    throw new TfjsModelError(
      `'${path}': modelTopology class '${topo.class_name}' is not supported (Sequential or Model)`,
    );
  if (inputs.length !== 1)
    throw new TfjsModelError(`'${path}': the model has ${inputs.length} inputs; a task's model takes one`);
  if (outputs.length !== 1 || !layers.some((l) => l.outputs[0].id === outputs[0]))
    throw new TfjsModelError(`'${path}': the model needs exactly one output computed by a layer`);
  if (!layers.some((l) => l.weights.length)) throw new TfjsModelError(`'${path}': the model has no trainable weights`);
  return { name: modelName, inputs, layers, outputs };
}

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
  if (hash.digest('hex') !== a.sha256)
    throw new TfjsModelError(
      `model '${a.path}' or its weight files changed since the task was resolved (SHA-256 differs); run again to use the new model`,
    );
  savedCache.set(a.sha256, out);
  return out;
}
