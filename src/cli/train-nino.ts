/** `nino train-nino`: meta-train the NiNo GNN (or the graph-free MLP baseline) on collected trajectories. */
import type { Command } from 'commander';
import { accessSync, constants, existsSync } from 'node:fs';
import { initBackend } from '../core/backend.ts';
import { ensureDir } from '../core/fsutil.ts';
import { SEED_MAX } from '../core/rng.ts';
import { DEFAULT_TRAIN_CONFIG, MAX_ROLLBACKS_PER_SNAPSHOT, OutputExistsError, trainNino, TrajectoryDataError, type TrainConfig } from '../metatrain/index.ts';
import { readEnv } from './env.ts';
import { makeLogger, makeProgress, parsePositiveInt, parsePositiveNumber, parseSeed, UsageError, type GlobalOpts } from './common.ts';

interface TrainNinoOpts {
  data?: string[];
  steps?: number;
  out: string;
  model?: string;
  hid?: number;
  layers?: number;
  ctx?: number;
  seqLen?: number;
  stride?: number;
  batch?: number;
  windowsPerTraj?: number;
  lr?: number;
  minLr?: number;
  wd?: number;
  clip?: number;
  val?: number;
  valEvery?: number;
  valWindows?: number;
  ckptEvery?: number;
  resume?: boolean | string;
  overwrite?: boolean;
  init?: string;
  seed?: number;
  lpe?: number;
  wteRows?: number;
}

function parseNonNegInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer (got '${v}')`);
    return n;
  };
}

function parseNonNegNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a non-negative number (got '${v}')`);
    return n;
  };
}

export function registerTrainNino(program: Command): void {
  const D = DEFAULT_TRAIN_CONFIG;
  program
    .command('train-nino')
    .description('meta-train the NiNo GNN (or the per-parameter MLP baseline) on collected Arrow trajectories')
    .option('-d, --data <paths...>', 'trajectory files, folders (searched recursively for *.arrow) or globs; optional with --resume')
    .option('--steps <n>', `training steps (default ${D.steps})`, parsePositiveInt('steps'))
    .option('-o, --out <dir>', 'output folder (checkpoints, final <model>.safetensors)', 'runs/nino')
    .option('--model <kind>', `nino (GNN) or mlp (graph-free baseline) (default ${D.model})`)
    .option('--hid <n>', `hidden size (default ${D.hid}; official 128)`, parsePositiveInt('hid'))
    .option('--layers <n>', `GNN layers (default ${D.layers})`, parsePositiveInt('layers'))
    .option('--ctx <n>', `input states per window (default ${D.ctx})`, parsePositiveInt('ctx'))
    .option('--seq-len <n>', `predicted horizons (DMS length) (default ${D.seqLen})`, parsePositiveInt('seq-len'))
    .option('--stride <n>', "records between input states (default: task period/ctx steps over the file's record spacing)", parsePositiveInt('stride'))
    .option('--batch <n>', `graphs (windows) per batch (default ${D.batch})`, parsePositiveInt('batch'))
    .option('--windows-per-traj <n>', `windows taken from each sampled trajectory (default ${D.windowsPerTraj})`, parsePositiveInt('windows-per-traj'))
    .option('--lr <x>', `peak AdamW learning rate, cosine decay (default ${D.lr})`, parsePositiveNumber('lr'))
    .option('--min-lr <x>', `final learning rate (default ${D.minLr})`, parseNonNegNumber('min-lr'))
    .option('--wd <x>', `AdamW weight decay (default ${D.wd})`, parseNonNegNumber('wd'))
    .option('--clip <x>', `gradient clipping, global norm (default ${D.clip})`, parsePositiveNumber('clip'))
    .option('--val <n>', `whole trajectories (highest seeds) per task held out for validation (default ${D.val})`, parseNonNegInt('val'))
    .option('--val-every <n>', `validate every n steps (default ${D.valEvery})`, parsePositiveInt('val-every'))
    .option('--val-windows <n>', `evenly spaced windows per held-out trajectory (default ${D.valWindows})`, parsePositiveInt('val-windows'))
    .option('--ckpt-every <n>', `write <out>/ckpt.safetensors every n steps (default ${D.ckptEvery})`, parsePositiveInt('ckpt-every'))
    .option('--resume [ckpt]', 'continue from <out>/ckpt.safetensors (or the given checkpoint) exactly where it stopped')
    .option('--overwrite', 'start afresh in an --out that holds a previous run (its checkpoint, optimizer state and model are removed)')
    .option('--init <ckpt>', 'initialise the weights from a checkpoint (nino or official .safetensors/.pt, or official:<name>) to fine-tune')
    .option('--lpe <n>', `Laplacian PE columns of a fresh GNN (default ${D.lpe})`, parseNonNegInt('lpe'))
    .option('--wte-rows <n>', `LM graphs: word-embedding rows kept per training sample, 0 = all (default ${D.wteRows})`, parseNonNegInt('wte-rows'))
    .option('--seed <n>', `seed of the init and the data order, 0..${SEED_MAX} (default ${D.seed})`, parseSeed('seed'))
    .addHelpText(
      'after',
      '\nWindows of ctx states `stride` records apart predict the next seq-len states (L1 on per-tensor\n' +
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
      if (o.model !== undefined && o.model !== 'nino' && o.model !== 'mlp') throw new UsageError(`--model must be 'nino' or 'mlp' (got '${o.model}')`);
      if (!o.resume && !o.data?.length) throw new UsageError('--data is required (trajectory files, folders or globs), unless --resume is given');
      if (o.resume && o.overwrite) throw new UsageError('give either --resume or --overwrite, not both');
      if (o.init && !o.init.startsWith('official:') && !existsSync(o.init)) throw new UsageError(`--init '${o.init}' does not exist`);
      try {
        ensureDir(o.out);
        accessSync(o.out, constants.W_OK);
      } catch (e) {
        throw new UsageError(`output folder '${o.out}' is not writable (${(e as Error).message})`);
      }
      const config: Partial<TrainConfig> = {};
      const set = <K extends keyof TrainConfig>(k: K, v: TrainConfig[K] | undefined) => {
        if (v !== undefined) config[k] = v;
      };
      set('model', o.model as TrainConfig['model'] | undefined);
      set('hid', o.hid);
      set('layers', o.layers);
      set('ctx', o.ctx);
      set('seqLen', o.seqLen);
      set('stride', o.stride);
      set('batch', o.batch);
      set('windowsPerTraj', o.windowsPerTraj);
      set('lr', o.lr);
      set('minLr', o.minLr);
      set('wd', o.wd);
      set('clip', o.clip);
      set('val', o.val);
      set('valEvery', o.valEvery);
      set('valWindows', o.valWindows);
      set('ckptEvery', o.ckptEvery);
      set('steps', o.steps);
      set('seed', o.seed);
      set('lpe', o.lpe);
      set('init', o.init);
      set('wteRows', o.wteRows);
      const backend = await initBackend(g.backend, logger);
      logger.info({ backend: backend.name, out: o.out }, 'train-nino');
      const bars = makeProgress(g.progress !== false);
      try {
        const r = await trainNino({ data: o.data, out: o.out, config, resume: o.resume, overwrite: o.overwrite, officialDir: readEnv().officialDir, logger, progress: bars.progress });
        bars.stop();
        const v = r.val;
        const valTxt = v ? `val l1 ${v.l1.toFixed(4)} | last ${v.last.toFixed(4)} | linefit ${v.linefit.toFixed(4)} | beats linefit: ${v.beatsLinefit ? 'yes' : 'no'} | beats last: ${v.beatsLast ? 'yes' : 'no'}` : 'no validation (--val 0)';
        process.stdout.write(
          `trained ${r.config.model} (hid ${r.config.hid}) for ${r.step} steps: train loss (ema) ${r.trainLoss.toFixed(4)} | ${valTxt} | ` +
            `${r.graphsPerSec.toFixed(1)} graphs/s, ${r.secPerStep.toFixed(3)} s/step | rollbacks ${r.rollbacks} | saved ${r.finalPath}\n`,
        );
      } catch (e) {
        if (e instanceof TrajectoryDataError || e instanceof OutputExistsError) throw new UsageError(e.message);
        throw e;
      } finally {
        bars.stop();
      }
    });
}
