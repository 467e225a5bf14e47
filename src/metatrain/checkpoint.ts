/**
 * Training checkpoints in the output folder: <out>/ckpt.safetensors holds the model (nino checkpoint
 * format) with `extra` = step, sampler state, resolved config, data files, last validation and a
 * reference to the AdamW moments file ckpt-adamw-<step>.safetensors (written first; the checkpoint,
 * written last and atomically, points to it). Resuming restores all of it, so a run continues
 * bit-exactly; the final model <out>/nino.safetensors (or mlp.safetensors) is written at the end.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { removeOrphanTmp, writeFileAtomic } from '../core/fsutil.ts';
import type { Logger } from '../core/logger.ts';
import { readSafetensors, writeSafetensors, type StTensor } from '../core/safetensors.ts';
import { loadCheckpoint, serializeCheckpoint, withStoredNames, type Checkpoint } from '../model/checkpoint.ts';
import type { OptimizerState } from '../optim/types.ts';
import type { TrainConfig } from './config.ts';
import type { MetaTrainer } from './trainer.ts';
import type { ValResult } from './validation.ts';

const ADAM_PREFIX = 'ckpt-adamw-';
export const CKPT_FILE = 'ckpt.safetensors';

/** the training files of a run */
export interface DataRef {
  train: string[];
  val: string[];
  /**
   * 'file': the paths are relative to the folder of the file that stores them (what nino writes, so a
   * run folder moved or copied with its trajectories, or opened from another working directory, still
   * resolves, and a shipped model names no machine's absolute paths); absent (older files): as given
   * on the command line, relative to the working directory of that run
   */
  relativeTo?: 'file';
}

/** `ref` as stored in a file in folder `dir`: paths relative to `dir`, '/'-separated. */
export function storedDataRef(ref: DataRef, dir: string): DataRef {
  const rel = (p: string) => relative(resolve(dir), resolve(p)).split(sep).join('/');
  return { train: ref.train.map(rel), val: ref.val.map(rel), relativeTo: 'file' };
}

/** A stored DataRef read from a file in folder `dir`: absolute paths (older files: as stored). */
export function resolvedDataRef(ref: DataRef, dir: string): DataRef {
  if (ref.relativeTo !== 'file') return { train: ref.train, val: ref.val };
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(dir, p));
  return { train: ref.train.map(abs), val: ref.val.map(abs) };
}

/** `extra` of a training checkpoint */
export interface TrainExtra {
  format: 'nino-train';
  step: number;
  sampler: { rng: number[]; rollbacks: number };
  optimizer: { file: string; step: number; kind: 'adamw' };
  config: TrainConfig;
  data: DataRef;
  val: ValResult | null;
  elapsedSec: number;
  /** data-parallel shards per batch the gradients were computed in (absent: 1; see parallel.ts) */
  workers?: number;
}

/** What a training checkpoint records besides the trainer's state. */
export interface RunRecord {
  data: DataRef;
  val: ValResult | null;
  elapsedSec: number;
  /** data-parallel shards per batch (default 1) */
  workers?: number;
}

function writeAdam(path: string, s: OptimizerState, names: string[]): void {
  const tensors: Record<string, StTensor> = {};
  for (const [k, a] of Object.entries(s.arrays)) tensors[k] = { dtype: 'F32', shape: [a.length], data: a };
  writeFileAtomic(
    path,
    writeSafetensors(tensors, { kind: 'adamw', step: String(s.step), params: JSON.stringify(names) }),
  );
}

function readAdam(path: string, names: string[]): OptimizerState {
  if (!existsSync(path)) throw new Error(`optimizer state ${path} is missing (needed to resume)`);
  const buf = readFileSync(path);
  const st = readSafetensors(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path);
  if (JSON.stringify(JSON.parse(st.metadata.params ?? '[]')) !== JSON.stringify(names))
    throw new Error(`${path}: optimizer state is for different weights`);
  const arrays: Record<string, Float32Array> = {};
  for (const k of st.order) arrays[k] = st.tensors[k].data as Float32Array;
  return { kind: 'adamw', step: Number(st.metadata.step), arrays };
}

/** the final model file of each kind */
const FINAL_FILES: Record<TrainConfig['model'], string> = { nino: 'nino.safetensors', mlp: 'mlp.safetensors' };

const isAdamFile = (f: string) => f.startsWith(ADAM_PREFIX) && f.endsWith('.safetensors');

/** Saves <out>/ckpt.safetensors (+ ckpt-adamw-<step>.safetensors), atomically; returns the path. */
export function saveTrainCheckpoint(
  t: MetaTrainer,
  out: string,
  { data, val, elapsedSec, workers = 1 }: RunRecord,
): string {
  const adam = t.adam.getState();
  // moments first, under a step-specific name; the checkpoint (written last, atomically) points to it
  const adamFile = `${ADAM_PREFIX}${t.step}.safetensors`;
  writeAdam(join(out, adamFile), adam, t.trainNames);
  const extra: TrainExtra = {
    format: 'nino-train',
    step: t.step,
    sampler: { rng: t.rng.getState(), rollbacks: t.rollbacks },
    optimizer: { file: adamFile, step: adam.step, kind: 'adamw' },
    config: t.tc,
    data: storedDataRef(data, out),
    val,
    elapsedSec,
  };
  // only when > 1, so single-thread checkpoints stay as they were
  if (workers > 1) extra.workers = workers;
  const p = join(out, CKPT_FILE);
  writeFileAtomic(
    p,
    serializeCheckpoint({
      config: t.cfg,
      weights: t.hostWeights(),
      extra: extra as unknown as Record<string, unknown>,
    }),
  );
  for (const f of readdirSync(out)) if (isAdamFile(f) && f !== adamFile) rmSync(join(out, f), { force: true });
  removeOrphanTmp(out, ADAM_PREFIX);
  return p;
}

/** The final model <out>/<model>.safetensors (weights, config, and what it was trained on); returns the path. */
export function saveFinalModel(t: MetaTrainer, out: string, data: DataRef, val: ValResult | null): string {
  const finalPath = join(out, FINAL_FILES[t.tc.model]);
  writeFileAtomic(
    finalPath,
    serializeCheckpoint({
      config: t.cfg,
      weights: t.hostWeights(),
      extra: { trainedBy: 'nino train-nino', step: t.step, val, config: t.tc, data: storedDataRef(data, out) },
    }),
  );
  return finalPath;
}

/** the files of a previous run in `out` (checkpoint, optimizer states, final models) */
export function previousRunFiles(out: string): string[] {
  if (!existsSync(out)) return [];
  return readdirSync(out).filter((f) => f === CKPT_FILE || Object.values(FINAL_FILES).includes(f) || isAdamFile(f));
}

/** A training checkpoint to resume from (true = <out>/ckpt.safetensors). */
export function loadTrainCheckpoint(
  resume: true | string,
  out: string,
): { ck: Checkpoint; extra: TrainExtra; path: string } {
  const p = resume === true ? join(out, CKPT_FILE) : resume;
  if (!existsSync(p)) throw new Error(`cannot resume: ${p} does not exist`);
  const ck = loadCheckpoint(p);
  const extra = ck.extra as unknown as TrainExtra;
  if (!extra || extra.format !== 'nino-train')
    throw new Error(`${p} is not a train-nino checkpoint (no training state)`);
  // settings stored under an older name (seqLen) are read under today's (maxHorizon)
  // data paths are stored relative to the checkpoint's folder: resolved here, once
  return {
    ck,
    extra: { ...extra, config: withStoredNames(extra.config), data: resolvedDataRef(extra.data, dirname(p)) },
    path: p,
  };
}

/**
 * Puts a trainer (built with the checkpoint's weights) back where the checkpoint stopped: step, sampler,
 * rollbacks, AdamW moments; removes files an interrupted run left. Returns the run's elapsed seconds so far.
 */
export function restoreTrainState(t: MetaTrainer, out: string, extra: TrainExtra, logger: Logger): number {
  t.step = extra.step;
  t.rng.setState(extra.sampler.rng);
  t.rollbacks = extra.sampler.rollbacks;
  const adam = readAdam(join(out, extra.optimizer.file), t.trainNames);
  if (adam.step !== extra.optimizer.step)
    throw new Error(`optimizer state (step ${adam.step}) does not match the checkpoint (step ${extra.optimizer.step})`);
  t.setAdamState(adam);
  // the state is back: optimizer states of other steps and tmp files of a killed write are orphans
  const orphans = readdirSync(out).filter((f) => isAdamFile(f) && f !== extra.optimizer.file);
  for (const f of orphans) rmSync(join(out, f), { force: true });
  orphans.push(...removeOrphanTmp(out, 'ckpt'), ...Object.values(FINAL_FILES).flatMap((f) => removeOrphanTmp(out, f)));
  if (orphans.length) logger.info({ removed: orphans }, 'removed files left by an interrupted run');
  return extra.elapsedSec ?? 0;
}
