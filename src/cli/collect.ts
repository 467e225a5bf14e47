/** `nino collect`: train tasks with AdamW and write parameter trajectories as Arrow files. */
import type { Command } from 'commander';
import { accessSync, constants, existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { initBackend } from '../core/backend.ts';
import { ensureDir } from '../core/fsutil.ts';
import { SEED_MAX } from '../core/rng.ts';
import { checkShardLayout, NO_SHARD, resolveShard, selectShard } from '../core/shard.ts';
import { runJobs } from '../core/workers.ts';
import { getTask } from '../tasks/registry.ts';
import { checkTaskData } from '../tasks/runtime.ts';
import { collectJob, type CollectJob } from '../trajectories/collect.ts';
import { readEnv } from './env.ts';
import { makeLogger, makeProgress, parsePositiveInt, parseSeeds, UsageError, type GlobalOpts } from './common.ts';

interface CollectOpts {
  task: string[];
  seeds: string;
  steps?: number;
  every?: number;
  out: string;
  workers: number;
  dataDir?: string;
  evalLimit?: number;
  shard?: string;
}

export function registerCollect(program: Command): void {
  program
    .command('collect')
    .description('train tasks with AdamW and record parameter trajectories (one Arrow file per task and seed)')
    .requiredOption(
      '-t, --task <name...>',
      'task name(s), e.g. FM-16-3k (see `nino tasks`), or task file(s) ./my-task.json',
    )
    .option(
      '-s, --seeds <range>',
      `seeds: A..B (inclusive), a list 1,2,5, one number, or a mix (1..4,9); integers 0..${SEED_MAX}, each once`,
      '1..2',
    )
    .option('--steps <n>', "optimizer steps per trajectory (default: the task's budget)", parsePositiveInt('steps'))
    .option(
      '--every <n>',
      'record parameters and metrics every n steps (default: the task period / 5)',
      parsePositiveInt('every'),
    )
    .option('-o, --out <dir>', 'output folder', 'runs/trajectories')
    .option(
      '-w, --workers <n>',
      'parallel worker threads',
      parsePositiveInt('workers'),
      Math.max(1, availableParallelism()),
    )
    .option('--data-dir <dir>', 'folder holding the dataset files (else NINO_DATA_DIR, system folders, cache)')
    .option(
      '--eval-limit <n>',
      'evaluate on the first n held-out examples only (faster)',
      parsePositiveInt('eval-limit'),
    )
    .option(
      '--shard <i/n>',
      'run only part i of n (0-based) of the (task, seed) jobs; default: from JOB_COMPLETION_INDEX + NINO_SHARD_COUNT (Kubernetes) or SLURM_ARRAY_TASK_* (Slurm), else all',
    )
    .addHelpText(
      'after',
      '\nRerunning the same command skips finished trajectories and resumes interrupted ones. Each trajectory\n' +
        'is locked while it is collected (<out>/<task>/.seed-<seed>.lock): a second collector of the same\n' +
        'trajectory waits for the first, then skips it, so shards (--shard) can share one --out.\n' +
        'Example:\n  nino collect --task FM-16-3k --seeds 1..8 --every 60 --out runs/traj',
    )
    .action(async (o: CollectOpts, cmd: Command) => {
      const g = cmd.optsWithGlobals() as GlobalOpts;
      const logger = makeLogger(g);
      const specs = o.task.map(getTask);
      const seeds = parseSeeds(o.seeds);
      // a task file's own data is read and checked against its model before anything is written
      const env = readEnv();
      for (const spec of specs) await checkTaskData(spec, env.source);
      const shard = resolveShard(o.shard, process.env);
      try {
        ensureDir(o.out);
        accessSync(o.out, constants.W_OK);
      } catch (e) {
        throw new UsageError(`output folder '${o.out}' is not writable (${(e as Error).message})`);
      }
      if (o.dataDir && !existsSync(o.dataDir)) throw new UsageError(`--data-dir '${o.dataDir}' does not exist`);
      const allJobs: CollectJob[] = [];
      for (const spec of specs)
        for (const seed of seeds)
          allJobs.push({
            task: spec.name,
            taskDef: spec,
            seed,
            steps: o.steps ?? spec.steps,
            every: o.every ?? Math.max(1, Math.floor(spec.period / 5)),
            outDir: o.out,
            data: { dataDir: o.dataDir, ...env.source, evalLimit: o.evalLimit },
          });
      const key = (j: CollectJob) => [j.task, j.seed];
      checkShardLayout(o.out, shard, 'collect', allJobs.map(key));
      const jobs = selectShard(allJobs, key, shard);
      if (shard !== NO_SHARD)
        logger.info(
          { shard: `${shard.index}/${shard.count}`, from: shard.source, jobs: jobs.length, of: allJobs.length },
          `shard ${shard.index}/${shard.count}: ${jobs.length} of ${allJobs.length} trajectories`,
        );
      const backend = await initBackend(g.backend, logger);
      logger.info({ jobs: jobs.length, workers: o.workers, backend: backend.name }, 'collecting trajectories');
      const bars = makeProgress(g.progress !== false);
      try {
        const results = await runJobs(collectJob, jobs, {
          workers: o.workers,
          backend: backend.name,
          logger,
          progress: bars.progress,
        });
        bars.stop();
        const done = results.filter((r) => r.status !== 'skipped').length;
        const part =
          shard.count > 1
            ? ` (shard ${shard.index}/${shard.count}: ${jobs.length} of ${allJobs.length} trajectories)`
            : '';
        process.stdout.write(
          `collected ${done} trajectories (${results.length - done} already complete) in ${o.out}${part}\n`,
        );
      } finally {
        bars.stop();
      }
    });
}
