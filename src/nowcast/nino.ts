/**
 * The NiNo optimizer wrapper: wraps any base optimizer and is itself an `Optimizer`.
 * Every `period` steps, once ctx parameter states (taken every period/ctx steps) are buffered, the step
 * is a nowcast (parameters jump k state-intervals ahead) instead of a base step. The exact steps,
 * the state buffer and the horizon schedule follow the official `optim/nino.py` (see schedule.ts).
 * The base optimizer's moments are kept across a jump, as in the official code. A nowcast whose
 * result has NaN/Inf is not applied: a warning is logged and training continues.
 *
 * `NiNoCore` is the one implementation of that logic (state buffer, schedule, jump, NaN guard) over
 * flat parameter vectors; `NiNo` (nino's own Optimizer seam) and the tfjs optimizer and model.fit
 * callback (src/tfjs/) only tell it how to read and write their parameters and how to take a base step.
 *
 *   const opt = new NiNo({ baseOpt: new AdamW({ lr: 6e-3, weightDecay: 0 }), nowcaster, period: 1000, maxTrainSteps: 10000 });
 *   for (...) { const grads = opt.needGrads ? computeGrads() : null; opt.step(params, grads); }
 */
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { silentLogger } from '../core/logger.ts';
import { flatten, unflattenInto } from '../core/flat.ts';
import type { Optimizer, OptimizerState } from '../optim/types.ts';
import { horizonAt, horizonSchedule, stateInterval } from './schedule.ts';

/** Anything that maps ctx raw parameter states to predicted raw parameters k intervals ahead. */
export interface Nowcaster {
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

export interface NowcastEvent {
  stepIdx: number;
  k: number;
  /** time of the nowcaster's prediction (ms) */
  ms: number;
  /** false when the jump was not applied (non-finite prediction, or every checked size made the loss worse) */
  applied: boolean;
  /** with a jump check: the fraction of the predicted jump taken (1 = whole, 0 = skipped) */
  scale?: number;
  /** with a jump check: check-batch loss before the jump and after the size taken (before, if skipped) */
  lossBefore?: number;
  lossAfter?: number;
  /** with a jump check: time spent evaluating the check loss (ms) */
  checkMs?: number;
  /** with a jump check: the check loss of every size tried, in order ([scale, loss]) */
  tried?: [number, number][];
  /** with a look-ahead check: the step at which the jump was judged, and whether it was undone there */
  judgedAt?: number;
  reverted?: boolean;
}

/**
 * A verified jump: the loss on a fixed check batch (not the training batch of the step) decides whether
 * a nowcast is taken whole, shrunk, or skipped. The sizes are tried in order and the first one whose loss
 * is no worse than before the jump (within `tolerance`, relative) is taken; when none is, the parameters
 * stay where Adam left them. Costs one loss evaluation before the jump and one per size tried.
 *
 * With `lookahead: L` the jump is judged L base steps later instead: the first size is taken, L base
 * steps run from it, and if the check loss then is still above the loss before the jump (beyond
 * `tolerance`) the parameters go back to where they were before the jump and the state buffer restarts
 * (the L steps are spent; the base optimizer's moments are kept). A jump often raises the loss at first
 * and pays off after Adam has adapted to it; the immediate check rejects those, the look-ahead does not.
 * Costs two loss evaluations and, per undone jump, L steps.
 */
export interface JumpCheck {
  /** loss of a flat parameter vector (the nowcaster's graph layout) on the check batch */
  loss(flat: Float32Array): number;
  /** fractions of the predicted jump to try, in order (default [1, 0.5, 0.25]) */
  scales?: readonly number[];
  /** accept a size whose loss is at most lossBefore * (1 + tolerance) (default 0) */
  tolerance?: number;
  /** judge each jump this many base steps after it (0 = right away, the default); see above */
  lookahead?: number;
}

export const DEFAULT_JUMP_SCALES: readonly number[] = [1, 0.5, 0.25];

export interface NiNoCoreOptions {
  /** null: never nowcast (every step is a base step) */
  nowcaster: Nowcaster | null;
  /** base steps between nowcasts (official default 1000); must be a multiple of the nowcaster's ctx */
  period?: number;
  /** training length the horizon schedule is spread over (official default 10000) */
  maxTrainSteps?: number;
  /** horizon decay power (official 2) */
  p?: number;
  /** check each jump on a held-out batch and shrink or skip it when it makes the loss worse (default: none, as the official code) */
  check?: JumpCheck;
  logger?: Logger;
}

/** Where NiNoCore reads the current parameters from and writes a nowcast to (flat vectors). */
export interface FlatParamIO {
  /** the current parameters as one flat vector (layout of the nowcaster's graph) */
  read(): Float32Array;
  /** writes a predicted flat vector back into the parameters */
  write(flat: Float32Array): void;
}

/** A look-ahead jump waiting to be judged: the parameters before it, their check loss, the step it is judged at. */
export interface PendingJump {
  before: Float32Array;
  lossBefore: number;
  judgeAt: number;
}

/** Serializable state of NiNoCore: step counter, buffered states, a jump waiting for its look-ahead verdict. */
export interface NiNoCoreState {
  step: number;
  states: Float32Array[];
  events: NowcastEvent[];
  pending?: PendingJump;
}

/**
 * The NiNo state buffer, schedule and jump over flat parameter vectors, independent of how parameters
 * are stored and of the base optimizer (official `optim/nino.py: NiNo.step`).
 */
export class NiNoCore {
  readonly nowcaster: Nowcaster | null;
  readonly period: number;
  readonly maxTrainSteps: number;
  readonly kSchedule: number[];
  readonly ctx: number;
  readonly every: number;
  private readonly logger: Logger;
  private readonly check: JumpCheck | null;
  /** 0-based index of the next step (official `step_idx`) */
  stepCount = 0;
  /** buffered flat parameter states, oldest first */
  private states: Float32Array[] = [];
  /** a jump taken under a look-ahead check, judged at pending.judgeAt */
  private pending: PendingJump | null = null;
  /** one entry per nowcast done, for reports (time spent nowcasting, k used) */
  readonly events: NowcastEvent[] = [];

  constructor(o: NiNoCoreOptions) {
    this.nowcaster = o.nowcaster;
    this.period = o.period ?? 1000;
    this.maxTrainSteps = o.maxTrainSteps ?? 10000;
    this.ctx = o.nowcaster?.ctx ?? 5;
    if (!Number.isInteger(this.period) || this.period < 1)
      throw new InputError(`NiNo: period must be a positive integer, got ${this.period}`);
    if (!Number.isInteger(this.maxTrainSteps) || this.maxTrainSteps < 1)
      throw new InputError(`NiNo: maxTrainSteps must be a positive integer, got ${this.maxTrainSteps}`);
    if (o.nowcaster && this.period % this.ctx !== 0) {
      throw new InputError(
        `NiNo: period ${this.period} does not divide into ${this.ctx} states (one every period/${this.ctx} steps); use a multiple of ${this.ctx}, e.g. ${Math.max(this.ctx, Math.round(this.period / this.ctx) * this.ctx)}`,
      );
    }
    this.every = stateInterval(this.period, this.ctx);
    this.kSchedule = horizonSchedule({
      maxTrainSteps: this.maxTrainSteps,
      period: this.period,
      p: o.p ?? 2,
      maxHorizon: o.nowcaster?.maxHorizon ?? 40,
    });
    this.logger = o.logger ?? silentLogger;
    this.check = o.check ?? null;
    if (this.check) {
      const sc = this.check.scales ?? DEFAULT_JUMP_SCALES;
      if (sc.length === 0 || sc.some((x) => !(x > 0 && x <= 1)))
        throw new InputError(`NiNo: jump check scales must be in (0, 1], got [${sc.join(', ')}]`);
      const tol = this.check.tolerance ?? 0;
      if (!(tol >= 0)) throw new InputError(`NiNo: jump check tolerance must be >= 0, got ${tol}`);
      const la = this.check.lookahead ?? 0;
      if (!Number.isInteger(la) || la < 0)
        throw new InputError(`NiNo: jump check lookahead must be a whole number of steps >= 0, got ${la}`);
      if (la >= this.period)
        throw new InputError(
          `NiNo: jump check lookahead ${la} must be shorter than the period ${this.period} (the next jump would come before the verdict)`,
        );
    }
  }

  /** True when the next step is a nowcast (the official `next_step_nino`). */
  get nextStepNowcast(): boolean {
    return !!this.nowcaster && this.states.length === this.ctx - 1 && (this.stepCount + 1) % this.every === 0;
  }

  /** Number of states buffered now. */
  get numStates(): number {
    return this.states.length;
  }

  /** Horizon k the nowcast at the current step would use. */
  currentK(): number {
    return horizonAt(this.kSchedule, this.stepCount, this.period);
  }

  /**
   * One training step: takes a state when due; the step that completes ctx states writes the nowcast
   * through `io` instead of calling `baseStep`. Returns true when this step was a nowcast.
   */
  step(io: FlatParamIO, baseStep: () => void): boolean {
    if (this.pending && this.stepCount === this.pending.judgeAt) this.judgePending(io);
    if (this.nowcaster) {
      if (this.states.length === this.ctx) this.states = [];
      if ((this.stepCount + 1) % this.every === 0) this.states.push(io.read());
    }
    const jump = !!this.nowcaster && this.states.length === this.ctx;
    if (jump) this.nowcastInto(io);
    else baseStep();
    this.stepCount++;
    return jump;
  }

  private nowcastInto(io: FlatParamIO): void {
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
      this.logger.warn(
        { stepIdx: this.stepCount, k, nowcaster: nc.name },
        'nowcast produced NaN/Inf; parameters left unchanged',
      );
      this.events.push({ stepIdx: this.stepCount, k, ms, applied: false });
      return;
    }
    if (!this.check) {
      io.write(pred);
      this.logger.debug({ stepIdx: this.stepCount, k, ms }, 'nowcast applied');
      this.events.push({ stepIdx: this.stepCount, k, ms, applied: true });
      return;
    }
    if (this.check.lookahead) this.lookaheadJump(io, this.states[ctx - 1], pred, k, ms);
    else this.checkedJump(io, this.states[ctx - 1], pred, k, ms);
  }

  /** Takes the first size now; judgePending decides lookahead steps later whether to keep it. */
  private lookaheadJump(io: FlatParamIO, cur: Float32Array, pred: Float32Array, k: number, ms: number): void {
    const check = this.check!;
    const t0 = performance.now();
    const lossBefore = check.loss(cur);
    const scale = (check.scales ?? DEFAULT_JUMP_SCALES)[0];
    const cand = scale === 1 ? pred : interpolate(cur, pred, scale);
    const lossJump = check.loss(cand);
    io.write(cand);
    this.pending = { before: cur, lossBefore, judgeAt: this.stepCount + 1 + check.lookahead! };
    const ev: NowcastEvent = {
      stepIdx: this.stepCount,
      k,
      ms,
      applied: true,
      scale,
      lossBefore,
      lossAfter: lossJump,
      checkMs: performance.now() - t0,
      tried: [[scale, lossJump]],
    };
    this.logger.debug(ev, 'nowcast applied; judged after the look-ahead');
    this.events.push(ev);
  }

  /** The look-ahead verdict: keeps the jump when the check loss is back at or below its value before the jump. */
  private judgePending(io: FlatParamIO): void {
    const p = this.pending!;
    this.pending = null;
    const check = this.check!;
    const t0 = performance.now();
    const loss = check.loss(io.read());
    const ev = this.events[this.events.length - 1];
    const keep =
      Number.isFinite(loss) && (!Number.isFinite(p.lossBefore) || loss <= p.lossBefore * (1 + (check.tolerance ?? 0)));
    if (!keep) {
      io.write(p.before);
      this.states = [];
    }
    ev.applied = keep;
    ev.reverted = !keep;
    ev.judgedAt = this.stepCount;
    ev.lossAfter = loss;
    if (!keep) ev.scale = 0;
    ev.checkMs = (ev.checkMs ?? 0) + performance.now() - t0;
    this.logger.debug(
      ev,
      keep
        ? 'look-ahead kept the jump'
        : 'look-ahead undid the jump: the check loss had not come back below its value before the jump',
    );
  }

  /** Takes the first jump size (of check.scales) that does not raise the check loss, or none. */
  private checkedJump(io: FlatParamIO, cur: Float32Array, pred: Float32Array, k: number, ms: number): void {
    const check = this.check!;
    const tol = check.tolerance ?? 0;
    const t0 = performance.now();
    const before = check.loss(cur);
    let taken: { scale: number; loss: number; params: Float32Array } | null = null;
    const tried: [number, number][] = [];
    for (const scale of check.scales ?? DEFAULT_JUMP_SCALES) {
      const cand = scale === 1 ? pred : interpolate(cur, pred, scale);
      const loss = check.loss(cand);
      tried.push([scale, loss]);
      if (Number.isFinite(loss) && (!Number.isFinite(before) || loss <= before * (1 + tol))) {
        taken = { scale, loss, params: cand };
        break;
      }
    }
    const checkMs = performance.now() - t0;
    if (taken) io.write(taken.params);
    const ev: NowcastEvent = {
      stepIdx: this.stepCount,
      k,
      ms,
      applied: !!taken,
      scale: taken?.scale ?? 0,
      lossBefore: before,
      lossAfter: taken?.loss ?? before,
      checkMs,
      tried,
    };
    this.logger.debug(
      ev,
      taken ? 'checked nowcast applied' : 'checked nowcast skipped: every size raised the check loss',
    );
    this.events.push(ev);
  }

  getState(): NiNoCoreState {
    return {
      step: this.stepCount,
      states: [...this.states],
      events: this.events.map((e) => ({ ...e })),
      ...(this.pending ? { pending: { ...this.pending } } : {}),
    };
  }

  setState(s: NiNoCoreState): void {
    if (s.states.length > this.ctx)
      throw new Error(`NiNo state has ${s.states.length} buffered states, the nowcaster uses ${this.ctx}`);
    this.states = [...s.states];
    this.events.length = 0;
    this.events.push(...s.events.map((e) => ({ ...e })));
    this.stepCount = s.step;
    this.pending = s.pending ? { ...s.pending } : null;
  }

  /** Drops the buffered states. */
  clear(): void {
    this.states = [];
  }
}

export interface NiNoOptions extends NiNoCoreOptions {
  baseOpt: Optimizer;
}

/** NiNo over nino's own Optimizer seam (tf.Variable lists in ParamSpec order). */
export class NiNo implements Optimizer {
  readonly baseOpt: Optimizer;
  readonly core: NiNoCore;

  constructor(o: NiNoOptions) {
    this.baseOpt = o.baseOpt;
    this.core = new NiNoCore(o);
  }

  get nowcaster(): Nowcaster | null {
    return this.core.nowcaster;
  }
  get period(): number {
    return this.core.period;
  }
  get maxTrainSteps(): number {
    return this.core.maxTrainSteps;
  }
  get kSchedule(): number[] {
    return this.core.kSchedule;
  }
  get ctx(): number {
    return this.core.ctx;
  }
  get stepCount(): number {
    return this.core.stepCount;
  }
  get events(): NowcastEvent[] {
    return this.core.events;
  }

  /** True when the next step() is a nowcast (the official `next_step_nino`). */
  get nextStepNowcast(): boolean {
    return this.core.nextStepNowcast;
  }

  get needGrads(): boolean {
    return !this.core.nextStepNowcast;
  }

  /** Horizon k the nowcast at the current step would use. */
  currentK(): number {
    return this.core.currentK();
  }

  step(params: tf.Variable[], grads: tf.Tensor[] | null): void {
    this.core.step({ read: () => flatten(params), write: (v) => unflattenInto(params, v) }, () =>
      this.baseOpt.step(params, grads),
    );
  }

  getState(): OptimizerState {
    const base = this.baseOpt.getState();
    const st = this.core.getState();
    const arrays: Record<string, Float32Array> = {};
    for (const [key, v] of Object.entries(base.arrays)) arrays[`base.${key}`] = v;
    st.states.forEach((s, i) => (arrays[`state.${i}`] = s));
    if (st.pending) arrays['pending.before'] = st.pending.before;
    const pending = st.pending ? { lossBefore: st.pending.lossBefore, judgeAt: st.pending.judgeAt } : undefined;
    return {
      kind: 'nino',
      step: st.step,
      arrays,
      extra: {
        base: { kind: base.kind, step: base.step, extra: base.extra ?? {} },
        numStates: st.states.length,
        events: st.events,
        ...(pending ? { pending } : {}),
      },
    };
  }

  setState(s: OptimizerState): void {
    if (s.kind !== 'nino') throw new Error(`cannot load optimizer state of kind '${s.kind}' into NiNo`);
    const extra = s.extra as {
      base: { kind: string; step: number; extra: Record<string, unknown> };
      numStates: number;
      events: NowcastEvent[];
      pending?: { lossBefore: number; judgeAt: number };
    };
    const baseArrays: Record<string, Float32Array> = {};
    for (const [key, v] of Object.entries(s.arrays)) if (key.startsWith('base.')) baseArrays[key.slice(5)] = v;
    const before = s.arrays['pending.before'];
    if (extra.pending && !before)
      throw new Error("NiNo state: a pending look-ahead jump without its 'pending.before' parameters");
    this.baseOpt.setState({
      kind: extra.base.kind,
      step: extra.base.step,
      arrays: baseArrays,
      extra: extra.base.extra,
    });
    const states: Float32Array[] = [];
    for (let i = 0; i < extra.numStates; i++) states.push(s.arrays[`state.${i}`]);
    this.core.setState({
      step: s.step,
      states,
      events: extra.events ?? [],
      ...(extra.pending ? { pending: { ...extra.pending, before } } : {}),
    });
  }

  dispose(): void {
    this.baseOpt.dispose();
    this.core.clear();
  }
}

/** cur + scale * (pred - cur), elementwise */
function interpolate(cur: Float32Array, pred: Float32Array, scale: number): Float32Array {
  const out = new Float32Array(cur.length);
  for (let i = 0; i < cur.length; i++) out[i] = cur[i] + scale * (pred[i] - cur[i]);
  return out;
}
