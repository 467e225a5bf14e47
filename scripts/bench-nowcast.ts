/**
 * Benchmarks one nowcast (NiNo GNN forward, nino_no_posw, hid 128):
 *   1. FM-16 golden graph (95 nodes, 2057 edges, F=9): median over --repeat runs (target <= 70 ms,
 *      the PyTorch time here);
 *   2. unless --small-only: the LM1B-3-24-size GPT-2 graph from src/graph (1,252,464 params,
 *      51,922 nodes, 1,304,674 edges, F=1) with random states and random pos, edge-chunked: wall time
 *      and peak RSS (target < 68.6 s and < 2 GB). With --subgraph: the same graph nowcast one transformer
 *      block at a time (src/nowcast/subgraph.ts; the random pos is sliced per block), reporting the
 *      partition and the largest block.
 *
 *   npx tsx scripts/bench-nowcast.ts [--backend wasm] [--repeat 20] [--chunk 65536] [--edge-sample-ratio 0]
 *                                    [--small-only] [--large-only] [--subgraph]
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { initBackend } from '../src/core/backend.ts';
import { Rng } from '../src/core/rng.ts';
import { readSafetensors } from '../src/core/safetensors.ts';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { NiNoGnn } from '../src/model/gnn.ts';
import type { NowcastInput } from '../src/model/types.ts';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] && !process.argv[i + 1].startsWith('--') ? process.argv[i + 1] : dflt;
};
const flag = (name: string) => process.argv.includes(`--${name}`);
const REF = process.env.NINO_REFERENCE_DIR ?? join(import.meta.dirname, '..', 'test', 'fixtures', 'reference');
const backend = arg('backend', 'wasm');
const repeat = Number(arg('repeat', '20'));
const chunk = Number(arg('chunk', '65536'));
const sampleRatio = Number(arg('edge-sample-ratio', '0'));

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const st = (rel: string) => readSafetensors(readFileSync(join(REF, rel)), rel).tensors;

const be = await initBackend(backend);
const threads = be.name === 'wasm' ? (await import('@tensorflow/tfjs-backend-wasm')).getThreadsCount() : 1;
console.log(`backend: ${be.name} (${be.reason}), wasm threads: ${threads}`);
const ck = loadCheckpoint(join(import.meta.dirname, '..', 'checkpoints', 'official', 'nino_no_posw.safetensors'));

if (!flag('large-only')) {
  const g = st('case_a_fm16/graph.safetensors');
  const inp: NowcastInput = {
    edgeAttr: st('case_a_fm16/inputs.safetensors').edge_attr.data as Float32Array,
    F: 9,
    ctx: 5,
    edgeIndex: g.edge_index.data as Int32Array,
    edgeType: g.edge_type.data as Int32Array,
    pos: g.pos.data as Float32Array,
    numNodes: g.pos.shape[0],
    k: 40,
  };
  const nc = new NiNoGnn(ck.config, ck.weights);
  for (let i = 0; i < 3; i++) nc.predict(inp); // warm-up
  const times: number[] = [];
  const before = tf.memory().numTensors;
  for (let i = 0; i < repeat; i++) {
    const t = performance.now();
    nc.predict(inp);
    times.push(performance.now() - t);
  }
  console.log(
    `FM-16 (N=${inp.numNodes}, E=${inp.edgeType.length}, F=9): median ${median(times).toFixed(1)} ms, min ${Math.min(...times).toFixed(1)} ms over ${repeat} runs (target <= 70 ms); tensors leaked: ${tf.memory().numTensors - before}`,
  );
  nc.dispose();
}

if (!flag('small-only')) {
  let graphMod: typeof import('../src/graph/index.ts') | null = null;
  try {
    graphMod = await import('../src/graph/index.ts');
  } catch (e) {
    console.log(`large graph skipped: src/graph not available (${(e as Error).message.split('\n')[0]})`);
  }
  if (graphMod) {
    const specs = (await import('../src/tasks/models/gpt2.ts')).gpt2Specs({
      vocabSize: 50257,
      nPositions: 1024,
      nEmbd: 24,
      nLayer: 3,
    });
    const g = graphMod.buildNeuralGraph('gpt2', specs, { numHeads: 3 });
    const ctx = 5;
    const rng = new Rng(1);
    const edgeAttr = new Float32Array(g.numEdges * g.maxFeat * ctx);
    for (let i = 0; i < edgeAttr.length; i++) edgeAttr[i] = rng.normal();
    const pos = new Float32Array(g.numNodes * 8);
    for (let i = 0; i < pos.length; i++) pos[i] = rng.normal() * 0.05;
    const inp: NowcastInput = {
      edgeAttr,
      F: g.maxFeat,
      ctx,
      edgeIndex: g.edgeIndex,
      edgeType: g.edgeType,
      pos,
      posW: g.posW,
      numNodes: g.numNodes,
      k: 40,
    };
    const nc = new NiNoGnn(ck.config, ck.weights, { chunkEdges: chunk, edgeSampleRatio: sampleRatio, seed: 1 });
    const sg = flag('subgraph') ? await import('../src/nowcast/subgraph.ts') : null;
    let part: import('../src/nowcast/subgraph.ts').SubgraphPartition | null = null;
    let subPos: Float32Array[] | undefined;
    if (sg) {
      const tp = performance.now();
      part = sg.partitionTransformerGraph(g);
      if (!part) throw new Error('no transformer blocks in the graph');
      subPos = sg.slicePositions(part, pos, 8);
      console.log(
        `subgraph partition: ${part.groups.length} groups in ${((performance.now() - tp) / 1000).toFixed(2)} s; ` +
          part.groups.map((x) => `${x.label}: N=${x.numNodes}, E=${x.numEdges}`).join('; '),
      );
    }
    const rss0 = process.memoryUsage.rss();
    let peak = rss0;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
    const timings: Record<string, number> = {};
    const t = performance.now();
    const delta = part
      ? sg!.predictBySubgraph({ predict: (i: NowcastInput) => nc.predictDelta(i, { timings }) }, g, part, edgeAttr, {
          ctx,
          k: 40,
          pos: subPos,
        })
      : nc.predictDelta(inp, { timings });
    const dt = (performance.now() - t) / 1000;
    const out = delta;
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);
    let finite = true;
    for (let i = 0; i < out.length; i++)
      if (!Number.isFinite(out[i])) {
        finite = false;
        break;
      }
    console.log(
      `LM1B-3-24 GPT-2 graph (params=${g.layout.total}, N=${g.numNodes}, E=${g.numEdges}, F=${g.maxFeat}), chunkEdges=${chunk}, edgeSampleRatio=${sampleRatio}${part ? ', subgraph' : ''}: ` +
        `${dt.toFixed(2)} s (target < 68.6 s), peak RSS ${(peak / 2 ** 30).toFixed(2)} GiB (before the nowcast ${(rss0 / 2 ** 30).toFixed(2)} GiB; target < 2 GB), finite=${finite}`,
    );
    console.log(
      `  phases (s): ${Object.entries(timings)
        .map(([k, v]) => `${k} ${(v / 1000).toFixed(2)}`)
        .join(', ')}`,
    );
    nc.dispose();
  }
}
