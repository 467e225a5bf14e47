/**
 * `nino bench` as a library function: expands a suite into runs (task x seed x method), runs them in
 * parallel workers (resumable: finished runs are reused), and writes the reports. Every task, seed,
 * option and nowcaster reference is checked (validateBench) before any folder is made or run started.
 *
 *   const r = await runBench(loadSuite('ci'), { outDir: 'runs/bench', workers: 2, backend: 'wasm' });
 *   console.log(r.markdown);
 */
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../core/fsutil.ts';
import { checkSeed } from '../core/rng.ts';
import { loadCheckpoint } from '../model/checkpoint.ts';
import type { Logger, ProgressFn } from '../core/logger.ts';
import { silentLogger } from '../core/logger.ts';
import { TOOL_VERSION } from '../core/version.ts';
import { jobModule, runJobs } from '../core/workers.ts';
import { nowcasterLabel, nowcasterPath } from '../nowcast/resolve.ts';
import { getTask, withTarget, type TaskSpec } from '../tasks/registry.ts';
import type { RuntimeOptions } from '../tasks/runtime.ts';
import { curvesCsv, markdownTable, summarize, taskSvg, type SummaryRow } from './report.ts';
import { codeVersion, readStoredRun, type BenchRunResult, type BenchRunSpec } from './run.ts';
import type { Suite, SuiteTask } from './suite.ts';

export interface BenchOptions {
  outDir: string;
  cacheDir?: string;
  workers: number;
  backend: string;
  data?: RuntimeOptions;
  nowcastOptions?: BenchRunSpec['nowcastOptions'];
  /**
   * Render the reports from the run files already in `outDir` without training anything. Runs made by
   * another code version are accepted (their protocol key minus the code version must match) and the
   * report lists the code versions they came from.
   */
  reportOnly?: boolean;
  logger?: Logger;
  progress?: ProgressFn;
}

export interface BenchReport {
  rows: SummaryRow[];
  runs: BenchRunResult[];
  markdown: string;
  /** nowcaster/task pairs whose speedup is below the suite's minSpeedup */
  belowMin: { task: string; method: string; speedup: number; min: number }[];
  /** which code versions produced the runs */
  provenance: string;
}

/** a bad task, seed, option or nowcaster in a bench (the CLI reports it as a usage error) */
export class BenchInputError extends Error {}

/**
 * Checks everything a bench needs before it starts: tasks exist, seeds are in range and distinct (a
 * seed given twice would be paired with itself and narrow the interval), options are positive
 * integers, and every nowcaster reference resolves to a readable checkpoint with a distinct label
 * (labels only with reportOnly: rendering stored runs needs no checkpoint).
 */
export function validateBench(suite: Suite, o: { reportOnly?: boolean } = {}): void {
  const fail = (m: string): never => {
    throw new BenchInputError(m);
  };
  if (!suite.tasks.length) fail('the bench has no tasks');
  for (const t of suite.tasks) {
    try {
      getTask(t.task);
    } catch (e) {
      fail((e as Error).message);
    }
    const seen = new Set<number>();
    for (const s of t.seeds) {
      try {
        checkSeed(s, `${t.task}: seed`);
      } catch (e) {
        fail((e as Error).message);
      }
      if (seen.has(s)) fail(`${t.task}: seed ${s} is given twice`);
      seen.add(s);
    }
    if (!seen.size) fail(`${t.task}: no seeds`);
    if (t.targetValue !== undefined && !Number.isFinite(t.targetValue)) fail(`${t.task}: target value must be a number (got ${t.targetValue})`);
    for (const k of ['budget', 'evalEvery', 'period', 'evalLimit'] as const) {
      const v = t[k];
      if (v !== undefined && !(Number.isInteger(v) && v > 0)) fail(`${t.task}: ${k} must be a positive integer (got ${v})`);
    }
    // NiNo records 5 states per period (one every period/5 steps): a period that does not divide fails here,
    // not when the first nowcaster run starts after the Adam baseline
    if (suite.nowcasters.length && t.period !== undefined && t.period % 5 !== 0) {
      fail(`${t.task}: period ${t.period} does not divide into 5 states (one every period/5 steps); use a multiple of 5, e.g. ${Math.max(5, Math.round(t.period / 5) * 5)}`);
    }
  }
  const labels = new Map<string, string>([['adam', 'Adam']]);
  for (const ref of suite.nowcasters) {
    const label = nowcasterLabel(ref);
    if (labels.has(label)) fail(`nowcaster '${ref}' has the same label '${label}' as '${labels.get(label)}'; give each method once`);
    labels.set(label, ref);
    if (o.reportOnly) continue;
    let path: string | null = null;
    try {
      path = nowcasterPath(ref);
      if (path) loadCheckpoint(path);
    } catch (e) {
      fail(`--nowcaster '${ref}': ${(e as Error).message}`);
    }
  }
}

/** The task a suite entry runs: its definition (name or task file) with the entry's target override. */
export function resolvedTask(t: SuiteTask): TaskSpec {
  return withTarget(getTask(t.task), t.targetValue);
}

export function expandRuns(suite: Suite, o: BenchOptions): BenchRunSpec[] {
  const specs: BenchRunSpec[] = [];
  const methods: [string, string | null][] = [['adam', null], ...suite.nowcasters.map((n): [string, string] => [nowcasterLabel(n), n])];
  for (const t of suite.tasks) {
    const task = resolvedTask(t);
    for (const [method, nowcaster] of methods)
      for (const seed of t.seeds)
        specs.push({
          task: task.name,
          taskDef: task,
          seed,
          method,
          nowcaster,
          budget: t.budget ?? task.steps,
          evalEvery: t.evalEvery ?? task.evalEvery,
          period: t.period ?? task.period,
          stopAtTarget: suite.stopAtTarget ?? true,
          outDir: o.outDir,
          cacheDir: o.cacheDir ?? join(o.outDir, '..', '.adam-cache'),
          data: { ...o.data, evalLimit: t.evalLimit ?? o.data?.evalLimit },
          nowcastOptions: o.nowcastOptions,
        });
  }
  return specs;
}

export async function runBench(suite: Suite, o: BenchOptions): Promise<BenchReport> {
  const logger = o.logger ?? silentLogger;
  validateBench(suite, { reportOnly: o.reportOnly });
  ensureDir(o.outDir);
  const specs = expandRuns(suite, o);
  // longest runs first (Adam) so both workers stay busy to the end
  const order = specs.map((s, i) => i).sort((a, b) => Number(specs[b].nowcaster === null) - Number(specs[a].nowcaster === null));
  logger.info({ suite: suite.name, runs: specs.length, workers: o.workers }, 'bench starting');
  let runs: BenchRunResult[];
  const codeVersions = new Set<string>();
  if (o.reportOnly) {
    runs = specs.map((s) => {
      const r = readStoredRun(s);
      if (!r) throw new Error(`--report-only: no stored run for ${s.task}/${s.method}/seed-${s.seed} with this protocol in ${o.outDir}`);
      codeVersions.add(r.code ?? 'unknown');
      return r;
    });
  } else {
    const mod = jobModule('./run.ts', import.meta.url);
    const ordered = await runJobs<BenchRunResult>(
      order.map((i) => ({ module: mod, fn: 'benchRun', args: specs[i] })),
      { workers: o.workers, backend: o.backend, logger, progress: o.progress },
    );
    runs = new Array(specs.length);
    order.forEach((i, j) => (runs[i] = ordered[j]));
    codeVersions.add(codeVersion());
  }
  const tasks = suite.tasks.map((t) => {
    const spec = resolvedTask(t);
    return { name: spec.name, budget: t.budget ?? spec.steps, target: `${spec.target.metric} ${spec.target.metric === 'acc' ? '≥' : '≤'} ${spec.target.value}` };
  });
  const rows = summarize(runs, tasks);
  const markdown = markdownTable(rows);
  const belowMin: BenchReport['belowMin'] = [];
  for (const r of rows) {
    const min = suite.minSpeedup?.[r.method];
    if (min !== undefined && r.speedup && !(r.speedup.geoMean >= min)) belowMin.push({ task: r.task, method: r.method, speedup: r.speedup.geoMean, min });
  }
  const meta = { suite, toolVersion: TOOL_VERSION, created: new Date().toISOString(), backend: o.backend, codeVersions: [...codeVersions] };
  const provenance = `runs made by nino code version(s) ${[...codeVersions].join(', ')}${o.reportOnly ? ' (report rendered from stored runs)' : ''}`;
  writeFileAtomic(join(o.outDir, 'summary.md'), `# nino bench: ${suite.name}\n\n${suite.description ?? ''}\n\n${markdown}\n\n${provenance}\n`);
  writeFileAtomic(join(o.outDir, 'summary.json'), JSON.stringify({ ...meta, rows, runs }, null, 1));
  writeFileAtomic(join(o.outDir, 'curves.csv'), curvesCsv(runs));
  for (const t of suite.tasks) {
    const spec = resolvedTask(t);
    writeFileAtomic(join(o.outDir, `${spec.name}.svg`), taskSvg(spec.name, runs.filter((r) => r.task === spec.name), spec.target.value, spec.target.metric));
  }
  return { rows, runs, markdown, belowMin, provenance };
}
