/**
 * The graph-free per-parameter NiNo MLP baseline (official NiNoModel with gnn=False; checkpoints
 * `nino_mlp` (hid 128) and `nino_mlp_h32`). Every edge and feature slot is predicted from its own
 * ctx values only:
 *   h     = edge_attr.reshape(E, F, ctx) @ edge_proj^T + b + layer_embed[edge_type][:, None]   [E,F,H]
 *   h     = silu(h fc0^T + b); h = silu(h fc2^T + b); h = silu(h fc4^T + b)
 *   delta = h @ fc6[k-1] + b6[k-1]                                                             [E,F]
 * `NiNoMlp` is the inference Nowcaster (edge-chunked); `mlpForwardAll` is the differentiable forward
 * returning all horizons [E, F, seqLen].
 */
import * as tf from '@tensorflow/tfjs';
import type { NiNoConfig } from './config.ts';
import type { WeightAccess } from './gnn.ts';
import { cachedAccess, lazyAccess } from './gnn.ts';
import type { Nowcaster, NowcastInput } from './types.ts';
import { applyResidual, validateInput } from './types.ts';
import type { HostWeights, Weights } from './weights.ts';
import { adoptWeights, disposeWeights } from './weights.ts';

export interface MlpRunOptions {
  /** edges per chunk (0 = all at once) */
  chunkEdges?: number;
  /** debug: collects intermediates (per chunk) under the golden-data names */
  trace?: Record<string, Float32Array[]>;
}

/** y = x WT + b  (WT [in,out]) */
function lin(x: tf.Tensor2D, WT: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: WT as tf.Tensor2D, bias: b }) as tf.Tensor2D;
}
const silu = (x: tf.Tensor2D) => tf.mul(x, tf.sigmoid(x)) as tf.Tensor2D;

/** [n*F, H] hidden state after the three SiLU layers; edgeAttr [n, F*ctx] */
function mlpHidden(ws: WeightAccess, cfg: NiNoConfig, edgeAttr: tf.Tensor2D, edgeType: Int32Array, F: number, rec?: (n: string, t: tf.Tensor) => void): tf.Tensor2D {
  const n = edgeAttr.shape[0];
  const H = cfg.hid;
  let h = lin(tf.reshape(edgeAttr, [n * F, cfg.ctx]) as tf.Tensor2D, ws.t('edge_proj.fc.0.weight'), ws.v('edge_proj.fc.0.bias'));
  rec?.('mlp_edge_proj_out', h);
  if (cfg.edgeTypes > 0) {
    const emb = tf.gather(ws.v('layer_embed.weight'), tf.tensor1d(edgeType, 'int32')); // [n,H]
    h = tf.reshape(tf.add(tf.reshape(h, [n, F, H]), tf.reshape(emb, [n, 1, H])), [n * F, H]) as tf.Tensor2D;
  }
  for (const i of [0, 2, 4]) {
    h = silu(lin(h, ws.t(`edge_mlp.fc.${i}.weight`), ws.v(`edge_mlp.fc.${i}.bias`)));
    rec?.(`mlp_hidden_${i + 1}`, h);
  }
  return h;
}

/** Differentiable forward: delta for all horizons, [E, F, seqLen]. edgeAttr [E, F*ctx]. */
export function mlpForwardAll(ws: Weights, cfg: NiNoConfig, edgeAttr: tf.Tensor2D, edgeType: Int32Array, F: number): tf.Tensor3D {
  const E = edgeAttr.shape[0];
  const wa = lazyAccess(ws);
  const h = mlpHidden(wa, cfg, edgeAttr, edgeType, F);
  return tf.reshape(lin(h, wa.t('edge_mlp.fc.6.weight'), wa.v('edge_mlp.fc.6.bias')), [E, F, cfg.seqLen]) as tf.Tensor3D;
}

/**
 * The per-parameter MLP as a Nowcaster. Weights: host arrays (owned, freed by dispose()) or tensors
 * (caller-owned; transposes are cached at construction, so rebuild after changing them).
 */
export class NiNoMlp implements Nowcaster {
  readonly kind = 'mlp' as const;
  readonly needsGraph = false;
  readonly lpe = 0;
  readonly weights: Weights;
  private readonly access: WeightAccess & { dispose(): void };
  /** true when the weights were created here from host arrays (then dispose() frees them) */
  private readonly ownsWeights: boolean;
  private disposed = false;

  constructor(
    readonly config: NiNoConfig,
    weights: Weights | HostWeights,
    readonly options: MlpRunOptions = {},
    readonly name = 'nino_mlp',
  ) {
    if (config.kind !== 'mlp') throw new Error(`NiNoMlp needs an mlp config, got kind '${config.kind}'`);
    ({ weights: this.weights, owns: this.ownsWeights } = adoptWeights(weights, config, name));
    this.access = cachedAccess(this.weights);
  }

  get ctx() { return this.config.ctx; }
  get seqLen() { return this.config.seqLen; }
  get maxFeat() { return this.config.maxFeat; }
  get updScale() { return this.config.updScale; }

  predict(input: NowcastInput): Float32Array {
    return applyResidual(input, this.predictDelta(input), this.config.updScale);
  }

  predictDelta(inp: NowcastInput, opts: MlpRunOptions = {}): Float32Array {
    if (this.disposed) throw new Error('NiNoMlp used after dispose()');
    const cfg = this.config;
    const E = validateInput(inp, cfg.ctx, cfg.maxFeat, cfg.seqLen);
    const { F, ctx, k } = inp;
    const o = { ...this.options, ...opts };
    const chunk = o.chunkEdges && o.chunkEdges > 0 ? o.chunkEdges : Math.max(E, 1);
    const rec = o.trace
      ? (name: string, t: tf.Tensor) => (o.trace![name] ??= []).push(Float32Array.from(t.dataSync() as Float32Array))
      : undefined;
    const out = new Float32Array(E * F);
    const [Wk, bk] = tf.tidy(() => [
      tf.slice(this.access.t('edge_mlp.fc.6.weight'), [0, k - 1], [cfg.hid, 1]),
      tf.tensor1d([this.weights['edge_mlp.fc.6.bias'].dataSync()[k - 1]]), // fresh rank-1 (see gnn.ts)
    ]);
    try {
      for (let a = 0; a < E; a += chunk) {
        const b = Math.min(E, a + chunk);
        const d = tf.tidy(() => {
          const ea = tf.tensor2d(inp.edgeAttr.subarray(a * F * ctx, b * F * ctx), [b - a, F * ctx]);
          return lin(mlpHidden(this.access, cfg, ea, inp.edgeType.subarray(a, b), F, rec), Wk, bk);
        });
        out.set(d.dataSync() as Float32Array, a * F);
        d.dispose();
      }
    } finally {
      Wk.dispose();
      bk.dispose();
    }
    return out;
  }

  dispose(): void {
    if (!this.disposed) {
      this.access.dispose();
      if (this.ownsWeights) disposeWeights(this.weights);
    }
    this.disposed = true;
  }
}
