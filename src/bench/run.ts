/**
 * One benchmark run: (task, seed, method) trained from the seed's initial parameters with the seed's
 * data order, evaluated every `evalEvery` steps, until the target is reached (or the budget ends).
 * Adam and Adam+nowcaster runs differ only in the optimizer object; the loop never asks which.
 *
 * Adam baselines are cached by (task spec, seed, budget, eval protocol, code version), so adding a
 * nowcaster does not re-run Adam; a change to any of those (including nino's training code) misses the
 * cache. Finished runs are also stored under the output folder, so an interrupted bench resumes.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../core/fsutil.ts';
import type { Logger, ProgressFn } from '../core/logger.ts';
import { silentLogger } from '../core/logger.ts';
import { TOOL_VERSION } from '../core/version.ts';
import { isSourceModule } from '../core/workers.ts';
import { NiNo, type NowcastEvent } from '../nowcast/nino.ts';
import { nowcasterPath, resolveNowcaster } from '../nowcast/resolve.ts';
import { AdamW } from '../optim/adamw.ts';
import { getTask } from '../tasks/registry.ts';
import { loadTaskRuntime, type RuntimeOptions } from '../tasks/runtime.ts';
import { trainRun } from '../training/loop.ts';
import { stepsToTarget } from './stats.ts';

export interface BenchRunSpec {
  task: string;
  seed: number;
  /** label of the method in tables ('adam', 'linefit', 'nino_no_posw', ...) */
  method: string;
  /** nowcaster reference (see resolveNowcaster), null for plain Adam */
  nowcaster: string | null;
  budget: number;
  evalEvery: number;
  period: number;
  /** stop as soon as the target is reached (steps-to-target only); false runs the whole budget */
  stopAtTarget: boolean;
  outDir: string;
  /** Adam cache folder (default <outDir>/../.adam-cache) */
  cacheDir: string;
  data?: RuntimeOptions;
  /** nowcaster inference options (transformer block-by-block, edge sampling, edge chunks) */
  nowcastOptions?: { subgraph?: boolean; edgeSampleRatio?: number; chunkEdges?: number };
}

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
}

/** Hashes the code files of `dirs` (the .ts sources, or the .js files of the compiled package); `skip` names sources ('tasks/registry.ts'). */
function hashDirs(h: ReturnType<typeof createHash>, dirs: readonly string[], skip: ReadonlySet<string> = new Set()): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const ext = isSourceModule(import.meta.url) ? '.ts' : '.js';
  const isCode = (x: string) => x.endsWith(ext) && !x.endsWith('.d.ts');
  for (const dir of dirs) {
    const d = join(root, dir);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d).filter((x) => isCode(x) && !skip.has(`${dir}/${x.slice(0, -ext.length)}.ts`)).sort()) h.update(f).update(readFileSync(join(d, f)));
  }
}

const nowcasterHashes = new Map<string, string>();
/**
 * What a nowcaster run depends on beyond the Adam run: the nowcasting code (graphs, models, wrapper) and
 * the bytes of the checkpoint the reference points to, so a retrained checkpoint (same name) or a change
 * to the nowcasting code re-runs the method instead of reusing a stored result.
 */
export function nowcasterVersion(ref: string): string {
  const path = nowcasterPath(ref);
  const id = `${ref}\0${path ?? ''}`;
  const known = nowcasterHashes.get(id);
  if (known) return known;
  const h = createHash('sha256');
  hashDirs(h, ['graph', 'model', 'nowcast']);
  if (path) h.update(readFileSync(path));
  const v = h.digest('hex').slice(0, 16);
  nowcasterHashes.set(id, v);
  return v;
}

/** Forgets the nowcaster fingerprints (a checkpoint file was rewritten in this process). */
export function clearNowcasterVersions(): void {
  nowcasterHashes.clear();
}

let codeHash: string | null = null;
/**
 * Hash of the source that determines an Adam run's numbers (training, tasks, data, optimizers, core).
 * The task registry is left out: it is data, and the whole spec of the task a run uses is part of the
 * run key, so adding or editing another task does not throw away the cached Adam runs of this one.
 */
const UNHASHED = new Set(['tasks/registry.ts']);
export function codeVersion(): string {
  if (codeHash) return codeHash;
  const h = createHash('sha256').update(TOOL_VERSION);
  hashDirs(h, ['core', 'core/kernels', 'data', 'tasks', 'tasks/models', 'optim', 'training'], UNHASHED);
  codeHash = h.digest('hex').slice(0, 16);
  return codeHash;
}

export function runKey(s: BenchRunSpec, withCode = true): string {
  const spec = getTask(s.task);
  const key = {
    spec,
    seed: s.seed,
    budget: s.budget,
    evalEvery: s.evalEvery,
    stopAtTarget: s.stopAtTarget,
    evalLimit: s.data?.evalLimit ?? null,
    method:
      s.nowcaster === null
        ? 'adam'
        : { nowcaster: s.nowcaster, period: s.period, options: s.nowcastOptions ?? null, ...(withCode ? { version: nowcasterVersion(s.nowcaster) } : {}) },
    code: withCode ? codeVersion() : null,
  };
  return createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 20);
}

/** A stored run for this protocol, made by any code version (for --report-only), or null. */
export function readStoredRun(s: BenchRunSpec): BenchRunResult | null {
  const path = runResultPath(s);
  if (!existsSync(path)) return null;
  const r = JSON.parse(readFileSync(path, 'utf8')) as BenchRunResult;
  if (r.key === runKey(s)) return { ...r, code: r.code ?? codeVersion() };
  if (r.protocolKey !== undefined) return r.protocolKey === runKey(s, false) ? r : null;
  // files written before protocol keys were stored: check what the curve itself shows
  const spacingOk = r.curve.length < 2 || r.curve[1][0] - r.curve[0][0] === s.evalEvery;
  return spacingOk && r.stepsRun <= s.budget && r.task === s.task && r.seed === s.seed ? r : null;
}

export function runResultPath(s: BenchRunSpec): string {
  return join(s.outDir, 'runs', s.task, s.method, `seed-${s.seed}.json`);
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

export async function benchRun(s: BenchRunSpec, o: { logger?: Logger; progress?: ProgressFn } = {}): Promise<BenchRunResult> {
  const logger = o.logger ?? silentLogger;
  const key = runKey(s);
  const id = `${s.task}/${s.method}/seed-${s.seed}`;
  const outPath = runResultPath(s);
  const done = readIfValid(outPath, key);
  if (done) {
    o.progress?.({ id, done: done.stepsRun, total: done.stepsRun, info: { cached: 'yes' } });
    return done;
  }
  const cachePath = join(s.cacheDir, `adam-${key}.json`);
  if (s.nowcaster === null) {
    const c = readIfValid(cachePath, key);
    if (c) {
      logger.info({ id }, 'Adam baseline from cache');
      const r = { ...c, method: s.method, fromCache: true };
      writeFileAtomic(outPath, JSON.stringify(r));
      o.progress?.({ id, done: r.stepsRun, total: r.stepsRun, info: { cached: 'yes' } });
      return r;
    }
  }

  const spec = getTask(s.task);
  const rt = await loadTaskRuntime(spec, { ...s.data, logger });
  const params = rt.initVariables(s.seed);
  const base = new AdamW({ lr: spec.lr, weightDecay: spec.weightDecay });
  const nowcaster = s.nowcaster === null ? null : await resolveNowcaster(s.nowcaster, { model: rt.model, logger, ...s.nowcastOptions });
  const opt = new NiNo({ baseOpt: base, nowcaster, period: s.period, maxTrainSteps: s.budget, logger });
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
        o.progress?.({ id, done: step, total: s.budget, info: { loss: Number.isNaN(loss) ? 'jump' : loss.toFixed(3), [spec.target.metric]: m.toFixed(2) } });
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
    nowcastSeconds: opt.events.reduce((a, e) => a + e.ms, 0) / 1000,
    nowcasts: opt.events,
    fromCache: false,
    key,
    protocolKey: runKey(s, false),
    code: codeVersion(),
  };
  params.forEach((p) => p.dispose());
  opt.dispose();
  writeFileAtomic(outPath, JSON.stringify(result));
  if (s.nowcaster === null) writeFileAtomic(cachePath, JSON.stringify(result));
  logger.info({ id, stepsToTarget: result.stepsToTarget, seconds: Number(wallSeconds.toFixed(1)) }, 'run finished');
  return result;
}
