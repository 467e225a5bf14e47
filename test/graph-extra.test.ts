/** Neural graph properties beyond the golden data: neuron-permutation equivariance and real GPT-2 sizes. */
import { describe, expect, it } from 'vitest';
import type { ParamSpec } from '../src/core/params.ts';
import { Rng } from '../src/core/rng.ts';
import { buildNeuralGraph, toEdges, toVector } from '../src/graph/index.ts';
import { gpt2Specs } from '../src/tasks/models/gpt2.ts';
import { refJson, type RefGraphMeta } from './helpers/reference.ts';

describe('neuron permutation (conv net, case A specs)', () => {
  it('permuting hidden neurons of fc.2 permutes graph edges and their features consistently', () => {
    const meta = refJson<RefGraphMeta>('case_a_fm16/meta.json');
    const specs: ParamSpec[] = meta.model_dict.map((e) => ({ name: e.name, shape: e.shape }));
    const g = buildNeuralGraph('cnn', specs, {});
    const off = Object.fromEntries(meta.model_dict.map((e) => [e.name, e.offset]));
    const rng = new Rng(11);
    const n = g.layout.total;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = rng.normal();
    const C = 32,
      I2 = 16,
      K = 9;
    const perm = Array.from({ length: C }, (_, i) => i);
    rng.shuffle(perm);
    const y = Float32Array.from(x);
    for (let o = 0; o < C; o++) {
      for (let j = 0; j < I2 * K; j++)
        y[off['fc.2.weight'] + perm[o] * I2 * K + j] = x[off['fc.2.weight'] + o * I2 * K + j];
      y[off['fc.2.bias'] + perm[o]] = x[off['fc.2.bias'] + o];
      for (let oo = 0; oo < 32; oo++)
        for (let k = 0; k < K; k++)
          y[off['fc.4.weight'] + (oo * C + perm[o]) * K + k] = x[off['fc.4.weight'] + (oo * C + o) * K + k];
    }
    expect(y).not.toEqual(x);
    // fc.2 output neurons are nodes 19..50 (meta dst range)
    const ent = meta.model_dict_expanded.find((e) => e.name === 'fc.2.weight')!;
    const first = ent.dst_nodes_min_max[0];
    const pi = (v: number) => (v >= first && v < first + C ? first + perm[v - first] : v);
    const F = g.maxFeat,
      E = g.numEdges;
    const ax = toEdges(g, x, 1),
      ay = toEdges(g, y, 1);
    const keys = (a: Float32Array, map: (v: number) => number) => {
      const r: string[] = [];
      for (let e = 0; e < E; e++)
        r.push(
          `${map(g.edgeIndex[e])}>${map(g.edgeIndex[E + e])}|${g.edgeType[e]}|${Array.from(a.subarray(e * F, e * F + F)).join(',')}`,
        );
      return r.sort();
    };
    const kx = keys(ax, pi),
      ky = keys(ay, (v) => v);
    expect(kx).toEqual(ky);
    // and a wrong permutation is detected
    const kw = keys(ax, (v) => v);
    expect(kw).not.toEqual(ky);
    // round-trip of the permuted params
    expect(Array.from(toVector(g, ay))).toEqual(Array.from(y));
  });
});

describe('LM1B-3-24-sized GPT-2 graph', () => {
  it('has 1,252,464 params, 51,922 nodes and 1,304,674 edges', () => {
    const g = buildNeuralGraph('gpt2', gpt2Specs({ vocabSize: 50257, nPositions: 1024, nEmbd: 24, nLayer: 3 }), {
      numHeads: 3,
    });
    expect(g.layout.total).toBe(1_252_464);
    expect(g.numNodes).toBe(51_922);
    expect(g.numEdges).toBe(1_304_674);
    expect(g.maxFeat).toBe(1);
    expect(g.posW[50256]).toBe(50257);
    expect(g.posW[50257]).toBe(0);
    // every node has a self-loop at the end
    expect(g.edgeIndex[g.numEdges - 1]).toBe(51_921);
  });
});
