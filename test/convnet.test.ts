/**
 * The paper's vision conv net (src/tasks/models/convnet.ts): PyTorch parameter names/shapes/counts,
 * PyTorch-default init, forward against a naive float64 implementation of the PyTorch model (NCHW / OIHW
 * semantics, so the layout transposes are checked), loss, and gradients against central finite
 * differences of that float64 reference, on both the cpu and the wasm backend.
 *
 *   npx vitest run test/convnet.test.ts
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend.ts';
import { makeLayout } from '../src/core/params.ts';
import { Rng } from '../src/core/rng.ts';
import { makeConvNet, type ConvNetConfig } from '../src/tasks/models/convnet.ts';

beforeAll(async () => {
  await initBackend('wasm');
});

// ---------- naive float64 reference of the PyTorch Net ----------
/** PyTorch Conv2d on x [C][H][W] (one image) with weight [O][C][3][3] flat, bias [O]. */
function refConv(
  x: Float64Array[][],
  C: number,
  H: number,
  W: number,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  O: number,
  stride: number,
  pad: number,
) {
  const Ho = Math.floor((H + 2 * pad - 3) / stride) + 1;
  const Wo = Math.floor((W + 2 * pad - 3) / stride) + 1;
  const out: Float64Array[][] = [];
  for (let o = 0; o < O; o++) {
    const plane: Float64Array[] = [];
    for (let i = 0; i < Ho; i++) {
      const row = new Float64Array(Wo);
      for (let j = 0; j < Wo; j++) {
        let s = b[o];
        for (let c = 0; c < C; c++)
          for (let ki = 0; ki < 3; ki++)
            for (let kj = 0; kj < 3; kj++) {
              const r = i * stride + ki - pad;
              const q = j * stride + kj - pad;
              if (r < 0 || r >= H || q < 0 || q >= W) continue;
              s += w[((o * C + c) * 3 + ki) * 3 + kj] * x[c][r][q];
            }
        row[j] = Math.max(s, 0); // every conv is followed by ReLU
      }
      plane.push(row);
    }
    out.push(plane);
  }
  return { out, Ho, Wo };
}

/** Logits [B][classes] of the PyTorch Net for NHWC input x (flat), params in PyTorch layouts. */
function refLogits(cfg: ConvNetConfig, p: ArrayLike<number>[], x: ArrayLike<number>, B: number, S: number): number[][] {
  const [h0, h1, h2] = cfg.hid;
  const Cin = cfg.inChannels;
  const res: number[][] = [];
  for (let n = 0; n < B; n++) {
    const img: Float64Array[][] = [];
    for (let c = 0; c < Cin; c++) {
      const plane: Float64Array[] = [];
      for (let i = 0; i < S; i++) {
        const row = new Float64Array(S);
        for (let j = 0; j < S; j++) row[j] = x[((n * S + i) * S + j) * Cin + c];
        plane.push(row);
      }
      img.push(plane);
    }
    const a = refConv(img, Cin, S, S, p[0], p[1], h0, 2, 0);
    const b = refConv(a.out, h0, a.Ho, a.Wo, p[2], p[3], h1, 1, 1);
    const c = refConv(b.out, h1, b.Ho, b.Wo, p[4], p[5], h2, 1, 1);
    const pooled = c.out.map(
      (plane) => plane.reduce((s, row) => s + row.reduce((t, v) => t + v, 0), 0) / (c.Ho * c.Wo),
    );
    const logits: number[] = [];
    for (let k = 0; k < cfg.numClasses; k++) {
      let s = p[7][k];
      for (let j = 0; j < h2; j++) s += p[6][k * h2 + j] * pooled[j];
      logits.push(s);
    }
    res.push(logits);
  }
  return res;
}

function refLoss(
  cfg: ConvNetConfig,
  p: ArrayLike<number>[],
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  B: number,
  S: number,
): number {
  const L = refLogits(cfg, p, x, B, S);
  let tot = 0;
  for (let n = 0; n < B; n++) {
    const m = Math.max(...L[n]);
    const lse = m + Math.log(L[n].reduce((s, v) => s + Math.exp(v - m), 0));
    tot += lse - L[n][y[n]];
  }
  return tot / B;
}

// ---------- helpers ----------
function randImages(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

describe('convnet parameters', () => {
  it('FM-16 has the PyTorch names, shapes and 14,378 params', () => {
    const m = makeConvNet({ hid: [16, 32, 32], inChannels: 1, numClasses: 10, imageSize: 28 });
    expect(m.arch).toBe('convnet');
    expect(m.specs).toEqual([
      { name: 'fc.0.weight', shape: [16, 1, 3, 3] },
      { name: 'fc.0.bias', shape: [16] },
      { name: 'fc.2.weight', shape: [32, 16, 3, 3] },
      { name: 'fc.2.bias', shape: [32] },
      { name: 'fc.4.weight', shape: [32, 32, 3, 3] },
      { name: 'fc.4.bias', shape: [32] },
      { name: 'fc.8.weight', shape: [10, 32] },
      { name: 'fc.8.bias', shape: [10] },
    ]);
    expect(makeLayout(m.specs).total).toBe(14378);
  });

  it('C10-16 (3 input channels) has 14,666 params', () => {
    const m = makeConvNet({ hid: [16, 32, 32], inChannels: 3, numClasses: 10 });
    expect(makeLayout(m.specs).total).toBe(14666);
    expect(m.graphInfo.imageSize).toBe(32);
  });

  it('init is deterministic and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) per tensor', () => {
    const m = makeConvNet({ hid: [16, 32, 32], inChannels: 1, numClasses: 10 });
    const a = m.init(new Rng(1000));
    const b = m.init(new Rng(1000));
    const c = m.init(new Rng(1001));
    expect(a.map((t) => Array.from(t))).toEqual(b.map((t) => Array.from(t)));
    expect(Array.from(a[2].slice(0, 5))).not.toEqual(Array.from(c[2].slice(0, 5)));
    const fanIn = [9, 9, 144, 144, 288, 288, 32, 32];
    a.forEach((t, i) => {
      expect(t.length).toBe(m.specs[i].shape.reduce((p, q) => p * q, 1));
      const bound = 1 / Math.sqrt(fanIn[i]);
      let maxAbs = 0;
      let sq = 0;
      for (const v of t) {
        maxAbs = Math.max(maxAbs, Math.abs(v));
        sq += v * v;
      }
      expect(maxAbs).toBeLessThanOrEqual(bound);
      if (t.length >= 144) {
        // std of U(-b, b) is b/sqrt(3)
        expect(Math.sqrt(sq / t.length)).toBeGreaterThan(0.85 * (bound / Math.sqrt(3)));
        expect(Math.sqrt(sq / t.length)).toBeLessThan(1.15 * (bound / Math.sqrt(3)));
        expect(maxAbs).toBeGreaterThan(0.9 * bound);
      }
    });
  });
});

describe('convnet forward and loss', () => {
  it('FM-16 logits [B,10] on 28x28x1 and C10-16 logits on 32x32x3; no tensor leak', () => {
    for (const [cin, S] of [
      [1, 28],
      [3, 32],
    ]) {
      const m = makeConvNet({ hid: [16, 32, 32], inChannels: cin, numClasses: 10 });
      const params = m.init(new Rng(3)).map((a, i) => tf.tensor(a, m.specs[i].shape));
      const x = tf.randomNormal([5, S, S, cin]);
      const y = tf.tensor1d([0, 1, 2, 3, 9], 'int32');
      const before = tf.memory().numTensors;
      const logits = m.forward(params, x);
      expect(logits.shape).toEqual([5, 10]);
      logits.dispose();
      const loss = m.loss(params, { x, y });
      expect(loss.shape).toEqual([]);
      const l = loss.dataSync()[0];
      expect(Number.isFinite(l)).toBe(true);
      expect(Math.abs(l - Math.log(10))).toBeLessThan(0.5); // near-uniform predictions at init
      loss.dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([...params, x, y]);
    }
  });

  it('rejects NCHW-shaped input', () => {
    const m = makeConvNet({ hid: [16, 32, 32], inChannels: 1, numClasses: 10 });
    const params = m.init(new Rng(3)).map((a, i) => tf.tensor(a, m.specs[i].shape));
    expect(() => m.forward(params, tf.zeros([2, 1, 28, 28]))).toThrow(/NHWC/);
  });

  const cfg: ConvNetConfig = { hid: [3, 4, 5], inChannels: 2, numClasses: 4, imageSize: 9 };
  const B = 3;
  const S = 9;
  const rng = new Rng(21);
  const m = makeConvNet(cfg);
  // larger-than-init params so every layer matters
  const pv = m.init(rng).map((a) => a.map((v) => v * 3));
  const xv = randImages(rng, B * S * S * cfg.inChannels);
  const yv = Int32Array.from([1, 3, 0]);

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`matches a naive float64 PyTorch-semantics reference (${backend})`, async () => {
      await tf.setBackend(backend);
      try {
        const params = pv.map((a, i) => tf.tensor(a, m.specs[i].shape));
        const x = tf.tensor4d(xv, [B, S, S, cfg.inChannels]);
        const got = m.forward(params, x).arraySync() as number[][];
        const want = refLogits(cfg, pv, xv, B, S);
        let maxDiff = 0;
        for (let n = 0; n < B; n++)
          for (let k = 0; k < cfg.numClasses; k++) maxDiff = Math.max(maxDiff, Math.abs(got[n][k] - want[n][k]));
        expect(maxDiff).toBeLessThan(1e-4);
        const loss = m.loss(params, { x, y: tf.tensor1d(yv, 'int32') }).dataSync()[0];
        expect(Math.abs(loss - refLoss(cfg, pv, xv, yv, B, S))).toBeLessThan(1e-5);
        tf.dispose([...params, x]);
      } finally {
        await tf.setBackend('wasm');
      }
    });

    it(`gradients match central finite differences of the reference, every parameter (${backend})`, async () => {
      await tf.setBackend(backend);
      try {
        const vars = pv.map((a, i) => tf.variable(tf.tensor(a, m.specs[i].shape), true, `cn_${backend}_${i}`));
        const x = tf.tensor4d(xv, [B, S, S, cfg.inChannels]);
        const y = tf.tensor1d(yv, 'int32');
        const { value, grads } = tf.variableGrads(() => m.loss(vars, { x, y }), vars);
        // the training-mode forward (unfused conv + custom bias add) gives the same loss
        expect(Math.abs(value.dataSync()[0] - refLoss(cfg, pv, xv, yv, B, S))).toBeLessThan(1e-5);
        const eps = 1e-5;
        let worst = 0;
        let gmax = 0;
        for (let i = 0; i < pv.length; i++) {
          const g = grads[vars[i].name].dataSync();
          const p64 = pv.map((a) => Float64Array.from(a));
          for (let j = 0; j < pv[i].length; j++) {
            const keep = p64[i][j];
            p64[i][j] = keep + eps;
            const lp = refLoss(cfg, p64, xv, yv, B, S);
            p64[i][j] = keep - eps;
            const lm = refLoss(cfg, p64, xv, yv, B, S);
            p64[i][j] = keep;
            const fd = (lp - lm) / (2 * eps);
            worst = Math.max(worst, Math.abs(fd - g[j]));
            gmax = Math.max(gmax, Math.abs(fd));
          }
        }
        expect(gmax).toBeGreaterThan(1e-2);
        expect(worst / gmax).toBeLessThan(1e-3);
        tf.dispose([value, ...Object.values(grads), ...vars, x, y]);
      } finally {
        await tf.setBackend('wasm');
      }
    });
  }

  it('FM-16 gradients on wasm equal those on cpu (batch 4)', async () => {
    const fm = makeConvNet({ hid: [16, 32, 32], inChannels: 1, numClasses: 10 });
    const r = new Rng(8);
    const p = fm.init(r);
    const xs = randImages(r, 4 * 28 * 28);
    const ys = Int32Array.from([3, 1, 4, 1]);
    const run = async (backend: 'cpu' | 'wasm') => {
      await tf.setBackend(backend);
      const params = p.map((a, i) => tf.tensor(a, fm.specs[i].shape));
      const x = tf.tensor4d(xs, [4, 28, 28, 1]);
      const y = tf.tensor1d(ys, 'int32');
      const gs = tf.grads((...ps: tf.Tensor[]) => fm.loss(ps, { x, y }))(params);
      const out = gs.map((g) => Float32Array.from(g.dataSync()));
      tf.dispose([...gs, ...params, x, y]);
      await tf.setBackend('wasm');
      return out;
    };
    const ref = await run('cpu');
    const got = await run('wasm');
    for (let i = 0; i < ref.length; i++) {
      let m = 0;
      let s = 0;
      for (let j = 0; j < ref[i].length; j++) {
        m = Math.max(m, Math.abs(got[i][j] - ref[i][j]));
        s = Math.max(s, Math.abs(ref[i][j]));
      }
      expect(m / s, fm.specs[i].name).toBeLessThan(1e-4);
    }
  });
});
