/**
 * `nino bench` as a library function: expands a suite into runs (task x seed x method), runs them in
 * parallel workers (resumable: finished runs are reused), and writes the reports. Every task, seed,
 * option and nowcaster reference is checked (validateBench) before any folder is made or run started.
 *
 * Sharded (`shard`, core/shard.ts): only this shard's runs are trained, into the shared outDir (each
 * stored run is locked while it is made, bench/run.ts), and no report is written: a later
 * `reportOnly` call merges whatever runs are stored and lists the ones still missing.
 *
 *   const r = await runBench(loadSuite('ci'), { outDir: 'runs/bench', workers: 2, backend: 'wasm' });
 *   console.log(r.markdown);
 */
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../core/fsutil.ts';
import { checkSeed } from '../core/rng.ts';
import { checkShardLayout, NO_SHARD, selectShard, type Shard } from '../core/shard.ts';
import type { Logger, ProgressFn } from '../core/logger.ts';
import { silentLogger } from '../core/logger.ts';
import { TOOL_VERSION } from '../core/version.ts';
import { runJobs } from '../core/workers.ts';
import {
  ADAM,
  ninoMethod,
  resolveMethod,
  type MethodSpec,
  type NiNoMethodOptions,
  type NowcastInferenceOptions,
} from '../methods/registry.ts';
import { getTask, withTarget, type TaskSpec } from '../tasks/registry.ts';
import type { RuntimeOptions } from '../tasks/runtime.ts';
import { curvesCsv, markdownTable, summarize, taskSvg, type SummaryRow } from './report.ts';
import {
  BASELINE_METHOD,
  benchRunJob,
  codeVersion,
  readStoredRun,
  type BenchRunResult,
  type BenchRunSpec,
} from './run.ts';
import type { Suite, SuiteTask } from './suite.ts';

export interface BenchOptions {
  outDir: string;
  cacheDir?: string;
  workers: number;
  backend: string;
  data?: RuntimeOptions;
  /** nowcaster inference options of the 'nino' runs (transformer block-by-block, edge sampling, edge chunks) */
  nowcastOptions?: NowcastInferenceOptions;
  /** folder looked in first for 'official:<name>' nowcasters (the CLI passes $NINO_OFFICIAL_DIR) */
  officialDir?: string;
  /** also run each nowcaster with verified jumps (method label '<nowcaster>+check') */
  checkJumps?: boolean;
  /** also run each nowcaster with jumps judged this many steps later (method label '<nowcaster>+lookahead<L>') */
  lookahead?: number;
  /**
   * Render the reports from the run files already in `outDir` without training anything. Runs made by
   * another code version are accepted (their protocol key minus the code version must match) and the
   * report lists the code versions they came from.
   */
  reportOnly?: boolean;
  /** train only this shard's part of the runs (default: all); no report is written when sharded */
  shard?: Shard;
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
  /** reportOnly: the runs of the bench not (yet) stored in outDir, as 'task/method/seed-N' */
  missing: string[];
  /** false for a shard of a sharded bench: the reports (summary.md, ...) were not written */
  reportsWritten: boolean;
}

/** The key a run is sorted and sharded by. */
export function runJobKey(s: BenchRunSpec): [string, string, number] {
  return [s.task, s.method, s.seed];
}

export function runId(s: { task: string; method: string; seed: number }): string {
  return `${s.task}/${s.method}/seed-${s.seed}`;
}

/** a bad task, seed, option or nowcaster in a bench (the CLI reports it as a usage error) */
export class BenchInputError extends Error {}

/**
 * Checks everything a bench needs before it starts: tasks exist, seeds are in range and distinct (a
 * seed given twice would be paired with itself and narrow the interval), options are positive
 * integers, and every nowcaster reference resolves to a readable checkpoint with a distinct label
 * (labels only with reportOnly: rendering stored runs needs no checkpoint).
 */
export function validateBench(suite: Suite, o: { reportOnly?: boolean; officialDir?: string } = {}): void {
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
    if (t.targetValue !== undefined && !Number.isFinite(t.targetValue))
      fail(`${t.task}: target value must be a number (got ${t.targetValue})`);
    for (const k of ['budget', 'evalEvery', 'period', 'evalLimit'] as const) {
      const v = t[k];
      if (v !== undefined && !(Number.isInteger(v) && v > 0))
        fail(`${t.task}: ${k} must be a positive integer (got ${v})`);
    }
    // NiNo records 5 states per period (one every period/5 steps): a period that does not divide fails here,
    // not when the first nowcaster run starts after the Adam baseline
    if (suite.nowcasters.length && t.period !== undefined && t.period % 5 !== 0) {
      fail(
        `${t.task}: period ${t.period} does not divide into 5 states (one every period/5 steps); use a multiple of 5, e.g. ${Math.max(5, Math.round(t.period / 5) * 5)}`,
      );
    }
  }
  const labels = new Map<string, string>([['adam', 'Adam']]);
  for (const ref of suite.nowcasters) {
    // the period does not change a label or what loads: any valid one checks the reference
    const method = resolveMethod(ninoMethod({ nowcaster: ref, period: 5, officialDir: o.officialDir }));
    const label = method.label;
    if (labels.has(label))
      fail(`nowcaster '${ref}' has the same label '${label}' as '${labels.get(label)}'; give each method once`);
    labels.set(label, ref);
    if (o.reportOnly) continue;
    try {
      method.check();
    } catch (e) {
      fail(`--nowcaster '${ref}': ${(e as Error).message}`);
    }
  }
}

/**
 * The methods of a bench, as [label, spec] for one suite entry: the baseline (Adam) first, then NiNo with
 * each of the suite's nowcasters at the entry's period.
 */
export function benchMethods(
  suite: Suite,
  period: number,
  o: Pick<BenchOptions, 'nowcastOptions' | 'officialDir' | 'checkJumps' | 'lookahead'> = {},
): [string, MethodSpec][] {
  const out: [string, MethodSpec][] = [[BASELINE_METHOD, ADAM]];
  const checks: Pick<NiNoMethodOptions, 'checkJumps' | 'lookahead'>[] = [{}];
  if (o.checkJumps) checks.push({ checkJumps: true });
  if (o.lookahead) checks.push({ lookahead: o.lookahead });
  for (const nowcaster of suite.nowcasters) {
    for (const check of checks) {
      const spec = ninoMethod({
        nowcaster,
        period,
        ...(o.nowcastOptions ? { nowcastOptions: o.nowcastOptions } : {}),
        ...(o.officialDir ? { officialDir: o.officialDir } : {}),
        ...check,
      });
      out.push([resolveMethod(spec).label, spec]);
    }
  }
  return out;
}

/** The task a suite entry runs: its definition (name or task file) with the entry's target override. */
export function resolvedTask(t: SuiteTask): TaskSpec {
  return withTarget(getTask(t.task), t.targetValue);
}

export function expandRuns(suite: Suite, o: BenchOptions): BenchRunSpec[] {
  const specs: BenchRunSpec[] = [];
  for (const t of suite.tasks) {
    const task = resolvedTask(t);
    for (const [method, optimizer] of benchMethods(suite, t.period ?? task.period, o))
      for (const seed of t.seeds)
        specs.push({
          task: task.name,
          taskDef: task,
          seed,
          method,
          optimizer,
          budget: t.budget ?? task.steps,
          evalEvery: t.evalEvery ?? task.evalEvery,
          stopAtTarget: suite.stopAtTarget ?? true,
          outDir: o.outDir,
          cacheDir: o.cacheDir ?? join(o.outDir, '..', '.adam-cache'),
          data: { ...o.data, evalLimit: t.evalLimit ?? o.data?.evalLimit },
        });
  }
  return specs;
}

/**
 * Checks (and on first use records) the shard layout of `o.outDir` for this bench's runs: a count or
 * job list that differs from the record is an InputError, raised before anything is written. No-op
 * for one shard and for reportOnly. runBench calls it; the CLI also calls it before a backend starts.
 */
export function checkBenchShard(suite: Suite, o: BenchOptions): void {
  if (o.reportOnly || !o.shard) return;
  checkShardLayout(o.outDir, o.shard, 'bench', expandRuns(suite, o).map(runJobKey));
}

export async function runBench(suite: Suite, o: BenchOptions): Promise<BenchReport> {
  const logger = o.logger ?? silentLogger;
  const shard = o.shard ?? NO_SHARD;
  validateBench(suite, { reportOnly: o.reportOnly, officialDir: o.officialDir });
  if (o.reportOnly && shard.count > 1)
    throw new BenchInputError('--report-only merges every shard; give it without --shard');
  const all = expandRuns(suite, o);
  checkBenchShard(suite, o);
  ensureDir(o.outDir);
  const specs = o.reportOnly ? all : selectShard(all, runJobKey, shard);
  if (shard !== NO_SHARD)
    logger.info(
      { shard: `${shard.index}/${shard.count}`, from: shard.source, runs: specs.length, of: all.length },
      `shard ${shard.index}/${shard.count}: ${specs.length} of ${all.length} runs`,
    );
  // longest runs first (Adam) so both workers stay busy to the end
  const isBaseline = (s: BenchRunSpec) => Number(s.optimizer.name === BASELINE_METHOD);
  const order = specs.map((s, i) => i).sort((a, b) => isBaseline(specs[b]) - isBaseline(specs[a]));
  logger.info({ suite: suite.name, runs: specs.length, workers: o.workers }, 'bench starting');
  let runs: BenchRunResult[];
  const missing: string[] = [];
  const codeVersions = new Set<string>();
  if (o.reportOnly) {
    runs = [];
    for (const s of specs) {
      const r = readStoredRun(s);
      if (!r) {
        missing.push(runId(s));
        continue;
      }
      codeVersions.add(r.code ?? 'unknown');
      runs.push(r);
    }
    if (missing.length)
      logger.warn(
        { missing: missing.length, of: specs.length },
        `${missing.length} of ${specs.length} runs are not stored in ${o.outDir} yet`,
      );
  } else {
    const ordered = await runJobs(
      benchRunJob,
      order.map((i) => specs[i]),
      { workers: o.workers, backend: o.backend, logger, progress: o.progress },
    );
    runs = new Array(specs.length);
    order.forEach((i, j) => (runs[i] = ordered[j]));
    codeVersions.add(codeVersion());
  }
  const tasks = suite.tasks.map((t) => {
    const spec = resolvedTask(t);
    return {
      name: spec.name,
      budget: t.budget ?? spec.steps,
      target: `${spec.target.metric} ${spec.target.metric === 'acc' ? '≥' : '≤'} ${spec.target.value}`,
    };
  });
  const rows = summarize(runs, tasks);
  const markdown = markdownTable(rows);
  const belowMin: BenchReport['belowMin'] = [];
  for (const r of rows) {
    const min = suite.minSpeedup?.[r.method];
    if (min !== undefined && r.speedup && !(r.speedup.geoMean >= min))
      belowMin.push({ task: r.task, method: r.method, speedup: r.speedup.geoMean, min });
  }
  const provenance = `runs made by nino code version(s) ${[...codeVersions].join(', ') || 'none'}${o.reportOnly ? ' (report rendered from stored runs)' : ''}`;
  if (shard.count > 1) return { rows, runs, markdown, belowMin, provenance, missing, reportsWritten: false };
  const missingMd = missing.length
    ? `\n\nmissing: ${missing.length} of ${specs.length} runs are not stored yet (their shards have not finished): ${missing.join(', ')}`
    : '';
  const meta = {
    suite,
    toolVersion: TOOL_VERSION,
    created: new Date().toISOString(),
    backend: o.backend,
    codeVersions: [...codeVersions],
  };
  writeFileAtomic(
    join(o.outDir, 'summary.md'),
    `# nino bench: ${suite.name}\n\n${suite.description ?? ''}\n\n${markdown}${missingMd}\n\n${provenance}\n`,
  );
  writeFileAtomic(join(o.outDir, 'summary.json'), JSON.stringify({ ...meta, rows, runs, missing }, null, 1));
  writeFileAtomic(join(o.outDir, 'curves.csv'), curvesCsv(runs));
  for (const t of suite.tasks) {
    const spec = resolvedTask(t);
    writeFileAtomic(
      join(o.outDir, `${spec.name}.svg`),
      taskSvg(
        spec.name,
        runs.filter((r) => r.task === spec.name),
        spec.target.value,
        spec.target.metric,
      ),
    );
  }
  return { rows, runs, markdown, belowMin, provenance, missing, reportsWritten: true };
}
