/** Neural graph structure and edge features vs the official PyTorch NiNo golden data (cases A and B). */
import { describe, expect, it } from 'vitest';
import { makeLayout } from '../src/core/params.ts';
import { Rng } from '../src/core/rng.ts';
import { buildNeuralGraph, toEdges, toVector, type NeuralGraph } from '../src/graph/index.ts';
import { scaleStates, unscaleVector } from '../src/trajectories/scale.ts';
import { maxAbsDiff, refJson, refSt, type RefGraphMeta } from './helpers/reference.ts';

interface Case {
  dir: string;
  arch: string;
  opts: { numHeads?: number };
}
const CASES: Case[] = [
  { dir: 'case_a_fm16', arch: 'cnn', opts: {} },
  { dir: 'case_b_gpt2', arch: 'gpt2', opts: { numHeads: 2 } },
];

function build(c: Case): { g: NeuralGraph; meta: RefGraphMeta } {
  const meta = refJson<RefGraphMeta>(`${c.dir}/meta.json`);
  const g = buildNeuralGraph(
    c.arch,
    meta.model_dict.map((e) => ({ name: e.name, shape: e.shape })),
    c.opts,
  );
  return { g, meta };
}

function firstMismatch(a: ArrayLike<number>, b: ArrayLike<number>): string {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `index ${i}: ${a[i]} vs ${b[i]}`;
  return 'none';
}

for (const c of CASES) {
  describe(`neural graph ${c.dir}`, () => {
    const { g, meta } = build(c);
    const gs = refSt(`${c.dir}/graph.safetensors`).tensors;

    it('has the golden sizes', () => {
      expect(g.numNodes).toBe(meta.num_nodes);
      expect(g.numEdges).toBe(meta.num_edges);
      expect(g.maxFeat).toBe(meta.max_feat_size);
      expect(g.firstSelfLoopEdge).toBe(meta.first_self_loop_edge);
      expect(g.layout.total).toBe(meta.num_params);
    });

    it('reproduces edge_index, edge_type, edge_param_index, edge_const, pos_w exactly', () => {
      expect(firstMismatch(g.edgeIndex, gs.edge_index.data as ArrayLike<number>)).toBe('none');
      expect(firstMismatch(g.edgeType, gs.edge_type.data as ArrayLike<number>)).toBe('none');
      expect(firstMismatch(g.edgeParamIndex, gs.edge_param_index.data as ArrayLike<number>)).toBe('none');
      expect(firstMismatch(g.edgeConst, gs.edge_const.data as ArrayLike<number>)).toBe('none');
      expect(firstMismatch(g.posW, gs.pos_w.data as ArrayLike<number>)).toBe('none');
    });

    it('edge type counts match', () => {
      const counts: Record<string, number> = {};
      for (const t of g.edgeType) counts[t] = (counts[t] ?? 0) + 1;
      expect(counts).toEqual(meta.edge_type_counts);
    });

    it('expanded entries (names, types, edge ranges, node ranges) match model_dict_expanded', () => {
      const mine = g.entries.map((e) => ({
        name: e.name,
        shape: e.shape,
        param_type: e.paramType,
        edge_range: [e.edgeStart, e.edgeEnd],
        has_params: e.hasParams,
        src_nodes_min_max: [e.srcMin, e.srcMax],
        dst_nodes_min_max: [e.dstMin, e.dstMax],
      }));
      const ref = meta.model_dict_expanded.map((e) => ({
        name: e.name,
        shape: e.shape,
        param_type: e.param_type,
        edge_range: e.edge_range,
        has_params: e.has_params,
        src_nodes_min_max: e.src_nodes_min_max,
        dst_nodes_min_max: e.dst_nodes_min_max,
      }));
      expect(mine).toEqual(ref);
    });

    it('param_vector_index maps agree with edge_param_index', () => {
      for (const e of g.entries) {
        const t = gs[`param_vector_index/${e.name}`];
        if (!e.hasParams) {
          expect(t).toBeUndefined();
          continue;
        }
        expect(t, e.name).toBeDefined();
        // the set of parameter indices of the entry equals the official map's set
        const mine: number[] = [];
        for (let s = e.edgeStart * g.maxFeat; s < e.edgeEnd * g.maxFeat; s++)
          if (g.edgeParamIndex[s] >= 0) mine.push(g.edgeParamIndex[s]);
        expect(mine.sort((a, b) => a - b)).toEqual(Array.from(t.data as Int32Array).sort((a, b) => a - b));
      }
    });

    it('toEdges(golden scaled_states) == golden edge_attr exactly', () => {
      const inp = refSt(`${c.dir}/inputs.safetensors`).tensors;
      const attr = toEdges(g, inp.scaled_states.data as Float32Array, 5);
      expect(maxAbsDiff(attr, inp.edge_attr.data as Float32Array)).toBe(0);
    });

    it('end to end: scaleStates(raw states) → toEdges == golden edge_attr exactly', () => {
      const inp = refSt(`${c.dir}/inputs.safetensors`).tensors;
      const { scaled } = scaleStates(inp.states.data as Float32Array, makeLayout(meta.model_dict), 5);
      expect(maxAbsDiff(toEdges(g, scaled, 5), inp.edge_attr.data as Float32Array)).toBe(0);
    });

    it('toVector(golden edge_out) == pred_scaled and unscaled == pred (exact)', () => {
      const inp = refSt(`${c.dir}/inputs.safetensors`).tensors;
      const out = refSt(`${c.dir}/outputs_nino_no_posw.safetensors`).tensors;
      const layout = makeLayout(meta.model_dict);
      for (const k of [1, 10, 40]) {
        const v = toVector(g, out[`edge_out_k${k}`].data as Float32Array);
        expect(maxAbsDiff(v, out[`pred_scaled_k${k}`].data as Float32Array)).toBe(0);
        const pred = unscaleVector(v, layout, inp.scales.data as Float32Array);
        expect(maxAbsDiff(pred, out[`pred_k${k}`].data as Float32Array)).toBe(0);
      }
    });

    it('round-trips random params → edges → params exactly', () => {
      const rng = new Rng(7);
      const n = g.layout.total;
      const x = new Float32Array(n * 5);
      for (let i = 0; i < x.length; i++) x[i] = rng.normal();
      const attr = toEdges(g, x, 5);
      for (let t = 0; t < 5; t++) {
        const slot = new Float32Array(g.numEdges * g.maxFeat);
        for (let s = 0; s < slot.length; s++) slot[s] = attr[s * 5 + t];
        const v = toVector(g, slot);
        for (let p = 0; p < n; p++)
          if (v[p] !== x[p * 5 + t]) throw new Error(`param ${p} state ${t}: ${v[p]} vs ${x[p * 5 + t]}`);
      }
    });
  });
}

describe('registry', () => {
  it('falls back to the generic builder with a warning for unknown archs', () => {
    const warnings: unknown[] = [];
    const g = buildNeuralGraph(
      'resnet-from-mars',
      [
        { name: 'a.weight', shape: [4, 3] },
        { name: 'a.bias', shape: [4] },
      ],
      { logger: { warn: (o) => warnings.push(o) } },
    );
    expect(warnings.length).toBe(1);
    expect(g.numNodes).toBe(3 + 1 + 4);
    expect(g.numEdges).toBe(12 + 4 + 8);
  });
  it('rejects non-sequential shapes with a clear message', () => {
    expect(() =>
      buildNeuralGraph('mlp', [
        { name: 'a.weight', shape: [4, 3] },
        { name: 'b.weight', shape: [2, 5] },
      ]),
    ).toThrow(/expects 5 inputs/);
  });
});
