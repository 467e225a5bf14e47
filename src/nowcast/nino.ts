/**
 * The NiNo optimizer wrapper: wraps any base optimizer and is itself an `Optimizer`.
 * Every `period` steps, once ctx parameter states (taken every period/ctx steps) are buffered, the step
 * is a nowcast (parameters jump k state-intervals ahead) instead of a base step. The exact steps,
 * the state buffer and the horizon schedule follow the official `optim/nino.py` (see schedule.ts).
 * The base optimizer's moments are kept across a jump, as in the official code. A nowcast whose
 * result has NaN/Inf is not applied: a warning is logged and training continues.
 *
 *   const opt = new NiNo({ baseOpt: new AdamW({ lr: 6e-3, weightDecay: 0 }), nowcaster, period: 1000, maxTrainSteps: 10000 });
 *   for (...) { const grads = opt.needGrads ? computeGrads() : null; opt.step(params, grads); }
 */
import * as tf from '@tensorflow/tfjs';
import type { Logger } from '../core/logger.ts';
import { silentLogger } from '../core/logger.ts';
import { flatten, unflattenInto } from '../core/flat.ts';
import type { Optimizer, OptimizerState } from '../optim/types.ts';
import { horizonAt, horizonSchedule, stateInterval } from './schedule.ts';

/** Anything that maps ctx raw parameter states to predicted raw parameters k intervals ahead. */
export interface ParamNowcaster {
  readonly name: string;
  /** number of states consumed (official: 5) */
  readonly ctx: number;
  /** largest supported horizon (official DMS head: 40) */
  readonly maxHorizon: number;
  /**
   * @param states raw parameter states, [numParams, ctx] row-major, oldest first
   * @param k horizon in state intervals (1..maxHorizon)
   * @returns predicted flat parameter vector [numParams]
   */
  nowcast(states: Float32Array, k: number): Float32Array;
}

export interface NiNoOptions {
  baseOpt: Optimizer;
  /** null: behave exactly like the base optimizer */
  nowcaster: ParamNowcaster | null;
  /** base steps between nowcasts (official default 1000) */
  period?: number;
  /** training length the horizon schedule is spread over (official default 10000) */
  maxTrainSteps?: number;
  /** horizon decay power (official 2) */
  p?: number;
  logger?: Logger;
}

export interface NowcastEvent {
  stepIdx: number;
  k: number;
  ms: number;
  applied: boolean;
}

export class NiNo implements Optimizer {
  readonly baseOpt: Optimizer;
  readonly nowcaster: ParamNowcaster | null;
  readonly period: number;
  readonly maxTrainSteps: number;
  readonly kSchedule: number[];
  readonly ctx: number;
  private readonly every: number;
  private readonly logger: Logger;
  /** 0-based index of the next step (official `step_idx`) */
  stepCount = 0;
  /** buffered flat parameter states, oldest first */
  private states: Float32Array[] = [];
  /** one entry per nowcast done, for reports (time spent nowcasting, k used) */
  readonly events: NowcastEvent[] = [];

  constructor(o: NiNoOptions) {
    this.baseOpt = o.baseOpt;
    this.nowcaster = o.nowcaster;
    this.period = o.period ?? 1000;
    this.maxTrainSteps = o.maxTrainSteps ?? 10000;
    this.ctx = o.nowcaster?.ctx ?? 5;
    this.every = stateInterval(this.period, this.ctx);
    this.kSchedule = horizonSchedule({ maxTrainSteps: this.maxTrainSteps, period: this.period, p: o.p ?? 2, seqLen: o.nowcaster?.maxHorizon ?? 40 });
    this.logger = o.logger ?? silentLogger;
  }

  /** True when the next step() is a nowcast (the official `next_step_nino`). */
  get nextStepNowcast(): boolean {
    return !!this.nowcaster && this.states.length === this.ctx - 1 && (this.stepCount + 1) % this.every === 0;
  }

  get needGrads(): boolean {
    return !this.nextStepNowcast;
  }

  /** Horizon k the nowcast at the current step would use. */
  currentK(): number {
    return horizonAt(this.kSchedule, this.stepCount, this.period);
  }

  step(params: tf.Variable[], grads: tf.Tensor[] | null): void {
    if (this.nowcaster) {
      if (this.states.length === this.ctx) this.states = [];
      if ((this.stepCount + 1) % this.every === 0) this.states.push(flatten(params));
    }
    if (this.nowcaster && this.states.length === this.ctx) {
      this.nowcastInPlace(params);
    } else {
      this.baseOpt.step(params, grads);
    }
    this.stepCount++;
  }

  private nowcastInPlace(params: tf.Variable[]): void {
    const nc = this.nowcaster!;
    const n = this.states[0].length;
    const ctx = this.ctx;
    const stacked = new Float32Array(n * ctx);
    for (let t = 0; t < ctx; t++) {
      const s = this.states[t];
      for (let i = 0; i < n; i++) stacked[i * ctx + t] = s[i];
    }
    const k = this.currentK();
    const t0 = performance.now();
    const pred = nc.nowcast(stacked, k);
    const ms = performance.now() - t0;
    let finite = pred.length === n;
    for (let i = 0; finite && i < n; i++) if (!Number.isFinite(pred[i])) finite = false;
    if (!finite) {
      this.logger.warn({ stepIdx: this.stepCount, k, nowcaster: nc.name }, 'nowcast produced NaN/Inf; parameters left unchanged');
    } else {
      unflattenInto(params, pred);
      this.logger.debug({ stepIdx: this.stepCount, k, ms }, 'nowcast applied');
    }
    this.events.push({ stepIdx: this.stepCount, k, ms, applied: finite });
  }

  getState(): OptimizerState {
    const base = this.baseOpt.getState();
    const arrays: Record<string, Float32Array> = {};
    for (const [key, v] of Object.entries(base.arrays)) arrays[`base.${key}`] = v;
    this.states.forEach((s, i) => (arrays[`state.${i}`] = s));
    return {
      kind: 'nino',
      step: this.stepCount,
      arrays,
      extra: { base: { kind: base.kind, step: base.step, extra: base.extra ?? {} }, numStates: this.states.length, events: this.events },
    };
  }

  setState(s: OptimizerState): void {
    if (s.kind !== 'nino') throw new Error(`cannot load optimizer state of kind '${s.kind}' into NiNo`);
    const extra = s.extra as { base: { kind: string; step: number; extra: Record<string, unknown> }; numStates: number; events: NowcastEvent[] };
    const baseArrays: Record<string, Float32Array> = {};
    for (const [key, v] of Object.entries(s.arrays)) if (key.startsWith('base.')) baseArrays[key.slice(5)] = v;
    this.baseOpt.setState({ kind: extra.base.kind, step: extra.base.step, arrays: baseArrays, extra: extra.base.extra });
    this.states = [];
    for (let i = 0; i < extra.numStates; i++) this.states.push(s.arrays[`state.${i}`]);
    this.events.length = 0;
    this.events.push(...(extra.events ?? []));
    this.stepCount = s.step;
  }

  dispose(): void {
    this.baseOpt.dispose();
    this.states = [];
  }
}
