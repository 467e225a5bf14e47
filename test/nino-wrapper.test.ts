import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend.ts';
import { exitCodeOf } from '../src/core/errors.ts';
import { AdamW } from '../src/optim/adamw.ts';
import { NiNo, type Nowcaster } from '../src/nowcast/nino.ts';
import { nowcastSteps } from '../src/nowcast/schedule.ts';
import { refJson } from './helpers/reference.ts';

/** Predicts last state + k * (last - previous): easy to check by hand. */
class RecordingNowcaster implements Nowcaster {
  readonly name = 'recording';
  readonly ctx = 5;
  readonly maxHorizon = 40;
  calls: { k: number; states: Float32Array }[] = [];
  constructor(private readonly poison = false) {}
  nowcast(states: Float32Array, k: number): Float32Array {
    this.calls.push({ k, states: states.slice() });
    const n = states.length / 5;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = states[i * 5 + 4] + k * (states[i * 5 + 4] - states[i * 5 + 3]);
    if (this.poison) out[0] = NaN;
    return out;
  }
}

beforeAll(async () => {
  await initBackend('cpu');
});

function run(maxTrainSteps: number, period: number, nc: Nowcaster | null) {
  const params = [tf.variable(tf.tensor1d([1, 2, 3])), tf.variable(tf.tensor2d([[0.5, -0.5]]))];
  const base = new AdamW({ lr: 0.01, weightDecay: 0 });
  const opt = new NiNo({ baseOpt: base, nowcaster: nc, period, maxTrainSteps });
  const nowcastAt: number[] = [];
  for (let s = 0; s < maxTrainSteps; s++) {
    const grads = opt.needGrads ? params.map((p) => tf.onesLike(p)) : null;
    if (!opt.needGrads) nowcastAt.push(s);
    const before = tf.memory().numTensors;
    opt.step(params, grads);
    if (!grads) expect(tf.memory().numTensors).toBe(before); // a nowcast allocates nothing that survives
    grads?.forEach((g) => g.dispose());
  }
  return { params, opt, base, nowcastAt };
}

describe('NiNo wrapper', () => {
  it('nowcasts at the official (stepIdx, k) pairs', () => {
    const entry = refJson<{ max_train_steps: number; period: number; nino_steps_step_idx_and_k: [number, number][] }[]>(
      'k_schedule.json',
    ).find((e) => e.max_train_steps === 2000 && e.period === 200)!;
    const nc = new RecordingNowcaster();
    const { nowcastAt } = run(2000, 200, nc);
    expect(nowcastAt).toEqual(entry.nino_steps_step_idx_and_k.map((x) => x[0]));
    expect(nc.calls.map((c) => c.k)).toEqual(entry.nino_steps_step_idx_and_k.map((x) => x[1]));
    expect(nowcastSteps({ maxTrainSteps: 2000, period: 200 })).toEqual(entry.nino_steps_step_idx_and_k);
  });

  it('takes states every period/ctx steps and writes the prediction into the params', () => {
    const nc = new RecordingNowcaster();
    const params = [tf.variable(tf.tensor1d([0, 0]))];
    // base optimizer that adds 1 to every parameter per step: params after s steps = s
    const plusOne = {
      stepCount: 0,
      needGrads: true,
      step(ps: tf.Variable[]) {
        ps.forEach((p) => tf.tidy(() => p.assign(p.add(1))));
        this.stepCount++;
      },
      getState: () => ({ kind: 'plus', step: 0, arrays: {} }),
      setState() {},
      dispose() {},
    };
    const opt = new NiNo({ baseOpt: plusOne, nowcaster: nc, period: 10, maxTrainSteps: 20 });
    for (let s = 0; s < 10; s++) opt.step(params, null);
    // states taken before steps 1,3,5,7,9 -> values 1,3,5,7,9 (steps done so far); step 9 is the nowcast
    expect(Array.from(nc.calls[0].states.subarray(0, 5))).toEqual([1, 3, 5, 7, 9]);
    expect(nc.calls[0].k).toBe(40);
    // 9 + 40 * (9 - 7)
    expect(Array.from(params[0].dataSync())).toEqual([89, 89]);
    expect(plusOne.stepCount).toBe(9);
  });

  it('does not apply a NaN nowcast and keeps training', () => {
    const nc = new RecordingNowcaster(true);
    const { params, opt } = run(20, 10, nc);
    expect(opt.events.length).toBe(2);
    expect(opt.events.every((e) => !e.applied)).toBe(true);
    for (const p of params) expect(Array.from(p.dataSync()).every(Number.isFinite)).toBe(true);
  });

  it('a run resumed from a saved state (base moments, buffered states, step) continues exactly like an uninterrupted one', () => {
    // deterministic gradients that depend on the parameters, so any lost or aliased state shows in the result
    const grads = (ps: tf.Variable[]) => ps.map((p) => tf.tidy(() => p.sub(0.3).mul(2)));
    const fresh = () => [tf.variable(tf.tensor1d([1, 2, 3])), tf.variable(tf.tensor2d([[0.5, -0.5]]))];
    const make = () =>
      new NiNo({
        baseOpt: new AdamW({ lr: 0.01, weightDecay: 0 }),
        nowcaster: new RecordingNowcaster(),
        period: 10,
        maxTrainSteps: 40,
      });
    const advance = (opt: NiNo, ps: tf.Variable[], from: number, to: number) => {
      for (let s = from; s < to; s++) {
        const g = opt.needGrads ? grads(ps) : null;
        opt.step(ps, g);
        g?.forEach((t) => t.dispose());
      }
    };
    const a = fresh();
    const optA = make();
    advance(optA, a, 0, 27);
    // stop at step 13: after one nowcast (step 9), with states of the second period already buffered
    const b = fresh();
    const optB = make();
    advance(optB, b, 0, 13);
    const saved = structuredClone(optB.getState()); // a copy: nothing aliases the live optimizer
    const savedParams = b.map((p) => ({ data: (p.dataSync() as Float32Array).slice(), shape: p.shape }));
    advance(optB, b, 13, 20); // the original keeps going: the saved copy must not change with it
    const c = savedParams.map((p) => tf.variable(tf.tensor(p.data, p.shape)));
    const optC = make();
    optC.setState(saved);
    expect(optC.stepCount).toBe(13);
    advance(optC, c, 13, 27);
    expect(optA.events.map((e) => e.stepIdx)).toEqual([9, 19]);
    expect(optC.events.map((e) => e.stepIdx)).toEqual([9, 19]);
    for (let i = 0; i < a.length; i++) expect(Array.from(c[i].dataSync())).toEqual(Array.from(a[i].dataSync()));
    expect(Array.from(optC.getState().arrays['base.m.0'])).toEqual(Array.from(optA.getState().arrays['base.m.0']));
    expect(Array.from(optC.getState().arrays['base.v.1'])).toEqual(Array.from(optA.getState().arrays['base.v.1']));
  });

  it('AdamW refuses a restored state for another number of tensors at its first step', () => {
    const src = new AdamW({ lr: 0.01, weightDecay: 0 });
    const two = [tf.variable(tf.tensor1d([1, 2])), tf.variable(tf.tensor1d([3]))];
    src.step(
      two,
      two.map((p) => tf.onesLike(p)),
    );
    const dst = new AdamW({ lr: 0.01, weightDecay: 0 });
    dst.setState(src.getState());
    const one = [tf.variable(tf.tensor1d([1, 2]))];
    expect(() =>
      dst.step(
        one,
        one.map((p) => tf.onesLike(p)),
      ),
    ).toThrow(/state of 2 tensors.*1 parameter tensors/);
  });

  it('rejects at construction a period that does not divide into ctx states', () => {
    const base = new AdamW({ lr: 0.01, weightDecay: 0 });
    expect(() => new NiNo({ baseOpt: base, nowcaster: new RecordingNowcaster(), period: 302 })).toThrow(
      /period 302 does not divide into 5 states.*e\.g\. 300/,
    );
    expect(() => new NiNo({ baseOpt: base, nowcaster: null, period: 302 })).not.toThrow();
    // an input error (CLI exit 2), not a runtime failure
    let err: unknown;
    try {
      new NiNo({ baseOpt: base, nowcaster: new RecordingNowcaster(), period: 302 });
    } catch (e) {
      err = e;
    }
    expect(exitCodeOf(err)).toBe(2);
  });

  it('without a nowcaster is the base optimizer', () => {
    const { opt, base } = run(30, 10, null);
    expect(opt.events.length).toBe(0);
    expect(base.stepCount).toBe(30);
  });
});
