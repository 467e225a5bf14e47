/**
 * Meta-training throughput on FM-16-sized graphs: graphs/s and s/step of MetaTrainer.trainStep
 * (sampling + scaling + batch assembly + forward/backward + clip + AdamW) at hid 32 and 128.
 *
 *   npx tsx scripts/bench-metatrain.ts [--backend wasm|cpu] [--steps 20] [--batch 4] [--hid 32,128] [--data DIR]
 *
 * Without --data, synthetic smooth trajectories with the FM-16-3k layout are written to a temp folder.
 * Also checks that tf.memory().numTensors does not grow per step.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/core/backend.ts';
import {
  DEFAULT_TRAIN_CONFIG,
  expandDataPaths,
  loadTrajectorySet,
  MetaTrainer,
  modelConfigFor,
  splitByTrajectory,
  type TrainConfig,
} from '../src/metatrain/index.ts';
import { initHostWeights } from '../src/model/weights.ts';
import { writeSynthTrajectories } from './lib/synth-trajectories.ts';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    steps: { type: 'string', default: '20' },
    batch: { type: 'string', default: String(DEFAULT_TRAIN_CONFIG.batch) },
    hid: { type: 'string', default: '32,128' },
    model: { type: 'string', default: 'nino' },
    data: { type: 'string' },
  },
});

await initBackend(values.backend);
const task = 'FM-16-3k';
const dir = values.data ?? writeSynthTrajectories(mkdtempSync(join(tmpdir(), 'nino-bench-mt-')), task);
const steps = Number(values.steps);
for (const hid of values.hid!.split(',').map(Number)) {
  const tc: TrainConfig = {
    ...DEFAULT_TRAIN_CONFIG,
    model: values.model as 'nino' | 'mlp',
    hid,
    batch: Number(values.batch),
    steps: 1000,
  };
  const set = loadTrajectorySet(expandDataPaths([dir]), {
    ctx: tc.ctx,
    maxHorizon: tc.maxHorizon,
    lpe: tc.model === 'nino' ? tc.lpe : 0,
  });
  const { train, val } = splitByTrajectory(set, 1);
  const cfg = modelConfigFor(tc, set);
  const t = new MetaTrainer(set, train, val, cfg, tc, initHostWeights(cfg, 0));
  const g = set.graphs[0].graph;
  t.trainStep(); // warm-up
  t.trainStep();
  const n0 = tf.memory().numTensors;
  // time the parts: host batch prep vs whole step
  let prepMs = 0;
  for (let i = 0; i < 5; i++) {
    const a = performance.now();
    t.sampleBatch();
    prepMs += performance.now() - a;
  }
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) t.trainStep();
  const sec = (performance.now() - t0) / 1000;
  const leak = tf.memory().numTensors - n0;
  const v0 = performance.now();
  t.validate();
  const valMs = performance.now() - v0;
  const slots = g.numEdges * g.maxFeat;
  console.log(
    `${tf.getBackend()} ${tc.model} hid ${hid} | FM-16 graph: ${g.numEdges} edges, ${g.numNodes} nodes, ${slots} slots (F ${g.maxFeat}) | batch ${tc.batch}: ` +
      `${(sec / steps).toFixed(3)} s/step, ${((steps * tc.batch) / sec).toFixed(1)} graphs/s (host batch prep ${(prepMs / 5).toFixed(1)} ms/batch) | ` +
      `val (${t.validator.samples.length} windows) ${valMs.toFixed(0)} ms | tensor growth over ${steps} steps: ${leak}`,
  );
  t.dispose();
}
