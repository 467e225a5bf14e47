/** `nino bench`: steps-to-target with and without nowcasting; speedup tables and plots. */
import type { Command } from 'commander';
import { appendFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { initBackend } from '../core/backend.ts';
import { BenchInputError, checkBenchShard, runBench, validateBench } from '../bench/bench.ts';
import { loadSuite, suiteNames, type Suite } from '../bench/suite.ts';
import { SEED_MAX } from '../core/rng.ts';
import { EXIT } from '../core/errors.ts';
import { NO_SHARD, resolveShard } from '../core/shard.ts';
import { defaultNowcasterRef } from '../nowcast/index.ts';
import { resolve } from 'node:path';
import { getTask, isTaskFileRef } from '../tasks/registry.ts';
import { checkTaskData } from '../tasks/runtime.ts';
import { readEnv } from './env.ts';
import {
  addInferenceOptions,
  makeLogger,
  makeProgress,
  parsePositiveInt,
  parsePositiveNumber,
  parseSeeds,
  UsageError,
  type GlobalOpts,
} from './common.ts';

interface BenchOpts {
  suite?: string;
  task?: string[];
  seeds: string;
  nowcaster?: string[];
  budget?: number;
  evalEvery?: number;
  period?: number;
  evalLimit?: number;
  target?: number;
  out: string;
  workers: number;
  dataDir?: string;
  minSpeedup?: number;
  full?: boolean;
  subgraph?: boolean;
  reportOnly?: boolean;
  checkJumps?: boolean;
  jumpLookahead?: number;
  edgeSampleRatio?: number;
  chunkEdges?: number;
  shard?: string;
  requireComplete?: boolean;
}

export function registerBench(program: Command): void {
  addInferenceOptions(program.command('bench'))
    .description('measure steps-to-target of Adam with and without nowcasting and print a speedup table')
    .option('--suite <name|file>', `a suite from configs/ (${suiteNames().join(', ')}) or a JSON file`)
    .option('-t, --task <name...>', 'task(s) to run instead of a suite: names or task files (./my-task.json)')
    .option(
      '--target <value>',
      "target value of the task's metric instead of the task's (accuracy % or perplexity)",
      parsePositiveNumber('target'),
    )
    .option(
      '-s, --seeds <range>',
      `seeds for --task: A..B, a list, one number, or a mix (1..4,9); integers 0..${SEED_MAX}, each once`,
      '1000,2000',
    )
    .option(
      '-n, --nowcaster <ref...>',
      "nowcasters next to Adam: 'project' (default: nino's own checkpoint), 'project-mlp', 'official:nino_no_posw', 'linefit', or a checkpoint path",
    )
    .option('--budget <steps>', "step budget (default: the task's)", parsePositiveInt('budget'))
    .option('--eval-every <steps>', "evaluate every n steps (default: the task's)", parsePositiveInt('eval-every'))
    .option('--period <steps>', "NiNo period (default: the task's)", parsePositiveInt('period'))
    .option('--eval-limit <n>', 'evaluate on the first n held-out examples only', parsePositiveInt('eval-limit'))
    .option(
      '--check-jumps',
      'also run each nowcaster with verified jumps ("<nowcaster>+check"): a fixed check batch decides whether each jump is taken whole, shrunk (1/2, 1/4) or skipped',
    )
    .option(
      '--jump-lookahead <steps>',
      'also run each nowcaster with look-ahead verified jumps ("<nowcaster>+lookahead<steps>"): each jump is judged <steps> Adam steps later on the check batch and undone if the loss has not come back below its value before the jump',
      parsePositiveInt('jump-lookahead'),
    )
    .option(
      '--report-only',
      'render the reports from the runs already stored in --out (no training): merges the runs of every shard and lists the missing ones',
    )
    .option('--full', 'run every method to the full budget instead of stopping at the target')
    .option('-o, --out <dir>', 'report folder (summary.md/json, curves.csv, <task>.svg, runs/)', 'runs/bench')
    .option(
      '-w, --workers <n>',
      'parallel worker threads',
      parsePositiveInt('workers'),
      Math.max(1, availableParallelism()),
    )
    .option('--data-dir <dir>', 'folder holding the dataset files')
    .option(
      '--shard <i/n>',
      'run only part i of n (0-based) of the (task, seed, method) runs, no report; default: from JOB_COMPLETION_INDEX + NINO_SHARD_COUNT (Kubernetes) or SLURM_ARRAY_TASK_* (Slurm), else all',
    )
    .option(
      '--require-complete',
      'with --report-only: exit 1 when any run of the bench is not stored yet (default: report the missing ones, exit 0)',
    )
    .option(
      '--min-speedup <x>',
      'exit non-zero when any nowcaster speedup is below x',
      parsePositiveNumber('min-speedup'),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  nino bench --suite ci\n  nino bench --task FM-16-3k --seeds 1..4 --nowcaster official:nino_no_posw linefit\n' +
        '  nino bench --suite ci --shard 0/2 --out /shared/b   # and --shard 1/2 on another machine, then:\n' +
        '  nino bench --suite ci --report-only --out /shared/b',
    )
    .action(async (o: BenchOpts, cmd: Command) => {
      const g = cmd.optsWithGlobals() as GlobalOpts;
      if (!o.suite && !o.task) throw new UsageError('give --suite NAME or --task T (see nino bench --help)');
      if (o.suite && o.task) throw new UsageError('give either --suite or --task, not both');
      let suite: Suite;
      if (o.suite) suite = loadSuite(o.suite);
      else {
        const seeds = parseSeeds(o.seeds);
        if (o.task!.includes('-'))
          throw new UsageError(
            '--task -: bench reads task files from paths (the runs refer to them), not from stdin; save it to a file',
          );
        suite = {
          name: 'custom',
          nowcasters: o.nowcaster ?? [defaultNowcasterRef()],
          tasks: o.task!.map((t) => ({ task: isTaskFileRef(t) && t !== '-' ? resolve(t) : getTask(t).name, seeds })),
        };
      }
      suite.tasks = suite.tasks.map((t) => ({
        ...t,
        budget: o.budget ?? t.budget,
        evalEvery: o.evalEvery ?? t.evalEvery,
        period: o.period ?? t.period,
        evalLimit: o.evalLimit ?? t.evalLimit,
        targetValue: o.target ?? t.targetValue,
      }));
      if (o.nowcaster && o.suite) suite.nowcasters = o.nowcaster;
      if (o.full) suite.stopAtTarget = false;
      if (o.reportOnly && o.shard !== undefined)
        throw new UsageError('--report-only merges the runs of every shard; give it without --shard');
      if (o.requireComplete && !o.reportOnly) throw new UsageError('--require-complete goes with --report-only');
      // the merge runs once, after (or while) the shards run: a scheduler's shard variables do not apply to it
      const envShard =
        o.reportOnly &&
        (process.env.JOB_COMPLETION_INDEX !== undefined || process.env.SLURM_ARRAY_TASK_ID !== undefined);
      const shard = o.reportOnly ? NO_SHARD : resolveShard(o.shard, process.env);
      const env = readEnv();
      // everything is checked before a backend starts, a folder is made or a run is trained
      try {
        validateBench(suite, { reportOnly: o.reportOnly, officialDir: env.officialDir });
      } catch (e) {
        if (e instanceof BenchInputError) throw new UsageError(e.message);
        throw e;
      }
      // a task file's own data is read and checked against its model before anything is written
      if (!o.reportOnly) for (const t of suite.tasks) await checkTaskData(getTask(t.task), env.source);
      checkBenchShard(suite, { outDir: o.out, workers: o.workers, backend: '', reportOnly: o.reportOnly, shard });
      const logger = makeLogger(g);
      if (envShard)
        logger.info('--report-only merges every shard: JOB_COMPLETION_INDEX / SLURM_ARRAY_TASK_ID are ignored');
      const backend = await initBackend(g.backend, logger);
      const bars = makeProgress(g.progress !== false);
      let report;
      try {
        report = await runBench(suite, {
          outDir: o.out,
          workers: o.workers,
          backend: backend.name,
          data: { dataDir: o.dataDir, ...env.source },
          officialDir: env.officialDir,
          nowcastOptions: { subgraph: o.subgraph, edgeSampleRatio: o.edgeSampleRatio, chunkEdges: o.chunkEdges },
          checkJumps: o.checkJumps,
          lookahead: o.jumpLookahead,
          reportOnly: o.reportOnly,
          shard,
          logger,
          progress: bars.progress,
        });
      } finally {
        bars.stop();
      }
      if (!report.reportsWritten) {
        process.stdout.write(
          `shard ${shard.index}/${shard.count} (${shard.source}): ${report.runs.length} runs stored in ${o.out}/runs\n` +
            `when every shard has finished, merge them: the same nino bench arguments with --report-only (no --shard)\n`,
        );
        return;
      }
      const missing = report.missing.length
        ? `\nmissing: ${report.missing.length} of ${report.missing.length + report.runs.length} runs are not stored yet: ${report.missing.join(', ')}\n`
        : '';
      process.stdout.write(
        `\n${report.markdown}\n${missing}\n${report.provenance}\nreports in ${o.out} (summary.md, summary.json, curves.csv, svg plots)\n`,
      );
      if (report.missing.length && o.requireComplete) {
        process.stderr.write(
          `nino: error: --require-complete: ${report.missing.length} runs are not stored in ${o.out} yet (${report.missing.slice(0, 5).join(', ')}${report.missing.length > 5 ? ', ...' : ''}); wait for their shards or rerun them\n`,
        );
        process.exitCode = EXIT.failure;
        return;
      }
      if (process.env.GITHUB_STEP_SUMMARY)
        appendFileSync(process.env.GITHUB_STEP_SUMMARY, `## nino bench: ${suite.name}\n\n${report.markdown}\n`);
      const below = [...report.belowMin];
      if (o.minSpeedup !== undefined)
        for (const r of report.rows)
          if (r.speedup && !(r.speedup.geoMean >= o.minSpeedup))
            below.push({ task: r.task, method: r.method, speedup: r.speedup.geoMean, min: o.minSpeedup });
      if (below.length) {
        for (const b of below)
          process.stderr.write(
            `nino: speedup of ${b.method} on ${b.task} is ${b.speedup.toFixed(2)}x, below the minimum ${b.min}x\n`,
          );
        process.exitCode = EXIT.speedupGate;
      }
    });
}
