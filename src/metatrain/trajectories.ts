/**
 * Trajectories for meta-training (official `dataset/dataset.py`): reading and checking the Arrow files
 * (src/trajectories/schema.ts), one neural graph (+ Laplacian PE) per task, the default stride, and the
 * train/validation split by whole trajectory.
 *
 *   const set = loadTrajectorySet(expandDataPaths(['runs/traj']), { ctx: 5, maxHorizon: 40, lpe: 8 });
 *   const { train, val } = splitByTrajectory(set, 1);
 */
import { createHash } from 'node:crypto';
import { basename, dirname } from 'node:path';
import { InputError } from '../core/errors.ts';
import type { LayersDesc } from '../core/layers.ts';
import type { Logger } from '../core/logger.ts';
import { silentLogger } from '../core/logger.ts';
import type { ParamLayout } from '../core/params.ts';
import { checkSeed, Rng } from '../core/rng.ts';
import { buildNeuralGraph, laplacianPE, type NeuralGraph } from '../graph/index.ts';
import { getTask } from '../tasks/registry.ts';
import { readTrajectory, TrajectoryFormatError } from '../trajectories/arrow.ts';

/** Trajectories unfit for meta-training (an input error, exit code 2). */
export class TrajectoryDataError extends InputError {}

/** One graph per task (all trajectories of a task share names/shapes and hence the graph). */
export interface TaskGraph {
  task: string;
  arch: string;
  graph: NeuralGraph;
  /** base Laplacian PE [N*lpe] (fixed signs), or undefined when lpe = 0 */
  pos?: Float32Array;
  lpe: number;
}

export interface TrajData {
  path: string;
  task: string;
  seed: number;
  /** index into TrajectorySet.graphs */
  graph: number;
  /** flat parameter vectors, one per record */
  params: Float32Array[];
  steps: number[];
  /** records between consecutive input states */
  stride: number;
}

export interface TrajectorySet {
  graphs: TaskGraph[];
  trajs: TrajData[];
  /** F used for all batches (max over the graphs) */
  maxFeat: number;
}

export interface LoadOptions {
  ctx: number;
  maxHorizon: number;
  /** records between input states (default: task period/ctx steps divided by the record spacing, >= 1) */
  stride?: number;
  /** LPE columns (0 = none) */
  lpe?: number;
  logger?: Logger;
  /** graph arch + heads for a task (default: the model the trajectory stored in meta.config.model, else the task registry, else 'mlp') */
  archOf?: (task: string, config: Record<string, unknown>) => { arch: string; numHeads?: number; layers?: LayersDesc };
}

function defaultArchOf(
  task: string,
  config: Record<string, unknown>,
): { arch: string; numHeads?: number; layers?: LayersDesc } {
  // the model the trajectory stored (task files' tasks are not in the registry), else the registry's
  let model = config.model as Record<string, unknown> | undefined;
  if (!model) {
    try {
      model = getTask(task).model as unknown as Record<string, unknown>;
    } catch {
      model = undefined;
    }
  }
  const a = String(model?.arch ?? 'mlp');
  // a task file's tfjs model carries its layer description (the graph is built from it, not from names)
  return {
    arch: a === 'convnet' ? 'conv' : a,
    numHeads: model?.nHead as number | undefined,
    layers: model?.layers as LayersDesc | undefined,
  };
}

function sameLayout(a: ParamLayout, b: ParamLayout): string | null {
  if (a.entries.length !== b.entries.length)
    return `${b.entries.length} parameter tensors instead of ${a.entries.length}`;
  for (let i = 0; i < a.entries.length; i++) {
    const x = a.entries[i];
    const y = b.entries[i];
    if (x.name !== y.name) return `parameter #${i} is '${y.name}', expected '${x.name}'`;
    if (x.shape.join(',') !== y.shape.join(','))
      return `parameter '${y.name}' has shape [${y.shape}], expected [${x.shape}]`;
  }
  return null;
}

/**
 * Default stride in records: (task period / ctx) steps between states divided by the record spacing.
 * The period is the trajectory's stored task definition's (taskPeriod), else the registry's.
 */
export function defaultStride(task: string, recordEvery: number, ctx: number, taskPeriod?: number): number {
  let period: number | undefined = taskPeriod;
  if (period === undefined) {
    try {
      period = getTask(task).period;
    } catch {
      period = undefined;
    }
  }
  if (!period || !(recordEvery > 0)) return 1;
  return Math.max(1, Math.round(period / ctx / recordEvery));
}

/**
 * Reads and validates trajectory files: schema version, consistent names/shapes per task, finite
 * values, increasing steps, enough records for ctx+1 states; builds one neural graph (+ LPE) per task.
 * Errors name the bad file and what is wrong.
 */
export function loadTrajectorySet(paths: readonly string[], o: LoadOptions): TrajectorySet {
  const logger = o.logger ?? silentLogger;
  const archOf = o.archOf ?? defaultArchOf;
  const graphs: TaskGraph[] = [];
  const byTask = new Map<string, { gi: number; layout: ParamLayout; first: string }>();
  const trajs: TrajData[] = [];
  const seen = new Map<string, string>();
  for (const path of paths) {
    let t;
    try {
      t = readTrajectory(path);
    } catch (e) {
      if (e instanceof TrajectoryFormatError) throw new TrajectoryDataError(e.message);
      throw new TrajectoryDataError(`${path}: cannot read trajectory (${(e as Error).message})`);
    }
    const { meta, layout, records } = t;
    if (!meta.task) throw new TrajectoryDataError(`${path}: no task name in the metadata`);
    if (layout.total === 0) throw new TrajectoryDataError(`${path}: no parameters`);
    const key = `${meta.task}#${meta.seed}`;
    try {
      checkSeed(meta.seed);
    } catch (e) {
      throw new TrajectoryDataError(`${path}: ${(e as Error).message}`);
    }
    if (seen.has(key))
      throw new TrajectoryDataError(
        `${path}: duplicate trajectory (task ${meta.task}, seed ${meta.seed}) already read from ${seen.get(key)}`,
      );
    seen.set(key, path);
    // the same run under another seed label would put one run on both sides of the train/validation split
    const first = records.length
      ? createHash('sha1')
          .update(new Uint8Array(records[0].params.buffer, records[0].params.byteOffset, records[0].params.byteLength))
          .digest('hex')
      : '';
    const same = first && seen.get(`${meta.task}#state:${first}`);
    if (same)
      throw new TrajectoryDataError(
        `${path}: same initial parameters as ${same} (task ${meta.task}, seed ${meta.seed}): one run under two seeds`,
      );
    if (first) seen.set(`${meta.task}#state:${first}`, path);
    let tg = byTask.get(meta.task);
    if (tg) {
      const diff = sameLayout(tg.layout, layout);
      if (diff)
        throw new TrajectoryDataError(
          `${path}: does not match the other ${meta.task} trajectories (${tg.first}): ${diff}`,
        );
    } else {
      const { arch, numHeads, layers } = archOf(meta.task, meta.config);
      let graph: NeuralGraph;
      try {
        graph = buildNeuralGraph(
          arch,
          layout.entries.map((e) => ({ name: e.name, shape: [...e.shape] })),
          { numHeads, layers, logger },
        );
      } catch (e) {
        throw new TrajectoryDataError(
          `${path}: cannot build the '${arch}' neural graph of task ${meta.task} (${(e as Error).message})`,
        );
      }
      const lpe = o.lpe ?? 0;
      let pos: Float32Array | undefined;
      if (lpe > 0) pos = laplacianPE(graph, { k: lpe, rng: new Rng(0).fork('lpe') }).pos;
      graphs.push({ task: meta.task, arch, graph, pos, lpe });
      tg = { gi: graphs.length - 1, layout, first: path };
      byTask.set(meta.task, tg);
    }
    for (let r = 0; r < records.length; r++) {
      const p = records[r].params;
      for (let i = 0; i < p.length; i++) {
        if (!Number.isFinite(p[i])) {
          const e = layout.entries.find((x) => i >= x.offset && i < x.offset + x.numel)!;
          throw new TrajectoryDataError(
            `${path}: record ${r} (step ${records[r].step}) has a non-finite value (${p[i]}) in parameter '${e.name}'`,
          );
        }
      }
      if (r > 0 && !(records[r].step > records[r - 1].step)) {
        throw new TrajectoryDataError(
          `${path}: steps are not increasing (record ${r} has step ${records[r].step} after ${records[r - 1].step})`,
        );
      }
    }
    const gaps = records
      .slice(1)
      .map((x, i) => x.step - records[i].step)
      .sort((a, b) => a - b);
    const every = gaps.length ? gaps[gaps.length >> 1] : 0;
    const stride = o.stride ?? defaultStride(meta.task, every, o.ctx, meta.taskDef?.period as number | undefined);
    const need = o.ctx * stride + 1;
    if (records.length < need) {
      throw new TrajectoryDataError(
        `${path}: ${records.length} records, need at least ${need} (ctx ${o.ctx} input states + 1 target, ${stride} record(s) apart)`,
      );
    }
    trajs.push({
      path,
      task: meta.task,
      seed: meta.seed,
      graph: tg.gi,
      params: records.map((x) => x.params),
      steps: records.map((x) => x.step),
      stride,
    });
  }
  if (!trajs.length) throw new TrajectoryDataError('no trajectories given');
  const maxFeat = Math.max(...graphs.map((g) => g.graph.maxFeat));
  return { graphs, trajs, maxFeat };
}

/**
 * Splits by whole trajectory: per task the `val` highest seeds are held out. Tasks with a single
 * trajectory stay in training only when val would take them all (a warning is logged).
 */
export function splitByTrajectory(
  set: TrajectorySet,
  val: number,
  logger: Logger = silentLogger,
): { train: number[]; val: number[] } {
  const train: number[] = [];
  const held: number[] = [];
  const tasks = [...new Set(set.trajs.map((t) => t.task))];
  for (const task of tasks) {
    const ids = set.trajs
      .map((t, i) => ({ t, i }))
      .filter((x) => x.t.task === task)
      .sort((a, b) => a.t.seed - b.t.seed);
    if (val > 0 && ids.length <= val) {
      throw new TrajectoryDataError(
        `task ${task} has ${ids.length} trajectories; holding out --val ${val} would leave none for training`,
      );
    }
    const cut = ids.length - val;
    ids.forEach((x, j) => (j < cut ? train : held).push(x.i));
  }
  if (val > 0) logger.info({ train: train.length, val: held.length }, 'split by trajectory');
  return { train, val: held };
}

/** Short display name of a trajectory file */
export function trajLabel(t: TrajData): string {
  return `${t.task}/seed-${t.seed} (${basename(dirname(t.path))}/${basename(t.path)})`;
}

/** xs grouped by the task of their trajectory (trajOf), groups and members in first-seen order */
export function groupByTask<T>(set: TrajectorySet, xs: readonly T[], trajOf: (x: T) => number): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of xs) {
    const k = set.trajs[trajOf(x)].task;
    const g = out.get(k);
    if (g) g.push(x);
    else out.set(k, [x]);
  }
  return out;
}
