import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend.ts';
import { makeLayout, type ParamSpec } from '../src/core/params.ts';
import { Rng } from '../src/core/rng.ts';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { vocabIds } from '../src/model/nino-layer.ts';
import { gnnTrainForward, mlpTrainForward } from '../src/model/train-ops.ts';
import { initHostWeights } from '../src/model/weights.ts';
import { gpt2Specs } from '../src/tasks/models/gpt2.ts';
import { NiNo } from '../src/nowcast/nino.ts';
import { resolveNowcaster } from '../src/nowcast/resolve.ts';
import { AdamW } from '../src/optim/adamw.ts';
import type { ModelDef } from '../src/tasks/types.ts';
import { writeTrajectory } from '../src/trajectories/arrow.ts';
import {
  assembleBatch,
  baselineErrors,
  DEFAULT_TRAIN_CONFIG,
  expandDataPaths,
  initWeightsFor,
  loadTrajectorySet,
  makeSample,
  MetaTrainer,
  modelConfigFor,
  resolvedDataRef,
  splitByTrajectory,
  storedDataRef,
  trainNino,
  wteSubset,
  type DataRef,
  type TrainConfig,
} from '../src/metatrain/index.ts';
import { layout, SPECS, synthRecords, TASK, writeSynth } from './helpers/synth-traj.ts';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'nino-mt-'));
}

const small: Partial<TrainConfig> = {
  hid: 8,
  layers: 2,
  maxHorizon: 6,
  lpe: 3,
  batch: 2,
  windowsPerTraj: 2,
  val: 1,
  valEvery: 1000,
  ckptEvery: 1000,
  valWindows: 3,
};

beforeAll(async () => {
  await initBackend('cpu');
});

describe('metatrain data', () => {
  it('windows: inputs, targets, masks and scaling', () => {
    const d = tmp();
    writeSynth(d, 1, 12);
    const set = loadTrajectorySet(expandDataPaths([d]), { ctx: 3, maxHorizon: 4, stride: 2 });
    const t = set.trajs[0];
    const g = set.graphs[0].graph;
    // start 1: inputs at records 1,3,5; targets at 7, 9, 11 (h=1..3), h=4 (record 13) past the end
    const s = makeSample(set, 0, 1, 3, 4);
    expect(s.horizons).toBe(3);
    const e0 = layout.entries[0];
    // per-tensor stats of the inputs (tensor fc.0.weight)
    const vals: number[] = [];
    for (const r of [1, 3, 5]) for (let i = 0; i < e0.numel; i++) vals.push(t.params[r][e0.offset + i]);
    const mean = vals.reduce((x, y) => x + y, 0) / vals.length;
    const std = Math.sqrt(vals.reduce((x, y) => x + (y - mean) ** 2, 0) / (vals.length - 1));
    const F = g.maxFeat;
    let checked = 0;
    expect(s.target.length).toBe(g.numEdges * F * 3);
    for (let sl = 0; sl < g.numEdges * F; sl++) {
      const p = g.edgeParamIndex[sl];
      for (let h = 1; h <= 3; h++) expect(s.mask[sl * 3 + h - 1]).toBe(p < 0 ? 0 : 1);
      if (p < 0 || p >= e0.numel) continue;
      for (let j = 0; j < 3; j++)
        expect(s.edgeAttr[sl * 3 + j]).toBeCloseTo((t.params[1 + 2 * j][p] - mean) / (std + 1e-6), 4);
      const last = (t.params[5][p] - mean) / (std + 1e-6);
      for (let h = 1; h <= 3; h++)
        expect(s.target[sl * 3 + h - 1]).toBeCloseTo((t.params[5 + 2 * h][p] - mean) / (std + 1e-6) - last, 4);
      checked++;
    }
    expect(checked).toBe(e0.numel);
    // out of range start
    expect(() => makeSample(set, 0, 6, 3, 4)).toThrow(/out of range/);
    // baselines: a straight line is predicted exactly by linefit
    const bl = baselineErrors(set, s, 3, 4);
    expect(bl.count[0]).toBe(layout.total);
    expect(bl.count[3]).toBe(0);
  });

  it('batches are disjoint graph unions', () => {
    const d = tmp();
    writeSynth(d, 1, 12);
    writeSynth(d, 2, 12);
    const set = loadTrajectorySet(expandDataPaths([join(d, '*.arrow')]), { ctx: 3, maxHorizon: 4, lpe: 3 });
    expect(set.trajs.length).toBe(2);
    const g = set.graphs[0].graph;
    const s1 = makeSample(set, 0, 0, 3, 4);
    const s2 = makeSample(set, 1, 2, 3, 4);
    s2.lpeSign = Float32Array.from([-1, 1, -1]);
    const b = assembleBatch(set, [s1, s2], set.maxFeat, 3, 4, 3);
    const E = g.numEdges;
    expect(b.E).toBe(2 * E);
    expect(b.numNodes).toBe(2 * g.numNodes);
    expect(b.edgeIndex[E]).toBe(g.edgeIndex[0] + g.numNodes); // src of the 2nd graph's first edge
    expect(b.edgeIndex[2 * E + E]).toBe(g.edgeIndex[E] + g.numNodes); // its dst
    expect(b.pos![g.numNodes * 3]).toBeCloseTo(-set.graphs[0].pos![0]);
    expect(b.count).toBe(s1.mask.reduce((x, y) => x + y, 0) + s2.mask.reduce((x, y) => x + y, 0));
    const { train, val } = splitByTrajectory(set, 1);
    expect(train).toEqual([0]);
    expect(val).toEqual([1]);
  });

  it('mixed-task training: each batch holds one task, and each task gets an equal share of batches', () => {
    const d = tmp();
    const wide: ParamSpec[] = [
      { name: 'fc.0.weight', shape: [5, 3] },
      { name: 'fc.0.bias', shape: [5] },
    ];
    writeSynth(d, 1, 12); // task A: one trajectory
    for (let s = 2; s <= 6; s++) writeSynth(d, s, 12, { task: 'other-mlp', specs: wide }); // task B: five
    const set = loadTrajectorySet(expandDataPaths([d]), { ctx: 3, maxHorizon: 4, lpe: 3 });
    const tc: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...small, ctx: 3, maxHorizon: 4, val: 0 };
    const cfg = modelConfigFor(tc, set);
    const ids = set.trajs.map((_, i) => i);
    const t = new MetaTrainer(set, ids, [], cfg, tc, initHostWeights(cfg, 1));
    const n = 4000;
    let a = 0;
    for (let i = 0; i < n; i++) {
      const group = t.drawTaskTrajectories();
      expect(new Set(group.map((j) => set.trajs[j].task)).size).toBe(1);
      if (set.trajs[group[0]].task === TASK) a++;
    }
    // uniform over trajectories would give 1/6 to task A; balanced gives 1/2 (4 sd = 0.032)
    expect(Math.abs(a / n - 0.5)).toBeLessThan(0.032);
    const eA = set.graphs[set.trajs[0].graph].graph.numEdges;
    const eB = set.graphs[set.trajs[1].graph].graph.numEdges;
    expect(eA).not.toBe(eB);
    const sizes = new Set<number>();
    for (let i = 0; i < 40; i++) sizes.add(t.sampleBatch().E);
    expect([...sizes].sort()).toEqual([tc.batch * eA, tc.batch * eB].sort()); // never a mix of the two
    t.dispose();
    // held-out data of both tasks: the pooled L1 is the count-weighted mean of the per-task L1s
    writeSynth(d, 7, 12);
    const set2 = loadTrajectorySet(expandDataPaths([d]), { ctx: 3, maxHorizon: 4, lpe: 3 });
    const { train, val } = splitByTrajectory(set2, 1);
    const t2 = new MetaTrainer(set2, train, val, cfg, { ...tc, val: 1 }, initHostWeights(cfg, 1));
    const v = t2.validate()!;
    expect(Object.keys(v.perTask!).sort()).toEqual(['other-mlp', TASK].sort());
    const pt = Object.values(v.perTask!);
    expect(pt.reduce((x, y) => x + y.windows, 0)).toBe(v.windows);
    expect(Math.min(...pt.map((x) => x.l1))).toBeLessThanOrEqual(v.l1 + 1e-12);
    expect(Math.max(...pt.map((x) => x.l1))).toBeGreaterThanOrEqual(v.l1 - 1e-12);
    expect(pt.every((x) => x.last > 0 && x.l1 > 0)).toBe(true);
    t2.dispose();
  });

  it('rejects corrupt and mismatched trajectory files with a clear message', () => {
    const d = tmp();
    const good = writeSynth(d, 1, 12);
    const bad = join(d, 'garbage.arrow');
    writeFileSync(bad, 'not arrow at all');
    expect(() => loadTrajectorySet([good, bad], { ctx: 3, maxHorizon: 4 })).toThrow(
      /garbage\.arrow.*not a readable Arrow/,
    );
    const trunc = join(d, 'trunc.arrow');
    writeFileSync(trunc, readFileSync(good).subarray(0, 300));
    expect(() => loadTrajectorySet([trunc], { ctx: 3, maxHorizon: 4 })).toThrow(/trunc\.arrow/);
    const d2 = tmp();
    const other = writeSynth(d2, 2, 12, { specs: [{ name: 'fc.0.weight', shape: [5, 3] }, ...SPECS.slice(1)] });
    expect(() => loadTrajectorySet([good, other], { ctx: 3, maxHorizon: 4 })).toThrow(
      /seed-2\.arrow.*does not match.*fc\.0\.weight.*\[5,3\]/,
    );
    const d3 = tmp();
    const recs = synthRecords(3, 12);
    recs[4].params[layout.entries[2].offset + 1] = NaN;
    const nan = writeSynth(d3, 3, 12, { records: recs });
    expect(() => loadTrajectorySet([nan], { ctx: 3, maxHorizon: 4 })).toThrow(
      /seed-3\.arrow: record 4 \(step 40\) has a non-finite value \(NaN\) in parameter 'fc\.1\.weight'/,
    );
    const short = writeSynth(tmp(), 4, 3);
    expect(() => loadTrajectorySet([short], { ctx: 3, maxHorizon: 4 })).toThrow(
      /seed-4\.arrow: 3 records, need at least 4/,
    );
    expect(() => loadTrajectorySet([good, good.replace(/seed-1/, 'seed-1')], { ctx: 3, maxHorizon: 4 })).toThrow(
      /duplicate/,
    );
    expect(() => expandDataPaths([join(d, 'nothing-*.arrow')])).toThrow(/matches no \.arrow/);
  });
});

function trainerFor(dir: string, over: Partial<TrainConfig> = {}) {
  const tc: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...small, ...over };
  const set = loadTrajectorySet(expandDataPaths([dir]), { ctx: tc.ctx, maxHorizon: tc.maxHorizon, lpe: tc.lpe });
  const { train, val } = splitByTrajectory(set, tc.val);
  const cfg = modelConfigFor(tc, set);
  return new MetaTrainer(set, train, val, cfg, tc, initHostWeights(cfg, 1));
}

describe('metatrain LM graphs', () => {
  it('subsamples word-embedding rows per training sample (wte subgraph)', () => {
    const specs = gpt2Specs({ vocabSize: 20, nPositions: 4, nEmbd: 4, nLayer: 1 });
    const lay = makeLayout(specs);
    const d = tmp();
    for (const seed of [1, 2]) {
      writeTrajectory(
        join(d, `seed-${seed}.arrow`),
        lay,
        {
          task: 'tiny-gpt2',
          seed,
          config: { model: { arch: 'gpt2', nHead: 2 } },
          toolVersion: 'test',
          schemaVersion: 1,
        },
        synthRecords(seed, 12, 10, lay),
      );
    }
    const tc: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...small, wteRows: 5, batch: 2, windowsPerTraj: 1 };
    const set = loadTrajectorySet(expandDataPaths([d]), { ctx: 5, maxHorizon: tc.maxHorizon, lpe: 3 });
    const g = set.graphs[0].graph;
    expect(set.graphs[0].arch).toBe('gpt2');
    const sub = wteSubset(g, 5, new Rng(1))!;
    expect(sub.nodes.length).toBe(g.numNodes - 15);
    const b0 = makeSample(set, 0, 0, 5, tc.maxHorizon);
    b0.subset = sub;
    const b = assembleBatch(set, [b0], set.maxFeat, 5, tc.maxHorizon, 3);
    expect(b.numNodes).toBe(g.numNodes - 15);
    expect(b.E).toBe(sub.edges.length);
    expect(Math.max(...b.edgeIndex)).toBeLessThan(b.numNodes);
    expect(Array.from(b.posW).filter((x) => x > 0).length).toBe(5);
    // wte edges of the 5 kept rows (4 each) + their self-loops survive; the other 15 rows' do not
    expect(g.numEdges - b.E).toBe(15 * 4 + 15);
    const cfg = modelConfigFor(tc, set);
    expect(cfg.wtePosEnc).toBe(true);
    const t = new MetaTrainer(set, [0], [1], cfg, tc, initHostWeights(cfg, 1));
    for (let i = 0; i < 3; i++) expect(t.trainStep().ok).toBe(true);
    expect(Number.isFinite(t.validate()!.l1)).toBe(true);
    t.dispose();
  });
});

describe('metatrain forwards', () => {
  it('custom-gradient forwards equal the same forwards with tfjs autodiff gradients (values and gradients)', () => {
    const d = tmp();
    writeSynth(d, 1, 12);
    writeSynth(d, 2, 12);
    const set = loadTrajectorySet(expandDataPaths([d]), { ctx: 5, maxHorizon: 4, lpe: 3 });
    for (const model of ['nino', 'mlp'] as const) {
      const tc: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...small, model, maxHorizon: 4, ctx: 5 };
      const cfg = modelConfigFor(tc, set);
      const host = initHostWeights(cfg, 7);
      for (const v of Object.values(host))
        for (let i = 0; i < v.data.length; i++) v.data[i] += 0.05 * Math.sin(i + v.data.length);
      const t = new MetaTrainer(set, [0], [1], cfg, tc, host);
      const b = t.sampleBatch();
      const ref = (ws: Record<string, tf.Tensor>) => {
        const ea = tf.tensor2d(b.edgeAttr, [b.E, b.F * 5]);
        return model === 'nino'
          ? gnnTrainForward(
              ws,
              cfg,
              {
                edgeAttr: ea,
                F: b.F,
                edgeIndex: b.edgeIndex,
                edgeType: b.edgeType,
                pos: tf.tensor2d(b.pos!, [b.numNodes, 3]),
                numNodes: b.numNodes,
              },
              cfg.maxHorizon,
              { autodiff: true },
            )
          : mlpTrainForward(ws, cfg, ea, b.edgeType, b.F, cfg.maxHorizon, { autodiff: true });
      };
      const coef = tf.randomNormal([b.E, b.F, 4], 0, 1, 'float32', 5);
      const names = t.trainNames;
      const vars = t.trainable;
      const wmap = () => t.weights;
      const g1 = tf.variableGrads(() => tf.sum(tf.mul(t.forward(b, undefined, 4), coef)) as tf.Scalar, vars);
      // fewer horizons = the first horizons of the full output
      const part = t.forward(b, undefined, 2).arraySync() as number[][][];
      const full = ref(wmap()).arraySync() as number[][][];
      expect(part[3][0][1]).toBeCloseTo(full[3][0][1], 5);
      expect(part[b.E - 1][0][0]).toBeCloseTo(full[b.E - 1][0][0], 5);
      const g2 = tf.variableGrads(() => tf.sum(tf.mul(ref(wmap()), coef)) as tf.Scalar, vars);
      expect(g1.value.dataSync()[0]).toBeCloseTo(g2.value.dataSync()[0], 3);
      vars.forEach((v, i) => {
        const a = g1.grads[v.name].dataSync();
        const r = g2.grads[v.name].dataSync();
        let md = 0;
        let mr = 0;
        for (let j = 0; j < a.length; j++) {
          md = Math.max(md, Math.abs(a[j] - r[j]));
          mr = Math.max(mr, Math.abs(r[j]));
        }
        expect(md, names[i]).toBeLessThanOrEqual(1e-4 * Math.max(1, mr));
      });
      t.dispose();
    }
  });
});

describe('metatrain token-id embedding (wte_pos_enc)', () => {
  const d = tmp();
  beforeAll(() => {
    const lay = makeLayout(gpt2Specs({ vocabSize: 20, nPositions: 4, nEmbd: 4, nLayer: 1 }));
    for (const seed of [1, 2, 3]) {
      const meta = { task: 'tiny-gpt2', seed, config: { model: { arch: 'gpt2', nHead: 2 } } };
      writeTrajectory(
        join(d, `seed-${seed}.arrow`),
        lay,
        { ...meta, toolVersion: 'test', schemaVersion: 1 },
        synthRecords(seed, 12, 10, lay),
      );
    }
  });
  const tcOf = (over: Partial<TrainConfig>): TrainConfig => ({ ...DEFAULT_TRAIN_CONFIG, ...small, ...over });
  const setOf = (tc: TrainConfig) =>
    loadTrajectorySet(expandDataPaths([d]), { ctx: 5, maxHorizon: tc.maxHorizon, lpe: tc.lpe });

  it("a fresh GNN's embedding has one row per token id of the data, plus row 0", () => {
    const tc = tcOf({});
    const cfg = modelConfigFor(tc, setOf(tc));
    expect(cfg.wtePosEnc).toBe(true);
    expect(cfg.vocabSize).toBe(20);
    expect(modelConfigFor(tcOf({ wtePosEnc: 'off' }), setOf(tc)).wtePosEnc).toBe(false);
    expect(modelConfigFor(tcOf({ model: 'mlp', wtePosEnc: 'on' }), setOf(tc)).wtePosEnc).toBe(false);
  });

  it("'on' adds zero rows to an --init GNN without one: same predictions at step 0, then the rows learn", () => {
    const tc = tcOf({ wtePosEnc: 'on', lr: 1e-2 });
    const set = setOf(tc);
    const { train, val } = splitByTrajectory(set, 1);
    const initCfg = modelConfigFor(tcOf({ wtePosEnc: 'off' }), set);
    expect(initCfg.wtePosEnc).toBe(false);
    const initHost = initHostWeights(initCfg, 7);
    const cfg = modelConfigFor(tc, set, initCfg);
    expect(cfg.wtePosEnc).toBe(true);
    expect(cfg.vocabSize).toBe(20);
    const host = initWeightsFor(cfg, initHost);
    expect(host['wte_pos_enc_layer.weight'].shape).toEqual([21, tc.hid]);
    const before = new MetaTrainer(set, train, val, initCfg, tc, initHost);
    const after = new MetaTrainer(set, train, val, cfg, tc, host);
    const v0 = before.validate()!.l1;
    expect(after.validate()!.l1).toBeCloseTo(v0, 6);
    for (let i = 0; i < 3; i++) expect(after.trainStep().ok).toBe(true);
    const rows = after.hostWeights()['wte_pos_enc_layer.weight'].data;
    const H = tc.hid;
    const rowNorm = (r: number) => rows.subarray(r * H, (r + 1) * H).reduce((a, x) => a + Math.abs(x), 0);
    // token rows 1..20 receive gradients (the word-embedding nodes); none stays at zero
    for (let r = 1; r <= 20; r++) expect(rowNorm(r)).toBeGreaterThan(0);
    before.dispose();
    after.dispose();
  });

  it('refuses what cannot be done, before training', () => {
    const tc = tcOf({});
    const set = setOf(tc);
    const withEmb = modelConfigFor(tc, set);
    expect(() => modelConfigFor(tcOf({ wtePosEnc: 'off' }), set, withEmb)).toThrow(/--init model has a token-id/);
    const synth = tmp();
    writeSynth(synth, 1, 12);
    const visionSet = loadTrajectorySet(expandDataPaths([synth]), { ctx: 5, maxHorizon: 6, lpe: 3 });
    expect(() => modelConfigFor(tcOf({ wtePosEnc: 'on' }), visionSet)).toThrow(/no language-model graphs/);
  });

  it('ids past the model vocabulary get row 0', () => {
    expect(Array.from(vocabIds(Int32Array.from([0, 3, 20, 21, 500]), 20))).toEqual([0, 3, 20, 0, 0]);
    const ids = Int32Array.from([0, 1, 2]);
    expect(vocabIds(ids, 20)).toBe(ids);
  });

  it('train-nino --init with wtePosEnc on writes a model with the embedding', async () => {
    const initOut = tmp();
    const r0 = await trainNino({ data: [d], out: initOut, config: { ...small, wtePosEnc: 'off', steps: 2 } });
    expect(loadCheckpoint(r0.finalPath).config.wtePosEnc).toBe(false);
    const r = await trainNino({
      data: [d],
      out: tmp(),
      config: { ...small, init: r0.finalPath, wtePosEnc: 'on', steps: 2 },
    });
    const ck = loadCheckpoint(r.finalPath);
    expect(ck.config.wtePosEnc).toBe(true);
    expect(ck.config.vocabSize).toBe(20);
    expect(ck.weights['wte_pos_enc_layer.weight'].shape).toEqual([21, small.hid]);
  });
});

describe('metatrain training', () => {
  const d = tmp();
  beforeAll(() => {
    for (let s = 1; s <= 4; s++) writeSynth(d, s, 20);
  });

  it('the loss decreases on a tiny set and tensors do not leak', () => {
    for (const model of ['nino', 'mlp'] as const) {
      const t = trainerFor(d, { model, steps: 60, lr: 3e-2, hid: 16 });
      const v0 = t.validate()!;
      expect(v0.linefit).toBeGreaterThan(0);
      const fixed = t.sampleBatch();
      const lossOf = () => tf.tidy(() => t.loss(fixed).dataSync()[0]);
      const l0 = lossOf();
      const losses: number[] = [];
      t.trainStep();
      const n0 = tf.memory().numTensors;
      for (let i = 0; i < 59; i++) losses.push(t.trainStep().loss);
      expect(tf.memory().numTensors).toBe(n0);
      const head = losses.slice(0, 8).reduce((x, y) => x + y) / 8;
      const tail = losses.slice(-8).reduce((x, y) => x + y) / 8;
      expect(tail).toBeLessThan(head);
      expect(lossOf()).toBeLessThan(0.92 * l0);
      expect(Number.isFinite(t.validate()!.l1)).toBe(true);
      t.dispose();
    }
  });

  it('resume continues exactly like an uninterrupted run', async () => {
    const cfg = { ...small, steps: 6, ckptEvery: 3, valEvery: 2 };
    const a = tmp();
    const ra = await trainNino({ data: [d], out: a, config: cfg });
    expect(ra.step).toBe(6);
    const b = tmp();
    await expect(
      trainNino({
        data: [d],
        out: b,
        config: cfg,
        hooks: {
          onStep: (s) => {
            if (s === 4) throw new Error('simulated crash');
          },
        },
      }),
    ).rejects.toThrow(/simulated crash/);
    expect((loadCheckpoint(join(b, 'ckpt.safetensors')).extra as { step: number }).step).toBe(3);
    const rb = await trainNino({ out: b, resume: true });
    expect(rb.step).toBe(6);
    const wa = loadCheckpoint(ra.finalPath).weights;
    const wb = loadCheckpoint(rb.finalPath).weights;
    for (const k of Object.keys(wa))
      expect(Buffer.from(wb[k].data.buffer).equals(Buffer.from(wa[k].data.buffer))).toBe(true);
    expect(rb.val!.l1).toBe(ra.val!.l1);
  });

  it('a run folder moved with its trajectories resumes there: data paths are stored relative to the file', async () => {
    const root = tmp();
    const traj = join(root, 'traj');
    mkdirSync(traj);
    for (let s = 1; s <= 3; s++) writeSynth(traj, s, 20);
    const cfg = { ...small, steps: 6, ckptEvery: 3 };
    await expect(
      trainNino({
        data: [traj],
        out: join(root, 'run'),
        config: cfg,
        hooks: {
          onStep: (s) => {
            if (s === 4) throw new Error('simulated crash');
          },
        },
      }),
    ).rejects.toThrow(/simulated crash/);
    const stored = (loadCheckpoint(join(root, 'run', 'ckpt.safetensors')).extra as { data: DataRef }).data;
    expect(stored.relativeTo).toBe('file');
    expect([...stored.train, ...stored.val].sort()).toEqual([1, 2, 3].map((s) => `../traj/seed-${s}.arrow`));
    const moved = `${root}-moved`;
    renameSync(root, moved);
    const r = await trainNino({ out: join(moved, 'run'), resume: true });
    expect(r.step).toBe(6);
    const final = (loadCheckpoint(r.finalPath).extra as { data: DataRef }).data;
    expect(final).toEqual(stored);
    const abs = resolvedDataRef(final, join(moved, 'run'));
    for (const p of [...abs.train, ...abs.val]) expect(existsSync(p) && p.startsWith(moved)).toBe(true);
    // the same files given again (relative to another folder) are the same data; others are not
    await expect(
      trainNino({ data: [join(moved, 'traj')], out: join(moved, 'run'), resume: true }),
    ).resolves.toBeDefined();
    const other = tmp();
    for (let s = 1; s <= 3; s++) writeSynth(other, s, 20);
    await expect(trainNino({ data: [other], out: join(moved, 'run'), resume: true })).rejects.toThrow(
      /different --data/,
    );
  });

  it('older checkpoints: data paths without relativeTo are read as stored', () => {
    expect(resolvedDataRef({ train: ['a/b.arrow', '/x/y.arrow'], val: [] }, '/somewhere')).toEqual({
      train: ['a/b.arrow', '/x/y.arrow'],
      val: [],
    });
    const s = storedDataRef({ train: ['/r/traj/a.arrow'], val: ['/r/b.arrow'] }, '/r/run');
    expect(s).toEqual({ train: ['../traj/a.arrow'], val: ['../b.arrow'], relativeTo: 'file' });
    expect(resolvedDataRef(s, '/q/run')).toEqual({ train: ['/q/traj/a.arrow'], val: ['/q/b.arrow'] });
  });

  it('rolls back on a NaN loss and continues with a different data order', async () => {
    let poisoned = false;
    const warnings: string[] = [];
    const logger = { info() {}, debug() {}, error() {}, warn: (_o: unknown, m?: string) => warnings.push(String(m)) };
    const r = await trainNino({
      data: [d],
      out: tmp(),
      config: { ...small, steps: 8, snapshotEvery: 2 },
      logger: logger as never,
      hooks: {
        poisonStep: (s) => {
          if (s === 5 && !poisoned) return (poisoned = true);
          return false;
        },
      },
    });
    expect(r.rollbacks).toBe(1);
    expect(r.step).toBe(8);
    expect(warnings.some((w) => /non-finite loss at step 5: rolled back to step 4/.test(w))).toBe(true);
    for (const w of Object.values(loadCheckpoint(r.finalPath).weights))
      expect(w.data.every(Number.isFinite)).toBe(true);
  });

  it('a trained checkpoint loads in the NiNo wrapper and nowcasts finite params', async () => {
    const out = tmp();
    const r = await trainNino({ data: [d], out, config: { ...small, steps: 3 } });
    const model = { arch: 'mlp', specs: SPECS, graphInfo: {} } as unknown as ModelDef;
    const gn = await resolveNowcaster(r.finalPath, { model });
    expect(gn.ctx).toBe(5);
    const params = SPECS.map((s) => tf.variable(tf.randomNormal(s.shape, 0, 1, 'float32', 3)));
    const opt = new NiNo({ baseOpt: new AdamW({ lr: 0.01 }), nowcaster: gn, period: 10, maxTrainSteps: 30 });
    for (let s = 0; s < 20; s++) {
      const grads = opt.needGrads ? params.map((p) => tf.onesLike(p)) : null;
      opt.step(params, grads);
      grads?.forEach((g) => g.dispose());
    }
    expect(opt.events.length).toBeGreaterThan(0);
    expect(opt.events.every((e) => e.applied)).toBe(true);
    for (const p of params) expect(Array.from(p.dataSync()).every(Number.isFinite)).toBe(true);
    // and the mlp baseline checkpoint
    const rm = await trainNino({ data: [d], out: tmp(), config: { ...small, model: 'mlp', steps: 2 } });
    expect(rm.finalPath.endsWith('mlp.safetensors')).toBe(true);
    const gm = await resolveNowcaster(rm.finalPath, { model });
    const st = new Float32Array(layout.total * 5).map((_, i) => Math.sin(i));
    expect(gm.nowcast(st, 3).every(Number.isFinite)).toBe(true);
  });
});
