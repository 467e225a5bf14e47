/**
 * The neural graph of a tfjs layers model, from its plain description (core/layers.ts): the layers are
 * walked in topological order and each one adds nodes and edge blocks exactly as the official
 * `graph/graph.py: NeuralGraph` does for the equivalent PyTorch model. `modelGraph(LayersModel)`
 * (tfjs/graph.ts) describes a live model and calls this; a task file's model.json (tasks/models/tfjs-resolve.ts)
 * is described without instantiating it, and registered as graph arch 'tfjs' (graph/index.ts), whose
 * builder takes the description in `opts.layers`. The rules (layouts, Flatten folding, residual Add)
 * are documented in tfjs/graph.ts.
 *
 *   const { graph, specs, params } = buildLayersGraph(desc, { maxFeat: 9 });
 */
import { makeLayout, numel, type ParamSpec } from '../core/params.ts';
import type { LayerDesc, LayersDesc, LayerWeightDesc } from '../core/layers.ts';
import { GraphAssembler } from './assemble.ts';
import { EdgeType, type NeuralGraph } from './types.ts';

/** Layer classes the builder understands (getClassName()). */
export const SUPPORTED_LAYERS = [
  'InputLayer',
  'Dense',
  'Conv2D',
  'Conv1D',
  'BatchNormalization',
  'LayerNormalization',
  'Embedding',
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

const PASS_THROUGH = new Set<string>([
  'MaxPooling1D',
  'MaxPooling2D',
  'AveragePooling1D',
  'AveragePooling2D',
  'GlobalAveragePooling1D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling1D',
  'GlobalMaxPooling2D',
  'Activation',
  'ReLU',
  'LeakyReLU',
  'ELU',
  'Softmax',
  'Dropout',
  'SpatialDropout1D',
]);

/** Where one model weight sits in the flat vector: reshape its tfjs tensor to `view`, transpose by `perm`. */
export interface LayerParam {
  /** index into desc.layers and into that layer's weights */
  layer: number;
  weight: number;
  view: number[];
  perm: number[];
  /** PyTorch-layout shape of this tensor in the flat vector */
  torchShape: number[];
}

export interface LayersGraph {
  graph: NeuralGraph;
  /** the flat vector's tensors, in order (names: the weights' unique names) */
  specs: ParamSpec[];
  /** one per spec */
  params: LayerParam[];
  total: number;
  offsets: number[];
}

export interface LayersGraphOptions {
  /** the nowcaster's feature slots per edge (Flatten folding and kernel size checks); default 9 */
  maxFeat?: number;
}

/** neurons carrying a tensor: `size` consecutive nodes, `positions` = product of the spatial dims */
interface Group {
  start: number;
  size: number;
  positions: number;
  /** a Flatten of a [positions, size] map not yet turned into per-position nodes */
  flat?: { positions: number };
  /** model input whose nodes are not allocated yet (the consumer decides: Embedding = vocab nodes) */
  pendingInput?: boolean;
}

function fail(layer: LayerDesc, why: string): never {
  throw new Error(`layer '${layer.name}' (${layer.className}): ${why}`);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Builds the neural graph of a layers model description; `params` says where each weight sits in the flat vector. */
export function buildLayersGraph(model: LayersDesc, o: LayersGraphOptions = {}): LayersGraph {
  const maxFeat = o.maxFeat ?? 9;
  const specs: ParamSpec[] = [];
  const pending: LayerParam[] = [];
  const groups = new Map<string, Group>();
  // blocks are declared after all nodes are known: record them as closures over the assembler
  const blocks: ((g: GraphAssembler, offsets: number[]) => void)[] = [];
  let numNodes = 0;
  const alloc = (n: number) => {
    const s = numNodes;
    numNodes += n;
    return s;
  };

  for (const t of model.inputs) {
    groups.set(t.id, {
      start: -1,
      size: t.shape[t.shape.length - 1] as number,
      positions: positionsOf(t.shape),
      pendingInput: true,
    });
  }
  let layerIndex = -1;
  const addParam = (p: Omit<LayerParam, 'layer' | 'weight'> & { variable: LayerWeightDesc }, name: string): number => {
    specs.push({ name, shape: p.torchShape });
    const layer = model.layers[layerIndex];
    pending.push({
      layer: layerIndex,
      weight: layer.weights.indexOf(p.variable),
      view: p.view,
      perm: p.perm,
      torchShape: p.torchShape,
    });
    return specs.length - 1;
  };
  /** allocates a model input's neurons (when its first consumer is not an Embedding) */
  const realize = (g: Group): Group => {
    if (g.pendingInput) {
      g.start = alloc(g.size);
      g.pendingInput = false;
    }
    return g;
  };
  /** turns a pending Flatten into C*P per-position nodes tied to their channel's neuron */
  const unfold = (g: Group, layerName: string): Group => {
    if (g.flat && g.pendingInput) {
      // a flattened model input (an MLP on images): the C*P pixels are the input neurons themselves
      g.pendingInput = false;
      return { start: alloc(g.size * g.flat.positions), size: g.size * g.flat.positions, positions: 1 };
    }
    realize(g);
    if (!g.flat) return g;
    const P = g.flat.positions;
    const C = g.size;
    const posStart = alloc(C * P);
    const chanStart = g.start;
    blocks.push((a) => {
      for (let c = 0; c < C; c++) {
        a.dense({
          name: `${layerName}.positions.${c}`,
          shape: [P],
          paramType: EdgeType.residual,
          paramName: null,
          rowStart: chanStart + c,
          nIn: 1,
          colStart: posStart + c * P,
          nOut: P,
          param: null,
        });
      }
    });
    return { start: posStart, size: C * P, positions: 1 };
  };

  const layers = model.layers;
  const seen = new Set<string>();
  for (const layer of layers) {
    layerIndex++;
    const cls = layer.className;
    if (seen.has(layer.name)) continue;
    seen.add(layer.name);
    if (cls === 'InputLayer') continue;
    if (!(SUPPORTED_LAYERS as readonly string[]).includes(cls)) {
      fail(layer, `unsupported layer for NiNo's neural graph; supported: ${SUPPORTED_LAYERS.join(', ')}`);
    }
    if (layer.applications !== 1)
      fail(
        layer,
        `a layer applied ${layer.applications} times (shared weights, or used in another model) is not supported`,
      );
    const ins = layer.inputs.map((t) => {
      const g = groups.get(t.id);
      if (!g)
        fail(
          layer,
          `input tensor from '${t.from}' is not produced by a layer of this model (nested models are not supported)`,
        );
      return g;
    });
    const out = layer.outputs;
    if (out.length !== 1) fail(layer, `layers with ${out.length} outputs are not supported`);
    const outShape = out[0].shape;
    const weights = layer.weights;
    const cfg = layer.config;
    const byName = (suffix: string): LayerWeightDesc | undefined =>
      weights.find((w) => w.originalName.endsWith(`/${suffix}`) || w.originalName === suffix);
    const expectWeights = (names: string[]) => {
      const got = weights.map((w) => w.originalName.replace(/^.*\//, ''));
      const extra = got.filter((n) => !names.includes(n));
      if (extra.length) fail(layer, `unexpected weights ${extra.join(', ')} (expected ${names.join(', ') || 'none'})`);
    };
    const check = (w: LayerWeightDesc, shape: number[], what: string) => {
      if (!sameShape(w.shape as number[], shape))
        fail(layer, `${what} '${w.name}' has shape [${w.shape}], the layer implies [${shape}]`);
    };

    if (PASS_THROUGH.has(cls)) {
      expectWeights([]);
      const g = realize(ins[0]);
      groups.set(out[0].id, { ...g, positions: g.flat ? g.positions : positionsOf(outShape), flat: g.flat });
      continue;
    }
    if (cls === 'Flatten') {
      expectWeights([]);
      const g = ins[0].positions > 1 ? ins[0] : realize(ins[0]);
      if (g.flat || g.positions === 1) groups.set(out[0].id, g);
      else
        groups.set(out[0].id, {
          start: g.start,
          size: g.size,
          positions: 1,
          flat: { positions: g.positions },
          pendingInput: g.pendingInput,
        });
      continue;
    }
    if (cls === 'Add') {
      expectWeights([]);
      const gs = ins.map((g) => unfold(g, layer.name));
      const target = gs.reduce((a, b) => (b.start > a.start ? b : a));
      for (const g of gs) {
        if (g.size !== target.size)
          fail(layer, `inputs carry ${g.size} and ${target.size} neurons; Add needs equal sizes`);
        if (g.start === target.start) continue;
        const src = g.start;
        const dst = target.start;
        const n = g.size;
        blocks.push((a) => a.diag(`${layer.name}.res`, [n], EdgeType.residual, src, dst, n));
      }
      groups.set(out[0].id, { ...target, positions: positionsOf(outShape) });
      continue;
    }
    if (cls === 'Dense' || cls === 'Conv2D' || cls === 'Conv1D') {
      const kernel = byName('kernel');
      const bias = byName('bias');
      expectWeights(bias ? ['kernel', 'bias'] : ['kernel']);
      if (!kernel) fail(layer, 'has no kernel');
      let g = ins[0];
      const units = (cls === 'Dense' ? cfg.units : cfg.filters) as number;
      let view: number[];
      let perm: number[];
      let torchShape: number[];
      let K: number;
      let type: number;
      if (cls === 'Dense') {
        if (g.flat && g.flat.positions <= maxFeat) {
          // folded: a conv over the whole map, P spatial weights per (channel, output) edge
          realize(g);
          const P = g.flat.positions;
          check(kernel, [P * g.size, units], 'kernel');
          view = [P, g.size, units];
          perm = [2, 1, 0];
          torchShape = [units, g.size, P];
          K = P;
          type = EdgeType.conv;
        } else if (g.flat) {
          // per-position nodes, channel-major (c*P + p) as PyTorch's NCHW flatten; tfjs rows are p*C + c
          const P = g.flat.positions;
          const C = g.size;
          check(kernel, [P * C, units], 'kernel');
          g = unfold(g, layer.name);
          view = [P, C, units];
          perm = [2, 1, 0];
          torchShape = [units, C * P];
          K = 1;
          type = EdgeType.fc;
        } else {
          g = realize(g);
          check(kernel, [g.size, units], 'kernel');
          view = [g.size, units];
          perm = [1, 0];
          torchShape = [units, g.size];
          K = 1;
          type = EdgeType.fc;
        }
      } else {
        if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast')
          fail(layer, `dataFormat '${String(cfg.dataFormat)}' is not supported; use channelsLast (the tfjs default)`);
        g = unfold(g, layer.name);
        const ks = kernel.shape.slice(0, -2);
        check(kernel, [...ks, g.size, units], 'kernel');
        view = [...kernel.shape];
        perm = cls === 'Conv2D' ? [3, 2, 0, 1] : [2, 1, 0];
        torchShape = [units, g.size, ...ks];
        K = numel(ks);
        type = EdgeType.conv;
        if (K > maxFeat)
          fail(
            layer,
            `its ${ks.join('x')} kernel needs ${K} feature slots per edge, the nowcaster's checkpoint has ${maxFeat}; use kernels of at most ${maxFeat} elements or a checkpoint with a larger feature size`,
          );
      }
      const nIn = g.size;
      const rowStart = g.start;
      if (bias) check(bias, [units], 'bias');
      const wi = addParam({ variable: kernel, view, perm, torchShape }, kernel.name);
      const bi = bias ? addParam({ variable: bias, view: [units], perm: [0], torchShape: [units] }, bias.name) : -1;
      const auxStart = alloc(bias ? 1 : 0);
      const outStart = alloc(units);
      blocks.push((a, off) => {
        a.dense({
          name: kernel.name,
          shape: torchShape,
          paramType: type,
          paramName: kernel.name,
          rowStart,
          nIn,
          colStart: outStart,
          nOut: units,
          param: { off: off[wi], sI: K, sO: nIn * K, sF: 1, K },
        });
        if (bi >= 0) {
          a.dense({
            name: bias!.name,
            shape: [units],
            paramType: EdgeType.bias,
            paramName: bias!.name,
            rowStart: auxStart,
            nIn: 1,
            colStart: outStart,
            nOut: units,
            param: { off: off[bi], sI: 0, sO: 1, sF: 0, K: 1 },
          });
        }
      });
      groups.set(out[0].id, { start: outStart, size: units, positions: positionsOf(outShape) });
      continue;
    }
    if (cls === 'BatchNormalization' || cls === 'LayerNormalization') {
      const gamma = byName('gamma');
      const beta = byName('beta');
      expectWeights(
        cls === 'BatchNormalization' ? ['gamma', 'beta', 'moving_mean', 'moving_variance'] : ['gamma', 'beta'],
      );
      const rank = outShape.length;
      const axis = Array.isArray(cfg.axis) && cfg.axis.length === 1 ? (cfg.axis[0] as number) : (cfg.axis as number);
      if (axis !== -1 && axis !== rank - 1)
        fail(
          layer,
          `normalization over axis ${JSON.stringify(cfg.axis)} is not supported; only the last (channels) axis`,
        );
      const g = unfold(ins[0], layer.name);
      const ps = [gamma, beta].filter((x): x is LayerWeightDesc => !!x);
      const idx: { i: number; v: LayerWeightDesc; type: number }[] = [];
      for (const v of ps) {
        check(v, [g.size], v === gamma ? 'gamma' : 'beta');
        idx.push({
          i: addParam({ variable: v, view: [g.size], perm: [0], torchShape: [g.size] }, v.name),
          v,
          type: v === gamma ? EdgeType.norm : EdgeType.bias,
        });
      }
      const auxStart = alloc(idx.length);
      const n = g.size;
      const start = g.start;
      blocks.push((a, off) => {
        idx.forEach(({ i, v, type }, j) =>
          a.dense({
            name: v.name,
            shape: [n],
            paramType: type,
            paramName: v.name,
            rowStart: auxStart + j,
            nIn: 1,
            colStart: start,
            nOut: n,
            param: { off: off[i], sI: 0, sO: 1, sF: 0, K: 1 },
          }),
        );
      });
      groups.set(out[0].id, { start: g.start, size: g.size, positions: positionsOf(outShape) });
      continue;
    }
    if (cls === 'Embedding') {
      const emb = byName('embeddings');
      expectWeights(['embeddings']);
      if (!emb) fail(layer, 'has no embeddings');
      const g = ins[0];
      if (!g.pendingInput) fail(layer, `an Embedding must read a model input (token ids) directly`);
      const vocab = cfg.inputDim as number;
      const dim = cfg.outputDim as number;
      check(emb, [vocab, dim], 'embeddings');
      g.pendingInput = false;
      g.start = alloc(vocab);
      g.size = vocab;
      const ei = addParam({ variable: emb, view: [vocab, dim], perm: [0, 1], torchShape: [vocab, dim] }, emb.name);
      const outStart = alloc(dim);
      const rowStart = g.start;
      blocks.push((a, off) =>
        a.dense({
          name: emb.name,
          shape: [vocab, dim],
          paramType: EdgeType.wte,
          paramName: emb.name,
          rowStart,
          nIn: vocab,
          colStart: outStart,
          nOut: dim,
          param: { off: off[ei], sI: dim, sO: 1, sF: 0, K: 1 },
        }),
      );
      groups.set(out[0].id, { start: outStart, size: dim, positions: positionsOf(outShape) });
      continue;
    }
    fail(layer, `unsupported layer for NiNo's neural graph; supported: ${SUPPORTED_LAYERS.join(', ')}`);
  }
  if (specs.length === 0) throw new Error(`model '${model.name}' has no weights NiNo could nowcast`);

  const layout = makeLayout(specs);
  const offsets = layout.entries.map((e) => e.offset);
  const a = new GraphAssembler('tfjs', layout);
  a.alloc(numNodes);
  for (const b of blocks) b(a, offsets);
  const graph = a.finish({});
  return { graph, specs, params: pending, total: layout.total, offsets };
}

function positionsOf(shape: readonly (number | null)[]): number {
  let p = 1;
  for (let i = 1; i < shape.length - 1; i++) p *= (shape[i] ?? 1) as number;
  return p;
}
