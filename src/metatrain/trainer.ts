/**
 * The meta-training state machine (official `train_nino.py`): one model, one data split. L1 loss on
 * scaled parameters over valid targets (all maxHorizon horizons at once, direct multi-step), AdamW (lr 3e-3,
 * wd 0.01) with cosine decay to 1e-6, global-norm gradient clipping at 5, batches of disjoint graphs with
 * several windows per sampled trajectory, random LPE sign flips per sample. Its parts: the model
 * (model.ts), the data order (sampler.ts), the guarded step (step.ts), validation (validation.ts); a run
 * around it (lock, data, checkpoints, the loop) is run.ts.
 *
 *   const t = new MetaTrainer(set, train, val, cfg, tc, initHostWeights(cfg, 0));
 *   t.trainStep(); t.validate();
 */
import * as tf from '@tensorflow/tfjs';
import type { Logger } from '../core/logger.ts';
import { silentLogger } from '../core/logger.ts';
import type { Rng } from '../core/rng.ts';
import type { NiNoConfig } from '../model/config.ts';
import type { HostWeights, Weights } from '../model/weights.ts';
import type { AdamW } from '../optim/adamw.ts';
import type { OptimizerState } from '../optim/types.ts';
import type { GraphBatch } from './batch.ts';
import type { TrainConfig } from './config.ts';
import { TrainModel } from './model.ts';
import type { ParallelGrads } from './parallel.ts';
import { BatchSampler, drawnBatch, type SampleDraw } from './sampler.ts';
import { makeTrainOptimizer, trainLr } from './schedule.ts';
import { clippedStep, globalNorm, RollbackGuard, setAdamState } from './step.ts';
import type { TrajectorySet } from './trajectories.ts';
import { Validator, type ValResult } from './validation.ts';

export interface TrainHooks {
  /** test hook: return true to poison the batch of this (global) step with a NaN */
  poisonStep?: (step: number) => boolean;
  /** called after every successful step */
  onStep?: (step: number, loss: number) => void;
}

export interface StepResult {
  loss: number;
  gradNorm: number;
  ok: boolean;
}

export class MetaTrainer {
  readonly model: TrainModel;
  readonly adam: AdamW;
  readonly sampler: BatchSampler;
  readonly validator: Validator;
  step = 0;
  rollbacks = 0;
  private readonly guard: RollbackGuard;

  constructor(
    readonly set: TrajectorySet,
    readonly trainIds: number[],
    readonly valIds: number[],
    readonly cfg: NiNoConfig,
    readonly tc: TrainConfig,
    host: HostWeights,
    readonly logger: Logger = silentLogger,
    readonly hooks: TrainHooks = {},
  ) {
    if (set.maxFeat > cfg.maxFeat)
      throw new Error(`the data has graphs with ${set.maxFeat} feature slots, the model supports ${cfg.maxFeat}`);
    if (cfg.ctx !== tc.ctx || cfg.maxHorizon !== tc.maxHorizon)
      throw new Error(
        `model ctx/maxHorizon ${cfg.ctx}/${cfg.maxHorizon} differ from the training ctx/maxHorizon ${tc.ctx}/${tc.maxHorizon}`,
      );
    const lpe = cfg.kind === 'gnn' ? cfg.lpe : 0;
    this.sampler = new BatchSampler(set, trainIds, tc, lpe);
    this.validator = new Validator(set, valIds, tc);
    this.guard = new RollbackGuard(tc);
    this.model = new TrainModel(cfg, host);
    this.adam = makeTrainOptimizer(tc);
  }

  get vars(): tf.Variable[] {
    return this.model.vars;
  }
  get names(): string[] {
    return this.model.names;
  }
  get trainable(): tf.Variable[] {
    return this.model.trainable;
  }
  get trainNames(): string[] {
    return this.model.trainNames;
  }
  get lpe(): number {
    return this.model.lpe;
  }
  get weights(): Weights {
    return this.model.weights;
  }
  /** the sampler's random state (checkpointed) */
  get rng(): Rng {
    return this.sampler.rng;
  }
  set rng(r: Rng) {
    this.sampler.rng = r;
  }
  get lr(): number {
    return trainLr(this.tc, this.step);
  }

  hostWeights(): HostWeights {
    return this.model.hostWeights();
  }

  /** Draws the trajectories a batch comes from (advances the sampler); see BatchSampler. */
  drawTaskTrajectories(): readonly number[] {
    return this.sampler.drawTaskTrajectories();
  }

  /** Draws the next batch (advances the sampler). */
  sampleBatch(): GraphBatch {
    return drawnBatch(this.set, this.sampler.drawBatch(), this.tc.ctx, this.tc.maxHorizon, this.lpe);
  }

  /** [E, F, horizons] predicted delta (see TrainModel.forward; call inside a tidy / grad scope) */
  forward(b: GraphBatch, ws?: Weights, horizons?: number): tf.Tensor3D {
    return this.model.forward(b, ws, horizons);
  }

  loss(b: GraphBatch): tf.Scalar {
    return this.model.loss(b);
  }

  setAdamState(s: OptimizerState): void {
    setAdamState(this.adam, s);
  }

  takeSnapshot(): void {
    this.guard.take({
      step: this.step,
      weights: this.model.weightArrays(),
      adam: this.adam.getState(),
      rng: this.rng.getState(),
    });
  }

  /** The windows of this step's batch (advances the sampler; snapshots first if there is none yet). */
  private nextDraws(): { draws: SampleDraw[]; poison: boolean } {
    if (!this.guard.taken) this.takeSnapshot();
    const draws = this.sampler.drawBatch();
    return { draws, poison: this.hooks.poisonStep?.(this.step) ?? false };
  }

  /** One optimizer step (or a rollback), in this thread. Returns the loss (NaN when rolled back). */
  trainStep(): StepResult {
    const { draws, poison } = this.nextDraws();
    const b = drawnBatch(this.set, draws, this.tc.ctx, this.tc.maxHorizon, this.lpe);
    if (poison) b.edgeAttr[0] = NaN;
    const { loss, grads } = this.model.lossAndGrads(b);
    const value = loss.dataSync()[0];
    loss.dispose();
    return this.applyGradients(value, grads);
  }

  /** The same step with the batch split across this thread and worker threads (parallel.ts). */
  async trainStepParallel(pg: ParallelGrads): Promise<StepResult> {
    const { draws, poison } = this.nextDraws();
    const { loss, grads } = await pg.compute(this.model, draws, poison);
    return this.applyGradients(
      loss,
      grads.map((g, i) => tf.tensor(g, this.trainable[i].shape, 'float32')),
    );
  }

  /**
   * The rest of a step, given the batch loss and the gradients of the trainable weights (disposed
   * here): the rollback on a non-finite loss or gradient, else clipping, AdamW and the next snapshot.
   */
  applyGradients(loss: number, grads: tf.Tensor[]): StepResult {
    const gradNorm = globalNorm(grads);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      grads.forEach((g) => g.dispose());
      this.rollback(Number.isFinite(loss) ? 'gradient' : 'loss', loss, gradNorm);
      return { loss: NaN, gradNorm, ok: false };
    }
    clippedStep(this.adam, this.trainable, grads, gradNorm, this.tc.clip);
    grads.forEach((g) => g.dispose());
    this.step++;
    if (this.step % this.tc.snapshotEvery === 0) this.takeSnapshot();
    this.hooks.onStep?.(this.step, loss);
    return { loss, gradNorm, ok: true };
  }

  private rollback(reason: string, loss: number, gradNorm: number): void {
    const from = this.step;
    const s = this.guard.fail(from, loss);
    this.model.setWeightArrays(s.weights);
    this.setAdamState(s.adam);
    this.step = s.step;
    this.rollbacks++;
    this.sampler.reseed(this.rollbacks);
    this.logger.warn(
      { step: from, rolledBackTo: s.step, loss, gradNorm, reason, rollbacks: this.rollbacks },
      `non-finite ${reason} at step ${from}: rolled back to step ${s.step}, continuing with a different data order`,
    );
  }

  /** L1 on the fixed held-out windows, next to "last" and linefit on the same windows. */
  validate(): ValResult | null {
    return this.validator.run(this.model, this.step);
  }

  dispose(): void {
    this.model.dispose();
    this.adam.dispose();
  }
}
