/**
 * GPT-2 model: HF parameter names/order/shapes (golden list from ../shared/reference case_b_gpt2), paper
 * parameter counts, forward against an independent float64 loop implementation, causality, loss at init,
 * gradients against central finite differences of that implementation, init statistics, memory, wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend.ts';
import { Rng } from '../src/core/rng.ts';
import { gpt2ParamCount, makeGpt2, type Gpt2Config } from '../src/tasks/models/gpt2.ts';
import { refJson } from './helpers/reference.ts';

const CASE_B: Gpt2Config = { vocabSize: 11, nPositions: 5, nEmbd: 8, nLayer: 2, nHead: 2 };

/** Plain float64 GPT-2 forward (HF semantics), written independently of the tfjs model. Returns logits [B][T][V]. */
function refForward(cfg: Gpt2Config, P: Float64Array[], x: number[][]): number[][][] {
  const { nEmbd: d, nHead: H, vocabSize: V, nLayer: L } = cfg;
  const hd = d / H;
  const ln = (v: number[], w: Float64Array, b: Float64Array) => {
    const m = v.reduce((a, c) => a + c, 0) / d;
    const va = v.reduce((a, c) => a + (c - m) ** 2, 0) / d;
    return v.map((c, j) => ((c - m) / Math.sqrt(va + 1e-5)) * w[j] + b[j]);
  };
  const lin = (v: number[], W: Float64Array, b: Float64Array, nOut: number) => {
    const o = Array.from(b);
    for (let i = 0; i < v.length; i++) for (let j = 0; j < nOut; j++) o[j] += v[i] * W[i * nOut + j];
    return o;
  };
  const gelu = (u: number) => 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3)));
  return x.map((seq) => {
    const T = seq.length;
    let h = seq.map((tok, t) => Array.from({ length: d }, (_, j) => P[0][tok * d + j] + P[1][t * d + j]));
    for (let l = 0; l < L; l++) {
      const [ln1w, ln1b, caW, caB, cpW, cpB, ln2w, ln2b, fcW, fcB, mpW, mpB] = P.slice(2 + 12 * l, 14 + 12 * l);
      const qkv = h.map((r) => lin(ln(r, ln1w, ln1b), caW, caB, 3 * d));
      const y = h.map(() => new Array(d).fill(0));
      for (let hh = 0; hh < H; hh++) {
        for (let t = 0; t < T; t++) {
          const s: number[] = [];
          for (let u = 0; u <= t; u++) {
            let dot = 0;
            for (let j = 0; j < hd; j++) dot += qkv[t][hh * hd + j] * qkv[u][d + hh * hd + j];
            s.push(dot / Math.sqrt(hd));
          }
          const mx = Math.max(...s);
          const e = s.map((z) => Math.exp(z - mx));
          const z = e.reduce((a, c) => a + c, 0);
          for (let u = 0; u <= t; u++)
            for (let j = 0; j < hd; j++) y[t][hh * hd + j] += (e[u] / z) * qkv[u][2 * d + hh * hd + j];
        }
      }
      h = h.map((r, t) => {
        const a = lin(y[t], cpW, cpB, d);
        return r.map((c, j) => c + a[j]);
      });
      h = h.map((r) => {
        const f = lin(ln(r, ln2w, ln2b), fcW, fcB, 4 * d).map(gelu);
        const m = lin(f, mpW, mpB, d);
        return r.map((c, j) => c + m[j]);
      });
    }
    const nP = P.length;
    return h.map((r) => {
      const hf = ln(r, P[nP - 2], P[nP - 1]);
      return Array.from({ length: V }, (_, v) => hf.reduce((a, c, j) => a + c * P[0][v * d + j], 0));
    });
  });
}

function refLoss(cfg: Gpt2Config, P: Float64Array[], x: number[][], y: number[][]): number {
  const logits = refForward(cfg, P, x);
  let s = 0;
  let n = 0;
  logits.forEach((seq, b) =>
    seq.forEach((l, t) => {
      const mx = Math.max(...l);
      const lse = mx + Math.log(l.reduce((a, c) => a + Math.exp(c - mx), 0));
      s += lse - l[y[b][t]];
      n++;
    }),
  );
  return s / n;
}

/** random (not init-scale) parameters so attention and LayerNorm are far from trivial */
function randomParams(cfg: Gpt2Config, seed: number): Float32Array[] {
  const m = makeGpt2(cfg);
  const r = new Rng(seed);
  return m.specs.map((s) =>
    Float32Array.from(
      { length: s.shape.reduce((a, b) => a * b, 1) },
      () => r.normal() * 0.5 + (s.name.includes('ln_') && s.name.endsWith('weight') ? 1 : 0),
    ),
  );
}

const toTensors = (m: ReturnType<typeof makeGpt2>, arrs: Float32Array[]) =>
  arrs.map((a, i) => tf.tensor(a, m.specs[i].shape));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('GPT-2 parameters', () => {
  it('names, order and shapes match GPT2LMHeadModel (golden case_b_gpt2: 1,888 params)', () => {
    const meta = refJson<{ model_dict: { name: string; shape: number[] }[]; num_params: number }>(
      'case_b_gpt2/meta.json',
    );
    const m = makeGpt2(CASE_B);
    expect(m.specs.map((s) => s.name)).toEqual(meta.model_dict.map((e) => e.name));
    expect(m.specs.map((s) => s.shape)).toEqual(meta.model_dict.map((e) => e.shape));
    expect(gpt2ParamCount(CASE_B)).toBe(1888);
    expect(meta.num_params).toBe(1888);
    expect(m.graphInfo.numHeads).toBe(2);
    expect(m.arch).toBe('gpt2');
  });

  it('paper task sizes: LM1B-3-24 = 1,252,464 and LM1B-2-32 = 1,666,464 parameters', () => {
    const count = (c: Gpt2Config) => makeGpt2(c).specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
    const lm3 = { vocabSize: 50257, nPositions: 1024, nEmbd: 24, nLayer: 3, nHead: 3 };
    const lm2 = { vocabSize: 50257, nPositions: 1024, nEmbd: 32, nLayer: 2, nHead: 2 };
    expect(count(lm3)).toBe(1_252_464);
    expect(count(lm2)).toBe(1_666_464);
    expect(gpt2ParamCount(lm3)).toBe(1_252_464);
    expect(() => makeGpt2({ ...lm2, nHead: 3 })).toThrow(/divisible/);
  });

  it('init follows HF: N(0,0.02), c_proj N(0,0.02/sqrt(2L)), zero biases, LN weight 1; deterministic', () => {
    const cfg = { vocabSize: 256, nPositions: 64, nEmbd: 32, nLayer: 2, nHead: 2 };
    const m = makeGpt2(cfg);
    const p = m.init(new Rng(7));
    const std = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    const byName = (n: string) => p[m.specs.findIndex((s) => s.name === n)];
    expect(std(byName('transformer.wte.weight'))).toBeCloseTo(0.02, 3);
    expect(std(byName('transformer.h.0.attn.c_attn.weight'))).toBeCloseTo(0.02, 3);
    expect(std(byName('transformer.h.1.mlp.c_proj.weight'))).toBeCloseTo(0.01, 3);
    expect(std(byName('transformer.h.0.attn.c_proj.weight'))).toBeCloseTo(0.01, 3);
    expect(byName('transformer.h.0.mlp.c_fc.bias').every((v) => v === 0)).toBe(true);
    expect(byName('transformer.ln_f.weight').every((v) => v === 1)).toBe(true);
    expect(byName('transformer.h.1.ln_2.bias').every((v) => v === 0)).toBe(true);
    expect(Array.from(m.init(new Rng(7))[0].subarray(0, 5))).toEqual(Array.from(p[0].subarray(0, 5)));
    expect(m.init(new Rng(8))[0][0]).not.toBe(p[0][0]);
  });
});

describe.each(['loops', 'tensor'] as const)('GPT-2 forward and loss (attention: %s)', (attention) => {
  const CFG: Gpt2Config = { ...CASE_B, attention };
  const x = [
    [1, 4, 7, 2, 10],
    [3, 3, 0, 9, 5],
  ];
  const y = [
    [4, 7, 2, 10, 0],
    [3, 0, 9, 5, 1],
  ];

  it('matches an independent float64 implementation (shape [B,T,V])', () => {
    const m = makeGpt2(CFG);
    const arrs = randomParams(CASE_B, 1);
    const params = toTensors(m, arrs);
    const xt = tf.tensor2d(x, [2, 5], 'int32');
    const logits = m.forward(params, xt);
    expect(logits.shape).toEqual([2, 5, 11]);
    const got = logits.arraySync() as number[][][];
    const want = refForward(
      CASE_B,
      arrs.map((a) => Float64Array.from(a)),
      x,
    );
    let maxDiff = 0;
    got.forEach((s, b) =>
      s.forEach((r, t) => r.forEach((v, k) => (maxDiff = Math.max(maxDiff, Math.abs(v - want[b][t][k]))))),
    );
    expect(maxDiff).toBeLessThan(1e-4);
    // a shorter sequence uses the first rows of wpe
    const short = m.forward(params, tf.tensor2d([[1, 4, 7]], [1, 3], 'int32')).arraySync() as number[][][];
    expect(Math.abs(short[0][2][3] - want[0][2][3])).toBeLessThan(1e-4);
    expect(() => m.forward(params, tf.tensor2d([[1, 2, 3, 4, 5, 6]], [1, 6], 'int32'))).toThrow(/exceeds nPositions/);
    const loss = m.loss(params, { x: xt, y: tf.tensor2d(y, [2, 5], 'int32') }).dataSync()[0];
    expect(loss).toBeCloseTo(
      refLoss(
        CASE_B,
        arrs.map((a) => Float64Array.from(a)),
        x,
        y,
      ),
      4,
    );
  });

  it('is causal: changing a later token leaves earlier logits unchanged', () => {
    const m = makeGpt2(CFG);
    const params = toTensors(m, randomParams(CASE_B, 2));
    const a = m.forward(params, tf.tensor2d([[1, 2, 3, 4, 5]], [1, 5], 'int32')).arraySync() as number[][][];
    const b = m.forward(params, tf.tensor2d([[1, 2, 3, 9, 0]], [1, 5], 'int32')).arraySync() as number[][][];
    for (let t = 0; t < 3; t++) for (let k = 0; k < 11; k++) expect(b[0][t][k]).toBe(a[0][t][k]);
    expect(Math.abs(b[0][3][0] - a[0][3][0])).toBeGreaterThan(1e-4);
    expect(Math.abs(b[0][4][0] - a[0][4][0])).toBeGreaterThan(1e-4);
  });

  it('loss at init is about ln(V)', () => {
    const cfg = { vocabSize: 256, nPositions: 32, nEmbd: 32, nLayer: 2, nHead: 2, attention };
    const m = makeGpt2(cfg);
    const params = toTensors(m, m.init(new Rng(3)));
    const r = new Rng(4);
    const toks = Array.from({ length: 4 }, () => Array.from({ length: 32 }, () => r.int(256)));
    const l = m.loss(params, {
      x: tf.tensor2d(toks, [4, 32], 'int32'),
      y: tf.tensor2d(
        toks.map((s) => [...s.slice(1), 0]),
        [4, 32],
        'int32',
      ),
    });
    expect(Math.abs(l.dataSync()[0] - Math.log(256))).toBeLessThan(0.05);
  });

  it('gradients are finite and match central differences of the float64 reference', () => {
    const m = makeGpt2(CFG);
    const arrs = randomParams(CASE_B, 5).map((a) => a.map((v) => v * 0.6));
    const params = toTensors(m, arrs);
    const batch = { x: tf.tensor2d(x, [2, 5], 'int32'), y: tf.tensor2d(y, [2, 5], 'int32') };
    const g = tf.grads((...ps: tf.Tensor[]) => m.loss(ps, batch))(params);
    const gArr = g.map((t) => t.dataSync() as Float32Array);
    for (const a of gArr) for (const v of a) expect(Number.isFinite(v)).toBe(true);
    const P64 = arrs.map((a) => Float64Array.from(a));
    const r = new Rng(9);
    const h = 1e-5;
    let checked = 0;
    for (let pi = 0; pi < P64.length; pi++) {
      // two entries per tensor (all of wte, wpe, q/k/v, biases, LayerNorms, lm head tie)
      for (let rep = 0; rep < 2; rep++) {
        const j = r.int(P64[pi].length);
        const orig = P64[pi][j];
        P64[pi][j] = orig + h;
        const lp = refLoss(CASE_B, P64, x, y);
        P64[pi][j] = orig - h;
        const lm = refLoss(CASE_B, P64, x, y);
        P64[pi][j] = orig;
        const num = (lp - lm) / (2 * h);
        expect(Math.abs(gArr[pi][j] - num)).toBeLessThan(2e-4 + 2e-3 * Math.abs(num));
        checked++;
      }
    }
    expect(checked).toBe(56);
    // wte gets gradient from both the embedding and the tied lm head: row of an unused token still moves
    const unused = 6; // token 6 appears nowhere in x
    expect(Math.abs(gArr[0][unused * 8])).toBeGreaterThan(0);
  });

  it('a training step leaks no tensors', () => {
    const m = makeGpt2(CFG);
    const vars = m.init(new Rng(1)).map((a, i) => tf.variable(tf.tensor(a, m.specs[i].shape)));
    const batch = { x: tf.tensor2d(x, [2, 5], 'int32'), y: tf.tensor2d(y, [2, 5], 'int32') };
    const step = () => {
      const { value, grads } = tf.variableGrads(() => m.loss(vars, batch), vars);
      value.dispose();
      tf.dispose(Object.values(grads));
    };
    step();
    const before = tf.memory().numTensors;
    step();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('GPT-2 on the wasm backend', () => {
  it('forward, loss and gradients run on wasm and match cpu', async () => {
    const cfg = { vocabSize: 64, nPositions: 16, nEmbd: 16, nLayer: 2, nHead: 2 };
    const m = makeGpt2(cfg);
    const arrs = randomParams(cfg, 11).map((a) => a.map((v) => v * 0.3));
    const r = new Rng(12);
    const toks = Array.from({ length: 3 }, () => Array.from({ length: 16 }, () => r.int(64)));
    const run = (mm: ReturnType<typeof makeGpt2> = m) => {
      const params = toTensors(mm, arrs);
      const batch = {
        x: tf.tensor2d(toks, [3, 16], 'int32'),
        y: tf.tensor2d(
          toks.map((s) => [...s.slice(1), 1]),
          [3, 16],
          'int32',
        ),
      };
      const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) => mm.loss(ps, batch))(params);
      return { loss: value.dataSync()[0], grads: grads.map((g) => Array.from(g.dataSync())) };
    };
    await tf.setBackend('cpu');
    const cpu = run();
    const b = await initBackend('wasm');
    expect(b.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    for (const attention of ['auto', 'tensor'] as const) {
      const wasm = run(makeGpt2({ ...cfg, attention }));
      expect(wasm.loss).toBeCloseTo(cpu.loss, 4);
      let maxDiff = 0;
      wasm.grads.forEach((g, i) => g.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - cpu.grads[i][j])))));
      expect(maxDiff).toBeLessThan(1e-4);
    }
    await tf.setBackend('cpu');
  });
});
