/**
 * The model being meta-trained: its NiNoConfig (fresh or from an init checkpoint), the weights as tfjs
 * variables (and which of them are trained), and the training forward / L1 loss / gradients on a batch.
 */
import * as tf from '@tensorflow/tfjs';
import { makeConfig, weightSpecs, type NiNoConfig } from '../model/config.ts';
import { gnnTrainForward, mlpTrainForward } from '../model/train-ops.ts';
import type { HostWeights, Weights } from '../model/weights.ts';
import type { GraphBatch } from './batch.ts';
import type { TrainConfig } from './config.ts';
import type { TrajectorySet } from './trajectories.ts';

/** The largest token id of the data's LM graphs (their vocabulary size; 0 without LM graphs). */
export function dataVocab(set: TrajectorySet | null): number {
  let v = 0;
  for (const g of set?.graphs ?? []) for (const id of g.graph.posW) if (id > v) v = id;
  return v;
}

/**
 * The NiNoConfig for a fresh model, or the init checkpoint's; `tc.wtePosEnc` decides the token-id
 * embedding (sized to the data's vocabulary), and 'on' adds one to an init GNN that lacks it.
 */
export function modelConfigFor(tc: TrainConfig, set: TrajectorySet | null, initCfg?: NiNoConfig): NiNoConfig {
  const vocab = dataVocab(set);
  const noVocab = () =>
    new Error('--wte-pos-enc on: the data has no language-model graphs (no vocabulary nodes to embed)');
  if (initCfg) {
    if (initCfg.kind !== 'gnn' || tc.wtePosEnc === 'auto') return initCfg;
    if (tc.wtePosEnc === 'off') {
      if (initCfg.wtePosEnc)
        throw new Error('--wte-pos-enc off: the --init model has a token-id embedding; use auto or on to keep it');
      return initCfg;
    }
    if (initCfg.wtePosEnc) return initCfg;
    if (!vocab) throw noVocab();
    if (initCfg.lpe === 0)
      throw new Error('--wte-pos-enc on: the --init model has no LPE (its node features would change meaning)');
    return { ...initCfg, wtePosEnc: true, vocabSize: vocab };
  }
  const kind = tc.model === 'mlp' ? 'mlp' : 'gnn';
  if (kind === 'gnn' && tc.wtePosEnc === 'on' && !vocab) throw noVocab();
  const posEnc = kind === 'gnn' && vocab > 0 && tc.wtePosEnc !== 'off';
  return makeConfig(kind, {
    hid: tc.hid,
    layers: tc.layers,
    ctx: tc.ctx,
    maxHorizon: tc.maxHorizon,
    lpe: kind === 'gnn' ? tc.lpe : 0,
    wtePosEnc: posEnc,
    ...(posEnc ? { vocabSize: vocab } : {}),
    maxFeat: Math.max(9, set?.maxFeat ?? 9),
  });
}

/**
 * The init checkpoint's weights for `cfg` (modelConfigFor of that init): a token-id embedding that
 * `cfg` adds starts at zero, so the first step starts from the init's exact predictions.
 */
export function initWeightsFor(cfg: NiNoConfig, init: HostWeights): HostWeights {
  const out: HostWeights = { ...init };
  for (const s of weightSpecs(cfg)) {
    if (out[s.name]) continue;
    if (s.name !== 'wte_pos_enc_layer.weight') throw new Error(`the --init checkpoint has no weight ${s.name}`);
    out[s.name] = { shape: [...s.shape], data: new Float32Array(s.shape[0] * s.shape[1]) };
  }
  return out;
}

/** Weights that receive gradients (torch skips params with grad None, so AdamW must too). */
export function trainableNames(cfg: NiNoConfig): string[] {
  return weightSpecs(cfg)
    .map((s) => s.name)
    .filter((n) => {
      if (cfg.kind !== 'gnn') return true;
      if (!cfg.finalEdgeUpdate && n.startsWith(`gnn.convs.${cfg.layers - 1}.`)) return false;
      if (cfg.lpe === 0 && n.startsWith('node_proj.')) return false;
      return true;
    });
}

/** The weights (tfjs variables) of the model being trained, and its forward, loss and gradients. */
export class TrainModel {
  readonly vars: tf.Variable[];
  readonly names: string[];
  readonly trainable: tf.Variable[];
  readonly trainNames: string[];
  /** LPE columns the batches carry (0 for the MLP) */
  readonly lpe: number;

  constructor(
    readonly cfg: NiNoConfig,
    host: HostWeights,
  ) {
    this.lpe = cfg.kind === 'gnn' ? cfg.lpe : 0;
    this.names = weightSpecs(cfg).map((s) => s.name);
    this.vars = this.names.map((n) => tf.variable(tf.tensor(host[n].data, host[n].shape, 'float32'), true));
    this.trainNames = trainableNames(cfg);
    const tn = new Set(this.trainNames);
    this.trainable = this.vars.filter((_, i) => tn.has(this.names[i]));
  }

  get weights(): Weights {
    const w: Weights = {};
    this.names.forEach((n, i) => (w[n] = this.vars[i]));
    return w;
  }

  hostWeights(): HostWeights {
    const out: HostWeights = {};
    this.names.forEach(
      (n, i) =>
        (out[n] = { shape: [...this.vars[i].shape], data: Float32Array.from(this.vars[i].dataSync() as Float32Array) }),
    );
    return out;
  }

  /** copies of all weights, in `names` order */
  weightArrays(): Float32Array[] {
    return this.vars.map((v) => Float32Array.from(v.dataSync() as Float32Array));
  }

  /** sets all weights (in `names` order) */
  setWeightArrays(arrays: readonly Float32Array[]): void {
    this.vars.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(arrays[i], v.shape, 'float32'))));
  }

  /** [E, F, horizons] predicted delta (horizons k = 1..horizons, default b.horizons) times updScale (call inside a tidy / grad scope) */
  forward(b: GraphBatch, ws: Weights = this.weights, horizons = b.horizons): tf.Tensor3D {
    const cfg = this.cfg;
    const ea = tf.tensor2d(b.edgeAttr, [b.E, b.F * cfg.ctx]);
    const out =
      cfg.kind === 'gnn'
        ? gnnTrainForward(
            ws,
            cfg,
            {
              edgeAttr: ea,
              F: b.F,
              edgeIndex: b.edgeIndex,
              edgeType: b.edgeType,
              pos: b.pos ? tf.tensor2d(b.pos, [b.numNodes, this.lpe]) : undefined,
              posW: cfg.wtePosEnc ? b.posW : undefined,
              numNodes: b.numNodes,
            },
            horizons,
          )
        : mlpTrainForward(ws, cfg, ea, b.edgeType, b.F, horizons);
    return (cfg.updScale === 1 ? out : tf.mul(out, cfg.updScale)) as tf.Tensor3D;
  }

  /** mean L1 over the batch's valid targets */
  loss(b: GraphBatch): tf.Scalar {
    const pred = this.forward(b);
    const tgt = tf.tensor3d(b.target, [b.E, b.F, b.horizons]);
    const mask = tf.tensor3d(b.mask, [b.E, b.F, b.horizons]);
    return tf.div(tf.sum(tf.mul(tf.abs(tf.sub(pred, tgt)), mask)), Math.max(1, b.count)) as tf.Scalar;
  }

  /** the loss and the gradients of the trainable weights (in `trainable` order); the caller disposes both */
  lossAndGrads(b: GraphBatch): { loss: tf.Scalar; grads: tf.Tensor[] } {
    const { value, grads } = tf.variableGrads(() => this.loss(b), this.trainable);
    const gl = this.trainable.map((v, i) => {
      const g = grads[v.name];
      if (!g) throw new Error(`no gradient for a trainable weight (${this.trainNames[i]})`);
      return g;
    });
    return { loss: value, grads: gl };
  }

  dispose(): void {
    this.vars.forEach((v) => v.dispose());
  }
}
