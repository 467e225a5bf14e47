/** `nino train-nino`: meta-train the NiNo GNN (or the graph-free MLP baseline) on collected trajectories. */
import type { Command } from 'commander';
import { accessSync, constants, existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { initBackend } from '../core/backend.ts';
import { ensureDir } from '../core/fsutil.ts';
import {
  formatValSummary,
  MAX_ROLLBACKS_PER_SNAPSHOT,
  OutputExistsError,
  TRAIN_CONFIG_KEYS,
  trainConfigFlags,
  trainNino,
  TrajectoryDataError,
  type TrainConfig,
} from '../metatrain/index.ts';
import { readEnv } from './env.ts';
import { makeLogger, makeProgress, parsePositiveInt, UsageError, type GlobalOpts } from './common.ts';

type TrainNinoOpts = Partial<TrainConfig> & {
  data?: string[];
  out: string;
  resume?: boolean | string;
  overwrite?: boolean;
  workers?: number;
};

export function registerTrainNino(program: Command): void {
  const train = program
    .command('train-nino')
    .description('meta-train the NiNo GNN (or the per-parameter MLP baseline) on collected Arrow trajectories')
    .option(
      '-d, --data <paths...>',
      'trajectory files, folders (searched recursively for *.arrow) or globs; optional with --resume',
    )
    .option('-o, --out <dir>', 'output folder (checkpoints, final <model>.safetensors)', 'runs/nino')
    .option(
      '--resume [ckpt]',
      'continue from <out>/ckpt.safetensors (or the given checkpoint) exactly where it stopped',
    )
    .option(
      '--overwrite',
      'start afresh in an --out that holds a previous run (its checkpoint, optimizer state and model are removed)',
    )
    .option(
      '-w, --workers <n>',
      `data-parallel worker threads: each step's batch is split across them, gradients averaged (default: the cores, ${availableParallelism()} here; with --resume the checkpoint's; at most --batch)`,
      parsePositiveInt('workers'),
    );
  // the settings' flags, defaults and rules come from the schema table (metatrain/config.ts)
  for (const f of trainConfigFlags()) train.option(f.flags, f.description, f.parse);
  train
    .addHelpText(
      'after',
      '\nWindows of ctx states `stride` records apart predict the next max-horizon states (L1 on per-tensor\n' +
        'scaled parameters). Validation reports the model next to "last" (no change) and linefit on the same\n' +
        'held-out windows. The final model is <out>/nino.safetensors (or mlp.safetensors), usable with\n' +
        '`nino bench --nowcaster <path>`. A non-finite loss rolls back to the last snapshot with a new data\n' +
        `order; after ${MAX_ROLLBACKS_PER_SNAPSHOT} rollbacks to the same snapshot the run stops (exit 1).\n` +
        'An --out holding a previous run is refused unless --resume or --overwrite is given.\n' +
        'Examples:\n' +
        '  nino collect --task FM-16-3k --seeds 1..6 --steps 1500 --every 60 --out runs/traj\n' +
        '  nino train-nino --data runs/traj --steps 3000 --hid 32 --val 1 --out runs/nino-h32\n' +
        '  nino train-nino --out runs/nino-h32 --resume\n' +
        '  nino train-nino --data runs/traj --init official:nino_no_posw --steps 500 --out runs/ft',
    )
    .action(async (o: TrainNinoOpts, cmd: Command) => {
      const g = cmd.optsWithGlobals() as GlobalOpts;
      const logger = makeLogger(g);
      if (!o.resume && !o.data?.length)
        throw new UsageError('--data is required (trajectory files, folders or globs), unless --resume is given');
      if (o.resume && o.overwrite) throw new UsageError('give either --resume or --overwrite, not both');
      if (o.init && !o.init.startsWith('official:') && !existsSync(o.init))
        throw new UsageError(`--init '${o.init}' does not exist`);
      try {
        ensureDir(o.out);
        accessSync(o.out, constants.W_OK);
      } catch (e) {
        throw new UsageError(`output folder '${o.out}' is not writable (${(e as Error).message})`);
      }
      const config: Partial<TrainConfig> = {};
      for (const k of TRAIN_CONFIG_KEYS) if (o[k] !== undefined) (config as Record<string, unknown>)[k] = o[k];
      const backend = await initBackend(g.backend, logger);
      logger.info({ backend: backend.name, out: o.out }, 'train-nino');
      const bars = makeProgress(g.progress !== false);
      try {
        const workers = o.workers ?? (o.resume ? undefined : Math.max(1, availableParallelism()));
        const r = await trainNino({
          data: o.data,
          out: o.out,
          config,
          resume: o.resume,
          overwrite: o.overwrite,
          workers,
          backend: backend.name,
          officialDir: readEnv().officialDir,
          logger,
          progress: bars.progress,
        });
        bars.stop();
        const v = r.val;
        const valTxt = v ? formatValSummary(v) : 'no validation (--val 0)';
        process.stdout.write(
          `trained ${r.config.model} (hid ${r.config.hid}) for ${r.step} steps: train loss (ema) ${r.trainLoss.toFixed(4)} | ${valTxt} | ` +
            `${r.graphsPerSec.toFixed(1)} graphs/s, ${r.secPerStep.toFixed(3)} s/step (${r.workers} worker${r.workers > 1 ? 's' : ''}) | rollbacks ${r.rollbacks} | saved ${r.finalPath}\n`,
        );
      } catch (e) {
        if (e instanceof TrajectoryDataError || e instanceof OutputExistsError) throw new UsageError(e.message);
        throw e;
      } finally {
        bars.stop();
      }
    });
}
