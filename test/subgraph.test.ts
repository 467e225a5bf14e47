/**
 * Subgraph mode (src/nowcast/subgraph.ts): block partition of transformer graphs, per-block nowcasts
 * scattered back into the full output.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend.ts';
import { Rng } from '../src/core/rng.ts';
import { buildNeuralGraph, llamaSpecs, toEdges, type NeuralGraph } from '../src/graph/index.ts';
import { gpt2Specs } from '../src/tasks/models/gpt2.ts';
import { makeConfig } from '../src/model/config.ts';
import { createNowcastModel } from '../src/model/registry.ts';
import { initHostWeights } from '../src/model/weights.ts';
import type { NowcastInput } from '../src/model/types.ts';
import { GraphNowcaster } from '../src/nowcast/graph-nowcaster.ts';
import { resolveNowcaster } from '../src/nowcast/resolve.ts';
import {
  blockOf,
  checkPartition,
  partitionTransformerGraph,
  predictBySubgraph,
  type SubgraphPartition,
} from '../src/nowcast/subgraph.ts';
import type { ModelDef } from '../src/tasks/types.ts';
import { scaleStates } from '../src/trajectories/scale.ts';

beforeAll(async () => {
  await initBackend('cpu');
});

const gpt = (layers: number) =>
  buildNeuralGraph('gpt2', gpt2Specs({ vocabSize: 11, nPositions: 5, nEmbd: 8, nLayer: layers }), { numHeads: 2 });
const llama = () =>
  buildNeuralGraph(
    'llama',
    llamaSpecs({ vocab: 11, width: 8, layers: 3, heads: 2, kvHeads: 1, inner: 16, untiedHead: true }),
    { numHeads: 2, numKvHeads: 1 },
  );

/** 5 drifting noisy states per parameter, [n, 5] */
function makeStates(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const s = new Float32Array(n * 5);
  for (let i = 0; i < n; i++) {
    const x0 = rng.normal() * 0.1,
      d = rng.normal() * 0.01;
    for (let t = 0; t < 5; t++) s[i * 5 + t] = x0 + t * d + rng.normal() * 0.002;
  }
  return s;
}

function randomPos(N: number, k: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: N * k }, () => rng.normal() * 0.3);
}

function partitionOf(g: NeuralGraph): SubgraphPartition {
  const p = partitionTransformerGraph(g);
  if (!p) throw new Error('no partition');
  return p;
}

describe('partitionTransformerGraph', () => {
  for (const [name, make, prefix, nBlocks] of [
    ['gpt2 (3 blocks)', () => gpt(3), 'transformer.h.', 3],
    ['llama (3 blocks, GQA, untied head)', llama, 'model.layers.', 3],
  ] as const) {
    it(`${name}: one group per block, every edge predicted once, edges only between the group's nodes`, () => {
      const g = make();
      const part = partitionOf(g);
      expect(part.groups.map((x) => x.block)).toEqual([0, 1, 2].slice(0, nBlocks));
      checkPartition(g, part.groups); // throws on any violation
      // embeddings go with block 0, final norm / head with the last block
      expect(part.groups[0].entryNames[0]).toBe(g.entries[0].name);
      expect(part.groups.at(-1)!.entryNames.at(-1)).toBe(g.entries.at(-1)!.name);
      for (const gr of part.groups) {
        for (const en of gr.entryNames) {
          const b = blockOf(en);
          if (b !== null) expect(b).toBe(gr.block);
          else expect(en.startsWith(prefix)).toBe(false);
        }
      }
      // each parameter edge (edge with a parameter slot) appears in exactly one group's entry edges
      const seen = new Uint8Array(g.numEdges);
      for (const gr of part.groups) for (let j = 0; j < gr.numEntryEdges; j++) seen[gr.rows[j]]++;
      const F = g.maxFeat;
      let paramEdges = 0;
      for (let e = 0; e < g.firstSelfLoopEdge; e++) {
        let hasParam = false;
        for (let f = 0; f < F; f++) if (g.edgeParamIndex[e * F + f] >= 0) hasParam = true;
        if (hasParam) paramEdges++;
        expect(seen[e]).toBe(1);
      }
      expect(paramEdges).toBeGreaterThan(0);
      for (const gr of part.groups) {
        // nodes ascending and unique, edges local, self-loops last in node order with the full graph's rows
        for (let i = 1; i < gr.numNodes; i++) expect(gr.nodes[i]).toBeGreaterThan(gr.nodes[i - 1]);
        for (let i = 0; i < gr.numNodes; i++) {
          const j = gr.numEntryEdges + i;
          expect([gr.edgeIndex[j], gr.edgeIndex[gr.numEdges + j], gr.edgeType[j]]).toEqual([i, i, 13]);
          expect(gr.rows[j]).toBe(g.firstSelfLoopEdge + gr.nodes[i]);
          expect(gr.posW[i]).toBe(g.posW[gr.nodes[i]]);
        }
        expect(gr.numNodes).toBeLessThan(g.numNodes);
      }
    });
  }

  it('a conv/mlp graph has no partition; subgraph mode warns once and runs the whole graph', () => {
    const g = buildNeuralGraph('mlp', [
      { name: 'fc.0.weight', shape: [6, 4] },
      { name: 'fc.0.bias', shape: [6] },
      { name: 'fc.2.weight', shape: [3, 6] },
    ]);
    expect(partitionTransformerGraph(g)).toBeNull();
    const warnings: unknown[] = [];
    const nc = new GraphNowcaster(createNowcastModel('linefit'), g, {
      subgraph: true,
      logger: { warn: (o) => warnings.push(o) },
    });
    expect(nc.partition).toBeNull();
    const states = makeStates(g.layout.total, 3);
    const a = nc.nowcast(states, 5);
    nc.nowcast(states, 5);
    expect(warnings).toHaveLength(1);
    expect(a).toEqual(new GraphNowcaster(createNowcastModel('linefit'), g).nowcast(states, 5));
  });
});

describe('subgraph nowcasts', () => {
  it('linefit (per edge, no message passing): identical to the full-graph nowcast', () => {
    for (const g of [gpt(3), llama()]) {
      const states = makeStates(g.layout.total, 1);
      const full = new GraphNowcaster(createNowcastModel('linefit'), g).nowcast(states, 10);
      const sub = new GraphNowcaster(createNowcastModel('linefit'), g, { subgraph: true });
      expect(sub.partition!.groups).toHaveLength(3);
      expect(sub.nowcast(states, 10)).toEqual(full);
    }
  });

  it('random GNN: finite; equal to the full graph on every edge whose receptive field is inside its block', () => {
    const g = gpt(3);
    // the official init (std 0.02) makes cross-block effects ~1e-13; weights x20 make them visible
    const config = makeConfig('gnn', { hid: 16 });
    const weights = initHostWeights(config, 1);
    for (const w of Object.values(weights)) for (let i = 0; i < w.data.length; i++) w.data[i] *= 20;
    const gnn = createNowcastModel('nino', { checkpoint: { config, weights } });
    const part = partitionOf(g);
    const ctx = gnn.ctx,
      k = 7;
    const { scaled } = scaleStates(makeStates(g.layout.total, 2), g.layout, ctx);
    const edgeAttr = toEdges(g, scaled, ctx);
    const pos = randomPos(g.numNodes, gnn.lpe, 5);
    // model deltas (before the residual, which would hide the small differences of a random model),
    // full graph vs subgraphs with the same (sliced) pos
    const deltaModel = { predict: (i: NowcastInput) => gnn.predictDelta(i) };
    const full = gnn.predictDelta({
      edgeAttr,
      F: g.maxFeat,
      ctx,
      edgeIndex: g.edgeIndex,
      edgeType: g.edgeType,
      pos,
      posW: g.posW,
      numNodes: g.numNodes,
      k,
    });
    const subNc = new GraphNowcaster(gnn, g, { subgraph: true, pos });
    const sub = predictBySubgraph(deltaModel, g, part, edgeAttr, { ctx, k, pos: subNc.subgraphPositions() });
    expect(sub.every(Number.isFinite)).toBe(true);

    // taint propagation (superset of the GNN's dependencies): a node is tainted when it misses an incoming
    // edge of the full graph; per layer, nodes take taint from incoming edges and their sources, edges
    // from their endpoints
    const E = g.numEdges;
    const layers = 3 + 1; // PNA layers (3), +1 as margin
    const clean = new Uint8Array(E);
    for (const gr of part.groups) {
      const inGroup = new Uint8Array(E);
      for (const r of gr.rows) inGroup[r] = 1;
      const local = new Map<number, number>();
      gr.nodes.forEach((v, i) => local.set(v, i));
      const nodeT = new Uint8Array(gr.numNodes);
      for (let e = 0; e < E; e++) {
        const t = local.get(g.edgeIndex[E + e]);
        if (t !== undefined && !inGroup[e]) nodeT[t] = 1;
      }
      const Ek = gr.numEdges;
      const edgeT = new Uint8Array(Ek);
      for (let l = 0; l < layers; l++) {
        const next = nodeT.slice();
        for (let j = 0; j < Ek; j++) if (edgeT[j] || nodeT[gr.edgeIndex[j]]) next[gr.edgeIndex[Ek + j]] = 1;
        nodeT.set(next);
        for (let j = 0; j < Ek; j++) if (nodeT[gr.edgeIndex[j]] || nodeT[gr.edgeIndex[Ek + j]]) edgeT[j] = 1;
      }
      for (let j = 0; j < gr.numEntryEdges; j++) if (!edgeT[j]) clean[gr.rows[j]] = 1;
    }
    let nClean = 0,
      nDiff = 0;
    for (let e = 0; e < g.firstSelfLoopEdge; e++) {
      if (clean[e]) {
        nClean++;
        expect(Math.abs(sub[e] - full[e])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(full[e])));
      } else if (Math.abs(sub[e] - full[e]) > 1e-5) nDiff++;
    }
    expect(nClean).toBeGreaterThan(g.firstSelfLoopEdge / 10); // the check is not vacuous
    expect(nDiff).toBeGreaterThan(0); // and cutting the graph does change the boundary edges
    gnn.dispose();
  });

  it('one-block GPT: the single group is the full graph, so subgraph and full nowcasts are equal', () => {
    const g = gpt(1);
    const part = partitionOf(g);
    expect(part.groups).toHaveLength(1);
    const gr = part.groups[0];
    expect(gr.numNodes).toBe(g.numNodes);
    expect(gr.edgeIndex).toEqual(g.edgeIndex);
    expect(gr.edgeType).toEqual(g.edgeType);
    expect(gr.posW).toEqual(g.posW);
    const gnn = createNowcastModel('nino', { config: { hid: 16 }, seed: 1 });
    const states = makeStates(g.layout.total, 4);
    // same per-graph LPE either way: the full graph's LPE, injected (subgraph mode slices it)
    const pos = new GraphNowcaster(gnn, g, { lpeSeed: 3 }).positions()!;
    const full = new GraphNowcaster(gnn, g, { pos }).nowcast(states, 12);
    const sub = new GraphNowcaster(gnn, g, { pos, subgraph: true }).nowcast(states, 12);
    expect(sub).toEqual(full);
    // without pos, the per-subgraph LPE is an LPE of the same graph (only its column signs/seed differ)
    const own = new GraphNowcaster(gnn, g, { subgraph: true, lpeSeed: 3 });
    const sp = own.subgraphPositions()!;
    expect(sp).toHaveLength(1);
    for (let i = 0; i < sp[0].length; i++) expect(Math.abs(Math.abs(sp[0][i]) - Math.abs(pos[i]))).toBeLessThan(1e-4);
    expect(own.nowcast(states, 12).every(Number.isFinite)).toBe(true);
    gnn.dispose();
  });

  it('per-subgraph LPE is computed once and is seeded; no tensor leaks across subgraph nowcasts', () => {
    const g = gpt(3);
    const gnn = createNowcastModel('nino', { config: { hid: 16 }, seed: 1 });
    const a = new GraphNowcaster(gnn, g, { subgraph: true, lpeSeed: 7 });
    const b = new GraphNowcaster(gnn, g, { subgraph: true, lpeSeed: 7 });
    const pa = a.subgraphPositions()!;
    expect(a.subgraphPositions()).toBe(pa); // cached
    expect(pa.map((p) => Array.from(p))).toEqual(b.subgraphPositions()!.map((p) => Array.from(p)));
    pa.forEach((p, i) => expect(p.length).toBe(a.partition!.groups[i].numNodes * gnn.lpe));
    const states = makeStates(g.layout.total, 6);
    a.nowcast(states, 3); // warm-up (weight caches)
    const before = tf.memory().numTensors;
    const r1 = a.nowcast(states, 3);
    const r2 = a.nowcast(states, 3);
    expect(tf.memory().numTensors).toBe(before);
    expect(r1.every(Number.isFinite)).toBe(true);
    expect(r2).toEqual(r1);
    gnn.dispose();
  });

  it('resolveNowcaster passes subgraph through', async () => {
    const specs = llamaSpecs({ vocab: 11, width: 8, layers: 2, heads: 2, inner: 16 });
    const model = { arch: 'llama', specs, graphInfo: { numHeads: 2 } } as unknown as ModelDef;
    const on = await resolveNowcaster('linefit', { model, subgraph: true, chunkEdges: 64 });
    const off = await resolveNowcaster('linefit', { model });
    expect(on.partition?.groups).toHaveLength(2);
    expect(off.partition).toBeNull();
    const states = makeStates(on.graph.layout.total, 8);
    expect(on.nowcast(states, 4)).toEqual(off.nowcast(states, 4));
  });
});
