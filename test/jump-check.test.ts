import { describe, expect, it } from 'vitest';
import { NiNoCore, type ParamNowcaster } from '../src/nowcast/nino.ts';
import { InputError } from '../src/core/errors.ts';

/** Predicts a fixed target vector, whatever the states. */
class FixedNowcaster implements ParamNowcaster {
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
    expect(() => new NiNoCore({ nowcaster: nc, period: 5, check: { loss: () => 0, scales: [1.5] } })).toThrow(InputError);
    expect(() => new NiNoCore({ nowcaster: nc, period: 5, check: { loss: () => 0, scales: [] } })).toThrow(/scales/);
    expect(() => new NiNoCore({ nowcaster: nc, period: 5, check: { loss: () => 0, tolerance: -1 } })).toThrow(/tolerance/);
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
