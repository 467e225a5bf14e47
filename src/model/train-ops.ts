/**
 * The training op set of the NiNo definitions (nino-layer.ts): differentiable whole-graph tensors.
 * Every Linear is a `tf.customGrad` whose forward and backward use only plain (non-transposed) matMuls
 * plus explicit transposes: tfjs-wasm's matMul with transposeA/transposeB (what tfjs' generic matMul
 * gradient emits) is ~10x slower and was ~70% of a meta-training step. Meta-training (src/metatrain)
 * and the golden parity tests run these forwards; use inside tf.variableGrads / tf.tidy.
 *
 *   const delta = gnnTrainForward(weights, cfg, { edgeAttr, F, edgeIndex, edgeType, pos, numNodes });  // [E, F, maxHorizon]
 */
import * as tf from '@tensorflow/tfjs';
import type { NiNoConfig } from './config.ts';
import { gatherRows, inDegree, segmentSum } from './graph-ops.ts';
import type { GnnOps, LayerOps, LinearPart } from './nino-layer.ts';
import { gnnForward, mlpForward } from './nino-layer.ts';
import type { Weights } from './weights.ts';

/**
 * y = x W^T + b  with x [M, in], W [out, in] (torch Linear layout), b [out].
 * Gradients: dx = dy W, dW = dy^T x, db = sum_rows(dy) — all plain matMuls.
 */
const linearB = tf.customGrad(((x: tf.Tensor2D, W: tf.Tensor2D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
  save([x, W]);
  const value = tf.fused.matMul({ a: x, b: tf.transpose(W), bias: b });
  return {
    value,
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs, Ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, Ws), tf.matMul(tf.transpose(dy), xs), tf.sum(dy, 0)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (
  x: tf.Tensor2D,
  W: tf.Tensor2D,
  b: tf.Tensor1D,
) => tf.Tensor2D;

const linearNoB = tf.customGrad(((x: tf.Tensor2D, W: tf.Tensor2D, save: tf.GradSaveFunc) => {
  save([x, W]);
  const value = tf.matMul(x, tf.transpose(W));
  return {
    value,
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs, Ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, Ws), tf.matMul(tf.transpose(dy), xs)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor2D, W: tf.Tensor2D) => tf.Tensor2D;

/** torch-layout Linear with the fast gradient */
export function linear(x: tf.Tensor2D, W: tf.Tensor, b?: tf.Tensor): tf.Tensor2D {
  return b ? linearB(x, W as tf.Tensor2D, b as tf.Tensor1D) : linearNoB(x, W as tf.Tensor2D);
}

/** the same Linear with tfjs' generic gradients (tests: checks the custom ones) */
function linearAutodiff(x: tf.Tensor2D, W: tf.Tensor, b?: tf.Tensor): tf.Tensor2D {
  const y = tf.matMul(x, W as tf.Tensor2D, false, true);
  return (b ? tf.add(y, b) : y) as tf.Tensor2D;
}

/** rows f*S + k (f < F, k < horizons) of an output layer W [maxFeat*S, H], b [maxFeat*S] */
function outRows(
  W: tf.Tensor,
  b: tf.Tensor,
  maxFeat: number,
  S: number,
  F: number,
  horizons: number,
): [tf.Tensor2D, tf.Tensor1D] {
  if (horizons < 1 || horizons > S) throw new Error(`horizons ${horizons} out of range 1..${S}`);
  if (F === maxFeat && horizons === S) return [W as tf.Tensor2D, b as tf.Tensor1D];
  const H = W.shape[1]!;
  const Wr = tf.reshape(tf.slice(tf.reshape(W, [maxFeat, S, H]), [0, 0, 0], [F, horizons, H]), [
    F * horizons,
    H,
  ]) as tf.Tensor2D;
  // 1-D slices + concat (not reshape of a 2-D slice): wasm's _FusedMatMul reads the bias rank from the
  // shape stored with the data, which a reshape does not change
  const parts = Array.from({ length: F }, (_, f) => tf.slice(b as tf.Tensor1D, [f * S], [horizons]));
  const br = (F === 1 ? parts[0] : tf.concat(parts)) as tf.Tensor1D;
  return [Wr, br];
}

export interface TrainForwardOptions {
  /** debug: collects intermediates (whole graph, one entry per name) under the golden-data names */
  trace?: Record<string, Float32Array[]>;
  /** tests: tfjs' generic matMul gradients instead of the custom ones (same values, slower on wasm) */
  autodiff?: boolean;
}

/** Linear / embedding / head ops on torch-layout weight tensors, for horizons k = 1..horizons */
class TrainOps implements LayerOps {
  private readonly lin: typeof linear;

  constructor(
    protected readonly ws: Weights,
    protected readonly cfg: NiNoConfig,
    protected readonly horizons: number,
    private readonly opts: TrainForwardOptions,
  ) {
    this.lin = opts.autodiff ? linearAutodiff : linear;
  }

  protected w(name: string): tf.Tensor {
    const t = this.ws[name];
    if (!t) throw new Error(`missing weight '${name}'`);
    return t;
  }

  linear(x: tf.Tensor2D, name: string, part?: LinearPart): tf.Tensor2D {
    let W = this.w(`${name}.weight`) as tf.Tensor2D;
    if (part?.in) W = tf.slice(W, [0, part.in[0]], [W.shape[0], part.in[1]]);
    return part?.bias === false ? this.lin(x, W) : this.lin(x, W, this.w(`${name}.bias`));
  }

  linearSplit(x: tf.Tensor2D, name: string, at: number): [tf.Tensor2D, tf.Tensor2D] {
    const y = this.linear(x, name);
    const [n, out] = y.shape;
    return [tf.slice(y, [0, 0], [n, at]), tf.slice(y, [0, at], [n, out - at])];
  }

  embed(name: string, idx: Int32Array | tf.Tensor1D): tf.Tensor2D {
    return gatherRows(this.w(`${name}.weight`) as tf.Tensor2D, idx);
  }

  outHead(x: tf.Tensor2D, name: string, maxFeat: number, F: number): tf.Tensor2D {
    const [W, b] = outRows(
      this.w(`${name}.weight`),
      this.w(`${name}.bias`),
      maxFeat,
      this.cfg.maxHorizon,
      F,
      this.horizons,
    );
    return this.lin(x, W, b);
  }

  rec(name: string, t: tf.Tensor): void {
    if (this.opts.trace) (this.opts.trace[name] ??= []).push(Float32Array.from(t.dataSync() as Float32Array));
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
  /** edges used for message passing (null/undefined = all); see sampleMessageEdges in gnn.ts */
  messageEdges?: Int32Array | null;
}

/** the GNN's graph-level ops on whole-graph tensors (index tensors made once per forward) */
class TrainGnnOps extends TrainOps implements GnnOps<tf.Tensor2D, tf.Tensor2D, tf.Tensor3D> {
  readonly numNodes: number;
  readonly F: number;
  readonly posW?: Int32Array;
  private readonly E: number;
  private readonly src: tf.Tensor1D;
  private readonly dst: tf.Tensor1D;
  /** message edges: their ids, sources and targets (null = all edges) */
  private readonly sub: { ids: tf.Tensor1D; src: tf.Tensor1D; dst: tf.Tensor1D } | null;
  private readonly cnt: tf.Tensor2D;

  constructor(
    ws: Weights,
    cfg: NiNoConfig,
    private readonly g: GraphTensorsInput,
    horizons: number,
    opts: TrainForwardOptions,
  ) {
    super(ws, cfg, horizons, opts);
    this.numNodes = g.numNodes;
    this.F = g.F;
    this.posW = cfg.wtePosEnc ? g.posW : undefined;
    const E = (this.E = g.edgeType.length);
    const src = g.edgeIndex.subarray(0, E);
    const dst = g.edgeIndex.subarray(E, 2 * E);
    this.src = tf.tensor1d(src, 'int32');
    this.dst = tf.tensor1d(dst, 'int32');
    const m = g.messageEdges ?? null;
    this.sub = m
      ? {
          ids: tf.tensor1d(m, 'int32'),
          src: tf.tensor1d(
            m.map((i) => src[i]),
            'int32',
          ),
          dst: tf.tensor1d(
            m.map((i) => dst[i]),
            'int32',
          ),
        }
      : null;
    this.cnt = tf.tensor2d(inDegree(dst, g.numNodes, m), [g.numNodes, 1]);
  }

  pos(): tf.Tensor2D | undefined {
    return this.g.pos;
  }

  step<T extends tf.Tensor | tf.Tensor[]>(f: () => T): T {
    return f();
  }

  table(t: tf.Tensor2D): tf.Tensor2D {
    return t;
  }

  edges(f: (edgeAttr: tf.Tensor2D, edgeType: Int32Array) => tf.Tensor2D): tf.Tensor2D {
    return f(this.g.edgeAttr, this.g.edgeType);
  }

  meanMessages(
    e: tf.Tensor2D,
    A: tf.Tensor2D,
    B: tf.Tensor2D,
    msg: (e: tf.Tensor2D, h: tf.Tensor2D) => tf.Tensor2D,
  ): tf.Tensor2D {
    const src = this.sub ? this.sub.src : this.src;
    const dst = this.sub ? this.sub.dst : this.dst;
    const eM = this.sub ? gatherRows(e, this.sub.ids) : e;
    const m = msg(eM, tf.add(gatherRows(A, dst), gatherRows(B, src)) as tf.Tensor2D);
    return tf.div(segmentSum(m, dst, this.numNodes), this.cnt) as tf.Tensor2D;
  }

  updateEdges(
    e: tf.Tensor2D,
    S: tf.Tensor2D,
    T: tf.Tensor2D,
    upd: (e: tf.Tensor2D, st: tf.Tensor2D) => tf.Tensor2D,
  ): tf.Tensor2D {
    return upd(e, tf.add(gatherRows(S, this.src), gatherRows(T, this.dst)) as tf.Tensor2D);
  }

  edgeOut(name: string, u: tf.Tensor2D, traceName: string): tf.Tensor2D {
    const y = this.linear(u, name);
    this.rec(traceName, y);
    return y;
  }

  result(e: tf.Tensor2D, f: (e: tf.Tensor2D) => tf.Tensor2D): tf.Tensor3D {
    return tf.reshape(f(e), [this.E, this.F, this.horizons]) as tf.Tensor3D;
  }

  mark(): void {}
}

/**
 * Differentiable NiNo GNN forward, [E, F, horizons] = horizons k = 1..horizons (default: all, maxHorizon) of the official
 * output, pre-residual, scaled space; only those rows of edge_out.fc.2 are computed.
 */
export function gnnTrainForward(
  ws: Weights,
  cfg: NiNoConfig,
  g: GraphTensorsInput,
  horizons = cfg.maxHorizon,
  opts: TrainForwardOptions = {},
): tf.Tensor3D {
  if (cfg.kind !== 'gnn') throw new Error(`gnnTrainForward needs a gnn config, got kind '${cfg.kind}'`);
  return gnnForward(new TrainGnnOps(ws, cfg, g, horizons, opts), cfg);
}

/** Differentiable per-parameter MLP forward, [E, F, horizons] (edgeAttr [E, F*ctx]). */
export function mlpTrainForward(
  ws: Weights,
  cfg: NiNoConfig,
  edgeAttr: tf.Tensor2D,
  edgeType: Int32Array,
  F: number,
  horizons = cfg.maxHorizon,
  opts: TrainForwardOptions = {},
): tf.Tensor3D {
  if (cfg.kind !== 'mlp') throw new Error(`mlpTrainForward needs an mlp config, got kind '${cfg.kind}'`);
  const out = mlpForward(new TrainOps(ws, cfg, horizons, opts), cfg, edgeAttr, edgeType, F);
  return tf.reshape(out, [edgeAttr.shape[0], F, horizons]) as tf.Tensor3D;
}
