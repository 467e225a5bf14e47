/**
 * NiNo as a `model.fit` callback, for users who keep their own optimizer (`model.compile({ optimizer:
 * tf.train.adam(...) })`): after every batch the callback counts a step; states of the model's weights
 * are taken every period/5 batches, and the batch that completes 5 states is followed by a nowcast
 * into the model's own variables (NiNoCore, the same code as NiNoOptimizer). Unlike the optimizer
 * form, the optimizer's update of that batch has already happened (the callback cannot skip it).
 *
 *   await model.fit(x, y, { epochs: 5, callbacks: [new NiNoCallback({ model, period: 1000, maxTrainSteps: 10000 })] });
 */
import * as tf from '@tensorflow/tfjs';
import type { NiNoCore, NowcastEvent } from '../nowcast/nino.ts';
import type { ModelGraph } from './graph.ts';
import { setupNiNo, type TfjsNiNoOptions } from './setup.ts';

export class NiNoCallback extends tf.Callback {
  readonly core: NiNoCore;
  readonly modelGraph: ModelGraph;
  private readonly target: tf.LayersModel;

  constructor(o: TfjsNiNoOptions) {
    super();
    const s = setupNiNo(o, 'NiNoCallback');
    this.core = s.core;
    this.modelGraph = s.graph;
    this.target = o.model;
  }

  override async onTrainBegin(): Promise<void> {
    // fit() of a Sequential hands callbacks its inner model: compare the weights, not the object
    const mine = this.modelGraph.bindings[0]?.variable;
    if (this.model && mine && !this.model.weights.includes(mine)) {
      throw new Error(
        `NiNoCallback was built for model '${this.target.name}' but is used in fit() of another model ('${this.model.name}'); build one NiNoCallback per model`,
      );
    }
  }

  override async onBatchEnd(): Promise<void> {
    this.core.step(this.modelGraph, () => {});
  }

  /** one entry per nowcast done: step index, k, ms, applied (false: NaN/Inf skipped) */
  get events(): readonly NowcastEvent[] {
    return this.core.events;
  }
}
