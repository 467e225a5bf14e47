/**
 * The optimizer seam (optax-style, over tf.Variables). Plain AdamW and the NiNo wrapper both satisfy
 * `Optimizer`, so training loops and the benchmark never ask which one they hold.
 *
 *   if (opt.needGrads) grads = computeGrads(); opt.step(params, grads);
 */
import type * as tf from '@tensorflow/tfjs';

export interface OptimizerState {
  /** optimizer kind, e.g. 'adamw' */
  kind: string;
  step: number;
  /** named flat arrays (moments, buffers), serializable */
  arrays: Record<string, Float32Array>;
  /** small JSON-able extras */
  extra?: Record<string, unknown>;
}

export interface Optimizer {
  /** Number of step() calls done so far. */
  readonly stepCount: number;
  /** Whether the next step() uses gradients (a nowcast step does not). */
  readonly needGrads: boolean;
  /** Updates params in place. grads[i] matches params[i]; may be null when !needGrads. */
  step(params: tf.Variable[], grads: tf.Tensor[] | null): void;
  getState(): OptimizerState;
  setState(s: OptimizerState): void;
  dispose(): void;
}
