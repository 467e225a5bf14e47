/**
 * The NiNo models, defined once: the GNN (official `NiNoModel` with PNA layers, checkpoint
 * `nino_no_posw`) and the per-parameter MLP (`gnn=False`, checkpoints `nino_mlp`, `nino_mlp_h32`).
 * The definitions only say what is computed; an op set says how:
 *   - training ops (train-ops.ts): whole-graph tensors, torch-layout Linears with tfjs-wasm-friendly
 *     custom gradients, tensor gathers; what meta-training differentiates and the golden tests run;
 *   - inference ops (infer-ops.ts): pre-transposed and folded weights, edge chunks, host gathers and
 *     host mean aggregation, edge sampling, one horizon; what `NiNoGnn` / `NiNoMlp` run.
 *
 * GNN (shapes: N nodes, E edges, H = hid, F feature slots, S = maxHorizon):
 *   x  = pos @ node_proj^T (+ wte_pos_enc[pos_w])                         [N,H]
 *   e  = edge_attr @ edge_proj[:, :F*ctx]^T + layer_embed[edge_type]       [E,H]
 *   per layer l with an edge update:
 *     m   = (e @ enc^T)[:, :H] * (x[dst] @ pre_a^T + x[src] @ pre_b^T + b) + (e @ enc^T)[:, H:]
 *     agg = mean of m over the incoming message edges                      [N,H]
 *     x   = silu(([x|agg] @ post^T) @ lin^T)
 *     e   = silu(e @ lin_e^T + (x @ lin_s^T)[src] + (x @ lin_t^T)[dst]) @ lin1^T
 *   delta = silu(e @ edge_out.fc.0^T) @ edge_out.fc.2[rows]^T,  rows = f*S + (k-1)   [E,F]
 * MLP (every edge and slot from its own ctx values):
 *   h     = edge_attr.reshape(E*F, ctx) @ edge_proj^T + b + layer_embed[edge_type]   [E*F,H]
 *   h     = silu(h fc0^T + b); h = silu(h fc2^T + b); h = silu(h fc4^T + b)
 *   delta = h @ fc6[k-1] + b6[k-1]                                                  [E*F]
 * Trace names (`rec`) are the golden-data intermediate names.
 */
import * as tf from '@tensorflow/tfjs';
import type { NiNoConfig } from './config.ts';

/** part of a Linear: input features [from, from + n) only (a column block of the torch weight), no bias */
export interface LinearPart {
  in?: [from: number, n: number];
  bias?: boolean;
}

/** Tensor operations of both definitions. Weights are named by torch module ('gnn.convs.0.lin'). */
export interface LayerOps {
  /** Linear `name` on x [M, in]: x W^T + b, W = `${name}.weight` [out, in] (torch layout), b = `${name}.bias` */
  linear(x: tf.Tensor2D, name: string, part?: LinearPart): tf.Tensor2D;
  /** Linear `name` with its output split at column `at`: [y[:, :at], y[:, at:]] */
  linearSplit(x: tf.Tensor2D, name: string, at: number): [tf.Tensor2D, tf.Tensor2D];
  /** rows idx of the embedding `${name}.weight` */
  embed(name: string, idx: Int32Array): tf.Tensor2D;
  /**
   * Output Linear `name` (weight [maxFeat*S, H]) restricted to rows f*S + (h-1), f < F, for the op set's
   * horizons h (training: 1..horizons; inference: k): [M, F*nh], column f*nh + j.
   */
  outHead(x: tf.Tensor2D, name: string, maxFeat: number, F: number): tf.Tensor2D;
  /** debug trace: records t under `name` (no-op unless tracing) */
  rec(name: string, t: tf.Tensor): void;
}

/**
 * Graph-level operations of the GNN. ES: the op set's edge state (one tensor or one per edge chunk);
 * Tb: a node table read by per-edge gathers (a tensor, or a host copy).
 */
export interface GnnOps<ES, Tb, R> extends LayerOps {
  readonly numNodes: number;
  /** feature slots per edge */
  readonly F: number;
  /** [N] token-position ids (wte_pos_enc) */
  readonly posW?: Int32Array;
  /** [N, lpe] Laplacian encoding as a tensor of the current scope, if given */
  pos(): tf.Tensor2D | undefined;
  /** runs a node-level step in the op set's memory scope, then releases `done` (inference frees them) */
  step<T extends tf.Tensor | tf.Tensor[]>(f: () => T, done?: tf.Tensor[]): T;
  /** node table for the per-edge gathers below (releases t where the op set copies it) */
  table(t: tf.Tensor2D): Tb;
  /** initial edge state f(edgeAttr [n, F*ctx], edgeType [n]) of every edge */
  edges(f: (edgeAttr: tf.Tensor2D, edgeType: Int32Array) => tf.Tensor2D): ES;
  /** [N,H] mean over each node's incoming message edges of msg(e, A[dst] + B[src]); 0 where none (PyG) */
  meanMessages(e: ES, A: Tb, B: Tb, msg: (e: tf.Tensor2D, h: tf.Tensor2D) => tf.Tensor2D): tf.Tensor2D;
  /** next edge state upd(e, S[src] + T[dst]) of every edge (the old state is released) */
  updateEdges(e: ES, S: Tb, T: Tb, upd: (e: tf.Tensor2D, st: tf.Tensor2D) => tf.Tensor2D): ES;
  /**
   * EdgeMLP output Linear `name` on u (recorded as `traceName`). An op set may fold it into the
   * Linears that consume the edge state and return u itself (inference does).
   */
  edgeOut(name: string, u: tf.Tensor2D, traceName: string): tf.Tensor2D;
  /** the forward's result from the per-edge outputs f(e) [n, F*nh] */
  result(e: ES, f: (e: tf.Tensor2D) => tf.Tensor2D): R;
  /** profiling: the phase `name` ends here */
  mark(name: string): void;
}

export const silu = (x: tf.Tensor2D) => tf.mul(x, tf.sigmoid(x)) as tf.Tensor2D;

/** number of PNA layers followed by an edge update (the last layer's node update is unused otherwise) */
export function edgeUpdateLayers(cfg: NiNoConfig): number {
  return cfg.finalEdgeUpdate ? cfg.layers : cfg.layers - 1;
}

/**
 * The token ids a model with `vocabSize` rows can embed: an id past its vocabulary (a graph with a
 * larger vocabulary than the model was trained with) gets row 0, the row of the nodes with no token.
 */
export function vocabIds(posW: Int32Array, vocabSize: number): Int32Array {
  if (!posW.some((v) => v > vocabSize)) return posW;
  return posW.map((v) => (v > vocabSize ? 0 : v));
}

/** [N,H] initial node features */
function nodeInit(ops: GnnOps<unknown, unknown, unknown>, cfg: NiNoConfig): tf.Tensor2D {
  const N = ops.numNodes;
  let x: tf.Tensor2D | null = null;
  if (cfg.lpe > 0) {
    const pos = ops.pos();
    if (!pos) throw new Error(`this NiNo GNN needs pos [N, ${cfg.lpe}] (LPE)`);
    if (pos.shape[0] !== N || pos.shape[1] !== cfg.lpe)
      throw new Error(`pos has shape [${pos.shape}], expected [${N}, ${cfg.lpe}]`);
    x = ops.linear(pos, 'node_proj.fc.0');
  }
  if (cfg.wtePosEnc) {
    if (!ops.posW || ops.posW.length !== N) throw new Error(`this NiNo GNN (wte_pos_enc) needs posW [${N}]`);
    const emb = ops.embed('wte_pos_enc_layer', vocabIds(ops.posW, cfg.vocabSize));
    x = (x ? tf.add(x, emb) : emb) as tf.Tensor2D;
  }
  if (!x) x = tf.zeros([N, cfg.hid]) as tf.Tensor2D;
  ops.rec('gnn_in_x', x);
  return x;
}

/** [n,H] edge embedding of edgeAttr [n, F*ctx] */
function edgeEmbed(
  ops: GnnOps<unknown, unknown, unknown>,
  cfg: NiNoConfig,
  edgeAttr: tf.Tensor2D,
  edgeType: Int32Array,
): tf.Tensor2D {
  const F = ops.F;
  let e = ops.linear(edgeAttr, 'edge_proj.fc.0', F === cfg.maxFeat ? undefined : { in: [0, F * cfg.ctx] });
  if (cfg.edgeTypes > 0) e = tf.add(e, ops.embed('layer_embed', edgeType)) as tf.Tensor2D;
  ops.rec('gnn_in_edge', e);
  return e;
}

/**
 * The NiNo GNN forward on an op set: R is the op set's result (training: [E, F, horizons] tensor;
 * inference: [E*F] host delta for its horizon).
 */
export function gnnForward<ES, Tb, R>(ops: GnnOps<ES, Tb, R>, cfg: NiNoConfig): R {
  const H = cfg.hid;
  let x = ops.step(() => nodeInit(ops, cfg));
  let e = ops.edges((ea, et) => edgeEmbed(ops, cfg, ea, et));
  ops.mark('embed');
  for (let l = 0; l < edgeUpdateLayers(cfg); l++) {
    const p = `gnn.convs.${l}`;
    const q = `gnn.edge_update.${l}`;
    // pre_nns on [x_dst | x_src], split into its node-side halves (target with bias, source without)
    const [A, B] = ops.step(() => [
      ops.linear(x, `${p}.pre_nns.0.0`, { in: [0, H] }),
      ops.linear(x, `${p}.pre_nns.0.0`, { in: [H, H], bias: false }),
    ]);
    const agg = ops.meanMessages(e, ops.table(A), ops.table(B), (eM, h) => {
      const [scale, shift] = ops.linearSplit(eM, `${p}.edge_encoder`, H);
      const m = tf.add(tf.mul(scale, h), shift) as tf.Tensor2D;
      ops.rec(`conv${l}_messages`, m);
      return m;
    });
    ops.mark(`messages${l}`);
    const xOld = x;
    x = ops.step(() => {
      ops.rec(`conv${l}_aggr`, agg);
      const y = ops.linear(ops.linear(tf.concat([xOld, agg], 1) as tf.Tensor2D, `${p}.post_nns.0.0`), `${p}.lin`);
      ops.rec(`conv${l}_x_out`, y);
      return silu(y);
    }, [xOld, agg]);
    ops.mark(`node${l}`);
    const xl = x;
    const [S, T] = ops.step(() => [ops.linear(xl, `${q}.lin_s`), ops.linear(xl, `${q}.lin_t`)]);
    e = ops.updateEdges(e, ops.table(S), ops.table(T), (eC, st) => {
      const z = tf.add(ops.linear(eC, `${q}.lin_e`), st) as tf.Tensor2D;
      return ops.edgeOut(`${q}.lin1`, silu(z), `edge_update${l}_out`);
    });
    ops.mark(`edges${l}`);
  }
  const r = ops.result(e, (eC) => {
    const hid = silu(ops.linear(eC, 'edge_out.fc.0'));
    ops.rec('edge_out_hidden', hid);
    return ops.outHead(hid, 'edge_out.fc.2', cfg.maxFeat, ops.F);
  });
  ops.mark('out');
  return r;
}

/** The per-parameter MLP forward on edgeAttr [n, F*ctx]: [n*F, nh] for the op set's horizons. */
export function mlpForward(
  ops: LayerOps,
  cfg: NiNoConfig,
  edgeAttr: tf.Tensor2D,
  edgeType: Int32Array,
  F: number,
): tf.Tensor2D {
  const n = edgeAttr.shape[0];
  const H = cfg.hid;
  let h = ops.linear(tf.reshape(edgeAttr, [n * F, cfg.ctx]) as tf.Tensor2D, 'edge_proj.fc.0');
  ops.rec('mlp_edge_proj_out', h);
  if (cfg.edgeTypes > 0) {
    const emb = ops.embed('layer_embed', edgeType); // [n,H]
    h = tf.reshape(tf.add(tf.reshape(h, [n, F, H]), tf.reshape(emb, [n, 1, H])), [n * F, H]) as tf.Tensor2D;
  }
  for (const i of [0, 2, 4]) {
    h = silu(ops.linear(h, `edge_mlp.fc.${i}`));
    ops.rec(`mlp_hidden_${i + 1}`, h);
  }
  return ops.outHead(h, 'edge_mlp.fc.6', 1, 1);
}
