/** Per-tensor std scaling vs the official `scale_params` golden data (README §1). */
import { describe, expect, it } from 'vitest';
import { makeLayout } from '../src/core/params.ts';
import { scaleStates, torchSumF32, unscaleVector } from '../src/trajectories/scale.ts';
import { maxAbsDiff, refJson, refSt } from './helpers/reference.ts';

describe('scaleStates', () => {
  for (const [dir, tolScales, tolScaled] of [
    ['case_a_fm16', 1e-8, 2e-7],
    ['case_b_gpt2', 1e-7, 1.6e-5],
  ] as const) {
    it(`${dir}: scales and scaled_states match golden (measured: bit-exact)`, () => {
      const meta = refJson(`${dir}/meta.json`);
      const layout = makeLayout(meta.model_dict);
      const inp = refSt(`${dir}/inputs.safetensors`).tensors;
      const { scaled, scales } = scaleStates(inp.states.data as Float32Array, layout, 5);
      const dScales = maxAbsDiff(scales, inp.scales.data as Float32Array);
      const dScaled = maxAbsDiff(scaled, inp.scaled_states.data as Float32Array);
      // README tolerances; our torch-order float32 sum actually reproduces torch bit for bit
      expect(dScales).toBeLessThanOrEqual(tolScales);
      expect(dScaled).toBeLessThanOrEqual(tolScaled);
      expect(dScales).toBe(0);
      expect(dScaled).toBe(0);
    });
  }

  it('unscale(scale(x)) ≈ x', () => {
    const layout = makeLayout([
      { name: 'a', shape: [7, 3] },
      { name: 'b', shape: [5] },
    ]);
    const st = new Float32Array(layout.total * 2);
    for (let i = 0; i < st.length; i++) st[i] = Math.sin(i) * (i < 42 ? 0.1 : 3) + (i < 42 ? 1 : -2);
    const { scaled, scales } = scaleStates(st, layout, 2);
    const col0 = new Float32Array(layout.total);
    for (let p = 0; p < layout.total; p++) col0[p] = scaled[p * 2];
    const back = unscaleVector(col0, layout, scales);
    for (let p = 0; p < layout.total; p++) expect(Math.abs(back[p] - st[p * 2])).toBeLessThan(1e-5);
  });

  it('torchSumF32 equals the exact sum up to float32 rounding on long inputs', () => {
    const x = new Float32Array(100003);
    let exact = 0;
    for (let i = 0; i < x.length; i++) {
      x[i] = Math.fround(Math.cos(i) + 0.5);
      exact += x[i];
    }
    expect(Math.abs(torchSumF32(x, 0, x.length) - exact) / Math.abs(exact)).toBeLessThan(1e-6);
  });

  it('rejects mismatched sizes', () => {
    expect(() => scaleStates(new Float32Array(9), makeLayout([{ name: 'a', shape: [2] }]), 5)).toThrow(/expected/);
  });
});
