/**
 * One optimizer step of meta-training, guarded: the global gradient norm, a non-finite loss or gradient
 * rolls back to the last in-memory snapshot (weights, AdamW state, sampler state), clipping to the
 * global norm `clip`, the AdamW step. After MAX_ROLLBACKS_PER_SNAPSHOT rollbacks to the same snapshot
 * (the count is reset only when training gets past it to the next snapshot, so replayed steps do not
 * reset it) the run stops with DivergedError.
 */
import * as tf from '@tensorflow/tfjs';
import type { AdamW } from '../optim/adamw.ts';
import type { OptimizerState } from '../optim/types.ts';
import type { TrainConfig } from './config.ts';

/**
 * a run gives up after this many rollbacks to the same snapshot (each with a new data order); replayed
 * steps do not reset the count, only reaching the next snapshot does
 */
export const MAX_ROLLBACKS_PER_SNAPSHOT = 20;

/** training diverges whatever the data order (train-nino exits 1 with this message) */
export class DivergedError extends Error {}

/** The global L2 norm of the gradients (float32, computed by tfjs). */
export function globalNorm(grads: readonly tf.Tensor[]): number {
  const normT = tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))));
  const n = normT.dataSync()[0];
  normT.dispose();
  return n;
}

/** Scales the gradients down to global norm `clip` when above it, then takes the AdamW step. */
export function clippedStep(
  adam: AdamW,
  params: tf.Variable[],
  grads: tf.Tensor[],
  gradNorm: number,
  clip: number,
): void {
  const coef = clip / (gradNorm + 1e-6);
  if (coef < 1) {
    const clipped = grads.map((g) => tf.mul(g, coef));
    adam.step(params, clipped);
    clipped.forEach((g) => g.dispose());
  } else adam.step(params, grads);
}

/** Restores AdamW moments (an empty state: before the first step). */
export function setAdamState(adam: AdamW, s: OptimizerState): void {
  if (Object.keys(s.arrays).length === 0) {
    adam.dispose();
    adam.stepCount = s.step;
    return;
  }
  adam.setState({ ...s, arrays: { ...s.arrays } });
}

/** What a rollback restores. */
export interface Snapshot {
  step: number;
  weights: Float32Array[];
  adam: OptimizerState;
  rng: number[];
}

/** The last snapshot and how often training has fallen back to it. */
export class RollbackGuard {
  private snap: Snapshot | null = null;
  /** rollbacks to the current snapshot (reset when a new snapshot is taken) */
  private failStreak = 0;

  constructor(private readonly tc: TrainConfig) {}

  get taken(): boolean {
    return this.snap !== null;
  }

  take(s: Snapshot): void {
    this.failStreak = 0;
    this.snap = s;
  }

  /** After a non-finite loss or gradient at `step`: the snapshot to go back to, or DivergedError. */
  fail(step: number, loss: number): Snapshot {
    const s = this.snap!;
    if (++this.failStreak > MAX_ROLLBACKS_PER_SNAPSHOT) {
      const { snapshotEvery, lr, wd } = this.tc;
      throw new DivergedError(
        `training diverges: ${MAX_ROLLBACKS_PER_SNAPSHOT} rollbacks to step ${s.step} without reaching step ${s.step + snapshotEvery} ` +
          `(the last non-finite ${Number.isFinite(loss) ? 'gradient' : 'loss'} after step ${step}); lower --lr (${lr}) or --wd (${wd}), or check the data`,
      );
    }
    return s;
  }
}
