/**
 * The training loop shared by `collect` and `bench`: one task, one seed, one optimizer (plain AdamW or the
 * NiNo wrapper: the loop only asks `optimizer.needGrads`). Evaluates every `evalEvery` steps and lets
 * the caller record, checkpoint or stop through callbacks.
 *
 *   await trainRun({ runtime, optimizer, params, sampler, steps: 3000, evalEvery: 25, onEval: (s, r) => rt.reached(r) });
 */
import * as tf from '@tensorflow/tfjs';
import { yieldPoint } from '../core/interrupt.ts';
import type { Optimizer } from '../optim/types.ts';
import type { BatchSampler, EvalResult, TaskRuntime } from '../tasks/runtime.ts';

export interface TrainRunOptions {
  runtime: TaskRuntime;
  optimizer: Optimizer;
  params: tf.Variable[];
  sampler: BatchSampler;
  /** total steps of the run (the budget) */
  steps: number;
  /** steps already done (resume); the optimizer and sampler must already be at this point */
  startStep?: number;
  /** evaluate after every this many steps (and at step 0 when startStep is 0) */
  evalEvery: number;
  /** called after each step with the training loss (NaN on a nowcast step) */
  onStep?: (step: number, loss: number) => void;
  /** called after each evaluation; return true to stop the run */
  onEval?: (step: number, r: EvalResult) => boolean | void | Promise<boolean | void>;
}

export interface TrainRunResult {
  /** steps done when the run ended */
  steps: number;
  stoppedEarly: boolean;
  last?: EvalResult;
}

/** loss and gradients of one batch (tensors owned by the caller) */
export function lossAndGrads(runtime: TaskRuntime, params: tf.Variable[], batch: { x: tf.Tensor; y: tf.Tensor }) {
  return tf.valueAndGrads((...ps: tf.Tensor[]) => runtime.model.loss(ps, batch))(params);
}

export async function trainRun(o: TrainRunOptions): Promise<TrainRunResult> {
  let step = o.startStep ?? 0;
  let last: EvalResult | undefined;
  if (step === 0) {
    last = o.runtime.evaluate(o.params);
    if (await o.onEval?.(0, last)) return { steps: 0, stoppedEarly: true, last };
  }
  while (step < o.steps) {
    // a safe point between steps: lets signal handlers and timers run, stops here on Ctrl-C / SIGTERM
    await yieldPoint();
    const batch = o.sampler.next();
    let loss = NaN;
    if (o.optimizer.needGrads) {
      const { value, grads } = lossAndGrads(o.runtime, o.params, batch);
      loss = value.dataSync()[0];
      o.optimizer.step(o.params, grads);
      value.dispose();
      tf.dispose(grads);
    } else {
      o.optimizer.step(o.params, null);
    }
    batch.x.dispose();
    batch.y.dispose();
    step++;
    o.onStep?.(step, loss);
    if (step % o.evalEvery === 0 || step === o.steps) {
      last = o.runtime.evaluate(o.params);
      if (await o.onEval?.(step, last)) return { steps: step, stoppedEarly: true, last };
    }
  }
  return { steps: step, stoppedEarly: false, last };
}
