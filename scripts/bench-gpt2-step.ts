/**
 * Times one AdamW training step (forward + backward + update) of the GPT-2 model on real byte-level SOTU
 * batches, for the step-cost numbers in reports.
 *
 *   npx tsx scripts/bench-gpt2-step.ts [--backend wasm] [--batch 32] [--ctx 64] [--width 32] [--layers 2]
 *                                      [--heads 2] [--vocab 256] [--steps 30] [--attention auto|loops|tensor]
 * Prints the median and min ms/step after 3 warm-up steps, and the load average (the machine is shared).
 */
import * as tf from '@tensorflow/tfjs';
import { loadavg } from 'node:os';
import { initBackend } from '../src/core/backend.ts';
import { Rng } from '../src/core/rng.ts';
import { sampleWindows } from '../src/data/batching.ts';
import { loadSotu } from '../src/data/sotu.ts';
import { AdamW } from '../src/optim/adamw.ts';
import { makeGpt2 } from '../src/tasks/models/gpt2.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

const backend = arg('backend', 'wasm');
const B = Number(arg('batch', '32'));
const T = Number(arg('ctx', '64'));
const cfg = {
  vocabSize: Number(arg('vocab', '256')),
  nPositions: T,
  nEmbd: Number(arg('width', '32')),
  nLayer: Number(arg('layers', '2')),
  nHead: Number(arg('heads', '2')),
  attention: arg('attention', 'auto') as 'auto' | 'loops' | 'tensor',
};
const steps = Number(arg('steps', '30'));

await initBackend(backend);
const data = await loadSotu({ tokenizer: 'byte' });
const m = makeGpt2(cfg);
const vars = m.init(new Rng(1)).map((a, i) => tf.variable(tf.tensor(a, m.specs[i].shape)));
const opt = new AdamW({ lr: 2e-3, weightDecay: 0.01 });
const rng = new Rng(2);
const times: number[] = [];
let loss = NaN;
for (let s = 0; s < steps; s++) {
  const b = sampleWindows(data.train, B, T, rng);
  const t0 = performance.now();
  const x = tf.tensor2d(b.x, [B, T], 'int32');
  const y = tf.tensor2d(
    b.y.map((v) => v % cfg.vocabSize),
    [B, T],
    'int32',
  );
  const { value, grads } = tf.variableGrads(() => m.loss(vars, { x, y }), vars);
  opt.step(
    vars,
    vars.map((v) => grads[v.name]),
  );
  loss = value.dataSync()[0];
  tf.dispose([x, y, value, ...Object.values(grads)]);
  times.push(performance.now() - t0);
}
const warm = times.slice(Math.min(3, times.length - 1)).sort((a, b) => a - b);
console.log(
  JSON.stringify({
    backend: tf.getBackend(),
    ...cfg,
    batch: B,
    params: m.specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0),
    medianMsPerStep: +warm[warm.length >> 1].toFixed(1),
    minMsPerStep: +warm[0].toFixed(1),
    steps,
    finalLoss: +loss.toFixed(3),
    loadavg1: +loadavg()[0].toFixed(2),
  }),
);
