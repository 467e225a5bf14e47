/**
 * Collects one parameter trajectory: trains (task, seed) with the 'adam' method (methods/registry.ts:
 * AdamW with the task's settings) and records the
 * full parameter vector and metrics every `every` steps into an Arrow file (schema.ts).
 *
 * Resumable and atomic. While running, `<out>/<task>/.seed-<seed>.partial/` holds one Arrow file per
 * record and `resume.safetensors` (params + AdamW moments + sampler position at the last record), each
 * written atomically. A rerun continues from there; the finished file `<out>/<task>/seed-<seed>.arrow`
 * appears only complete (write-to-temp + rename), and a rerun skips it once its rows match the asked
 * steps/every. Deterministic: the same seed gives the same parameters, interrupted or not.
 *
 * One writer per trajectory: `<out>/<task>/.seed-<seed>.lock` (core/lock.ts) is held from the
 * "already complete?" check to the final rename, across processes and worker threads. A second
 * collector of the same trajectory waits for the first, then finds it complete and skips it; the lock
 * of a killed collector is taken over.
 *
 *   await collectTrajectory({ task: 'FM-16-3k', seed: 1, steps: 3000, every: 50, outDir: 'runs/traj' });
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { flatten } from '../core/flat.ts';
import { ensureDir, writeFileAtomic } from '../core/fsutil.ts';
import { acquireLock } from '../core/lock.ts';
import type { Logger, ProgressFn } from '../core/logger.ts';
import { silentLogger } from '../core/logger.ts';
import { makeLayout } from '../core/params.ts';
import { readSafetensors, writeSafetensors, type StTensor } from '../core/safetensors.ts';
import { checkSeed } from '../core/rng.ts';
import { TOOL_VERSION } from '../core/version.ts';
import { workerJob, type JobContext } from '../core/workers.ts';
import { ADAM, resolveMethod } from '../methods/registry.ts';
import { getTask, type TaskSpec } from '../tasks/registry.ts';
import { loadTaskRuntime, type RuntimeOptions } from '../tasks/runtime.ts';
import { trainRun } from '../training/loop.ts';
import { readTrajectory, writeTrajectory } from './arrow.ts';
import { TRAJECTORY_SCHEMA_VERSION, type TrajectoryMeta, type TrajectoryRecord } from './schema.ts';

export interface CollectJob {
  /** task name (output folder) */
  task: string;
  /** the resolved task (a task file's, or a built-in's); default: the built-in named `task` */
  taskDef?: TaskSpec;
  seed: number;
  /** optimizer steps to train */
  steps: number;
  /** record (and evaluate) every this many steps */
  every: number;
  outDir: string;
  /** data location options (dataDir etc.) */
  data?: RuntimeOptions;
}

export interface CollectResult {
  path: string;
  status: 'done' | 'skipped' | 'resumed';
  records: number;
  seconds: number;
}

export function trajectoryPath(outDir: string, task: string, seed: number): string {
  return join(outDir, task, `seed-${seed}.arrow`);
}

function partialDir(outDir: string, task: string, seed: number): string {
  return join(outDir, task, `.seed-${seed}.partial`);
}

function lockPath(outDir: string, task: string, seed: number): string {
  return join(outDir, task, `.seed-${seed}.lock`);
}

/** The steps a complete trajectory of `steps` steps recorded every `every` has rows for (0, every, ..., steps). */
export function recordedSteps(steps: number, every: number): number[] {
  const out: number[] = [];
  for (let s = 0; s <= steps; s += every) out.push(s);
  if (out[out.length - 1] !== steps) out.push(steps);
  return out;
}

/** The method a trajectory is collected with. */
const COLLECT_METHOD = ADAM;

/** The settings a trajectory is made with (stored in its metadata; a rerun with other settings is refused). */
export function resolvedConfig(job: CollectJob) {
  const spec = getTask(job.taskDef ?? job.task);
  return {
    task: spec.name,
    seed: job.seed,
    steps: job.steps,
    every: job.every,
    optimizer: resolveMethod(COLLECT_METHOD).settings(spec),
    batchSize: spec.batchSize,
    contextLen: spec.contextLen ?? null,
    model: spec.model,
    dataset: spec.dataset,
    evalLimit: job.data?.evalLimit ?? null,
    ...(spec.files ? { files: spec.files } : {}),
  };
}

export async function collectTrajectory(job: CollectJob, o: Partial<JobContext> = {}): Promise<CollectResult> {
  const logger = o.logger ?? silentLogger;
  const spec = getTask(job.taskDef ?? job.task);
  if (!(job.steps > 0) || !(job.every > 0) || !Number.isInteger(job.steps) || !Number.isInteger(job.every)) {
    throw new Error(`steps and every must be positive integers (got steps=${job.steps}, every=${job.every})`);
  }
  checkSeed(job.seed);
  const id = `${spec.name}/seed-${job.seed}`;
  const lock = await acquireLock(lockPath(job.outDir, spec.name, job.seed), {
    what: `collect ${id}`,
    onBusy: 'wait',
    logger,
  });
  try {
    return await collectLocked(job, spec, id, logger, o.progress);
  } finally {
    lock.release();
  }
}

/** collectTrajectory as a worker job (core/workers.ts runJobs): `runJobs(collectJob, jobs, pool)`. */
export const collectJob = workerJob(import.meta.url, collectTrajectory);

async function collectLocked(
  job: CollectJob,
  spec: TaskSpec,
  id: string,
  logger: Logger,
  progress?: ProgressFn,
): Promise<CollectResult> {
  const config = resolvedConfig(job);
  const finalPath = trajectoryPath(job.outDir, spec.name, job.seed);
  const pdir = partialDir(job.outDir, spec.name, job.seed);
  const t0 = performance.now();

  if (existsSync(finalPath)) {
    // never silently overwrite: a finished file must be readable and made with the same settings
    const t = readTrajectory(finalPath);
    const same = JSON.stringify(t.meta.config) === JSON.stringify(config);
    if (!same) {
      throw new Error(`${finalPath} exists but was made with different settings; remove it or choose another --out`);
    }
    const want = recordedSteps(job.steps, job.every);
    const got = t.records.map((r) => r.step);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      throw new Error(
        `${finalPath} is incomplete: it has ${got.length} rows (steps ${got.join(',') || 'none'}), a trajectory of --steps ${job.steps} --every ${job.every} has ${want.length}; remove it to collect it again`,
      );
    }
    // a collector killed between the final rename and removing its partial folder leaves that folder
    rmSync(pdir, { recursive: true, force: true });
    logger.info({ id, path: finalPath }, 'trajectory already complete, skipping');
    progress?.({ id, done: job.steps, total: job.steps });
    return { path: finalPath, status: 'skipped', records: t.records.length, seconds: 0 };
  }

  const rt = await loadTaskRuntime(spec, { ...job.data, logger });
  const layout = makeLayout(rt.model.specs);
  const meta: TrajectoryMeta = {
    task: spec.name,
    seed: job.seed,
    config,
    toolVersion: TOOL_VERSION,
    schemaVersion: TRAJECTORY_SCHEMA_VERSION,
    taskDef: spec as unknown as Record<string, unknown>,
  };
  ensureDir(pdir);
  const resumePath = join(pdir, 'resume.safetensors');

  const params = rt.initVariables(job.seed);
  const opt = await resolveMethod(COLLECT_METHOD).create({ task: spec, model: rt.model, budget: job.steps, logger });
  const sampler = rt.makeSampler(job.seed);
  let startStep = 0;
  let status: CollectResult['status'] = 'done';

  if (existsSync(resumePath)) {
    const st = readSafetensors(readFileSync(resumePath), resumePath);
    const m = JSON.parse(st.metadata.state ?? '{}') as {
      step: number;
      sampler: Record<string, number>;
      config: unknown;
      optStep: number;
    };
    if (JSON.stringify(m.config) !== JSON.stringify(config)) {
      throw new Error(`${pdir} holds an interrupted run with different settings; remove it or choose another --out`);
    }
    params.forEach((p, i) => p.assign(tf.tensor(st.tensors[`param.${i}`].data as Float32Array, p.shape)));
    const arrays: Record<string, Float32Array> = {};
    for (const k of st.order) if (k.startsWith('opt.')) arrays[k.slice(4)] = st.tensors[k].data as Float32Array;
    opt.setState({ kind: 'adamw', step: m.optStep, arrays });
    sampler.setState(m.sampler);
    startStep = m.step;
    status = 'resumed';
    logger.info({ id, step: startStep }, 'resuming interrupted trajectory');
  }
  // drop records past the resume point (written before a crash that preceded the resume state)
  for (const f of readdirSync(pdir)) {
    const mm = /^rec-(\d+)\.arrow$/.exec(f);
    if (mm && Number(mm[1]) > startStep) rmSync(join(pdir, f));
  }

  let lossSum = 0;
  let lossN = 0;

  await trainRun({
    runtime: rt,
    optimizer: opt,
    params,
    sampler,
    steps: job.steps,
    startStep,
    evalEvery: job.every,
    onStep: (step, loss) => {
      lossSum += loss;
      lossN++;
      progress?.({ id, done: step, total: job.steps, info: { loss: Number(loss.toFixed(4)) } });
    },
    onEval: (step, r) => {
      const metrics: TrajectoryRecord['metrics'] = { val_loss: r.loss };
      if (r.acc !== undefined) metrics.val_acc = r.acc;
      if (r.ppl !== undefined) metrics.val_ppl = r.ppl;
      if (lossN > 0) metrics.train_loss = lossSum / lossN;
      lossSum = 0;
      lossN = 0;
      const rec: TrajectoryRecord = { step, params: flatten(params), metrics };
      if (!Array.from(rec.params).every(Number.isFinite))
        throw new Error(`${id}: parameters became NaN/Inf at step ${step}`);
      writeTrajectory(join(pdir, `rec-${String(step).padStart(8, '0')}.arrow`), layout, meta, [rec]);
      // resume point = this record
      const tensors: Record<string, StTensor> = {};
      params.forEach(
        (p, i) => (tensors[`param.${i}`] = { dtype: 'F32', shape: p.shape, data: p.dataSync() as Float32Array }),
      );
      const os = opt.getState();
      for (const [k, v] of Object.entries(os.arrays))
        tensors[`opt.${k}`] = { dtype: 'F32', shape: [v.length], data: v };
      writeFileAtomic(
        resumePath,
        writeSafetensors(tensors, {
          state: JSON.stringify({ step, sampler: sampler.getState(), config, optStep: os.step }),
        }),
      );
      logger.debug({ id, step, ...metrics }, 'recorded');
      return false;
    },
  });

  const files = readdirSync(pdir)
    .filter((f) => /^rec-\d+\.arrow$/.test(f))
    .sort();
  const records = files.map((f) => readTrajectory(join(pdir, f)).records[0]);
  writeTrajectory(finalPath, layout, meta, records);
  rmSync(pdir, { recursive: true, force: true });
  params.forEach((p) => p.dispose());
  opt.dispose();
  const seconds = (performance.now() - t0) / 1000;
  logger.info(
    { id, path: finalPath, records: records.length, seconds: Number(seconds.toFixed(1)) },
    'trajectory complete',
  );
  return { path: finalPath, status, records: records.length, seconds };
}
