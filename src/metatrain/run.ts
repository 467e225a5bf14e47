/**
 * A meta-training run (`nino train-nino`): the settings (with resume and --init), the data and its
 * split, the trainer, the step loop with validation and checkpoints, the final model.
 *
 *   const r = await trainNino({ data: ['runs/traj'], out: 'runs/nino', config: { steps: 2000, hid: 32 } });
 *   // -> runs/nino/nino.safetensors (loadNowcastModel / resolveNowcaster), ckpt.safetensors (+ ckpt-adamw-<step>.safetensors)
 *
 * `resume` continues bit-exactly (checkpoint.ts). A non-finite loss or gradient rolls back to the last
 * in-memory snapshot and continues with a different data order (logged; step.ts).
 *
 * One run per output folder: `<out>/.train.lock` (core/lock.ts) is held while training, and a fresh
 * run refuses an --out that holds a previous run's checkpoint or model unless `overwrite` (then those
 * files are removed first) or `resume` is given.
 */
import * as tf from '@tensorflow/tfjs';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureDir } from '../core/fsutil.ts';
import { yieldPoint } from '../core/interrupt.ts';
import { acquireLock } from '../core/lock.ts';
import type { Logger, ProgressFn } from '../core/logger.ts';
import { silentLogger } from '../core/logger.ts';
import { loadCheckpoint, type Checkpoint } from '../model/checkpoint.ts';
import { initHostWeights } from '../model/weights.ts';
import { nowcasterPath } from '../nowcast/resolve.ts';
import {
  loadTrainCheckpoint,
  previousRunFiles,
  restoreTrainState,
  saveFinalModel,
  saveTrainCheckpoint,
  type DataRef,
  type TrainExtra,
} from './checkpoint.ts';
import { DEFAULT_TRAIN_CONFIG, validateTrainConfig, type TrainConfig } from './config.ts';
import { initWeightsFor, modelConfigFor } from './model.ts';
import { ParallelGrads } from './parallel.ts';
import { expandDataPaths } from './paths.ts';
import { MetaTrainer, type TrainHooks } from './trainer.ts';
import { loadTrajectorySet, splitByTrajectory, TrajectoryDataError, type TrajectorySet } from './trajectories.ts';
import { formatVal, type ValResult } from './validation.ts';

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
  /**
   * data-parallel shards per batch: this thread and workers - 1 worker threads (parallel.ts); at most
   * `batch`. Default 1, or when resuming the checkpoint's (the same count continues exactly).
   */
  workers?: number;
  /** the worker threads' tfjs backend (default: this thread's) */
  backend?: string;
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
  /** shards per batch the run used */
  workers: number;
}

/** --out already holds a run and neither resume nor overwrite was asked for (a usage error) */
export class OutputExistsError extends Error {}

/** Runs `nino train-nino` (holding <out>/.train.lock). */
export async function trainNino(o: TrainOptions): Promise<TrainResult> {
  if (o.resume && o.overwrite) throw new OutputExistsError('give either resume or overwrite, not both');
  ensureDir(o.out);
  const lock = await acquireLock(join(o.out, '.train.lock'), { what: `train-nino --out ${o.out}`, logger: o.logger });
  try {
    if (!o.resume) {
      const prev = previousRunFiles(o.out);
      if (prev.length && !o.overwrite) {
        throw new OutputExistsError(
          `--out ${o.out} already holds a train-nino run (${prev.join(', ')}); pass --resume to continue it or --overwrite to replace it`,
        );
      }
      for (const f of prev) rmSync(join(o.out, f), { force: true });
      if (prev.length) o.logger?.info({ out: o.out, removed: prev }, 'overwriting the previous run');
    }
    return await trainLocked(o);
  } finally {
    lock.release();
  }
}

interface RunSetup {
  tc: TrainConfig;
  resume: { ck: Checkpoint; extra: TrainExtra } | null;
  init: Checkpoint | null;
}

/** The settings of the run: the given ones over the defaults, or the checkpoint's when resuming; --init's architecture. */
function resolveSetup(o: TrainOptions, logger: Logger): RunSetup {
  let tc: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...o.config };
  let resume: RunSetup['resume'] = null;
  if (o.resume) {
    const r = loadTrainCheckpoint(o.resume, o.out);
    resume = r;
    const stored = r.extra.config as unknown as Record<string, unknown>;
    const changed = Object.entries(o.config ?? {}).filter(
      ([k, v]) => k !== 'steps' && v !== undefined && JSON.stringify(v) !== JSON.stringify(stored[k]),
    );
    if (changed.length)
      logger.warn(
        { ignored: Object.fromEntries(changed) },
        'resuming: using the checkpoint settings; these options are ignored',
      );
    tc = { ...DEFAULT_TRAIN_CONFIG, ...r.extra.config };
    if (o.config?.steps !== undefined && o.config.steps !== tc.steps) {
      logger.warn(
        { from: tc.steps, to: o.config.steps },
        'resuming with a different --steps (the cosine schedule changes from here on)',
      );
      tc.steps = o.config.steps;
    }
    logger.info({ from: r.path, step: r.extra.step }, 'resuming');
  }
  validateTrainConfig(tc);
  let init: Checkpoint | null = null;
  if (!resume && tc.init) {
    const initPath = nowcasterPath(tc.init, { officialDir: o.officialDir });
    if (!initPath) throw new Error(`--init ${tc.init}: linefit has no weights`);
    init = loadCheckpoint(initPath);
    const want = tc.model === 'mlp' ? 'mlp' : 'gnn';
    if (init.config.kind !== want)
      throw new Error(`--init ${tc.init} is a ${init.config.kind} checkpoint, but --model ${tc.model} was asked for`);
    tc = {
      ...tc,
      hid: init.config.hid,
      layers: init.config.layers,
      ctx: init.config.ctx,
      maxHorizon: init.config.maxHorizon,
      lpe: init.config.lpe,
    };
    logger.info(
      { init: tc.init, hid: tc.hid, layers: tc.layers, ctx: tc.ctx, maxHorizon: tc.maxHorizon },
      'initialising from checkpoint (its architecture overrides --hid/--layers/--ctx/--max-horizon)',
    );
  }
  return { tc, resume, init };
}

interface RunData {
  /** the files `set` was loaded from, in order, and how */
  files: string[];
  load: { ctx: number; maxHorizon: number; stride?: number; lpe: number };
  set: TrajectorySet;
  trainIds: number[];
  valIds: number[];
  ref: DataRef;
}

/** the same files, in the same order (paths compared absolute) */
const samePaths = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((p, i) => resolve(p) === resolve(b[i]));

/** The trajectories and their split: the checkpoint's files when resuming without --data. */
function loadRunData(o: TrainOptions, s: RunSetup, logger: Logger): RunData {
  const { tc, resume } = s;
  const lpe = tc.model === 'nino' ? (resume?.ck.config.lpe ?? s.init?.config.lpe ?? tc.lpe) : 0;
  const opts = { ctx: tc.ctx, maxHorizon: tc.maxHorizon, stride: tc.stride ?? undefined, lpe };
  if (resume && !o.data?.length) {
    const { train, val } = resume.extra.data;
    const files = [...train, ...val];
    const set = loadTrajectorySet(files, { ...opts, logger });
    return {
      files,
      load: opts,
      set,
      trainIds: train.map((_, i) => i),
      valIds: val.map((_, i) => train.length + i),
      ref: { train, val },
    };
  }
  if (!o.data?.length) throw new TrajectoryDataError('no --data given');
  const files = expandDataPaths(o.data);
  const set = loadTrajectorySet(files, { ...opts, logger });
  const { train: trainIds, val: valIds } = splitByTrajectory(set, tc.val, logger);
  const ref = { train: trainIds.map((i) => set.trajs[i].path), val: valIds.map((i) => set.trajs[i].path) };
  if (resume && (!samePaths(ref.train, resume.extra.data.train) || !samePaths(ref.val, resume.extra.data.val))) {
    throw new Error(
      'resuming with different --data than the checkpoint was trained on; omit --data to reuse its files',
    );
  }
  return { files, load: opts, set, trainIds, valIds, ref };
}

/** Shards per batch: as asked, else the checkpoint's when resuming, else 1; at most the batch size. */
function resolveWorkers(o: TrainOptions, s: RunSetup, logger: Logger): number {
  const stored = s.resume ? (s.resume.extra.workers ?? 1) : null;
  const asked = o.workers ?? stored ?? 1;
  if (!(Number.isInteger(asked) && asked >= 1)) throw new Error(`workers must be a positive integer (got ${asked})`);
  const n = Math.min(asked, s.tc.batch);
  if (stored !== null && n !== stored)
    logger.warn(
      { workers: n, checkpoint: stored },
      'resuming with another worker count than the checkpoint was written with: the gradients are summed in another order',
    );
  return n;
}

async function trainLocked(o: TrainOptions): Promise<TrainResult> {
  const logger = o.logger ?? silentLogger;
  const setup = resolveSetup(o, logger);
  const { tc, resume } = setup;
  const data = loadRunData(o, setup, logger);
  const { set, trainIds, valIds, ref: dataRef } = data;
  const workers = resolveWorkers(o, setup, logger);
  const cfg = resume?.ck.config ?? modelConfigFor(tc, set, setup.init?.config);
  if (setup.init && cfg.wtePosEnc && !setup.init.config.wtePosEnc)
    logger.info(
      { vocabSize: cfg.vocabSize, hid: cfg.hid },
      '--wte-pos-enc on: adding a token-id embedding to the --init model (zero rows: same predictions at step 0)',
    );
  const host =
    resume?.ck.weights ??
    (setup.init ? initWeightsFor(cfg, setup.init.weights) : initHostWeights(cfg, `${tc.seed}:init`));
  logger.info(
    {
      model: cfg.kind,
      hid: cfg.hid,
      layers: cfg.layers,
      train: trainIds.length,
      val: valIds.length,
      tasks: set.graphs.map((g) => ({
        task: g.task,
        edges: g.graph.numEdges,
        nodes: g.graph.numNodes,
        F: g.graph.maxFeat,
      })),
      strides: [...new Set(set.trajs.map((t) => t.stride))],
      workers,
    },
    'meta-training data ready',
  );
  const t = new MetaTrainer(set, trainIds, valIds, cfg, tc, host, logger, o.hooks);
  let pg: ParallelGrads | null = null;
  try {
    const elapsed0 = resume ? restoreTrainState(t, o.out, resume.extra, logger) : 0;
    if (workers > 1) {
      pg = await ParallelGrads.start(set, {
        workers,
        files: data.files,
        load: data.load,
        cfg,
        host: t.hostWeights(),
        backend: o.backend ?? tf.getBackend(),
        logger,
      });
    }
    let lastVal: ValResult | null = resume?.extra.val ?? null;
    let lossEma = NaN;
    const t0 = performance.now();
    /** what a checkpoint records besides the trainer's state */
    const record = (val: ValResult | null) => ({
      data: dataRef,
      val,
      elapsedSec: elapsed0 + (performance.now() - t0) / 1000,
      workers,
    });
    const startStep = t.step;
    let trainMs = 0;
    let stepsDone = 0;
    const report = () =>
      o.progress?.({
        id: `train-${tc.model}`,
        done: t.step,
        total: tc.steps,
        info: {
          loss: Number.isFinite(lossEma) ? lossEma.toFixed(4) : '-',
          val: lastVal ? lastVal.l1.toFixed(4) : '-',
          linefit: lastVal ? lastVal.linefit.toFixed(4) : '-',
          lr: t.lr.toExponential(2),
        },
      });
    const doVal = () => {
      const v = t.validate();
      if (v) {
        lastVal = v;
        logger.info(
          {
            step: t.step,
            trainLoss: lossEma,
            valL1: v.l1,
            last: v.last,
            linefit: v.linefit,
            beatsLinefit: v.beatsLinefit,
          },
          formatVal(v),
        );
      }
      return v;
    };
    if (t.step === 0 && valIds.length) doVal();
    report();
    while (t.step < tc.steps) {
      const ts = performance.now();
      const r = pg ? await t.trainStepParallel(pg) : t.trainStep();
      trainMs += performance.now() - ts;
      stepsDone++;
      if (r.ok) {
        lossEma = Number.isFinite(lossEma) ? 0.95 * lossEma + 0.05 * r.loss : r.loss;
        if (t.step % tc.valEvery === 0 && t.step < tc.steps) doVal();
        if (t.step % tc.ckptEvery === 0 && t.step < tc.steps) {
          saveTrainCheckpoint(t, o.out, record(lastVal));
          logger.debug({ step: t.step }, 'checkpoint saved');
        }
      }
      report();
      // a safe point: lets timers and signal handlers run (the step loop is otherwise synchronous) and
      // stops here on Ctrl-C / SIGTERM (a rerun with --resume continues from the last checkpoint)
      await yieldPoint();
    }
    const val = valIds.length ? doVal() : null;
    const ckPath = saveTrainCheckpoint(t, o.out, record(val));
    const finalPath = saveFinalModel(t, o.out, dataRef, val);
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
      workers,
    };
    logger.info({ ...res, startStep }, 'meta-training finished');
    return res;
  } finally {
    await pg?.close();
    t.dispose();
  }
}
