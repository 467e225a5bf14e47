/**
 * Benchmarks src/graph at LM1B-3-24 size (GPT-2: vocab 50257, ctx 1024, 3 layers, width 24, 3 heads):
 * graph build time, scaleStates + toEdges + toVector time, LPE time, peak RSS.
 *
 *   npx tsx scripts/bench-graph.ts [--repeat 3]
 */
import { Rng } from '../src/core/rng.ts';
import { buildNeuralGraph, laplacianPE, toEdges, toVector } from '../src/graph/index.ts';
import { gpt2Specs } from '../src/tasks/models/gpt2.ts';
import { scaleStates } from '../src/trajectories/scale.ts';

const repeat = Number(process.argv[process.argv.indexOf('--repeat') + 1]) || 3;
const ms = (t: number) => (performance.now() - t).toFixed(1);
const specs = gpt2Specs({ vocabSize: 50257, nPositions: 1024, nEmbd: 24, nLayer: 3 });
const rss0 = process.memoryUsage.rss();

const t0 = performance.now();
let g = buildNeuralGraph('gpt2', specs, { numHeads: 3 });
console.log(`build gpt2 graph (cold, first call): ${ms(t0)} ms`);
for (let r = 0; r < repeat; r++) {
  const t = performance.now();
  g = buildNeuralGraph('gpt2', specs, { numHeads: 3 });
  console.log(`build gpt2 graph: ${ms(t)} ms  (N=${g.numNodes}, E=${g.numEdges}, params=${g.layout.total})`);
}
const ctx = 5;
const rng = new Rng(1);
const states = new Float32Array(g.layout.total * ctx);
for (let i = 0; i < states.length; i++) states[i] = rng.normal() * 0.02;
for (let r = 0; r < repeat; r++) {
  let t = performance.now();
  const { scaled } = scaleStates(states, g.layout, ctx);
  const tScale = ms(t);
  t = performance.now();
  const attr = toEdges(g, scaled, ctx);
  const tEdges = ms(t);
  const out = new Float32Array(g.numEdges * g.maxFeat);
  for (let s = 0; s < out.length; s++) out[s] = attr[s * ctx + ctx - 1];
  t = performance.now();
  toVector(g, out);
  console.log(
    `scaleStates: ${tScale} ms, toEdges: ${tEdges} ms (${(attr.byteLength / 2 ** 20).toFixed(1)} MiB), toVector: ${ms(t)} ms`,
  );
}
const t = performance.now();
const lpe = laplacianPE(g, { rng: new Rng(1234) });
console.log(
  `LPE (${lpe.method}, ${lpe.matvecs} matvecs): ${ms(t)} ms; eigenvalues ${Array.from(lpe.eigvals)
    .map((x) => x.toFixed(6))
    .join(' ')}`,
);
// resourceUsage().maxRSS is the kernel's high-water mark in KiB (includes tsx/esbuild start-up)
console.log(
  `RSS at start: ${(rss0 / 2 ** 20).toFixed(0)} MiB, peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
);
