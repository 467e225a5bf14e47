/**
 * NiNo as a tfjs optimizer: a `tf.Optimizer` around any tfjs base optimizer, so `model.compile({
 * optimizer })`, `optimizer.minimize(f)` and `applyGradients` work as with `tf.train.adam`. Every
 * `period` steps it takes 5 states of the model's weights (one every period/5 steps) and the step that
 * completes them is a nowcast into the model's own variables instead of a base step, with the
 * official horizon schedule (NiNoCore, src/nowcast/nino.ts: the same code as nino's own loops).
 *
 *   const optimizer = new NiNoOptimizer({ baseOpt: tf.train.adam(6e-3), model, period: 1000, maxTrainSteps: 10000 });
 *   model.compile({ optimizer, loss: 'sparseCategoricalCrossentropy' });
 *
 * getWeights()/setWeights() follow tfjs optimizers: [iter, nino/numStates, nino/state/<i>...,
 * nino/base/<the base optimizer's weights>...]; a model saved with its optimizer resumes with the
 * same buffered states. The base optimizer's moments are kept across a jump (official behaviour).
 */
import * as tf from '@tensorflow/tfjs';
import type { NiNoCore, NowcastEvent } from '../nowcast/nino.ts';
import type { ModelGraph } from './graph.ts';
import { setupNiNo, type TfjsNiNoOptions } from './setup.ts';

/** a named tensor, as tfjs optimizers' getWeights() return them */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

export interface NiNoOptimizerOptions extends TfjsNiNoOptions {
  /** the tfjs optimizer that takes the steps between nowcasts, e.g. tf.train.adam(1e-3) */
  baseOpt: tf.Optimizer;
}

export class NiNoOptimizer extends tf.Optimizer {
  static get className(): string {
    return 'NiNo';
  }
  /** tf.Optimizer's instanceof is duck-typed (any optimizer passes); this one checks the prototype chain */
  static override [Symbol.hasInstance](x: unknown): boolean {
    return x !== null && typeof x === 'object' && Object.prototype.isPrototypeOf.call(NiNoOptimizer.prototype, x);
  }
  readonly baseOpt: tf.Optimizer;
  readonly core: NiNoCore;
  /** the model's neural graph and the binding of its weights to the flat vector */
  readonly modelGraph: ModelGraph;

  constructor(o: NiNoOptimizerOptions) {
    super();
    const b = o?.baseOpt as unknown;
    if (b instanceof NiNoOptimizer)
      throw new Error(
        'NiNoOptimizer: baseOpt is already a NiNoOptimizer; wrap a plain tfjs optimizer such as tf.train.adam(1e-3)',
      );
    if (b === null || typeof b !== 'object' || !(b instanceof tf.Optimizer)) {
      const what = b === undefined ? 'nothing' : String((b as object)?.constructor?.name ?? typeof b);
      throw new Error(
        `NiNoOptimizer: baseOpt must be a tfjs optimizer (e.g. tf.train.adam(1e-3)) from the same @tensorflow/tfjs as the model, got ${what}`,
      );
    }
    this.baseOpt = b;
    const s = setupNiNo(o, 'NiNoOptimizer');
    this.core = s.core;
    this.modelGraph = s.graph;
    this.iterations_ = 0;
  }

  /** Base step or nowcast (the gradients are unused on a nowcast step). */
  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    this.core.step(this.modelGraph, () => this.baseOpt.applyGradients(variableGradients));
    this.iterations_ = this.core.stepCount;
  }

  /** True when the next step is a nowcast. */
  get nextStepNowcast(): boolean {
    return this.core.nextStepNowcast;
  }

  /** one entry per nowcast done: step index, k, ms, applied (false: NaN/Inf skipped) */
  get events(): readonly NowcastEvent[] {
    return this.core.events;
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const st = this.core.getState();
    const n = this.modelGraph.graph.layout.total;
    const base = await this.baseOpt.getWeights();
    return [
      { name: 'iter', tensor: tf.scalar(st.step, 'int32') },
      { name: 'nino/numStates', tensor: tf.scalar(st.states.length, 'int32') },
      ...st.states.map((s, i) => ({
        name: `nino/state/${i}`,
        tensor: tf.tensor1d(s.length === n ? s : s.slice(0, n), 'float32'),
      })),
      ...base.map((w) => ({ name: `nino/base/${w.name}`, tensor: w.tensor })),
    ];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    const byName = new Map(rest.map((w) => [w.name, w.tensor]));
    const numT = byName.get('nino/numStates');
    if (!numT)
      throw new Error(
        "NiNoOptimizer.setWeights: no 'nino/numStates' entry; these weights were not saved by a NiNoOptimizer",
      );
    const num = (await numT.data())[0];
    const n = this.modelGraph.graph.layout.total;
    const states: Float32Array[] = [];
    for (let i = 0; i < num; i++) {
      const t = byName.get(`nino/state/${i}`);
      if (!t) throw new Error(`NiNoOptimizer.setWeights: missing 'nino/state/${i}'`);
      if (t.size !== n)
        throw new Error(`NiNoOptimizer.setWeights: state ${i} has ${t.size} values, this model has ${n} parameters`);
      states.push(new Float32Array(await t.data()));
    }
    const base = rest
      .filter((w) => w.name.startsWith('nino/base/'))
      .map((w) => ({ name: w.name.slice('nino/base/'.length), tensor: w.tensor }));
    await this.baseOpt.setWeights(base);
    this.core.setState({ step: this.iterations_, states, events: [] });
  }

  getConfig(): tf.serialization.ConfigDict {
    return {
      period: this.core.period,
      maxTrainSteps: this.core.maxTrainSteps,
      ctx: this.core.ctx,
      nowcaster: this.core.nowcaster?.name ?? null,
      baseOpt: { className: this.baseOpt.getClassName(), config: this.baseOpt.getConfig() },
    };
  }

  override dispose(): void {
    this.baseOpt.dispose();
    this.core.clear();
    super.dispose();
  }
}
