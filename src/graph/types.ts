/**
 * The neural-graph data structure shared by all graph builders (port of the official NiNo
 * `graph/graph.py: NeuralGraph` / `graph/graph_gpt.py: NeuralGraphGPT` outputs), as flat typed arrays.
 *
 * Conventions (golden README §2-3): E edges = parameter/aux edges block by block in expanded-entry order,
 * then N self-loops (i, i) in node order (edge type 13). F = max feature slots per edge (9 for 3x3 convs,
 * 1 for transformers). Slot (e, f) holds parameter `edgeParamIndex[e*F+f]` (flat-vector index) or, if that
 * is -1, the constant `edgeConst[e*F+f]` (0 = padding, 1 = residual/head aux edge, 2 = self-loop slot 0).
 */
import type { LayersDesc } from '../core/layers.ts';
import type { ParamLayout } from '../core/params.ts';
import type { Logger } from '../core/logger.ts';

/** Edge / parameter types (row of the NiNo `layer_embed` table, 15 rows). */
export const EdgeType = {
  fc: 1,
  bias: 2,
  conv: 3,
  norm: 4,
  wte: 5,
  wpe: 6,
  attnQ: 7,
  attnK: 8,
  attnV: 9,
  residual: 10,
  head: 11,
  selfLoop: 13,
} as const;
export const NUM_EDGE_TYPES = 15;

/** One expanded model_dict entry (official `_model_dict` after expansion; meta.json `model_dict_expanded`). */
export interface GraphEntry {
  /** expanded name, e.g. `transformer.h.0.attn.c_attn.q.weight`, `...q.head0`, `...v.res` */
  name: string;
  /** expanded shape (e.g. `[8, 8]` for the q block, `[4]` for a head entry) */
  shape: number[];
  /** edge type of all edges of this entry */
  paramType: number;
  /** edge range [edgeStart, edgeEnd) */
  edgeStart: number;
  edgeEnd: number;
  /** false for synthetic aux entries (heads, residuals) that carry constant features */
  hasParams: boolean;
  /** name of the original ParamLayout tensor the parameters come from (c_attn for q/k/v), or null */
  paramName: string | null;
  srcMin: number;
  srcMax: number;
  dstMin: number;
  dstMax: number;
}

export interface NeuralGraph {
  /** builder key used (e.g. 'mlp', 'gpt2', 'llama') */
  arch: string;
  /** N */
  numNodes: number;
  /** E (including the N self-loops) */
  numEdges: number;
  /** F, feature slots per edge */
  maxFeat: number;
  /** [2*E]: edgeIndex[e] = source of edge e, edgeIndex[E+e] = target of edge e */
  edgeIndex: Int32Array;
  /** [E] edge type (see EdgeType) */
  edgeType: Int32Array;
  /** [E*F] flat-parameter index for slot (e, f), or -1 */
  edgeParamIndex: Int32Array;
  /** [E*F] constant used where edgeParamIndex is -1 */
  edgeConst: Float32Array;
  /** [N] token-position ids for `wte_pos_enc` (vocab input node v gets v+1, others 0) */
  posW: Int32Array;
  /** index of the first self-loop edge (= E - N) */
  firstSelfLoopEdge: number;
  /** expanded entries in edge order, with their edge ranges (for subgraph mode) */
  entries: GraphEntry[];
  /** the original parameter layout (flat vector = concat of these tensors) */
  layout: ParamLayout;
  /** [numParams] inverse of edgeParamIndex: slot e*F+f holding parameter p (every parameter appears once) */
  paramSlot: Int32Array;
}

export interface GraphBuildOptions {
  /** number of attention heads (GPT-2 / Llama); required by transformer builders */
  numHeads?: number;
  /** number of key/value heads (Llama GQA); defaults to numHeads */
  numKvHeads?: number;
  /** feature slots per edge; defaults to the largest kernel (must be >= it) */
  maxFeat?: number;
  /** generic builder: weights are (out, in, ...) (torch, default true) or (in, out) (HF Conv1D) */
  modelFirstDimOut?: boolean;
  /** append self-loops (default true) */
  selfLoops?: boolean;
  /** arch 'tfjs': the layers model the flat vector belongs to (core/layers.ts) */
  layers?: LayersDesc;
  /** receives warnings (e.g. unknown architecture) */
  logger?: Pick<Logger, 'warn'> | { warn(obj: object | string, msg?: string): void };
}

export type GraphBuilder = (
  specs: readonly { name: string; shape: number[] }[],
  opts: GraphBuildOptions,
) => NeuralGraph;
