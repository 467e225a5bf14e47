import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend.ts';
import { AdamW } from '../src/optim/adamw.ts';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('AdamW', () => {
  it('matches the PyTorch update worked out by hand', () => {
    // p=1, g=0.5, lr=0.1, wd=0.01:
    // decay: 1*(1-0.1*0.01)=0.999; m=0.05, v=0.00025; m/(1-0.9)=0.5, sqrt(v/(1-0.999))=0.5
    // p = 0.999 - 0.1*0.5/(0.5+1e-8) = 0.899
    const p = tf.variable(tf.scalar(1));
    const opt = new AdamW({ lr: 0.1, weightDecay: 0.01 });
    opt.step([p], [tf.scalar(0.5)]);
    expect(p.dataSync()[0]).toBeCloseTo(0.899, 6);
    // step 2 with g=0.5 again: m=0.095, v=0.0004998; mhat=0.095/0.19=0.5; vhat=0.0004998/0.001999=0.25
    // p = 0.899*0.999 - 0.1*0.5/0.5 = 0.798101
    opt.step([p], [tf.scalar(0.5)]);
    expect(p.dataSync()[0]).toBeCloseTo(0.798101, 5);
  });

  it('resumes exactly from a saved state and leaks no tensors', () => {
    const mk = () => [tf.variable(tf.tensor1d([1, -2, 3])), tf.variable(tf.tensor2d([[0.1, 0.2]]))];
    const grad = (s: number, ps: tf.Variable[]) => ps.map((p) => tf.tidy(() => p.mul(0.3).add(Math.sin(s))));
    const a = mk();
    const oa = new AdamW({ lr: 0.05 });
    for (let s = 0; s < 6; s++) {
      const g = grad(s, a);
      const n0 = tf.memory().numTensors;
      oa.step(a, g);
      if (s > 0) expect(tf.memory().numTensors).toBe(n0);
      g.forEach((x) => x.dispose());
    }
    const b = mk();
    const ob = new AdamW({ lr: 0.05 });
    for (let s = 0; s < 3; s++) ob.step(b, grad(s, b));
    const saved = ob.getState();
    const vals = b.map((p) => p.dataSync().slice());
    const c = vals.map((v, i) => tf.variable(tf.tensor(v, b[i].shape)));
    const oc = new AdamW({ lr: 0.05 });
    oc.setState(saved);
    for (let s = 3; s < 6; s++) oc.step(c, grad(s, c));
    for (let i = 0; i < a.length; i++) expect(Array.from(c[i].dataSync())).toEqual(Array.from(a[i].dataSync()));
  });
});
