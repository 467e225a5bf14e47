/**
 * Data-parallel meta-training (`train-nino --workers`, src/metatrain/parallel.ts): the batch split over
 * this thread and worker threads gives the 1-thread loss curve up to float summation order, is
 * deterministic for a fixed worker count, and resumes exactly.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend.ts';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import {
  combineShards,
  DEFAULT_TRAIN_CONFIG,
  expandDataPaths,
  loadTrajectorySet,
  MetaTrainer,
  modelConfigFor,
  ParallelGrads,
  shardRanges,
  trainNino,
  type TrainConfig,
  type TrainOptions,
} from '../src/metatrain/index.ts';
import { initHostWeights } from '../src/model/weights.ts';
import { writeSynth } from './helpers/synth-traj.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'nino-mtw-'));
const cfg: Partial<TrainConfig> = {
  hid: 8,
  layers: 2,
  maxHorizon: 6,
  lpe: 3,
  batch: 4,
  windowsPerTraj: 2,
  val: 1,
  valEvery: 1000,
  valWindows: 3,
  steps: 6,
  ckptEvery: 3,
};
let data = '';

beforeAll(async () => {
  await initBackend('cpu');
  data = tmp();
  for (let s = 1; s <= 4; s++) writeSynth(data, s, 20);
});

/** a run, with its per-step losses and final weights */
async function run(o: Partial<TrainOptions> = {}) {
  const losses: number[] = [];
  const r = await trainNino({
    data: [data],
    out: tmp(),
    config: cfg,
    ...o,
    hooks: { onStep: (_s, l) => losses.push(l), ...o.hooks },
  });
  return { r, losses, weights: loadCheckpoint(r.finalPath).weights };
}

const sameBits = (a: Record<string, { data: Float32Array }>, b: Record<string, { data: Float32Array }>) =>
  Object.keys(a).every((k) =>
    Buffer.from(a[k].data.buffer, a[k].data.byteOffset, a[k].data.byteLength).equals(
      Buffer.from(b[k].data.buffer, b[k].data.byteOffset, b[k].data.byteLength),
    ),
  );

describe('data-parallel meta-training', () => {
  it('shards: contiguous, sizes differ by at most one; the count-weighted mean', () => {
    expect(shardRanges(5, 2)).toEqual([
      [0, 3],
      [3, 5],
    ]);
    expect(shardRanges(4, 3)).toEqual([
      [0, 2],
      [2, 3],
      [3, 4],
    ]);
    const c = combineShards([
      { loss: 1, count: 3, grads: [Float32Array.of(1, 2)] },
      { loss: 3, count: 1, grads: [Float32Array.of(5, -2)] },
    ]);
    expect(c.loss).toBe(1.5);
    expect(Array.from(c.grads[0])).toEqual([2, 1]);
  });

  it('2 workers follow the 1-worker loss curve, are deterministic, and resume exactly', async () => {
    const one = await run({ workers: 1 });
    const two = await run({ workers: 2 });
    expect(one.r.workers).toBe(1);
    expect(two.r.workers).toBe(2);
    expect(two.losses).toHaveLength(6);
    two.losses.forEach((l, i) =>
      expect(Math.abs(l - one.losses[i]), `step ${i + 1}`).toBeLessThan(1e-5 * Math.max(1, one.losses[i])),
    );
    expect(Math.abs(two.r.val!.l1 - one.r.val!.l1)).toBeLessThan(1e-5);
    expect(sameBits(one.weights, two.weights)).toBe(false); // really another summation order, not the 1-thread path

    const again = await run({ workers: 2 });
    expect(again.losses).toEqual(two.losses);
    expect(sameBits(again.weights, two.weights)).toBe(true);

    // crash after step 4 (checkpoint at 3), resume without --workers: the checkpoint's 2 workers
    const out = tmp();
    await expect(
      trainNino({
        data: [data],
        out,
        config: cfg,
        workers: 2,
        hooks: {
          onStep: (s) => {
            if (s === 4) throw new Error('simulated crash');
          },
        },
      }),
    ).rejects.toThrow(/simulated crash/);
    const ck = loadCheckpoint(join(out, 'ckpt.safetensors')).extra as { step: number; workers?: number };
    expect(ck).toMatchObject({ step: 3, workers: 2 });
    const resumed = await trainNino({ out, resume: true });
    expect(resumed.workers).toBe(2);
    expect(sameBits(loadCheckpoint(resumed.finalPath).weights, two.weights)).toBe(true);
    expect(resumed.val!.l1).toBe(two.r.val!.l1);
  }, 120_000);

  it('ParallelGrads reports where the step went: its own shard, each worker, the wait, the average', async () => {
    const files = expandDataPaths([data]);
    const tc = { ...DEFAULT_TRAIN_CONFIG, ...cfg, val: 0 } as TrainConfig;
    const load = { ctx: tc.ctx, maxHorizon: tc.maxHorizon, lpe: tc.lpe };
    const set = loadTrajectorySet(files, load);
    const mc = modelConfigFor(tc, set);
    const t = new MetaTrainer(
      set,
      set.trajs.map((_, i) => i),
      [],
      mc,
      tc,
      initHostWeights(mc, 0),
    );
    const pg = await ParallelGrads.start(set, {
      workers: 3,
      files,
      load,
      cfg: mc,
      host: t.hostWeights(),
      backend: 'cpu',
    });
    try {
      expect(pg.lastTimings).toBeNull();
      const r = await t.trainStepParallel(pg);
      expect(r.ok).toBe(true);
      const pt = pg.lastTimings!;
      expect(pt.workers).toHaveLength(2);
      for (const ms of [pt.main, ...pt.workers, pt.wait, pt.reduce]) expect(ms >= 0 && Number.isFinite(ms)).toBe(true);
      expect(pt.main).toBeGreaterThan(0);
      expect(Math.min(...pt.workers)).toBeGreaterThan(0);
    } finally {
      await pg.close();
      t.dispose();
    }
  }, 60_000);

  it('a NaN in a shard rolls the whole step back, as in one thread', async () => {
    let poisoned = false;
    const r = await run({
      workers: 2,
      config: { ...cfg, steps: 8, snapshotEvery: 2 },
      hooks: { poisonStep: (s) => s === 5 && !poisoned && (poisoned = true) },
    });
    expect(r.r.rollbacks).toBe(1);
    expect(r.r.step).toBe(8);
    for (const w of Object.values(r.weights)) expect(w.data.every(Number.isFinite)).toBe(true);
  }, 60_000);
});
