/** Llama (GQA) neural graph: no golden data exists, so structure sanity, round-trip and permutation tests. */
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/core/rng.ts';
import { buildNeuralGraph, llamaSpecs, toEdges, toVector, type NeuralGraph } from '../src/graph/index.ts';
import { laplacianPE } from '../src/graph/lpe.ts';

const entry = (g: NeuralGraph, name: string) => {
  const e = g.entries.find((x) => x.name === name);
  if (!e) throw new Error(`no entry ${name}`);
  return e;
};
const edges = (g: NeuralGraph, name: string) => {
  const e = entry(g, name);
  const r: [number, number][] = [];
  for (let k = e.edgeStart; k < e.edgeEnd; k++) r.push([g.edgeIndex[k], g.edgeIndex[g.numEdges + k]]);
  return r;
};

describe('llama graph, multi-head (KV == H)', () => {
  const cfg = { vocab: 11, width: 8, layers: 2, heads: 2, inner: 16 };
  const g = buildNeuralGraph('llama', llamaSpecs(cfg), { numHeads: 2 });
  const { vocab: V, width: d, layers: L, heads: H, inner: I } = cfg;

  it('has the designed node and edge counts', () => {
    const N = V + 1 + d + L * (H + d + d + 1 + d + I + 1 + d);
    expect(g.numNodes).toBe(N);
    const perLayer = d + d * d + d + d * d + d * d + d + d + d * d + d + 2 * I * d + d + I * d;
    expect(g.numEdges).toBe(V * d + L * perLayer + d + N);
    expect(g.firstSelfLoopEdge).toBe(g.numEdges - N);
    expect(g.layout.total).toBe(V * d + L * (4 * d * d + 3 * I * d + 2 * d) + d);
    expect(Array.from(g.posW.subarray(0, V + 1))).toEqual([...Array.from({ length: V }, (_, i) => i + 1), 0]);
  });

  it('k edges are the q edges reversed (GPT-style transposed k)', () => {
    const q = edges(g, 'model.layers.0.self_attn.q_proj.weight')
      .map(([s, t]) => `${t}-${s}`)
      .sort();
    const k = edges(g, 'model.layers.0.self_attn.k_proj.weight')
      .map(([s, t]) => `${s}-${t}`)
      .sort();
    expect(k).toEqual(q);
  });

  it('edge types per entry', () => {
    const types = (name: string) =>
      new Set(Array.from(g.edgeType.subarray(entry(g, name).edgeStart, entry(g, name).edgeEnd)));
    expect(types('model.embed_tokens.weight')).toEqual(new Set([5]));
    expect(types('model.layers.1.self_attn.q_proj.weight')).toEqual(new Set([7]));
    expect(types('model.layers.1.self_attn.k_proj.weight')).toEqual(new Set([8]));
    expect(types('model.layers.1.self_attn.v_proj.weight')).toEqual(new Set([9]));
    expect(types('model.layers.1.self_attn.q.head1')).toEqual(new Set([11]));
    expect(types('model.layers.1.mlp.res')).toEqual(new Set([10]));
    expect(types('model.layers.1.input_layernorm.weight')).toEqual(new Set([4]));
    expect(types('model.layers.1.mlp.down_proj.weight')).toEqual(new Set([1]));
  });
});

describe('llama graph, grouped-query attention (H=4, KV=2) with untied lm_head', () => {
  const cfg = { vocab: 13, width: 16, layers: 2, heads: 4, kvHeads: 2, inner: 24, untiedHead: true };
  const specs = llamaSpecs(cfg);
  const g = buildNeuralGraph('llama', specs, { numHeads: 4, numKvHeads: 2 });
  const dh = 4;

  it("key neurons of group g sit on the q nodes of head 2g; o_proj reads the v neurons of each head's group", () => {
    const q = entry(g, 'model.layers.0.self_attn.q_proj.weight');
    const qStart = q.dstMin;
    for (const [s] of edges(g, 'model.layers.0.self_attn.k_proj.weight')) {
      const head = Math.floor((s - qStart) / dh);
      expect(head % 2).toBe(0);
    }
    const v = entry(g, 'model.layers.0.self_attn.v_proj.weight');
    expect(v.dstMax - v.dstMin + 1).toBe(2 * dh);
    const o = entry(g, 'model.layers.0.self_attn.o_proj.weight');
    expect([o.srcMin, o.srcMax]).toEqual([v.dstMin, v.dstMax]);
    // heads 0 and 1 both feed value group 0
    expect(edges(g, 'model.layers.0.self_attn.v.head1').map(([, t]) => t)).toEqual(
      edges(g, 'model.layers.0.self_attn.v.head0').map(([, t]) => t),
    );
    const lm = entry(g, 'lm_head.weight');
    expect(lm.dstMax).toBe(g.numNodes - 1);
    expect(lm.dstMax - lm.dstMin + 1).toBe(cfg.vocab);
  });

  it('round-trips params → edges → params exactly', () => {
    const rng = new Rng(3);
    const n = g.layout.total;
    const x = new Float32Array(n * 5).map(() => rng.normal());
    const attr = toEdges(g, x, 5);
    for (let t = 0; t < 5; t++) {
      const s = new Float32Array(g.numEdges).map((_, e) => attr[e * 5 + t]);
      const v = toVector(g, s);
      for (let p = 0; p < n; p++) if (v[p] !== x[p * 5 + t]) throw new Error(`param ${p}`);
    }
  });

  it('permuting MLP hidden neurons (gate/up rows, down columns) permutes edges consistently', () => {
    const rng = new Rng(9);
    const n = g.layout.total;
    const x = new Float32Array(n).map(() => rng.normal());
    const I = cfg.inner,
      d = cfg.width;
    const perm = rng.shuffle(Array.from({ length: I }, (_, i) => i)) as number[];
    const off = (name: string) => g.layout.entries.find((e) => e.name === name)!.offset;
    const y = Float32Array.from(x);
    const p = 'model.layers.1.mlp.';
    for (let o = 0; o < I; o++) {
      for (let i = 0; i < d; i++) {
        y[off(`${p}gate_proj.weight`) + perm[o] * d + i] = x[off(`${p}gate_proj.weight`) + o * d + i];
        y[off(`${p}up_proj.weight`) + perm[o] * d + i] = x[off(`${p}up_proj.weight`) + o * d + i];
        y[off(`${p}down_proj.weight`) + i * I + perm[o]] = x[off(`${p}down_proj.weight`) + i * I + o];
      }
    }
    const hid = entry(g, `${p}gate_proj.weight`).dstMin;
    const pi = (v: number) => (v >= hid && v < hid + I ? hid + perm[v - hid] : v);
    const E = g.numEdges;
    const ax = toEdges(g, x, 1),
      ay = toEdges(g, y, 1);
    const keys = (a: Float32Array, m: (v: number) => number) =>
      Array.from(
        { length: E },
        (_, e) => `${m(g.edgeIndex[e])}>${m(g.edgeIndex[E + e])}|${g.edgeType[e]}|${a[e]}`,
      ).sort();
    expect(keys(ax, pi)).toEqual(keys(ay, (v) => v));
    expect(keys(ax, (v) => v)).not.toEqual(keys(ay, (v) => v));
  });

  it('LPE runs on it (connected graph)', () => {
    const r = laplacianPE(g, { denseMaxNodes: 0 });
    expect(r.eigvals[0]).toBeCloseTo(0, 10);
    expect(r.eigvals[1]).toBeGreaterThan(1e-6);
    expect(r.pos.length).toBe(g.numNodes * 8);
  });

  it('rejects missing numHeads and unknown tensors', () => {
    expect(() => buildNeuralGraph('llama', specs, {})).toThrow(/numHeads/);
    expect(() =>
      buildNeuralGraph('llama', [...specs, { name: 'model.layers.0.self_attn.q_proj.bias', shape: [16] }], {
        numHeads: 4,
        numKvHeads: 2,
      }),
    ).toThrow(/unsupported parameters/);
    expect(() => buildNeuralGraph('llama', specs, { numHeads: 4, numKvHeads: 3 })).toThrow(/divisible/);
  });
});
