import { describe, expect, it } from 'vitest';
import { NiNo, NiNoCore, type NowcastEvent, type Nowcaster } from '../src/nowcast/nino.ts';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/core/backend.ts';
import { InputError } from '../src/core/errors.ts';
import { AdamW } from '../src/optim/adamw.ts';

/** Predicts a fixed target vector, whatever the states. */
class FixedNowcaster implements Nowcaster {
  readonly name = 'fixed';
  readonly ctx = 5;
  readonly maxHorizon = 40;
  constructor(private readonly target: Float32Array) {}
  nowcast(): Float32Array {
    return this.target.slice();
  }
}

/** Runs NiNoCore on a 1-parameter "model" whose base step adds 1; returns the params after the first jump and the event. */
function firstJump(target: number, loss: (x: number) => number, check = true, scales?: number[]) {
  let x = 0;
  const losses: number[] = [];
  const core = new NiNoCore({
    nowcaster: new FixedNowcaster(new Float32Array([target])),
    period: 5,
    maxTrainSteps: 100,
    check: check
      ? {
          scales,
          loss: (flat) => {
            losses.push(flat[0]);
            return loss(flat[0]);
          },
        }
      : undefined,
  });
  const io = { read: () => new Float32Array([x]), write: (v: Float32Array) => (x = v[0]) };
  for (let s = 0; s < 5; s++) core.step(io, () => (x += 1));
  expect(core.events.length).toBe(1);
  return { x, ev: core.events[0], evaluated: losses };
}

describe('verified jump (NiNoCore check)', () => {
  // before the jump x = 4 (four base steps, the fifth step is the jump)
  it('takes the whole jump when it lowers the check loss', () => {
    const { x, ev, evaluated } = firstJump(10, (v) => (v - 10) ** 2);
    expect(x).toBe(10);
    expect(ev).toMatchObject({ applied: true, scale: 1, lossBefore: 36, lossAfter: 0 });
    expect(evaluated).toEqual([4, 10]);
  });

  it('shrinks an overshooting jump to the first size that does not raise the loss', () => {
    // optimum at 6: the whole jump to 10 gives 16 > 4, half the jump (7) gives 1
    const { x, ev, evaluated } = firstJump(10, (v) => (v - 6) ** 2);
    expect(x).toBe(7);
    expect(ev).toMatchObject({ applied: true, scale: 0.5, lossBefore: 4, lossAfter: 1 });
    expect(evaluated).toEqual([4, 10, 7]);
    expect(ev.checkMs).toBeGreaterThanOrEqual(0);
  });

  it('skips a jump every size of which raises the loss, leaving the parameters where the base steps left them', () => {
    const { x, ev, evaluated } = firstJump(10, (v) => (v - 4) ** 2);
    expect(x).toBe(4);
    expect(ev).toMatchObject({ applied: false, scale: 0, lossBefore: 0, lossAfter: 0 });
    expect(evaluated).toEqual([4, 10, 7, 5.5]);
  });

  it('without a check the jump is taken as predicted, even when it is worse', () => {
    const { x, ev, evaluated } = firstJump(10, (v) => (v - 4) ** 2, false);
    expect(x).toBe(10);
    expect(ev.applied).toBe(true);
    expect(ev.scale).toBeUndefined();
    expect(evaluated).toEqual([]);
  });

  it('uses the given sizes', () => {
    const { x, ev } = firstJump(10, (v) => (v - 5) ** 2, true, [0.1]);
    expect(x).toBeCloseTo(4.6, 6);
    expect(ev.scale).toBe(0.1);
  });

  it('rejects sizes outside (0, 1]', () => {
    const nc = new FixedNowcaster(new Float32Array([1]));
    expect(() => new NiNoCore({ nowcaster: nc, period: 5, check: { loss: () => 0, scales: [1.5] } })).toThrow(
      InputError,
    );
    expect(() => new NiNoCore({ nowcaster: nc, period: 5, check: { loss: () => 0, scales: [] } })).toThrow(/scales/);
    expect(() => new NiNoCore({ nowcaster: nc, period: 5, check: { loss: () => 0, tolerance: -1 } })).toThrow(
      /tolerance/,
    );
  });
});

/** NiNoCore with a look-ahead check on a 1-parameter "model" whose base step adds 1; the fixed nowcaster predicts 10. */
function lookaheadRun(loss: (x: number) => number, steps: number, lookahead = 2) {
  let x = 0;
  const xs: number[] = [];
  const evaluated: number[] = [];
  const core = new NiNoCore({
    nowcaster: new FixedNowcaster(new Float32Array([10])),
    period: 5,
    maxTrainSteps: 100,
    check: { lookahead, loss: (flat) => (evaluated.push(flat[0]), loss(flat[0])) },
  });
  const io = { read: () => new Float32Array([x]), write: (v: Float32Array) => (x = v[0]) };
  for (let s = 0; s < steps; s++) {
    core.step(io, () => (x += 1));
    xs.push(x);
  }
  return { core, xs, evaluated };
}

describe('look-ahead verified jump (NiNoCore check.lookahead)', () => {
  // period 5 with ctx 5: a state every step, the jump at step 4 (x 4 -> 10), judged at the start of step 4 + 1 + 2 = 7
  it('keeps a jump whose check loss has come back below its value before the jump', () => {
    // optimum at 12: right after the jump (10) the loss is 4, two base steps later (12) it is 0 <= 64 before
    const { core, xs, evaluated } = lookaheadRun((v) => (v - 12) ** 2, 9);
    expect(xs).toEqual([1, 2, 3, 4, 10, 11, 12, 13, 14]);
    expect(evaluated).toEqual([4, 10, 12]);
    expect(core.events[0]).toMatchObject({
      stepIdx: 4,
      applied: true,
      reverted: false,
      judgedAt: 7,
      lossBefore: 64,
      lossAfter: 0,
      scale: 1,
    });
  });

  it('undoes a jump that has not recovered: the parameters return to before the jump and the state buffer restarts', () => {
    // optimum at 4: the loss was 0 before the jump and is 64 two steps after it
    const { core, xs } = lookaheadRun((v) => (v - 4) ** 2, 12);
    // step 7 starts back at 4 and adds 1; the next jump needs 5 fresh states (4..8), so it comes at step 11, not 9
    expect(xs).toEqual([1, 2, 3, 4, 10, 11, 12, 5, 6, 7, 8, 10]);
    expect(core.events.map((e) => e.stepIdx)).toEqual([4, 11]);
    expect(core.events[0]).toMatchObject({
      applied: false,
      reverted: true,
      judgedAt: 7,
      lossBefore: 0,
      lossAfter: 64,
      scale: 0,
    });
  });

  it('a run saved while a jump waits for its verdict resumes exactly (NiNo getState/setState)', async () => {
    await initBackend('cpu');
    const fresh = () => [tf.variable(tf.tensor1d([1, 2, 3]))];
    // optimum at 2: the fixed jump to 0.5 moves away from it, so its verdict (3 steps later) undoes it
    const make = () =>
      new NiNo({
        baseOpt: new AdamW({ lr: 0.05, weightDecay: 0 }),
        nowcaster: new FixedNowcaster(new Float32Array([0.5, 0.5, 0.5])),
        period: 10,
        maxTrainSteps: 40,
        check: { lookahead: 3, loss: (f) => f.reduce((a, v) => a + (v - 2) ** 2, 0) },
      });
    const advance = (opt: NiNo, ps: tf.Variable[], from: number, to: number) => {
      for (let s = from; s < to; s++) {
        const g = opt.needGrads ? ps.map((p) => tf.tidy(() => p.sub(2).mul(2))) : null;
        opt.step(ps, g);
        g?.forEach((t) => t.dispose());
      }
    };
    const a = fresh();
    const optA = make();
    advance(optA, a, 0, 30);
    const b = fresh();
    const optB = make();
    advance(optB, b, 0, 11); // the jump came at step 9, its verdict is due at step 13
    const saved = structuredClone(optB.getState());
    expect(saved.arrays['pending.before']).toBeDefined();
    const c = [tf.variable(tf.tensor((b[0].dataSync() as Float32Array).slice(), b[0].shape))];
    const optC = make();
    optC.setState(saved);
    advance(optC, c, 11, 30);
    expect(optA.events.length).toBeGreaterThan(0);
    expect(optA.events[0].reverted).toBe(true); // 0.5 is farther from the optimum 2 than Adam gets in 3 steps
    const untimed = (evs: readonly NowcastEvent[]) => evs.map(({ ms: _ms, checkMs: _c, ...rest }) => rest);
    expect(untimed(optC.events)).toEqual(untimed(optA.events));
    expect(Array.from(c[0].dataSync())).toEqual(Array.from(a[0].dataSync()));
  });

  it('rejects a look-ahead that is not a whole number of steps shorter than the period', () => {
    const nc = new FixedNowcaster(new Float32Array([1]));
    expect(() => new NiNoCore({ nowcaster: nc, period: 5, check: { loss: () => 0, lookahead: 5 } })).toThrow(
      /shorter than the period/,
    );
    expect(() => new NiNoCore({ nowcaster: nc, period: 5, check: { loss: () => 0, lookahead: 1.5 } })).toThrow(
      InputError,
    );
  });
});

describe('jump check on a real task runtime', () => {
  it('is the model loss on a fixed batch of the validation split, not the test set', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const tf = await import('@tensorflow/tfjs');
    const { initBackend } = await import('../src/core/backend.ts');
    const { getTask } = await import('../src/tasks/registry.ts');
    const { loadTaskRuntime, CHECK_BATCHES } = await import('../src/tasks/runtime.ts');
    const { jumpCheckFor } = await import('../src/training/check.ts');
    const { writeFakeFashionMnist } = await import('./helpers/fake-data.ts');
    await initBackend('wasm');
    // 1200 training images: the last floor(1200/12) = 100 are the validation split
    const dataDir = writeFakeFashionMnist(mkdtempSync(join(tmpdir(), 'nino-check-')), 1200, 60);
    const spec = getTask('FM-16-3k');
    const rt = await loadTaskRuntime(spec, { dataDir });
    const b = rt.checkBatch();
    expect(rt.checkBatch()).toBe(b); // made once
    expect(b.x.shape[0]).toBe(Math.min(100, CHECK_BATCHES * spec.batchSize));
    // labels of the fake set cycle through i % 10; validation starts at image 1100
    expect(Array.from(b.y.dataSync()).slice(0, 12)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    const init = rt.initParams(3);
    const flat = new Float32Array(init.reduce((a, p) => a + p.length, 0));
    let off = 0;
    for (const p of init) {
      flat.set(p, off);
      off += p.length;
    }
    const ps = rt.model.specs.map((s, i) => tf.tensor(init[i], s.shape));
    const want = rt.model.loss(ps, b).dataSync()[0];
    const check = jumpCheckFor(rt);
    expect(check.loss(flat)).toBeCloseTo(want, 5);
    // a different vector gives a different loss (the check reads the vector it is given)
    const other = flat.map((v) => v * 0.5);
    expect(Math.abs(check.loss(other) - want)).toBeGreaterThan(1e-4);
    expect(() => check.loss(flat.subarray(1))).toThrow(/parameters/);
    ps.forEach((t) => t.dispose());
  });
});
