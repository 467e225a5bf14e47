/**
 * The graph-free per-parameter NiNo MLP baseline (official NiNoModel with gnn=False; checkpoints
 * `nino_mlp` (hid 128) and `nino_mlp_h32`) as an inference `NowcastModel`: the definition `mlpForward`
 * (nino-layer.ts, with the math) run on the inference op set, edge-chunked. The differentiable
 * all-horizon forward is `mlpTrainForward` (train-ops.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { NiNoConfig } from './config.ts';
import { InferenceOps, InferenceWeights } from './infer-ops.ts';
import { mlpForward } from './nino-layer.ts';
import type { NowcastModel, NowcastInput } from './types.ts';
import { applyResidual, validateInput } from './types.ts';
import type { HostWeights, Weights } from './weights.ts';
import { adoptWeights, disposeWeights } from './weights.ts';

export interface MlpRunOptions {
  /** edges per chunk (0 = all at once) */
  chunkEdges?: number;
  /** debug: collects intermediates (per chunk) under the golden-data names */
  trace?: Record<string, Float32Array[]>;
}

/**
 * The per-parameter MLP as a NowcastModel. Weights: host arrays (owned, freed by dispose()) or tensors
 * (caller-owned; transposes are cached at construction, so rebuild after changing them).
 */
export class NiNoMlp implements NowcastModel {
  readonly kind = 'mlp' as const;
  readonly needsGraph = false;
  readonly lpe = 0;
  readonly weights: Weights;
  private readonly prepared: InferenceWeights;
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
    this.prepared = new InferenceWeights(this.weights, config);
  }

  get ctx() {
    return this.config.ctx;
  }
  get maxHorizon() {
    return this.config.maxHorizon;
  }
  get maxFeat() {
    return this.config.maxFeat;
  }
  get updScale() {
    return this.config.updScale;
  }

  predict(input: NowcastInput): Float32Array {
    return applyResidual(input, this.predictDelta(input), this.config.updScale);
  }

  predictDelta(inp: NowcastInput, opts: MlpRunOptions = {}): Float32Array {
    if (this.disposed) throw new Error('NiNoMlp used after dispose()');
    const cfg = this.config;
    const E = validateInput(inp, cfg.ctx, cfg.maxFeat, cfg.maxHorizon);
    const { F, ctx, k } = inp;
    const o = { ...this.options, ...opts };
    const chunk = o.chunkEdges && o.chunkEdges > 0 ? o.chunkEdges : Math.max(E, 1);
    const ops = new InferenceOps(this.prepared, cfg, k, o.trace);
    const out = new Float32Array(E * F);
    try {
      for (let a = 0; a < E; a += chunk) {
        const b = Math.min(E, a + chunk);
        const d = tf.tidy(() => {
          const ea = tf.tensor2d(inp.edgeAttr.subarray(a * F * ctx, b * F * ctx), [b - a, F * ctx]);
          return mlpForward(ops, cfg, ea, inp.edgeType.subarray(a, b), F);
        });
        out.set(d.dataSync() as Float32Array, a * F);
        d.dispose();
      }
    } finally {
      ops.close();
    }
    return out;
  }

  dispose(): void {
    if (!this.disposed) {
      this.prepared.dispose();
      if (this.ownsWeights) disposeWeights(this.weights);
    }
    this.disposed = true;
  }
}
