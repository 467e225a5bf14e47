/**
 * One benchmark run: (task, seed, method) trained from the seed's initial parameters with the seed's
 * data order, evaluated every `evalEvery` steps, until the target is reached (or the budget ends).
 * The optimizer comes from the method registry (methods/registry.ts): the run knows a method only by
 * its spec, label and cache-key contribution, and the loop never asks which optimizer it holds.
 *
 * Adam baselines (the 'adam' method) are cached by (task spec, seed, budget, eval protocol, code version), so adding a
 * nowcaster does not re-run Adam; a change to any of those misses the cache. The code version is a hash
 * of every module the run imports, found by walking the module graph (no hand-kept folder list). Finished runs are also stored under the output folder, so an interrupted bench resumes.
 *
 * One writer per stored run: `<out>/runs/<task>/<method>/.seed-<seed>.lock` (core/lock.ts) is held from
 * the "already stored?" check to the write, across processes (shards sharing one --out) and worker
 * threads; a second bench of the same run waits for the first, then reuses its result.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../core/fsutil.ts';
import type { Logger, ProgressFn } from '../core/logger.ts';
import { silentLogger } from '../core/logger.ts';
import { InputError } from '../core/errors.ts';
import { acquireLock } from '../core/lock.ts';
import { clearFingerprints, closureFingerprint, fingerprintOnce } from '../core/version.ts';
import { workerJob } from '../core/workers.ts';
import { DATA_MODULES, NOWCASTER_MODULES } from '../methods/nino.ts';
import { resolveMethod, type MethodSpec } from '../methods/registry.ts';
import type { NowcastEvent } from '../nowcast/nino.ts';
import { getTask, type TaskSpec } from '../tasks/registry.ts';
import { loadTaskRuntime, type RuntimeOptions } from '../tasks/runtime.ts';
import { trainRun } from '../training/loop.ts';
import { stepsToTarget } from './stats.ts';

export interface BenchRunSpec {
  /** task name (runs/<task>/ folder, report rows) */
  task: string;
  /** the resolved task (a task file's, a target override); default: the built-in named `task` */
  taskDef?: TaskSpec;
  seed: number;
  /** label of the method in tables and run folders ('adam', 'linefit', 'nino_no_posw', ...) */
  method: string;
  /** the method that makes the run's optimizer (methods/registry.ts), e.g. ADAM or ninoMethod({...}) */
  optimizer: MethodSpec;
  budget: number;
  evalEvery: number;
  /** stop as soon as the target is reached (steps-to-target only); false runs the whole budget */
  stopAtTarget: boolean;
  outDir: string;
  /** Adam cache folder (default <outDir>/../.adam-cache) */
  cacheDir: string;
  data?: RuntimeOptions;
}

/** The method whose runs are the baseline (cached in cacheDir, run first). */
export const BASELINE_METHOD = 'adam';

export interface BenchRunResult {
  task: string;
  seed: number;
  method: string;
  /** [step, metric] at every evaluation */
  curve: [number, number][];
  stepsToTarget: number | null;
  finalMetric: number;
  stepsRun: number;
  wallSeconds: number;
  nowcastSeconds: number;
  nowcasts: NowcastEvent[];
  fromCache: boolean;
  key: string;
  /** protocol key without the code version, and the code version that made the run */
  protocolKey?: string;
  code?: string;
  /** the resolved task definition the run trained (in the run key too) */
  taskDef?: TaskSpec;
}

/** The source root this module runs from (src/, or the emitted build's folder). */
const CODE_ROOT = fileURLToPath(new URL('..', import.meta.url));
/**
 * Where a run's code starts: this module (the run, its steps-to-target), the backend with its kernels and
 * the worker that hosts a job. Everything they import is found by walking the module graph (core/version.ts).
 */
const RUN_ENTRIES = ['bench/run', 'core/backend', 'core/worker-run'];
/**
 * Left out of the module walk: the task registry (DATA_MODULES, data), and nowcast/resolve and the 'nino'
 * method, which only a nowcaster run calls into (the nowcaster fingerprint, methods/nino.ts, covers
 * them), so retraining code does not re-run Adam.
 */

/** Fingerprint of every module an Adam run executes (the run, training loop, tasks, data, optimizer, backend). */
export function codeVersion(root: string = CODE_ROOT): string {
  return fingerprintOnce(`adam\0${root}`, () =>
    closureFingerprint(root, RUN_ENTRIES, { stopAt: [...DATA_MODULES, ...NOWCASTER_MODULES] }),
  );
}

export { nowcasterCodeVersion, nowcasterVersion } from '../methods/nino.ts';

/** Forgets the fingerprints (a checkpoint or module file was rewritten in this process). */
export function clearNowcasterVersions(): void {
  clearFingerprints();
}

export function runKey(s: BenchRunSpec, withCode = true): string {
  const spec = getTask(s.taskDef ?? s.task);
  const key = {
    spec,
    seed: s.seed,
    budget: s.budget,
    evalEvery: s.evalEvery,
    stopAtTarget: s.stopAtTarget,
    evalLimit: s.data?.evalLimit ?? null,
    method: resolveMethod(s.optimizer).key(withCode),
    code: withCode ? codeVersion() : null,
  };
  return createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 20);
}

/** A stored run for this protocol, made by any code version (for --report-only), or null. */
export function readStoredRun(s: BenchRunSpec): BenchRunResult | null {
  const path = runResultPath(s);
  if (!existsSync(path)) return null;
  let r: BenchRunResult;
  try {
    r = JSON.parse(readFileSync(path, 'utf8')) as BenchRunResult;
    if (!Array.isArray(r.curve)) throw new Error('no curve');
  } catch (e) {
    throw new InputError(
      `${path}: corrupt stored run (${(e as Error).message}); delete it and run without --report-only to make it again`,
    );
  }
  if (r.key === runKey(s)) return { ...r, code: r.code ?? codeVersion() };
  if (r.protocolKey !== undefined) return r.protocolKey === runKey(s, false) ? r : null;
  // files written before protocol keys were stored: check what the curve itself shows
  const spacingOk = r.curve.length < 2 || r.curve[1][0] - r.curve[0][0] === s.evalEvery;
  return spacingOk && r.stepsRun <= s.budget && r.task === s.task && r.seed === s.seed ? r : null;
}

export function runResultPath(s: BenchRunSpec): string {
  return join(s.outDir, 'runs', s.task, s.method, `seed-${s.seed}.json`);
}

export function runLockPath(s: BenchRunSpec): string {
  return join(s.outDir, 'runs', s.task, s.method, `.seed-${s.seed}.lock`);
}

function readIfValid(path: string, key: string): BenchRunResult | null {
  if (!existsSync(path)) return null;
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as BenchRunResult;
    return r.key === key ? r : null;
  } catch {
    return null;
  }
}

export async function benchRun(
  s: BenchRunSpec,
  o: { logger?: Logger; progress?: ProgressFn } = {},
): Promise<BenchRunResult> {
  const logger = o.logger ?? silentLogger;
  const id = `${s.task}/${s.method}/seed-${s.seed}`;
  const lock = await acquireLock(runLockPath(s), { what: `bench ${id}`, onBusy: 'wait', logger });
  try {
    return await benchRunLocked(s, id, logger, o.progress);
  } finally {
    lock.release();
  }
}

/** benchRun as a worker job (core/workers.ts runJobs): `runJobs(benchRunJob, specs, pool)`. */
export const benchRunJob = workerJob(import.meta.url, benchRun);

async function benchRunLocked(
  s: BenchRunSpec,
  id: string,
  logger: Logger,
  progress?: ProgressFn,
): Promise<BenchRunResult> {
  const o = { progress };
  const key = runKey(s);
  const outPath = runResultPath(s);
  const done = readIfValid(outPath, key);
  if (done) {
    o.progress?.({ id, done: done.stepsRun, total: done.stepsRun, info: { cached: 'yes' } });
    return done;
  }
  const method = resolveMethod(s.optimizer);
  const baseline = method.name === BASELINE_METHOD;
  const cachePath = join(s.cacheDir, `adam-${key}.json`);
  if (baseline) {
    const c = readIfValid(cachePath, key);
    if (c) {
      logger.info({ id }, 'Adam baseline from cache');
      const r = { ...c, method: s.method, fromCache: true };
      writeFileAtomic(outPath, JSON.stringify(r));
      o.progress?.({ id, done: r.stepsRun, total: r.stepsRun, info: { cached: 'yes' } });
      return r;
    }
  }

  const spec = getTask(s.taskDef ?? s.task);
  const rt = await loadTaskRuntime(spec, { ...s.data, logger });
  const params = rt.initVariables(s.seed);
  const opt = await method.create({ task: spec, model: rt.model, budget: s.budget, runtime: rt, logger });
  const events = (): readonly NowcastEvent[] => opt.events ?? [];
  const curve: [number, number][] = [];
  const higher = spec.target.metric === 'acc';
  const t0 = performance.now();
  const res = await trainRun({
    runtime: rt,
    optimizer: opt,
    params,
    sampler: rt.makeSampler(s.seed),
    steps: s.budget,
    evalEvery: s.evalEvery,
    onStep: (step, loss) => {
      if (step % 5 === 0 || step === s.budget) {
        const m = curve.length ? curve[curve.length - 1][1] : NaN;
        o.progress?.({
          id,
          done: step,
          total: s.budget,
          info: { loss: Number.isNaN(loss) ? 'jump' : loss.toFixed(3), [spec.target.metric]: m.toFixed(2) },
        });
      }
    },
    onEval: (step, r) => {
      const m = rt.metricOf(r);
      curve.push([step, m]);
      if (!Number.isFinite(m)) logger.warn({ id, step }, 'metric is not finite');
      return s.stopAtTarget && rt.reached(r);
    },
  });
  const wallSeconds = (performance.now() - t0) / 1000;
  const result: BenchRunResult = {
    task: s.task,
    seed: s.seed,
    method: s.method,
    curve,
    stepsToTarget: stepsToTarget(curve, spec.target.value, higher),
    finalMetric: curve[curve.length - 1][1],
    stepsRun: res.steps,
    wallSeconds,
    nowcastSeconds: events().reduce((a, e) => a + e.ms, 0) / 1000,
    nowcasts: [...events()],
    fromCache: false,
    key,
    protocolKey: runKey(s, false),
    code: codeVersion(),
    taskDef: spec,
  };
  params.forEach((p) => p.dispose());
  opt.dispose();
  writeFileAtomic(outPath, JSON.stringify(result));
  if (baseline) writeFileAtomic(cachePath, JSON.stringify(result));
  logger.info({ id, stepsToTarget: result.stepsToTarget, seconds: Number(wallSeconds.toFixed(1)) }, 'run finished');
  return result;
}
