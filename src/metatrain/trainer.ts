/**
 * Meta-training of the NiNo GNN / per-parameter MLP on collected trajectories (official `train_nino.py`):
 * L1 loss on scaled parameters over valid targets (all seqLen horizons at once, direct multi-step),
 * AdamW (lr 3e-3, wd 0.01) with cosine decay to 1e-6, global-norm gradient clipping at 5, batches of
 * disjoint graphs with several windows per sampled trajectory, random LPE sign flips per sample.
 *
 *   const r = await trainNino({ data: ['runs/traj'], out: 'runs/nino', config: { steps: 2000, hid: 32 } });
 *   // -> runs/nino/nino.safetensors (loadNowcaster / resolveNowcaster), ckpt.safetensors (+ ckpt-adamw-<step>.safetensors)
 *
 * Checkpoints hold the model (nino checkpoint format) with `extra` = step, sampler state, resolved
 * config, data files and a reference to the AdamW moments file; `resume` continues bit-exactly.
 * A non-finite loss or gradient rolls back to the last in-memory snapshot and continues with a
 * different data order (logged). After MAX_ROLLBACKS_PER_SNAPSHOT (20) rollbacks to the same snapshot
 * (the count is reset only when training gets past it to the next snapshot, so replayed steps do not
 * reset it) the run stops with DivergedError.
 *
 * One run per output folder: `<out>/.train.lock` (core/lock.ts) is held while training, and a fresh
 * run refuses an --out that holds a previous run's checkpoint or model unless `overwrite` (then those
 * files are removed first) or `resume` is given.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, removeOrphanTmp, writeFileAtomic } from '../core/fsutil.ts';
import { yieldPoint } from '../core/interrupt.ts';
import { acquireLock } from '../core/lock.ts';
import type { Logger, ProgressFn } from '../core/logger.ts';
import { silentLogger } from '../core/logger.ts';
import { Rng } from '../core/rng.ts';
import { readSafetensors, writeSafetensors, type StTensor } from '../core/safetensors.ts';
import { loadCheckpoint, serializeCheckpoint } from '../model/checkpoint.ts';
import { makeConfig, weightSpecs, type NiNoConfig } from '../model/config.ts';
import { gnnTrainForward, mlpTrainForward } from '../model/train-ops.ts';
import { nowcasterPath } from '../nowcast/resolve.ts';
import { initHostWeights, type HostWeights, type Weights } from '../model/weights.ts';
import { AdamW } from '../optim/adamw.ts';
import type { OptimizerState } from '../optim/types.ts';
import {
  assembleBatch,
  baselineErrors,
  expandDataPaths,
  loadTrajectorySet,
  makeSample,
  numWindowStarts,
  splitByTrajectory,
  TrajectoryDataError,
  wteSubset,
  type Batch,
  type Sample,
  type TrajectorySet,
} from './data.ts';

/** Everything that determines a run (stored in checkpoints as `extra.config`). */
export interface TrainConfig {
  model: 'nino' | 'mlp';
  hid: number;
  layers: number;
  ctx: number;
  seqLen: number;
  /** records between input states (null = per file default) */
  stride: number | null;
  /** graphs (windows) per batch */
  batch: number;
  windowsPerTraj: number;
  lr: number;
  minLr: number;
  wd: number;
  clip: number;
  /** whole trajectories per task held out for validation */
  val: number;
  valEvery: number;
  /** validation windows per held-out trajectory (evenly spaced) */
  valWindows: number;
  ckptEvery: number;
  steps: number;
  seed: number;
  /** LPE columns for the GNN */
  lpe: number;
  /** checkpoint the weights were initialised from (null = official random init) */
  init: string | null;
  /** steps between in-memory snapshots used for NaN rollback */
  snapshotEvery: number;
  /** LM graphs: word-embedding rows (vocabulary nodes) kept per training sample (official 1000; 0 = all) */
  wteRows: number;
}

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  model: 'nino',
  hid: 32,
  layers: 3,
  ctx: 5,
  seqLen: 40,
  stride: null,
  batch: 4,
  windowsPerTraj: 2,
  lr: 3e-3,
  minLr: 1e-6,
  wd: 0.01,
  clip: 5,
  val: 1,
  valEvery: 100,
  valWindows: 8,
  ckptEvery: 500,
  steps: 1000,
  seed: 0,
  lpe: 8,
  init: null,
  snapshotEvery: 25,
  wteRows: 1000,
};

export interface ValBucket {
  h: string;
  l1: number;
  last: number;
  linefit: number;
}

export interface ValResult {
  step: number;
  l1: number;
  last: number;
  linefit: number;
  beatsLinefit: boolean;
  beatsLast: boolean;
  buckets: ValBucket[];
  windows: number;
  /** the same L1s per task (when the held-out data has more than one task) */
  perTask?: Record<string, { l1: number; last: number; linefit: number; windows: number }>;
}

export interface TrainHooks {
  /** test hook: return true to poison the batch of this (global) step with a NaN */
  poisonStep?: (step: number) => boolean;
  /** called after every successful step */
  onStep?: (step: number, loss: number) => void;
}

export interface TrainOptions {
  /** trajectory files / folders / globs (optional when resuming: the checkpoint's files are used) */
  data?: string[];
  out: string;
  config?: Partial<TrainConfig>;
  /** true = <out>/ckpt.safetensors, or a checkpoint path */
  resume?: boolean | string;
  /** a fresh run into an --out holding a previous run: remove its checkpoint, optimizer state and model first */
  overwrite?: boolean;
  logger?: Logger;
  progress?: ProgressFn;
  hooks?: TrainHooks;
  /** folder looked in first for an --init 'official:<name>' (the CLI passes $NINO_OFFICIAL_DIR) */
  officialDir?: string;
}

export interface TrainResult {
  step: number;
  finalPath: string;
  checkpointPath: string;
  val: ValResult | null;
  rollbacks: number;
  trainSeconds: number;
  graphsPerSec: number;
  secPerStep: number;
  /** training loss, exponential moving average (0.95) */
  trainLoss: number;
  config: TrainConfig;
}

const BUCKETS: [number, number][] = [
  [1, 1],
  [2, 5],
  [6, 10],
  [11, 20],
  [21, 40],
];

export function cosineLr(step: number, total: number, lr: number, minLr: number): number {
  const t = Math.min(1, step / Math.max(1, total));
  return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * t));
}

export function validateTrainConfig(c: TrainConfig): void {
  const posInt = ['hid', 'layers', 'ctx', 'seqLen', 'batch', 'windowsPerTraj', 'valEvery', 'valWindows', 'ckptEvery', 'steps', 'snapshotEvery'] as const;
  for (const k of posInt) if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`${k} must be a positive integer (got ${c[k]})`);
  if (c.ctx < 2) throw new Error(`ctx must be >= 2 (got ${c.ctx})`);
  if (c.stride !== null && (!Number.isInteger(c.stride) || c.stride <= 0)) throw new Error(`stride must be a positive integer (got ${c.stride})`);
  for (const k of ['lr', 'clip'] as const) if (!(c[k] > 0)) throw new Error(`${k} must be > 0 (got ${c[k]})`);
  if (!(c.wd >= 0)) throw new Error(`wd must be >= 0 (got ${c.wd})`);
  if (!(c.minLr >= 0 && c.minLr <= c.lr)) throw new Error(`minLr must be in [0, lr] (got ${c.minLr})`);
  if (!Number.isInteger(c.wteRows) || c.wteRows < 0) throw new Error(`wteRows must be a non-negative integer (got ${c.wteRows})`);
  if (!Number.isInteger(c.val) || c.val < 0) throw new Error(`val must be a non-negative integer (got ${c.val})`);
  if (c.model !== 'nino' && c.model !== 'mlp') throw new Error(`model must be 'nino' or 'mlp' (got '${c.model}')`);
}

/** The NiNoConfig for a fresh model (or the init checkpoint's). */
export function modelConfigFor(tc: TrainConfig, set: TrajectorySet | null, initCfg?: NiNoConfig): NiNoConfig {
  if (initCfg) return initCfg;
  const kind = tc.model === 'mlp' ? 'mlp' : 'gnn';
  const gpt = set ? set.graphs.some((g) => g.arch === 'gpt2') : false;
  return makeConfig(kind, {
    hid: tc.hid,
    layers: tc.layers,
    ctx: tc.ctx,
    seqLen: tc.seqLen,
    lpe: kind === 'gnn' ? tc.lpe : 0,
    wtePosEnc: kind === 'gnn' && gpt,
    maxFeat: Math.max(9, set?.maxFeat ?? 9),
  });
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

/**
 * a run gives up after this many rollbacks to the same snapshot (each with a new data order); replayed
 * steps do not reset the count, only reaching the next snapshot does
 */
export const MAX_ROLLBACKS_PER_SNAPSHOT = 20;

/** training diverges whatever the data order (train-nino exits 1 with this message) */
export class DivergedError extends Error {}

/** --out already holds a run and neither resume nor overwrite was asked for (a usage error) */
export class OutputExistsError extends Error {}

interface Snapshot {
  step: number;
  weights: Float32Array[];
  adam: OptimizerState;
  rng: number[];
}

/** The training state machine (one model, one data split). */
export class MetaTrainer {
  readonly vars: tf.Variable[];
  readonly names: string[];
  readonly trainable: tf.Variable[];
  readonly trainNames: string[];
  readonly adam: AdamW;
  rng: Rng;
  step = 0;
  rollbacks = 0;
  /** rollbacks to the current snapshot (reset when a new snapshot is taken) */
  private failStreak = 0;
  private snap: Snapshot | null = null;
  /** training trajectory ids grouped by task (batches draw a task uniformly, then one of its trajectories) */
  private readonly byTask: number[][];
  private valSamples: Sample[] = [];
  private valBase: { last: Float64Array; linefit: Float64Array; count: Float64Array } | null = null;
  /** per-task totals of the baselines over all horizons, in the order the held-out samples come */
  private readonly valByTask = new Map<string, { last: number; linefit: number; count: number; windows: number }>();
  /** the held-out samples in batches of one task each (padded to that task's feature slots) */
  private readonly valChunks: { task: string; samples: Sample[] }[] = [];
  readonly lpe: number;

  constructor(
    readonly set: TrajectorySet,
    readonly trainIds: number[],
    readonly valIds: number[],
    readonly cfg: NiNoConfig,
    readonly tc: TrainConfig,
    host: HostWeights,
    readonly logger: Logger = silentLogger,
    readonly hooks: TrainHooks = {},
  ) {
    if (set.maxFeat > cfg.maxFeat) throw new Error(`the data has graphs with ${set.maxFeat} feature slots, the model supports ${cfg.maxFeat}`);
    if (cfg.ctx !== tc.ctx || cfg.seqLen !== tc.seqLen) throw new Error(`model ctx/seqLen ${cfg.ctx}/${cfg.seqLen} differ from the training ctx/seqLen ${tc.ctx}/${tc.seqLen}`);
    this.lpe = cfg.kind === 'gnn' ? cfg.lpe : 0;
    this.names = weightSpecs(cfg).map((s) => s.name);
    this.vars = this.names.map((n) => tf.variable(tf.tensor(host[n].data, host[n].shape, 'float32'), true));
    this.trainNames = trainableNames(cfg);
    const tn = new Set(this.trainNames);
    this.trainable = this.vars.filter((_, i) => tn.has(this.names[i]));
    this.adam = new AdamW({
      lr: tc.lr,
      weightDecay: tc.wd,
      lrSchedule: (s) => cosineLr(s, tc.steps, tc.lr, tc.minLr) / tc.lr,
    });
    this.rng = new Rng(`${tc.seed}:data`);
    if (!trainIds.length) throw new Error('no training trajectories');
    for (const i of trainIds) {
      if (numWindowStarts(set.trajs[i], tc.ctx) === 0) throw new Error(`${set.trajs[i].path}: too short for one window`);
    }
    this.byTask = [...groupBy(trainIds, (i) => set.trajs[i].task).values()];
    this.buildVal();
  }

  private buildVal(): void {
    const { ctx, seqLen, valWindows } = this.tc;
    for (const ti of this.valIds) {
      const n = numWindowStarts(this.set.trajs[ti], ctx);
      const k = Math.min(valWindows, n);
      const starts = new Set<number>();
      for (let i = 0; i < k; i++) starts.add(k === 1 ? 0 : Math.round((i * (n - 1)) / (k - 1)));
      for (const st of starts) this.valSamples.push(makeSample(this.set, ti, st, ctx, seqLen));
    }
    if (this.valSamples.length) {
      const acc = { last: new Float64Array(seqLen), linefit: new Float64Array(seqLen), count: new Float64Array(seqLen) };
      for (const s of this.valSamples) {
        const b = baselineErrors(this.set, s, ctx, seqLen);
        const t = this.valTaskBase(this.set.trajs[s.traj].task);
        for (let h = 0; h < seqLen; h++) {
          acc.last[h] += b.last[h];
          acc.linefit[h] += b.linefit[h];
          acc.count[h] += b.count[h];
          t.last += b.last[h];
          t.linefit += b.linefit[h];
          t.count += b.count[h];
        }
        t.windows++;
      }
      this.valBase = acc;
    }
    for (const [task, mine] of groupBy(this.valSamples, (x) => this.set.trajs[x.traj].task)) {
      for (let i = 0; i < mine.length; i += this.tc.batch) this.valChunks.push({ task, samples: mine.slice(i, i + this.tc.batch) });
    }
  }

  private valTaskBase(task: string): { last: number; linefit: number; count: number; windows: number } {
    let t = this.valByTask.get(task);
    if (!t) this.valByTask.set(task, (t = { last: 0, linefit: 0, count: 0, windows: 0 }));
    return t;
  }

  get weights(): Weights {
    const w: Weights = {};
    this.names.forEach((n, i) => (w[n] = this.vars[i]));
    return w;
  }

  hostWeights(): HostWeights {
    const out: HostWeights = {};
    this.names.forEach((n, i) => (out[n] = { shape: [...this.vars[i].shape], data: Float32Array.from(this.vars[i].dataSync() as Float32Array) }));
    return out;
  }

  /**
   * Draws the trajectories a batch comes from (advances the sampler): one task uniformly, so each task
   * gets the same share of batches whatever its number of trajectories, and a batch holds one task only,
   * so it is padded to that task's feature slots (a transformer's 1, not a conv net's 9: 9x less work and
   * memory in the output head). With one task this is the plain uniform draw over trajectories.
   */
  drawTaskTrajectories(): number[] {
    return this.byTask.length > 1 ? this.byTask[this.rng.int(this.byTask.length)] : this.trainIds;
  }

  /** feature slots a batch of these samples needs (the largest of their graphs) */
  private batchFeat(samples: readonly Sample[]): number {
    return Math.max(...samples.map((x) => this.set.graphs[x.graph].graph.maxFeat));
  }

  /** Draws the next batch (advances the sampler). */
  sampleBatch(): Batch {
    const { batch, windowsPerTraj, ctx, seqLen } = this.tc;
    const samples: Sample[] = [];
    const ids = this.drawTaskTrajectories();
    while (samples.length < batch) {
      const ti = ids[this.rng.int(ids.length)];
      const n = numWindowStarts(this.set.trajs[ti], ctx);
      for (let w = 0; w < windowsPerTraj && samples.length < batch; w++) {
        const s = makeSample(this.set, ti, this.rng.int(n), ctx, seqLen);
        if (this.tc.wteRows > 0) s.subset = wteSubset(this.set.graphs[s.graph].graph, this.tc.wteRows, this.rng);
        if (this.lpe > 0) {
          s.lpeSign = new Float32Array(this.lpe);
          for (let k = 0; k < this.lpe; k++) s.lpeSign[k] = this.rng.uniform() < 0.5 ? -1 : 1;
        }
        samples.push(s);
      }
    }
    return assembleBatch(this.set, samples, this.batchFeat(samples), ctx, seqLen, this.lpe);
  }

  /** [E, F, hmax] predicted delta (horizons 1..hmax, default b.hmax) times updScale (call inside a tidy / grad scope) */
  forward(b: Batch, ws: Weights = this.weights, hmax = b.hmax): tf.Tensor3D {
    const cfg = this.cfg;
    const ea = tf.tensor2d(b.edgeAttr, [b.E, b.F * cfg.ctx]);
    const out =
      cfg.kind === 'gnn'
        ? gnnTrainForward(ws, cfg, {
            edgeAttr: ea,
            F: b.F,
            edgeIndex: b.edgeIndex,
            edgeType: b.edgeType,
            pos: b.pos ? tf.tensor2d(b.pos, [b.numNodes, this.lpe]) : undefined,
            posW: cfg.wtePosEnc ? b.posW : undefined,
            numNodes: b.numNodes,
          }, hmax)
        : mlpTrainForward(ws, cfg, ea, b.edgeType, b.F, hmax);
    return (cfg.updScale === 1 ? out : tf.mul(out, cfg.updScale)) as tf.Tensor3D;
  }

  loss(b: Batch): tf.Scalar {
    const pred = this.forward(b);
    const tgt = tf.tensor3d(b.target, [b.E, b.F, b.hmax]);
    const mask = tf.tensor3d(b.mask, [b.E, b.F, b.hmax]);
    return tf.div(tf.sum(tf.mul(tf.abs(tf.sub(pred, tgt)), mask)), Math.max(1, b.count)) as tf.Scalar;
  }

  takeSnapshot(): void {
    this.failStreak = 0;
    this.snap = {
      step: this.step,
      weights: this.vars.map((v) => Float32Array.from(v.dataSync() as Float32Array)),
      adam: this.adam.getState(),
      rng: this.rng.getState(),
    };
  }

  private rollback(reason: string, loss: number, gradNorm: number): void {
    const s = this.snap!;
    const from = this.step;
    this.vars.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(s.weights[i], v.shape, 'float32'))));
    this.setAdamState(s.adam);
    this.step = s.step;
    this.rollbacks++;
    // a different data order from here on (deterministic given the seed and the rollback count)
    this.rng = new Rng(`${this.tc.seed}:data:rollback:${this.rollbacks}`);
    this.logger.warn({ step: from, rolledBackTo: s.step, loss, gradNorm, reason, rollbacks: this.rollbacks }, `non-finite ${reason} at step ${from}: rolled back to step ${s.step}, continuing with a different data order`);
  }

  setAdamState(s: OptimizerState): void {
    if (Object.keys(s.arrays).length === 0) {
      this.adam.dispose();
      this.adam.stepCount = s.step;
      return;
    }
    this.adam.setState({ ...s, arrays: { ...s.arrays } });
  }

  /** One optimizer step (or a rollback). Returns the loss (NaN when rolled back). */
  trainStep(): { loss: number; gradNorm: number; ok: boolean } {
    if (!this.snap) this.takeSnapshot();
    const b = this.sampleBatch();
    if (this.hooks.poisonStep?.(this.step)) b.edgeAttr[0] = NaN;
    const { value, grads } = tf.variableGrads(() => this.loss(b), this.trainable);
    const gl = this.trainable.map((v) => {
      const g = grads[v.name];
      if (!g) throw new Error(`no gradient for a trainable weight (${this.trainNames[this.trainable.indexOf(v)]})`);
      return g;
    });
    const normT = tf.tidy(() => tf.sqrt(tf.addN(gl.map((g) => tf.sum(tf.square(g))))));
    const loss = value.dataSync()[0];
    const gradNorm = normT.dataSync()[0];
    value.dispose();
    normT.dispose();
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      gl.forEach((g) => g.dispose());
      if (++this.failStreak > MAX_ROLLBACKS_PER_SNAPSHOT) {
        throw new DivergedError(
          `training diverges: ${MAX_ROLLBACKS_PER_SNAPSHOT} rollbacks to step ${this.snap!.step} without reaching step ${this.snap!.step + this.tc.snapshotEvery} ` +
            `(the last non-finite ${Number.isFinite(loss) ? 'gradient' : 'loss'} after step ${this.step}); lower --lr (${this.tc.lr}) or --wd (${this.tc.wd}), or check the data`,
        );
      }
      this.rollback(Number.isFinite(loss) ? 'gradient' : 'loss', loss, gradNorm);
      return { loss: NaN, gradNorm, ok: false };
    }
    const coef = this.tc.clip / (gradNorm + 1e-6);
    if (coef < 1) {
      const clipped = gl.map((g) => tf.mul(g, coef));
      this.adam.step(this.trainable, clipped);
      clipped.forEach((g) => g.dispose());
    } else this.adam.step(this.trainable, gl);
    gl.forEach((g) => g.dispose());
    this.step++;
    if (this.step % this.tc.snapshotEvery === 0) this.takeSnapshot();
    this.hooks.onStep?.(this.step, loss);
    return { loss, gradNorm, ok: true };
  }

  /** L1 on the fixed held-out windows, next to "last" and linefit on the same windows. */
  validate(): ValResult | null {
    if (!this.valSamples.length || !this.valBase) return null;
    const S = this.tc.seqLen;
    const err = new Float64Array(S);
    const taskErr = new Map<string, number>();
    for (const { task, samples: chunk } of this.valChunks) {
      const b = assembleBatch(this.set, chunk, this.batchFeat(chunk), this.tc.ctx, S, this.lpe);
      const e = tf.tidy(() => {
        const pred = this.forward(b);
        const tgt = tf.tensor3d(b.target, [b.E, b.F, b.hmax]);
        const mask = tf.tensor3d(b.mask, [b.E, b.F, b.hmax]);
        return tf.sum(tf.mul(tf.abs(tf.sub(pred, tgt)), mask), [0, 1]);
      });
      const v = e.dataSync();
      e.dispose();
      for (let h = 0; h < b.hmax; h++) {
        err[h] += v[h];
        taskErr.set(task, (taskErr.get(task) ?? 0) + v[h]);
      }
    }
    const { last, linefit, count } = this.valBase;
    const sum = (a: Float64Array, lo = 1, hi = S) => {
      let s = 0;
      for (let h = lo; h <= Math.min(hi, S); h++) s += a[h - 1];
      return s;
    };
    const n = Math.max(1, sum(count));
    const buckets: ValBucket[] = [];
    for (const [lo, hi] of BUCKETS) {
      if (lo > S) break;
      const c = sum(count, lo, hi);
      if (c === 0) continue;
      buckets.push({ h: lo === hi ? `${lo}` : `${lo}-${Math.min(hi, S)}`, l1: sum(err, lo, hi) / c, last: sum(last, lo, hi) / c, linefit: sum(linefit, lo, hi) / c });
    }
    const l1 = sum(err) / n;
    const r: ValResult = {
      step: this.step,
      l1,
      last: sum(last) / n,
      linefit: sum(linefit) / n,
      beatsLinefit: l1 < sum(linefit) / n,
      beatsLast: l1 < sum(last) / n,
      buckets,
      windows: this.valSamples.length,
    };
    if (this.valByTask.size > 1) {
      r.perTask = {};
      for (const [task, t] of this.valByTask) {
        const c = Math.max(1, t.count);
        r.perTask[task] = { l1: (taskErr.get(task) ?? 0) / c, last: t.last / c, linefit: t.linefit / c, windows: t.windows };
      }
    }
    return r;
  }

  get lr(): number {
    return cosineLr(this.step, this.tc.steps, this.tc.lr, this.tc.minLr);
  }

  dispose(): void {
    this.vars.forEach((v) => v.dispose());
    this.adam.dispose();
  }
}

/** xs grouped by key, groups and members in first-seen order */
function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const g = out.get(k);
    if (g) g.push(x);
    else out.set(k, [x]);
  }
  return out;
}

export function formatVal(v: ValResult): string {
  const f = (x: number) => x.toFixed(4);
  const b = v.buckets.map((x) => `h${x.h} ${f(x.l1)}/${f(x.last)}/${f(x.linefit)}`).join(' ');
  return (
    `val l1 ${f(v.l1)} | last ${f(v.last)} | linefit ${f(v.linefit)} | beats linefit: ${v.beatsLinefit ? 'yes' : 'no'} | ` +
    `beats last: ${v.beatsLast ? 'yes' : 'no'} | per horizon (model/last/linefit): ${b}` +
    (v.perTask ? ` | per task (model/last/linefit): ${Object.entries(v.perTask).map(([k, x]) => `${k} ${f(x.l1)}/${f(x.last)}/${f(x.linefit)}`).join(' ')}` : '')
  );
}

const ADAM_PREFIX = 'ckpt-adamw-';
const CKPT_FILE = 'ckpt.safetensors';

interface TrainExtra {
  format: 'nino-train';
  step: number;
  sampler: { rng: number[]; rollbacks: number };
  optimizer: { file: string; step: number; kind: 'adamw' };
  config: TrainConfig;
  data: { train: string[]; val: string[] };
  val: ValResult | null;
  elapsedSec: number;
}

function writeAdam(path: string, s: OptimizerState, names: string[]): void {
  const tensors: Record<string, StTensor> = {};
  for (const [k, a] of Object.entries(s.arrays)) tensors[k] = { dtype: 'F32', shape: [a.length], data: a };
  writeFileAtomic(path, writeSafetensors(tensors, { kind: 'adamw', step: String(s.step), params: JSON.stringify(names) }));
}

function readAdam(path: string, names: string[]): OptimizerState {
  if (!existsSync(path)) throw new Error(`optimizer state ${path} is missing (needed to resume)`);
  const buf = readFileSync(path);
  const st = readSafetensors(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path);
  if (JSON.stringify(JSON.parse(st.metadata.params ?? '[]')) !== JSON.stringify(names)) throw new Error(`${path}: optimizer state is for different weights`);
  const arrays: Record<string, Float32Array> = {};
  for (const k of st.order) arrays[k] = st.tensors[k].data as Float32Array;
  return { kind: 'adamw', step: Number(st.metadata.step), arrays };
}

/** Saves <out>/ckpt.safetensors (+ ckpt-adamw-<step>.safetensors), atomically; returns the path. */
export function saveTrainCheckpoint(t: MetaTrainer, out: string, data: { train: string[]; val: string[] }, val: ValResult | null, elapsedSec: number): string {
  const adam = t.adam.getState();
  // moments first, under a step-specific name; the checkpoint (written last, atomically) points to it
  const adamFile = `${ADAM_PREFIX}${t.step}.safetensors`;
  writeAdam(join(out, adamFile), adam, t.trainNames);
  const extra: TrainExtra = {
    format: 'nino-train',
    step: t.step,
    sampler: { rng: t.rng.getState(), rollbacks: t.rollbacks },
    optimizer: { file: adamFile, step: adam.step, kind: 'adamw' },
    config: t.tc,
    data,
    val,
    elapsedSec,
  };
  const p = join(out, CKPT_FILE);
  writeFileAtomic(p, serializeCheckpoint({ config: t.cfg, weights: t.hostWeights(), extra: extra as unknown as Record<string, unknown> }));
  for (const f of readdirSync(out)) if (f.startsWith(ADAM_PREFIX) && f !== adamFile && f.endsWith('.safetensors')) rmSync(join(out, f), { force: true });
  removeOrphanTmp(out, ADAM_PREFIX);
  return p;
}

/** the files of a previous run in `out` (checkpoint, optimizer states, final models) */
function previousRunFiles(out: string): string[] {
  if (!existsSync(out)) return [];
  return readdirSync(out).filter((f) => f === CKPT_FILE || f === 'nino.safetensors' || f === 'mlp.safetensors' || (f.startsWith(ADAM_PREFIX) && f.endsWith('.safetensors')));
}

/** Runs `nino train-nino` (holding <out>/.train.lock). */
export async function trainNino(o: TrainOptions): Promise<TrainResult> {
  if (o.resume && o.overwrite) throw new OutputExistsError('give either resume or overwrite, not both');
  ensureDir(o.out);
  const lock = await acquireLock(join(o.out, '.train.lock'), { what: `train-nino --out ${o.out}`, logger: o.logger });
  try {
    if (!o.resume) {
      const prev = previousRunFiles(o.out);
      if (prev.length && !o.overwrite) {
        throw new OutputExistsError(`--out ${o.out} already holds a train-nino run (${prev.join(', ')}); pass --resume to continue it or --overwrite to replace it`);
      }
      for (const f of prev) rmSync(join(o.out, f), { force: true });
      if (prev.length) o.logger?.info({ out: o.out, removed: prev }, 'overwriting the previous run');
    }
    return await trainLocked(o);
  } finally {
    lock.release();
  }
}

async function trainLocked(o: TrainOptions): Promise<TrainResult> {
  const logger = o.logger ?? silentLogger;
  let tc: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...o.config };
  let resumeCk: ReturnType<typeof loadCheckpoint> | null = null;
  let resumeExtra: TrainExtra | null = null;
  if (o.resume) {
    const p = o.resume === true ? join(o.out, CKPT_FILE) : o.resume;
    if (!existsSync(p)) throw new Error(`cannot resume: ${p} does not exist`);
    resumeCk = loadCheckpoint(p);
    resumeExtra = resumeCk.extra as unknown as TrainExtra;
    if (!resumeExtra || resumeExtra.format !== 'nino-train') throw new Error(`${p} is not a train-nino checkpoint (no training state)`);
    const changed = Object.entries(o.config ?? {}).filter(([k, v]) => k !== 'steps' && v !== undefined && JSON.stringify(v) !== JSON.stringify((resumeExtra!.config as unknown as Record<string, unknown>)[k]));
    if (changed.length) logger.warn({ ignored: Object.fromEntries(changed) }, 'resuming: using the checkpoint settings; these options are ignored');
    tc = { ...DEFAULT_TRAIN_CONFIG, ...resumeExtra.config };
    if (o.config?.steps !== undefined && o.config.steps !== tc.steps) {
      logger.warn({ from: tc.steps, to: o.config.steps }, 'resuming with a different --steps (the cosine schedule changes from here on)');
      tc.steps = o.config.steps;
    }
    logger.info({ from: p, step: resumeExtra.step }, 'resuming');
  }
  validateTrainConfig(tc);
  let initCk: ReturnType<typeof loadCheckpoint> | null = null;
  if (!resumeCk && tc.init) {
    const initPath = nowcasterPath(tc.init, { officialDir: o.officialDir });
    if (!initPath) throw new Error(`--init ${tc.init}: linefit has no weights`);
    initCk = loadCheckpoint(initPath);
    const want = tc.model === 'mlp' ? 'mlp' : 'gnn';
    if (initCk.config.kind !== want) throw new Error(`--init ${tc.init} is a ${initCk.config.kind} checkpoint, but --model ${tc.model} was asked for`);
    tc = { ...tc, hid: initCk.config.hid, layers: initCk.config.layers, ctx: initCk.config.ctx, seqLen: initCk.config.seqLen, lpe: initCk.config.lpe };
    logger.info({ init: tc.init, hid: tc.hid, layers: tc.layers, ctx: tc.ctx, seqLen: tc.seqLen }, 'initialising from checkpoint (its architecture overrides --hid/--layers/--ctx/--seq-len)');
  }
  // data
  let trainPaths: string[];
  let valPaths: string[];
  let set: TrajectorySet;
  let trainIds: number[];
  let valIds: number[];
  const lpe = tc.model === 'nino' ? (resumeCk?.config.lpe ?? initCk?.config.lpe ?? tc.lpe) : 0;
  if (resumeExtra && !o.data?.length) {
    trainPaths = resumeExtra.data.train;
    valPaths = resumeExtra.data.val;
    set = loadTrajectorySet([...trainPaths, ...valPaths], { ctx: tc.ctx, seqLen: tc.seqLen, stride: tc.stride ?? undefined, lpe, logger });
    trainIds = trainPaths.map((_, i) => i);
    valIds = valPaths.map((_, i) => trainPaths.length + i);
  } else {
    if (!o.data?.length) throw new TrajectoryDataError('no --data given');
    const files = expandDataPaths(o.data);
    set = loadTrajectorySet(files, { ctx: tc.ctx, seqLen: tc.seqLen, stride: tc.stride ?? undefined, lpe, logger });
    ({ train: trainIds, val: valIds } = splitByTrajectory(set, tc.val, logger));
    trainPaths = trainIds.map((i) => set.trajs[i].path);
    valPaths = valIds.map((i) => set.trajs[i].path);
    if (resumeExtra && (JSON.stringify(trainPaths) !== JSON.stringify(resumeExtra.data.train) || JSON.stringify(valPaths) !== JSON.stringify(resumeExtra.data.val))) {
      throw new Error('resuming with different --data than the checkpoint was trained on; omit --data to reuse its files');
    }
  }
  const cfg = resumeCk?.config ?? modelConfigFor(tc, set, initCk?.config);
  const host = resumeCk?.weights ?? initCk?.weights ?? initHostWeights(cfg, `${tc.seed}:init`);
  logger.info(
    {
      model: cfg.kind,
      hid: cfg.hid,
      layers: cfg.layers,
      train: trainIds.length,
      val: valIds.length,
      tasks: set.graphs.map((g) => ({ task: g.task, edges: g.graph.numEdges, nodes: g.graph.numNodes, F: g.graph.maxFeat })),
      strides: [...new Set(set.trajs.map((t) => t.stride))],
    },
    'meta-training data ready',
  );
  const t = new MetaTrainer(set, trainIds, valIds, cfg, tc, host, logger, o.hooks);
  const dataRef = { train: trainPaths, val: valPaths };
  try {
    let elapsed0 = 0;
    if (resumeCk && resumeExtra) {
      t.step = resumeExtra.step;
      t.rng.setState(resumeExtra.sampler.rng);
      t.rollbacks = resumeExtra.sampler.rollbacks;
      const adam = readAdam(join(o.out, resumeExtra.optimizer.file), t.trainNames);
      if (adam.step !== resumeExtra.optimizer.step) throw new Error(`optimizer state (step ${adam.step}) does not match the checkpoint (step ${resumeExtra.optimizer.step})`);
      t.setAdamState(adam);
      elapsed0 = resumeExtra.elapsedSec ?? 0;
      // the state is back: optimizer states of other steps and tmp files of a killed write are orphans
      const orphans = readdirSync(o.out).filter((f) => f.startsWith(ADAM_PREFIX) && f.endsWith('.safetensors') && f !== resumeExtra!.optimizer.file);
      for (const f of orphans) rmSync(join(o.out, f), { force: true });
      orphans.push(...removeOrphanTmp(o.out, 'ckpt'), ...removeOrphanTmp(o.out, 'nino.safetensors'), ...removeOrphanTmp(o.out, 'mlp.safetensors'));
      if (orphans.length) logger.info({ removed: orphans }, 'removed files left by an interrupted run');
    }
    let lastVal: ValResult | null = resumeExtra?.val ?? null;
    let lossEma = NaN;
    const t0 = performance.now();
    const startStep = t.step;
    let trainMs = 0;
    let stepsDone = 0;
    const report = () =>
      o.progress?.({
        id: `train-${tc.model}`,
        done: t.step,
        total: tc.steps,
        info: { loss: Number.isFinite(lossEma) ? lossEma.toFixed(4) : '-', val: lastVal ? lastVal.l1.toFixed(4) : '-', linefit: lastVal ? lastVal.linefit.toFixed(4) : '-', lr: t.lr.toExponential(2) },
      });
    const doVal = () => {
      const v = t.validate();
      if (v) {
        lastVal = v;
        logger.info({ step: t.step, trainLoss: lossEma, valL1: v.l1, last: v.last, linefit: v.linefit, beatsLinefit: v.beatsLinefit }, formatVal(v));
      }
      return v;
    };
    if (t.step === 0 && valIds.length) doVal();
    report();
    while (t.step < tc.steps) {
      const ts = performance.now();
      const r = t.trainStep();
      trainMs += performance.now() - ts;
      stepsDone++;
      if (r.ok) {
        lossEma = Number.isFinite(lossEma) ? 0.95 * lossEma + 0.05 * r.loss : r.loss;
        if (t.step % tc.valEvery === 0 && t.step < tc.steps) doVal();
        if (t.step % tc.ckptEvery === 0 && t.step < tc.steps) {
          saveTrainCheckpoint(t, o.out, dataRef, lastVal, elapsed0 + (performance.now() - t0) / 1000);
          logger.debug({ step: t.step }, 'checkpoint saved');
        }
      }
      report();
      // a safe point: lets timers and signal handlers run (the step loop is otherwise synchronous) and
      // stops here on Ctrl-C / SIGTERM (a rerun with --resume continues from the last checkpoint)
      await yieldPoint();
    }
    const val = valIds.length ? doVal() : null;
    const elapsed = elapsed0 + (performance.now() - t0) / 1000;
    const ckPath = saveTrainCheckpoint(t, o.out, dataRef, val, elapsed);
    const finalPath = join(o.out, tc.model === 'mlp' ? 'mlp.safetensors' : 'nino.safetensors');
    writeFileAtomic(
      finalPath,
      serializeCheckpoint({
        config: cfg,
        weights: t.hostWeights(),
        extra: { trainedBy: 'nino train-nino', step: t.step, val, config: tc, data: dataRef },
      }),
    );
    const trainSeconds = trainMs / 1000;
    const res: TrainResult = {
      step: t.step,
      finalPath,
      checkpointPath: ckPath,
      val,
      rollbacks: t.rollbacks,
      trainSeconds,
      graphsPerSec: stepsDone ? (stepsDone * tc.batch) / trainSeconds : 0,
      secPerStep: stepsDone ? trainSeconds / stepsDone : 0,
      trainLoss: lossEma,
      config: tc,
    };
    logger.info({ ...res, startStep }, 'meta-training finished');
    return res;
  } finally {
    t.dispose();
  }
}
