/**
 * The tfjs API (src/index.ts): neural graphs of tf.LayersModels beyond FM-16 (BatchNorm, LayerNorm,
 * Embedding, pooling, both Flatten rules, residual Add in a functional model), layout conversion and
 * shape checks, NiNoOptimizer with model.compile/fit, minimize and getWeights/setWeights, the
 * NiNoCallback form, the NaN guard, and the construction-time errors for bad input. Backend: cpu.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend, modelGraph, NiNoCallback, NiNoOptimizer, type Nowcaster } from '../src/index.ts';
import { EdgeType } from '../src/graph/types.ts';
import { getTorchFlat } from './helpers/tfjs-models.ts';

beforeAll(async () => {
  await initBackend('cpu');
});

const countType = (t: Int32Array, type: number) => t.reduce((a, x) => a + (x === type ? 1 : 0), 0);

/** conv -> BN -> ReLU -> MaxPool -> (Flatten | GAP) -> Dropout -> Dense -> LayerNorm -> Dense */
function smallConv(o: { flatten: boolean; size?: number }): tf.Sequential {
  const size = o.size ?? 8;
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [size, size, 2],
        filters: 3,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        useBias: true,
      }),
      tf.layers.batchNormalization(),
      tf.layers.reLU(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      o.flatten ? tf.layers.flatten() : tf.layers.globalAveragePooling2d({}),
      tf.layers.dropout({ rate: 0.1 }),
      tf.layers.dense({ units: 4, activation: 'relu' }),
      tf.layers.layerNormalization(),
      tf.layers.dense({ units: 2, useBias: false }),
    ],
  });
}

describe('modelGraph', () => {
  it('conv / BN / pooling / GAP / LayerNorm: one edge per parameter, types and node count', () => {
    const m = smallConv({ flatten: false });
    const { graph: g, bindings } = modelGraph(m);
    // nodes: 2 in, conv [bias][3], BN [gamma][beta], dense [bias][4], LN [gamma][beta], dense [2]
    expect(g.numNodes).toBe(2 + 1 + 3 + 2 + 1 + 4 + 2 + 2);
    expect(g.layout.total).toBe(m.countParams() - 6); // BN moving mean/variance are buffers, not parameters
    expect(countType(g.edgeType, EdgeType.conv)).toBe(2 * 3);
    expect(countType(g.edgeType, EdgeType.norm)).toBe(3 + 4);
    expect(countType(g.edgeType, EdgeType.fc)).toBe(3 * 4 + 4 * 2);
    expect(g.maxFeat).toBe(9);
    expect(bindings.map((b) => [b.layerClass, b.torchShape])).toEqual([
      ['Conv2D', [3, 2, 3, 3]],
      ['Conv2D', [3]],
      ['BatchNormalization', [3]],
      ['BatchNormalization', [3]],
      ['Dense', [4, 3]],
      ['Dense', [4]],
      ['LayerNormalization', [4]],
      ['LayerNormalization', [4]],
      ['Dense', [2, 4]],
    ]);
    m.dispose();
  });

  it('Flatten -> Dense over a map that fits the feature slots: conv edges with the spatial weights as features', () => {
    const m = smallConv({ flatten: true, size: 12 }); // conv s2 -> 6x6, pool -> 3x3: 9 positions
    const { graph: g, bindings } = modelGraph(m, { maxFeat: 9 });
    const dense = bindings.find((b) => b.layerClass === 'Dense')!;
    expect(dense.torchShape).toEqual([4, 3, 9]);
    // the first Dense: 3 channels x 4 outputs conv edges, no per-position nodes
    expect(countType(g.edgeType, EdgeType.conv)).toBe(2 * 3 + 3 * 4);
    expect(countType(g.edgeType, EdgeType.residual)).toBe(0);
    expect(g.numNodes).toBe(2 + 1 + 3 + 2 + 1 + 4 + 2 + 2);
    // kernel row (p, c) of the tfjs [P*C, out] kernel is torch [o, c, p]: check one weight through read()
    const k = m.layers[6].getWeights()[0].arraySync() as number[][];
    const flat = modelGraph(m).read();
    const p = 5,
      c = 2,
      o = 1;
    expect(flat[dense.offset + (o * 3 + c) * 9 + p]).toBe(Math.fround(k[p * 3 + c][o]));
    m.dispose();
  });

  it('Flatten -> Dense over a larger map: one node per flattened position, tied to its channel', () => {
    const m = smallConv({ flatten: true, size: 16 }); // 4x4 map: 16 positions > 9
    const { graph: g, bindings } = modelGraph(m, { maxFeat: 9 });
    expect(bindings.find((b) => b.layerClass === 'Dense')!.torchShape).toEqual([4, 48]);
    expect(countType(g.edgeType, EdgeType.residual)).toBe(48);
    expect(countType(g.edgeType, EdgeType.fc)).toBe(48 * 4 + 4 * 2);
    expect(g.numNodes).toBe(2 + 1 + 3 + 2 + 48 + 1 + 4 + 2 + 2);
    // the Dense's edge from position node (c, p) holds torch [o, c*P + p] = tfjs kernel [p*C + c, o]
    const k = m.layers[6].getWeights()[0].arraySync() as number[][];
    const mg = modelGraph(m);
    const flat = mg.read();
    const d = bindings.find((b) => b.layerClass === 'Dense')!;
    expect(flat[d.offset + 3 * 48 + 2 * 16 + 7]).toBe(Math.fround(k[7 * 3 + 2][3]));
    // write(read()) leaves every weight unchanged (the layout conversion is a bijection)
    const before = m.getWeights().map((w) => w.dataSync().slice());
    mg.write(flat);
    m.getWeights().forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(Array.from(before[i])));
    m.dispose();
  });

  it('an MLP on images (Flatten of the model input): the pixels are the input neurons, no tie edges', () => {
    const m = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [4, 4, 2] }), tf.layers.dense({ units: 3 })] });
    const { graph: g, bindings } = modelGraph(m);
    expect(g.numNodes).toBe(32 + 1 + 3);
    expect(countType(g.edgeType, EdgeType.residual)).toBe(0);
    expect(countType(g.edgeType, EdgeType.fc)).toBe(32 * 3);
    expect(bindings[0].torchShape).toEqual([3, 32]);
    m.dispose();
  });

  it('functional model with Embedding and a residual Add', () => {
    const ids = tf.input({ shape: [5], dtype: 'int32' });
    const e = tf.layers.embedding({ inputDim: 7, outputDim: 4 }).apply(ids) as tf.SymbolicTensor;
    const h = tf.layers.dense({ units: 4, activation: 'relu' }).apply(e) as tf.SymbolicTensor;
    const r = tf.layers.add().apply([e, h]) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling1d({}).apply(r) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 3 }).apply(pooled) as tf.SymbolicTensor;
    const m = tf.model({ inputs: ids, outputs: out });
    const { graph: g } = modelGraph(m);
    expect(countType(g.edgeType, EdgeType.wte)).toBe(7 * 4);
    expect(countType(g.edgeType, EdgeType.residual)).toBe(4);
    // vocab nodes 0..6, embedding dims 7..10, dense bias 11, dense out 12..15: residual 7+j -> 12+j
    const E = g.numEdges;
    const res: [number, number][] = [];
    for (let i = 0; i < E; i++) if (g.edgeType[i] === EdgeType.residual) res.push([g.edgeIndex[i], g.edgeIndex[E + i]]);
    expect(res).toEqual([
      [7, 12],
      [8, 13],
      [9, 14],
      [10, 15],
    ]);
    expect(g.layout.total).toBe(m.countParams());
    m.dispose();
  });

  it('rejects an unsupported layer, naming the layer, its class and the supported list', () => {
    const m = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [4], units: 3 }), tf.layers.repeatVector({ n: 2 })],
    });
    expect(() => modelGraph(m)).toThrow(
      /layer 'repeat_vector\w*' \(RepeatVector\): unsupported layer.*supported: InputLayer, Dense, Conv2D/,
    );
    m.dispose();
  });

  it('rejects a Sequential model that is not built', () => {
    expect(() => modelGraph(tf.sequential())).toThrow(/not built: give its first layer an inputShape/);
  });
});

/** Predicts last + k * (last - previous). */
class Extrapolate implements Nowcaster {
  readonly name = 'extrapolate';
  readonly ctx = 5;
  readonly maxHorizon = 40;
  constructor(private readonly poison = false) {}
  nowcast(states: Float32Array, k: number): Float32Array {
    const n = states.length / 5;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = states[i * 5 + 4] + k * (states[i * 5 + 4] - states[i * 5 + 3]);
    if (this.poison) out[0] = NaN;
    return out;
  }
}

function tinyData() {
  const x = tf.randomNormal([16, 6], 0, 1, 'float32', 3);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 'int32'), 3);
  return { x, y };
}
const mlp = () =>
  tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [6], units: 5, activation: 'relu' }),
      tf.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });

describe('NiNoOptimizer', () => {
  it('works in model.compile + fit: nowcasts at the official steps with the official k, Adam otherwise', async () => {
    const model = mlp();
    const base = tf.train.adam(0.01);
    const opt = new NiNoOptimizer({ baseOpt: base, model, ckpt: 'linefit', period: 10, maxTrainSteps: 30 });
    model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
    const { x, y } = tinyData();
    await model.fit(x, y, { batchSize: 4, epochs: 5, shuffle: false, verbose: 0 }); // 20 steps
    expect(opt.iterations).toBe(20);
    expect(opt.events.map((e) => [e.stepIdx, e.k, e.applied])).toEqual([
      [9, 40, true],
      [19, 13, true],
    ]);
    expect(base.iterations).toBe(18); // the two nowcast steps are not Adam steps
    expect(model.getWeights().every((w) => w.dataSync().every(Number.isFinite))).toBe(true);
    // model.save with the optimizer: tfjs's training config names it, its weights carry nino's state
    expect(opt.getClassName()).toBe('NiNo');
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        saved = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
      { includeOptimizer: true },
    );
    const tc = saved!.trainingConfig as unknown as {
      optimizer_config: { class_name: string; config: { baseOpt: { className: string }; period: number } };
    };
    expect(tc.optimizer_config.class_name).toBe('NiNo');
    expect(tc.optimizer_config.config).toMatchObject({ period: 10, baseOpt: { className: 'Adam' } });
    expect(saved!.weightSpecs!.map((w) => w.name)).toEqual(
      expect.arrayContaining(['nino/numStates', 'nino/state/4', 'nino/base/iter']),
    );
    tf.dispose([x, y]);
    model.dispose();
  });

  it("minimize(): a nowcast writes the prediction into the model's own variables", () => {
    const model = mlp();
    const opt = new NiNoOptimizer({ baseOpt: tf.train.sgd(0.1), model, ckpt: null, period: 5 });
    expect(opt.core.nowcaster).toBeNull();
    const vars = model.trainableWeights.map((w) => w.read());
    const { x, y } = tinyData();
    const loss = () => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar;
    for (let i = 0; i < 5; i++) opt.minimize(loss);
    expect(opt.events.length).toBe(0);
    // with a nowcaster: the 5th step is the jump, from the 5 states taken before steps 0..4
    const o2 = new NiNoOptimizer({ baseOpt: tf.train.sgd(0.1), model, ckpt: null, period: 5 });
    (o2.core as unknown as { nowcaster: Nowcaster }).nowcaster = new Extrapolate();
    const seen: Float32Array[] = [];
    for (let i = 0; i < 5; i++) {
      seen.push(getTorchFlat(model));
      o2.minimize(loss, false, vars as tf.Variable[]);
    }
    const expected = seen[4].map((v, i) => v + 40 * (v - seen[3][i]));
    const got = getTorchFlat(model);
    let maxd = 0;
    for (let i = 0; i < got.length; i++) maxd = Math.max(maxd, Math.abs(got[i] - expected[i]));
    expect(maxd).toBeLessThan(1e-5);
    model.trainableWeights.forEach((w, i) => expect(w.read()).toBe(vars[i]));
    tf.dispose([x, y]);
    model.dispose();
  });

  it('getWeights/setWeights round-trip the base moments, the state buffer and the step counter', async () => {
    const model = mlp();
    const opt = new NiNoOptimizer({
      baseOpt: tf.train.adam(0.01),
      model,
      ckpt: 'linefit',
      period: 10,
      maxTrainSteps: 30,
    });
    const { x, y } = tinyData();
    const loss = () => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar;
    for (let i = 0; i < 7; i++) opt.minimize(loss);
    const w = await opt.getWeights();
    expect(w[0].name).toBe('iter');
    expect(w.map((t) => t.name)).toContain('nino/state/2');
    expect(w.filter((t) => t.name.startsWith('nino/base/')).length).toBe(1 + 2 * 4); // iter + m, v of 4 variables
    const o2 = new NiNoOptimizer({
      baseOpt: tf.train.adam(0.01),
      model,
      ckpt: 'linefit',
      period: 10,
      maxTrainSteps: 30,
    });
    await o2.setWeights(w);
    expect(o2.iterations).toBe(7);
    expect(o2.core.numStates).toBe(3);
    const w2 = await o2.getWeights();
    expect(w2.map((t) => t.name)).toEqual(w.map((t) => t.name));
    w.forEach((t, i) => expect(Array.from(w2[i].tensor.dataSync())).toEqual(Array.from(t.tensor.dataSync())));
    // both continue identically: the next nowcast is at step 9 for both
    const snapshot = model.getWeights().map((t) => t.clone());
    for (let i = 0; i < 3; i++) opt.minimize(loss);
    const a = model.getWeights().map((t) => Array.from(t.dataSync()));
    model.setWeights(snapshot);
    for (let i = 0; i < 3; i++) o2.minimize(loss);
    expect(o2.events.map((e) => e.stepIdx)).toEqual([9]);
    model.getWeights().forEach((t, i) => expect(Array.from(t.dataSync())).toEqual(a[i]));
    await expect(o2.setWeights([{ name: 'iter', tensor: tf.scalar(1, 'int32') }])).rejects.toThrow(
      /not saved by a NiNoOptimizer/,
    );
    tf.dispose([x, y, ...snapshot]);
    model.dispose();
  });

  it('skips a NaN nowcast with a warning and keeps training', () => {
    const model = mlp();
    const warn = vi.fn();
    const opt = new NiNoOptimizer({
      baseOpt: tf.train.sgd(0.1),
      model,
      ckpt: null,
      period: 5,
      logger: { warn, info() {}, debug() {}, error() {} },
    });
    (opt.core as unknown as { nowcaster: Nowcaster }).nowcaster = new Extrapolate(true);
    const { x, y } = tinyData();
    const before = model.getWeights().map((t) => Array.from(t.dataSync()));
    for (let i = 0; i < 5; i++) opt.applyGradients({});
    expect(opt.events).toEqual([expect.objectContaining({ stepIdx: 4, applied: false })]);
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ stepIdx: 4 }),
      expect.stringMatching(/NaN\/Inf; parameters left unchanged/),
    );
    model.getWeights().forEach((t, i) => expect(Array.from(t.dataSync())).toEqual(before[i]));
    tf.dispose([x, y]);
    model.dispose();
  });

  it('fails at construction on bad input', () => {
    const model = mlp();
    const adam = tf.train.adam(1e-3);
    // @ts-expect-error not a tfjs optimizer
    expect(() => new NiNoOptimizer({ baseOpt: { step() {} }, model, ckpt: 'linefit' })).toThrow(
      /baseOpt must be a tfjs optimizer \(e\.g\. tf\.train\.adam/,
    );
    // @ts-expect-error missing
    expect(() => new NiNoOptimizer({ model, ckpt: 'linefit' })).toThrow(
      /baseOpt must be a tfjs optimizer.*got nothing/,
    );
    const inner = new NiNoOptimizer({ baseOpt: adam, model, ckpt: 'linefit', period: 10 });
    expect(() => new NiNoOptimizer({ baseOpt: inner, model, ckpt: 'linefit' })).toThrow(/already a NiNoOptimizer/);
    expect(() => new NiNoOptimizer({ baseOpt: adam, model, ckpt: 'linefit', period: 12 })).toThrow(
      /period 12 does not divide into 5 states.*multiple of 5, e\.g\. 10/,
    );
    // @ts-expect-error not a LayersModel
    expect(() => new NiNoOptimizer({ baseOpt: adam, model: { layers: [] }, ckpt: 'linefit' })).toThrow(
      /'model' must be a tf\.LayersModel/,
    );
    expect(() => new NiNoOptimizer({ baseOpt: adam, model, ckpt: 'official:nope' })).toThrow(
      /official checkpoint 'nope' not found/,
    );
    const big = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 5 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2 }),
      ],
    });
    expect(() => new NiNoOptimizer({ baseOpt: adam, model: big, ckpt: 'official:nino_no_posw' })).toThrow(
      /layer 'conv2d\w*' \(Conv2D\): its 5x5 kernel needs 25 feature slots per edge, the nowcaster's checkpoint has 9/,
    );
    const rep = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [4], units: 3 }), tf.layers.permute({ dims: [1] })],
    });
    expect(() => new NiNoCallback({ model: rep, ckpt: 'linefit' })).toThrow(/\(Permute\): unsupported layer/);
    model.dispose();
    big.dispose();
    rep.dispose();
  });
});

describe('NiNoCallback', () => {
  it("nowcasts after the batch that completes 5 states, around the user's own optimizer", async () => {
    const model = mlp();
    const base = tf.train.adam(0.01);
    model.compile({ optimizer: base, loss: 'categoricalCrossentropy' });
    const cb = new NiNoCallback({ model, ckpt: 'linefit', period: 10, maxTrainSteps: 20 });
    const { x, y } = tinyData();
    await model.fit(x, y, { batchSize: 4, epochs: 5, shuffle: false, verbose: 0, callbacks: [cb] });
    expect(cb.events.map((e) => [e.stepIdx, e.k, e.applied])).toEqual([
      [9, 40, true],
      [19, 1, true],
    ]);
    expect(base.iterations).toBe(20); // the user's optimizer stepped on every batch
    const other = mlp();
    other.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    await expect(other.fit(x, y, { epochs: 1, verbose: 0, callbacks: [cb] })).rejects.toThrow(/built for model/);
    tf.dispose([x, y]);
    model.dispose();
    other.dispose();
  });
});
