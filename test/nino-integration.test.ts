/** The NiNo wrapper around AdamW on a real conv net with the official checkpoint (wasm backend). */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend.ts';
import { Rng } from '../src/core/rng.ts';
import { createNiNo } from '../src/nowcast/index.ts';
import { AdamW } from '../src/optim/adamw.ts';
import { makeConvNet } from '../src/tasks/models/convnet.ts';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('createNiNo on a conv net', () => {
  it('alternates Adam and nowcasts with the official checkpoint and keeps the tensor count', async () => {
    const model = makeConvNet({ hid: [4, 6, 6], inChannels: 1, numClasses: 10 });
    const rng = new Rng(3);
    const init = model.init(rng);
    const params = model.specs.map((s, i) => tf.variable(tf.tensor(init[i], s.shape)));
    const opt = await createNiNo({
      baseOpt: new AdamW({ lr: 6e-3, weightDecay: 0 }),
      model,
      ckpt: 'official:nino_no_posw',
      period: 10,
      maxTrainSteps: 20,
    });
    const x = tf.randomNormal([8, 28, 28, 1], 0, 1, 'float32', 1);
    const y = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32');
    let counted = -1;
    for (let s = 0; s < 20; s++) {
      if (opt.needGrads) {
        const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) => model.loss(ps, { x, y }))(params);
        opt.step(params, grads);
        value.dispose();
        tf.dispose(grads);
      } else {
        const before = tf.memory().numTensors;
        opt.step(params, null);
        expect(tf.memory().numTensors).toBe(before);
      }
      if (s === 12) counted = tf.memory().numTensors;
      if (s > 12) expect(tf.memory().numTensors).toBe(counted);
    }
    expect(opt.events.map((e) => [e.stepIdx, e.k])).toEqual([
      [9, 40],
      [19, 1],
    ]);
    expect(opt.events.every((e) => e.applied)).toBe(true);
    for (const p of params) expect(Array.from(p.dataSync()).every(Number.isFinite)).toBe(true);
  });
});

describe("the project's own checkpoints", () => {
  it('are the default nowcaster and give finite nowcasts on FM-16', async () => {
    const { defaultNowcasterRef } = await import('../src/nowcast/index.ts');
    const { resolveNowcaster } = await import('../src/nowcast/resolve.ts');
    expect(defaultNowcasterRef()).toBe('project');
    const model = makeConvNet({ hid: [16, 32, 32], inChannels: 1, numClasses: 10 });
    const init = model
      .init(new Rng(5))
      .map((a) => Array.from(a))
      .flat();
    const n = init.length;
    const states = new Float32Array(n * 5);
    for (let i = 0; i < n; i++) for (let t = 0; t < 5; t++) states[i * 5 + t] = init[i] * (1 + 0.01 * t);
    for (const ref of ['project', 'project-mlp']) {
      const nc = await resolveNowcaster(ref, { model });
      const pred = nc.nowcast(states, 10);
      expect(pred.length).toBe(14378);
      expect(pred.every(Number.isFinite)).toBe(true);
    }
  });
});
