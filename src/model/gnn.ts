/**
 * The NiNo GNN (official `NiNoModel` with PNA layers, checkpoint `nino_no_posw`), in tfjs.
 * Forward (shapes: N nodes, E edges, H = hid, F feature slots, S = seqLen):
 *   x  = pos @ node_proj^T (+ wte_pos_enc[pos_w])                         [N,H]
 *   e  = edge_attr @ edge_proj[:, :F*ctx]^T + layer_embed[edge_type]       [E,H]
 *   per layer l with an edge update:
 *     m   = (e @ enc^T)[:, :H] * (x[dst] @ pre_a^T + x[src] @ pre_b^T + b) + (e @ enc^T)[:, H:]
 *     agg = mean of m over incoming edges                                  [N,H]
 *     x   = silu(([x|agg] @ post^T) @ lin^T)
 *     e   = silu(e @ lin_e^T + (x @ lin_s^T)[src] + (x @ lin_t^T)[dst]) @ lin1^T
 *   delta = silu(e @ edge_out.fc.0^T) @ edge_out.fc.2[rows]^T,  rows = f*S + (k-1)   [E,F]
 * `NiNoGnn` is the inference `Nowcaster` (edge-chunked, bounded memory, no tensor leaks);
 * `gnnForwardAll` is the differentiable whole-graph forward returning all S horizons for training.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../core/rng.ts';
import type { NiNoConfig } from './config.ts';
import { gatherRows, segmentSum, segmentSumAccumulateHost } from './graph-ops.ts';
import type { Nowcaster, NowcastInput } from './types.ts';
import { applyResidual, validateInput } from './types.ts';
import type { HostWeights, Weights } from './weights.ts';
import { adoptWeights, disposeWeights } from './weights.ts';

/** edge type id of the self-loops appended by the neural graph builders */
export const SELF_LOOP_TYPE = 13;

export interface GnnRunOptions {
  /** process edge-wise parts in chunks of this many edges (0 = all at once) */
  chunkEdges?: number;
  /** fraction of non-self-loop edges dropped from message passing (overrides the config) */
  edgeSampleRatio?: number;
  /** seed of the edge-sampling stream (advances with every call) */
  seed?: number;
  /** debug: collects intermediates (per chunk, in edge order) under the golden-data names */
  trace?: Record<string, Float32Array[]>;
  /** profiling: adds wall-clock ms per phase (embed, messages{l}, node{l}, edges{l}, out) */
  timings?: Record<string, number>;
}

/**
 * Weight access for the forwards. `t(name)` is a Linear weight transposed to [in, out] (tfjs-wasm's
 * matMul with transposeB is ~10x slower than a plain one, so inference caches the transposes);
 * `v(name)` is a raw tensor (bias, embedding).
 */
export interface WeightAccess {
  t(name: string): tf.Tensor2D;
  v(name: string): tf.Tensor;
}

function rawWeight(ws: Weights, name: string): tf.Tensor {
  const t = ws[name];
  if (!t) throw new Error(`missing weight '${name}'`);
  return t;
}

/** Access that transposes on demand (memoized; differentiable; for use inside one tidy/grad scope). */
export function lazyAccess(ws: Weights): WeightAccess {
  const cache = new Map<string, tf.Tensor2D>();
  return {
    t: (name) => {
      let x = cache.get(name);
      if (!x) cache.set(name, (x = tf.transpose(rawWeight(ws, name) as tf.Tensor2D)));
      return x;
    },
    v: (name) => rawWeight(ws, name),
  };
}

/** Access with all 2-D Linear weights transposed once up front (inference); dispose() frees them. */
export function cachedAccess(ws: Weights): WeightAccess & { dispose(): void } {
  const cache = new Map<string, tf.Tensor2D>();
  for (const [k, x] of Object.entries(ws)) {
    if (k.endsWith('.weight') && x.rank === 2 && !k.startsWith('layer_embed') && !k.startsWith('wte_pos_enc')) {
      cache.set(k, tf.keep(tf.transpose(x as tf.Tensor2D)));
    }
  }
  return {
    t: (name) => {
      const x = cache.get(name);
      if (!x) throw new Error(`missing weight '${name}'`);
      return x;
    },
    v: (name) => rawWeight(ws, name),
    dispose: () => cache.forEach((x) => x.dispose()),
  };
}

/** y = x WT + b  (x [M,in], WT [in,out], b [out]); one fused kernel */
function lin(x: tf.Tensor2D, WT: tf.Tensor, b?: tf.Tensor): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: WT as tf.Tensor2D, bias: b }) as tf.Tensor2D;
}

/** host row gather: out[e] = table[idx[e]] (table [*, H] host array) -> tensor [n, H] */
export function gatherHost(table: Float32Array, idx: Int32Array, H: number): tf.Tensor2D {
  const n = idx.length;
  const out = new Float32Array(n * H);
  for (let e = 0; e < n; e++) out.set(table.subarray(idx[e] * H, idx[e] * H + H), e * H);
  return tf.tensor2d(out, [n, H]);
}

type RowGather = (x: tf.Tensor2D, idx: Int32Array) => tf.Tensor2D;

/** [N,H] initial node features */
export function gnnNodeInit(ws: WeightAccess, cfg: NiNoConfig, N: number, pos?: tf.Tensor2D, posW?: Int32Array, gather: RowGather = gatherRows): tf.Tensor2D {
  let x: tf.Tensor2D | null = null;
  if (cfg.lpe > 0) {
    if (!pos) throw new Error(`this NiNo GNN needs pos [N, ${cfg.lpe}] (LPE)`);
    if (pos.shape[0] !== N || pos.shape[1] !== cfg.lpe) throw new Error(`pos has shape [${pos.shape}], expected [${N}, ${cfg.lpe}]`);
    x = lin(pos, ws.t('node_proj.fc.0.weight'), ws.v('node_proj.fc.0.bias'));
  }
  if (cfg.wtePosEnc) {
    if (!posW || posW.length !== N) throw new Error(`this NiNo GNN (wte_pos_enc) needs posW [${N}]`);
    const emb = gather(ws.v('wte_pos_enc_layer.weight') as tf.Tensor2D, posW);
    x = (x ? tf.add(x, emb) : emb) as tf.Tensor2D;
  }
  if (!x) x = tf.zeros([N, cfg.hid]) as tf.Tensor2D;
  return x;
}

/** [n,H] edge embedding of edgeAttr [n, F*ctx] */
export function gnnEdgeEmbed(ws: WeightAccess, cfg: NiNoConfig, edgeAttr: tf.Tensor2D, edgeType: Int32Array, F: number, gather: RowGather = gatherRows): tf.Tensor2D {
  const H = cfg.hid;
  const W = ws.t('edge_proj.fc.0.weight'); // [maxFeat*ctx, H]
  const Wf = F === cfg.maxFeat ? W : tf.slice(W, [0, 0], [F * cfg.ctx, H]);
  let e = lin(edgeAttr, Wf, ws.v('edge_proj.fc.0.bias'));
  if (cfg.edgeTypes > 0) e = tf.add(e, gather(ws.v('layer_embed.weight') as tf.Tensor2D, edgeType));
  return e;
}

/** node-side halves of pre_nns: A = x @ pre[:, :H]^T + b (target part), B = x @ pre[:, H:]^T (source part) */
function preNode(ws: WeightAccess, l: number, H: number, x: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] {
  const W = ws.t(`gnn.convs.${l}.pre_nns.0.0.weight`); // [2H, H]
  const A = lin(x, tf.slice(W, [0, 0], [H, H]), ws.v(`gnn.convs.${l}.pre_nns.0.0.bias`));
  const B = lin(x, tf.slice(W, [H, 0], [H, H]));
  return [A, B];
}

/** [n,H] modulated messages for edges with embedding e [n,H] */
function messages(ws: WeightAccess, l: number, H: number, h: tf.Tensor2D, e: tf.Tensor2D): tf.Tensor2D {
  const enc = lin(e, ws.t(`gnn.convs.${l}.edge_encoder.weight`), ws.v(`gnn.convs.${l}.edge_encoder.bias`));
  const n = e.shape[0];
  const sc = tf.slice(enc, [0, 0], [n, H]);
  const sh = tf.slice(enc, [0, H], [n, H]);
  return tf.add(tf.mul(sc, h), sh) as tf.Tensor2D;
}

/** PNAConv node update, before the activation: ([x|agg] @ post^T + b) @ lin^T + b */
function nodeUpdate(ws: WeightAccess, l: number, x: tf.Tensor2D, agg: tf.Tensor2D): tf.Tensor2D {
  const p = `gnn.convs.${l}`;
  const y = lin(tf.concat([x, agg], 1) as tf.Tensor2D, ws.t(`${p}.post_nns.0.0.weight`), ws.v(`${p}.post_nns.0.0.bias`));
  return lin(y, ws.t(`${p}.lin.weight`), ws.v(`${p}.lin.bias`));
}

/** EdgeMLP: silu(e lin_e + st) lin1, with st = (x lin_s)[src] + (x lin_t)[dst] gathered by the caller */
function edgeUpdate(ws: WeightAccess, l: number, st: tf.Tensor2D, e: tf.Tensor2D): tf.Tensor2D {
  const p = `gnn.edge_update.${l}`;
  const z = tf.add(lin(e, ws.t(`${p}.lin_e.weight`), ws.v(`${p}.lin_e.bias`)), st);
  return lin(tf.mul(z, tf.sigmoid(z)) as tf.Tensor2D, ws.t(`${p}.lin1.weight`), ws.v(`${p}.lin1.bias`));
}

function edgeSideNode(ws: WeightAccess, l: number, x: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] {
  const p = `gnn.edge_update.${l}`;
  return [lin(x, ws.t(`${p}.lin_s.weight`), ws.v(`${p}.lin_s.bias`)), lin(x, ws.t(`${p}.lin_t.weight`), ws.v(`${p}.lin_t.bias`))];
}

/** host fused gather: out[e] = a[ia[e]] + b[ib[e]]  (a, b: [*, H] host arrays) -> tensor [n, H] */
function gather2Host(a: Float32Array, ia: Int32Array, b: Float32Array, ib: Int32Array, H: number): tf.Tensor2D {
  const n = ia.length;
  const out = new Float32Array(n * H);
  for (let e = 0; e < n; e++) {
    const o = e * H;
    const pa = ia[e] * H;
    const pb = ib[e] * H;
    for (let h = 0; h < H; h++) out[o + h] = a[pa + h] + b[pb + h];
  }
  return tf.tensor2d(out, [n, H]);
}

const silu = (x: tf.Tensor2D) => tf.mul(x, tf.sigmoid(x)) as tf.Tensor2D;

/**
 * Indices of the edges that take part in message passing: all self-loops and a seeded random
 * (1 - ratio) share of the other edges (exact count, round(ratio * #non-self-loop) dropped).
 * Returns null when ratio <= 0 (all edges).
 */
export function sampleMessageEdges(edgeType: Int32Array, ratio: number, rng: Rng): Int32Array | null {
  if (!(ratio > 0)) return null;
  if (ratio >= 1) throw new Error(`edgeSampleRatio must be in [0, 1), got ${ratio}`);
  const other: number[] = [];
  for (let i = 0; i < edgeType.length; i++) if (edgeType[i] !== SELF_LOOP_TYPE) other.push(i);
  const nDrop = Math.round(ratio * other.length);
  // partial Fisher-Yates: the first nDrop positions are the dropped edges
  for (let i = 0; i < nDrop; i++) {
    const j = i + rng.int(other.length - i);
    const t = other[i];
    other[i] = other[j];
    other[j] = t;
  }
  const keep = new Uint8Array(edgeType.length).fill(1);
  for (let i = 0; i < nDrop; i++) keep[other[i]] = 0;
  const out = new Int32Array(edgeType.length - nDrop);
  let c = 0;
  for (let i = 0; i < keep.length; i++) if (keep[i]) out[c++] = i;
  return out;
}

function inDegree(dst: Int32Array, N: number, subset: Int32Array | null): Float32Array {
  const cnt = new Float32Array(N);
  if (subset) for (let i = 0; i < subset.length; i++) cnt[dst[subset[i]]]++;
  else for (let i = 0; i < dst.length; i++) cnt[dst[i]]++;
  for (let i = 0; i < N; i++) if (cnt[i] === 0) cnt[i] = 1; // PyG mean: empty segments give 0
  return cnt;
}

function checkGraph(edgeIndex: Int32Array, E: number, N: number): void {
  if (edgeIndex.length !== 2 * E) throw new Error(`edgeIndex has ${edgeIndex.length} entries, expected 2*E = ${2 * E}`);
  for (let i = 0; i < edgeIndex.length; i++) {
    const v = edgeIndex[i];
    if (v < 0 || v >= N) throw new Error(`edgeIndex[${i}] = ${v} out of range for numNodes = ${N}`);
  }
}

export interface GraphTensorsInput {
  /** [E, F*ctx] */
  edgeAttr: tf.Tensor2D;
  F: number;
  /** [2*E] */
  edgeIndex: Int32Array;
  /** [E] */
  edgeType: Int32Array;
  /** [N, lpe] */
  pos?: tf.Tensor2D;
  /** [N] */
  posW?: Int32Array;
  numNodes: number;
  /** edges used for message passing (null/undefined = all); see sampleMessageEdges */
  messageEdges?: Int32Array | null;
}

/**
 * Differentiable whole-graph forward (for meta-training; use inside tf.variableGrads / tf.tidy).
 * Returns delta for all horizons: [E, F, seqLen] (pre-residual, scaled space; horizon k is [:, :, k-1]).
 */
export function gnnForwardAll(weights: Weights, cfg: NiNoConfig, g: GraphTensorsInput): tf.Tensor3D {
  const ws = lazyAccess(weights);
  const H = cfg.hid;
  const E = g.edgeType.length;
  const N = g.numNodes;
  const src = g.edgeIndex.subarray(0, E);
  const dst = g.edgeIndex.subarray(E, 2 * E);
  const sub = g.messageEdges ?? null;
  const srcM = sub ? sub.map((i) => src[i]) : src;
  const dstM = sub ? sub.map((i) => dst[i]) : dst;
  const cnt = tf.tensor2d(inDegree(dst, N, sub), [N, 1]);
  let x = gnnNodeInit(ws, cfg, N, g.pos, g.posW);
  let e = gnnEdgeEmbed(ws, cfg, g.edgeAttr, g.edgeType, g.F);
  const nUpd = cfg.finalEdgeUpdate ? cfg.layers : cfg.layers - 1;
  for (let l = 0; l < nUpd; l++) {
    const [A, B] = preNode(ws, l, H, x);
    const eM = sub ? (gatherRows(e, sub) as tf.Tensor2D) : e;
    const m = messages(ws, l, H, tf.add(gatherRows(A, dstM), gatherRows(B, srcM)) as tf.Tensor2D, eM);
    const agg = tf.div(segmentSum(m, dstM, N), cnt) as tf.Tensor2D;
    x = silu(nodeUpdate(ws, l, x, agg));
    const [S, T] = edgeSideNode(ws, l, x);
    e = edgeUpdate(ws, l, tf.add(gatherRows(S, src), gatherRows(T, dst)) as tf.Tensor2D, e);
  }
  const hid = silu(lin(e, ws.t('edge_out.fc.0.weight'), ws.v('edge_out.fc.0.bias')));
  const out = lin(hid, ws.t('edge_out.fc.2.weight'), ws.v('edge_out.fc.2.bias')); // [E, maxFeat*S]
  const r = tf.reshape(out, [E, cfg.maxFeat, cfg.seqLen]) as tf.Tensor3D;
  return g.F === cfg.maxFeat ? r : (tf.slice(r, [0, 0, 0], [E, g.F, cfg.seqLen]) as tf.Tensor3D);
}

/** [in,out] weight + bias of one edge-side linear map */
interface LinWB {
  WT: tf.Tensor2D;
  b: tf.Tensor1D;
}

/**
 * Inference-only algebraic folding of each EdgeMLP's final `lin1` into the linear maps that consume
 * its output (next layer's edge_encoder halves and lin_e, or edge_out.fc.0):
 *   (u W1 + b1) W + b = u (W1 W) + (b1 W + b)
 * so the per-edge state kept between layers is u = silu(z) and lin1 (H*H MACs per edge and layer) is
 * never evaluated. Same math; float32 rounding differs at the 1e-7 level.
 */
interface FoldedEdgeWeights {
  /** per layer: scale / shift halves of edge_encoder and lin_e, applied to the layer's edge state */
  sc: LinWB[];
  sh: LinWB[];
  le: LinWB[];
  /** edge_out.fc.0 applied to the final edge state */
  out0: LinWB;
  dispose(): void;
}

function foldEdgeWeights(ws: WeightAccess, cfg: NiNoConfig): FoldedEdgeWeights {
  const H = cfg.hid;
  const nUpd = cfg.finalEdgeUpdate ? cfg.layers : cfg.layers - 1;
  const keep: tf.Tensor[] = [];
  const fold = (l: number, WT: tf.Tensor2D, b: tf.Tensor1D): LinWB => {
    const [W2, b2] = tf.tidy(() => {
      if (l === 0) return [tf.clone(WT), tf.clone(b)];
      const p = `gnn.edge_update.${l - 1}.lin1`;
      const W1T = ws.t(`${p}.weight`);
      const b1 = ws.v(`${p}.bias`);
      return [tf.matMul(W1T, WT), tf.add(tf.squeeze(tf.matMul(tf.reshape(b1, [1, H]), WT), [0]), b)];
    });
    // fresh rank-1 bias record (see the tfjs-wasm fused matMul note in predictDelta)
    const r: LinWB = { WT: W2 as tf.Tensor2D, b: tf.tensor1d(b2.dataSync() as Float32Array) };
    b2.dispose();
    keep.push(r.WT, r.b);
    return r;
  };
  const sc: LinWB[] = [];
  const sh: LinWB[] = [];
  const le: LinWB[] = [];
  for (let l = 0; l < nUpd; l++) {
    const p = `gnn.convs.${l}.edge_encoder`;
    const [encT, encB] = [ws.t(`${p}.weight`), ws.v(`${p}.bias`)];
    const halves = tf.tidy(() => [
      tf.slice(encT, [0, 0], [H, H]), tf.slice(encB, [0], [H]),
      tf.slice(encT, [0, H], [H, H]), tf.slice(encB, [H], [H]),
    ]);
    sc.push(fold(l, halves[0] as tf.Tensor2D, halves[1] as tf.Tensor1D));
    sh.push(fold(l, halves[2] as tf.Tensor2D, halves[3] as tf.Tensor1D));
    tf.dispose(halves);
    le.push(fold(l, ws.t(`gnn.edge_update.${l}.lin_e.weight`), ws.v(`gnn.edge_update.${l}.lin_e.bias`) as tf.Tensor1D));
  }
  const out0 = fold(nUpd, ws.t('edge_out.fc.0.weight'), ws.v('edge_out.fc.0.bias') as tf.Tensor1D);
  return { sc, sh, le, out0, dispose: () => tf.dispose(keep) };
}

/**
 * The NiNo GNN as a Nowcaster (inference; edge-chunked).
 * Weights: host arrays (copied to tensors, freed by dispose()) or tensors/variables (caller keeps
 * ownership). Transposed and folded copies are made at construction, so later changes to passed-in
 * variables are not seen: build a new NiNoGnn (cheap) after a training step.
 */
export class NiNoGnn implements Nowcaster {
  readonly kind = 'gnn' as const;
  readonly needsGraph = true;
  readonly weights: Weights;
  private readonly access: WeightAccess & { dispose(): void };
  private readonly folded: FoldedEdgeWeights;
  private readonly rng: Rng;
  private readonly hostTables = new Map<string, Float32Array>();
  /** true when the weights were created here from host arrays (then dispose() frees them) */
  private readonly ownsWeights: boolean;
  private disposed = false;

  constructor(
    readonly config: NiNoConfig,
    weights: Weights | HostWeights,
    readonly options: GnnRunOptions = {},
    readonly name = 'nino',
  ) {
    if (config.kind !== 'gnn') throw new Error(`NiNoGnn needs a gnn config, got kind '${config.kind}'`);
    ({ weights: this.weights, owns: this.ownsWeights } = adoptWeights(weights, config, name));
    this.access = cachedAccess(this.weights);
    this.folded = foldEdgeWeights(this.access, config);
    this.rng = new Rng(options.seed ?? 0);
  }

  get ctx() { return this.config.ctx; }
  get seqLen() { return this.config.seqLen; }
  get maxFeat() { return this.config.maxFeat; }
  get lpe() { return this.config.lpe; }
  get updScale() { return this.config.updScale; }

  predict(input: NowcastInput): Float32Array {
    return applyResidual(input, this.predictDelta(input), this.config.updScale);
  }

  /** embedding-row gather on the host (tfjs-wasm's gather is slow); tables cached by tensor id */
  private readonly hostGather: RowGather = (x, idx) => {
    const key = String(x.id);
    let t = this.hostTables.get(key);
    if (!t) this.hostTables.set(key, (t = Float32Array.from(x.dataSync() as Float32Array)));
    return gatherHost(t, idx, x.shape[1]);
  };

  predictDelta(inp: NowcastInput, opts: GnnRunOptions = {}): Float32Array {
    if (this.disposed) throw new Error('NiNoGnn used after dispose()');
    const cfg = this.config;
    const ws = this.access;
    const H = cfg.hid;
    const E = validateInput(inp, cfg.ctx, cfg.maxFeat, cfg.seqLen);
    const { F, ctx, numNodes: N, k } = inp;
    checkGraph(inp.edgeIndex, E, N);
    const o = { ...this.options, ...opts };
    const trace = o.trace;
    const chunk = o.chunkEdges && o.chunkEdges > 0 ? o.chunkEdges : Math.max(E, 1);
    const ranges: [number, number][] = [];
    for (let a = 0; a < E; a += chunk) ranges.push([a, Math.min(E, a + chunk)]);
    const src = inp.edgeIndex.subarray(0, E);
    const dst = inp.edgeIndex.subarray(E, 2 * E);
    const ratio = o.edgeSampleRatio ?? cfg.edgeSampleRatio;
    const sub = sampleMessageEdges(inp.edgeType, ratio, this.rng);
    // per chunk: the (global) edge ids that take part in message passing, plus local ids
    const mp = ranges.map(([a, b]) => {
      if (!sub) return null;
      let lo = lowerBound(sub, a);
      const hi = lowerBound(sub, b);
      const glob = sub.subarray(lo, hi);
      return { glob, local: glob.map((i) => i - a) };
    });
    const rec = (name: string, t: tf.Tensor) => {
      if (trace) (trace[name] ??= []).push(Float32Array.from(t.dataSync() as Float32Array));
    };
    const slice = (arr: Int32Array, c: number) => arr.subarray(ranges[c][0], ranges[c][1]);
    let tPhase = performance.now();
    const phase = (name: string) => {
      const now = performance.now();
      if (o.timings) o.timings[name] = (o.timings[name] ?? 0) + now - tPhase;
      tPhase = now;
    };

    let x = tf.tidy(() => {
      const pos = inp.pos && cfg.lpe > 0 ? tf.tensor2d(inp.pos, [N, cfg.lpe]) : undefined;
      if (inp.pos && cfg.lpe > 0 && inp.pos.length !== N * cfg.lpe) throw new Error(`pos has ${inp.pos.length} values, expected N*lpe = ${N * cfg.lpe}`);
      const x0 = gnnNodeInit(ws, cfg, N, pos, inp.posW, this.hostGather);
      rec('gnn_in_x', x0);
      return x0;
    });
    // per chunk edge state: e0 before layer 0, then the EdgeMLP hidden u (see FoldedEdgeWeights)
    let eCh: tf.Tensor2D[] = [];
    const out = new Float32Array(E * F);
    try {
      eCh = ranges.map(([a, b]) =>
        tf.tidy(() => {
          const ea = tf.tensor2d(inp.edgeAttr.subarray(a * F * ctx, b * F * ctx), [b - a, F * ctx]);
          const e = gnnEdgeEmbed(ws, cfg, ea, inp.edgeType.subarray(a, b), F, this.hostGather);
          rec('gnn_in_edge', e);
          return e;
        }),
      );
      phase('embed');
      const cnt = tf.tensor2d(inDegree(dst, N, sub), [N, 1]);
      const nUpd = cfg.finalEdgeUpdate ? cfg.layers : cfg.layers - 1;
      try {
        for (let l = 0; l < nUpd; l++) {
          const [A, B] = tf.tidy(() => preNode(ws, l, H, x));
          const Ah = A.dataSync() as Float32Array;
          const Bh = B.dataSync() as Float32Array;
          A.dispose();
          B.dispose();
          // mean aggregation accumulated on the host in edge order (no [N,H] tensor per chunk)
          const aggHost = new Float32Array(N * H);
          for (let c = 0; c < ranges.length; c++) {
            let d = slice(dst, c);
            const m = (tf.tidy as unknown as (f: () => tf.Tensor2D | undefined) => tf.Tensor2D | undefined)(() => {
              let e = eCh[c];
              let s = slice(src, c);
              const m0 = mp[c];
              if (m0) {
                if (m0.glob.length === 0) return undefined;
                e = gatherHost(e.dataSync() as Float32Array, m0.local, H); // host gather (tfjs-wasm gather is slow)
                s = m0.glob.map((i) => src[i]);
                d = m0.glob.map((i) => dst[i]);
              }
              const h = gather2Host(Ah, d, Bh, s, H);
              const { sc, sh } = this.folded;
              const msg = tf.add(tf.mul(lin(e, sc[l].WT, sc[l].b), h), lin(e, sh[l].WT, sh[l].b)) as tf.Tensor2D;
              rec(`conv${l}_messages`, msg);
              return msg;
            });
            if (m) {
              segmentSumAccumulateHost(aggHost, m.dataSync() as Float32Array, d, H);
              m.dispose();
            }
          }
          const aggSum = tf.tensor2d(aggHost, [N, H]);
          phase(`messages${l}`);
          const xNew = tf.tidy(() => {
            const agg = tf.div(aggSum, cnt) as tf.Tensor2D;
            rec(`conv${l}_aggr`, agg);
            const y = nodeUpdate(ws, l, x, agg);
            rec(`conv${l}_x_out`, y);
            return silu(y);
          });
          aggSum.dispose();
          x.dispose();
          x = xNew;
          phase(`node${l}`);
          const [S, T] = tf.tidy(() => edgeSideNode(ws, l, x));
          const Sh = S.dataSync() as Float32Array;
          const Th = T.dataSync() as Float32Array;
          S.dispose();
          T.dispose();
          for (let c = 0; c < ranges.length; c++) {
            const eNew = tf.tidy(() => {
              const le = this.folded.le[l];
              const z = tf.add(lin(eCh[c], le.WT, le.b), gather2Host(Sh, slice(src, c), Th, slice(dst, c), H)) as tf.Tensor2D;
              const u = silu(z); // EdgeMLP hidden; lin1 is folded into the consumers
              if (trace) rec(`edge_update${l}_out`, lin(u, ws.t(`gnn.edge_update.${l}.lin1.weight`), ws.v(`gnn.edge_update.${l}.lin1.bias`)));
              return u;
            });
            eCh[c].dispose();
            eCh[c] = eNew;
          }
          phase(`edges${l}`);
        }
      } finally {
        cnt.dispose();
      }
      const [Wk, bk] = tf.tidy(() => {
        const rows = tf.tensor1d(Int32Array.from({ length: F }, (_, f) => f * cfg.seqLen + (k - 1)), 'int32');
        // bias rebuilt as a fresh rank-1 tensor: tfjs-wasm's fused matMul reads the bias rank from
        // its data record, which for a gather result is the pre-reshape rank
        const bAll = ws.v('edge_out.fc.2.bias').dataSync();
        const bRows = Float32Array.from({ length: F }, (_, f) => bAll[f * cfg.seqLen + (k - 1)]);
        return [tf.gather(ws.t('edge_out.fc.2.weight'), rows, 1), tf.tensor1d(bRows)];
      });
      try {
        for (let c = 0; c < ranges.length; c++) {
          const d = tf.tidy(() => {
            const hid = silu(lin(eCh[c], this.folded.out0.WT, this.folded.out0.b));
            rec('edge_out_hidden', hid);
            return lin(hid, Wk, bk);
          });
          out.set(d.dataSync() as Float32Array, ranges[c][0] * F);
          d.dispose();
        }
      } finally {
        Wk.dispose();
        bk.dispose();
      }
      phase('out');
    } finally {
      for (const t of eCh) if (!t.isDisposed) t.dispose();
      x.dispose();
    }
    return out;
  }

  dispose(): void {
    if (!this.disposed) {
      this.folded.dispose();
      this.access.dispose();
      if (this.ownsWeights) disposeWeights(this.weights);
    }
    this.disposed = true;
  }
}

function lowerBound(a: Int32Array, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
