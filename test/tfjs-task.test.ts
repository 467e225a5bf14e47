/**
 * A task file's `"family": "tfjs"` model (src/tasks/models/tfjs-resolve.ts reads it, src/tasks/models/tfjs.ts
 * interprets it): small Dense / Conv / functional models saved with tfjs's own model.save() into
 * model.json + weights.bin, then read back by nino without instantiating them. The interpreter's forward equals the loaded model's predict, its
 * gradients equal tfjs's gradients of the same loss (layouts converted), its flat vector is the one
 * modelGraph(LayersModel) reads and its neural graph (graph arch 'tfjs') is modelGraph's graph; 'seed'
 * init re-draws from the layers' initializers; bad model files fail as InputErrors naming the problem.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/core/errors.ts';
import { Rng } from '../src/core/rng.ts';
import { buildNeuralGraph } from '../src/graph/index.ts';
import { makeTfjsModel } from '../src/tasks/models/tfjs.ts';
import { resolveTfjsModel, TASK_LAYERS } from '../src/tasks/models/tfjs-resolve.ts';
import { getTask } from '../src/tasks/registry.ts';
import { parseTaskFile, taskToFile } from '../src/tasks/taskfile.ts';
import { modelGraph } from '../src/tfjs/graph.ts';
import { loadSavedLayersModel, saveLayersModel } from './helpers/tfjs-models.ts';

const root = mkdtempSync(join(tmpdir(), 'nino-tfjs-task-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const MODELS: Record<string, () => tf.LayersModel> = {
  // conv -> pool -> conv -> Flatten of a 3x3 map (folded: P = 9) -> Dropout -> Dense softmax
  convFolded: () => {
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.conv2d({ filters: 6, kernelSize: 2, activation: 'tanh' }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dropout({ rate: 0.3 }));
    m.add(tf.layers.dense({ units: 5, activation: 'softmax' }));
    return m;
  },
  // an MLP on images: Flatten of the 6x6 input (36 positions, unfolded), linear output
  mlpImages: () => {
    const m = tf.sequential();
    m.add(tf.layers.flatten({ inputShape: [6, 6, 1] }));
    m.add(tf.layers.dense({ units: 8, activation: 'relu' }));
    m.add(tf.layers.dense({ units: 3 }));
    return m;
  },
  // conv with stride, a ReLU layer, average pooling, global average pooling, Flatten of 16 positions elsewhere
  convGlobal: () => {
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, strides: 2, padding: 'same' }));
    m.add(tf.layers.reLU());
    m.add(tf.layers.averagePooling2d({ poolSize: 2, strides: 1 }));
    m.add(tf.layers.globalAveragePooling2d({}));
    m.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
    return m;
  },
  // Conv1D, pooling 1D, Flatten of 2 positions (folded), LeakyReLU
  conv1d: () => {
    const m = tf.sequential();
    m.add(tf.layers.conv1d({ inputShape: [7, 3], filters: 4, kernelSize: 3, activation: 'relu' }));
    m.add(tf.layers.averagePooling1d({ poolSize: 2 }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.leakyReLU({ alpha: 0.1 }));
    m.add(tf.layers.dense({ units: 3 }));
    return m;
  },
  // functional: residual Add, LayerNormalization, a Softmax layer at the end
  functional: () => {
    const inp = tf.input({ shape: [5] });
    const d1 = tf.layers.dense({ units: 5, activation: 'elu' }).apply(inp) as tf.SymbolicTensor;
    const add = tf.layers.add().apply([inp, d1]) as tf.SymbolicTensor;
    const ln = tf.layers.layerNormalization({}).apply(add) as tf.SymbolicTensor;
    const d2 = tf.layers.dense({ units: 4, activation: 'swish' }).apply(ln) as tf.SymbolicTensor;
    const d3 = tf.layers.dense({ units: 3 }).apply(d2) as tf.SymbolicTensor;
    const out = tf.layers.softmax().apply(d3) as tf.SymbolicTensor;
    return tf.model({ inputs: inp, outputs: out });
  },
};

/** builds, perturbs (non-zero biases, LN gains) and saves a model; returns its model.json path */
async function saved(name: string): Promise<{ path: string; model: tf.LayersModel }> {
  const m = MODELS[name]();
  const rng = new Rng(5).fork(name);
  m.setWeights(
    m.getWeights().map((w) =>
      tf.tensor(
        Float32Array.from({ length: w.size }, () => rng.uniform() - 0.5),
        w.shape,
      ),
    ),
  );
  const path = await saveLayersModel(m, join(root, name));
  return { path, model: await loadSavedLayersModel(path) };
}

const inputOf = (model: tf.LayersModel, n: number, seed: number) => {
  const shape = model.inputs[0].shape.slice(1) as number[];
  const rng = new Rng(seed);
  const size = n * shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: size }, () => 2 * rng.uniform() - 1),
    [n, ...shape],
  );
};

describe('tfjs model.json as a task model', () => {
  for (const name of Object.keys(MODELS)) {
    it(`${name}: forward = predict, gradients = tfjs's, flat vector and neural graph = modelGraph's`, async () => {
      const { path, model } = await saved(name);
      const args = resolveTfjsModel(path);
      const def = makeTfjsModel(args);
      const init = def.init(new Rng(1));
      const params = init.map((a, i) => tf.tensor(a, def.specs[i].shape));
      const x = inputOf(model, 6, 3);
      // predict (probabilities, or logits for a linear output) vs the interpreter
      const want = model.predict(x) as tf.Tensor;
      const finalSoftmax = name !== 'mlpImages' && name !== 'conv1d';
      const got = finalSoftmax ? tf.softmax(def.forward(params, x)) : def.forward(params, x);
      expect(got.shape).toEqual(want.shape);
      const g = got.dataSync();
      const w = want.dataSync();
      for (let i = 0; i < w.length; i++) expect(Math.abs(g[i] - w[i])).toBeLessThan(1e-5);
      expect(w.some((v, i) => v !== w[0] || i === 0)).toBe(true);

      // the flat vector and its graph are modelGraph's
      const mg = modelGraph(model);
      expect(def.specs.map((s) => s.shape)).toEqual(mg.bindings.map((b) => b.torchShape));
      const flat = new Float32Array(init.reduce((s, a) => s + a.length, 0));
      let off = 0;
      for (const a of init) flat.set(a, (off += a.length) - a.length);
      expect(Array.from(flat)).toEqual(Array.from(mg.read()));
      const graph = buildNeuralGraph('tfjs', def.specs, { layers: def.layers });
      expect(graph.numNodes).toBe(mg.graph.numNodes);
      expect(Array.from(graph.edgeIndex)).toEqual(Array.from(mg.graph.edgeIndex));
      expect(Array.from(graph.edgeParamIndex)).toEqual(Array.from(mg.graph.edgeParamIndex));
      expect(Array.from(graph.edgeType)).toEqual(Array.from(mg.graph.edgeType));

      // gradients of the same loss: interpreter (on nino's tensors) vs tfjs (on the model's variables)
      const y = tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32');
      const ours = tf.grads((...ps: tf.Tensor[]) => def.loss(ps, { x, y }))(params);
      const vars = mg.bindings.map((b) => b.variable.read() as tf.Variable);
      const theirs = tf.variableGrads(() => {
        const out = model.apply(x, { training: false }) as tf.Tensor2D;
        const oh = tf.oneHot(y, out.shape[1]);
        return finalSoftmax
          ? (tf.neg(tf.mean(tf.sum(tf.mul(oh, tf.log(out)), 1))) as tf.Scalar)
          : (tf.losses.softmaxCrossEntropy(oh, out) as tf.Scalar);
      }, vars);
      mg.bindings.forEach((b, i) => {
        const gt = tf
          .transpose(tf.reshape(theirs.grads[(b.variable.read() as tf.Variable).name], b.view), b.perm)
          .dataSync();
        const go = ours[i].dataSync();
        expect(go.length).toBe(gt.length);
        const scale = Math.max(1e-3, ...Array.from(gt, Math.abs));
        for (let k = 0; k < gt.length; k++) expect(Math.abs(go[k] - gt[k]) / scale).toBeLessThan(1e-4);
      });
    });
  }

  it("init 'seed': the layers' initializers, seeded by the run seed", async () => {
    const { path } = await saved('convFolded');
    const def = makeTfjsModel(resolveTfjsModel(path, 'seed'));
    const a = def.init(new Rng(1).fork('init'));
    const b = def.init(new Rng(1).fork('init'));
    const c = def.init(new Rng(2).fork('init'));
    expect(a.map((t) => Array.from(t))).toEqual(b.map((t) => Array.from(t)));
    expect(Array.from(a[0])).not.toEqual(Array.from(c[0]));
    expect(Array.from(a[1]).every((v) => v === 0)).toBe(true); // bias: Zeros
    const saved0 = makeTfjsModel(resolveTfjsModel(path, 'saved')).init(new Rng(1));
    expect(Array.from(a[0])).not.toEqual(Array.from(saved0[0]));
    // glorot-normal-like spread for the 3x3x1x4 kernel (fan_avg = (9 + 36) / 2)
    const sd = Math.sqrt(a[0].reduce((s, v) => s + v * v, 0) / a[0].length);
    expect(sd).toBeGreaterThan(0.05);
    expect(sd).toBeLessThan(0.4);
  });

  it('a task file with the tfjs family resolves: path relative to the file, hash, round trip', async () => {
    const { path } = await saved('mlpImages');
    const raw = {
      name: 'TFJS-MLP',
      model: { family: 'tfjs', path: 'mlpImages/model.json' },
      data: { format: 'csv', path: 'rows.csv' },
      optimizer: { lr: 0.01, batchSize: 4 },
      budget: 10,
      period: 5,
      evalEvery: 5,
      target: { metric: 'acc', value: 90 },
    };
    writeFileSync(join(root, 'rows.csv'), 'a,b,label\n1,2,0\n');
    const spec = parseTaskFile(raw, { source: 't.json', baseDir: root });
    expect(spec.model.arch).toBe('tfjs');
    const m = spec.model as { path: string; init: string; sha256: string; inputShape: number[]; numClasses: number };
    expect(m.path).toBe(path);
    expect(m.init).toBe('saved');
    expect(m.inputShape).toEqual([6, 6, 1]);
    expect(m.numClasses).toBe(3);
    expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(taskToFile(spec).model).toEqual({ family: 'tfjs', path, init: 'saved' });
    // the stored definition is JSON and enough to rebuild the model (what workers and train-nino do)
    const again = getTask(JSON.parse(JSON.stringify(spec)));
    expect(makeTfjsModel(again.model as never).specs).toEqual(makeTfjsModel(spec.model as never).specs);
  });

  it('the example task file (examples/tfjs-task) resolves: a conv net for Fashion-MNIST', () => {
    const spec = getTask(join(__dirname, '..', 'examples', 'tfjs-task', 'fm-small.task.json'));
    const m = spec.model as { arch: string; inputShape: number[]; numClasses: number };
    expect([m.arch, m.inputShape, m.numClasses]).toEqual(['tfjs', [28, 28, 1], 10]);
    expect(makeTfjsModel(spec.model as never).specs.map((s) => s.shape)).toEqual([
      [8, 1, 3, 3],
      [8],
      [16, 8, 3, 3],
      [16],
      [10, 16],
      [10],
    ]);
  });

  describe('bad model files fail before any work, as InputErrors naming the problem', () => {
    const task = (path: string) => ({
      name: 'BAD',
      model: { family: 'tfjs', path },
      data: { format: 'builtin', dataset: 'fashion-mnist' },
      optimizer: { lr: 0.01, batchSize: 4 },
      budget: 10,
      period: 5,
      evalEvery: 5,
      target: { metric: 'acc', value: 90 },
    });
    const parse = (path: string) => parseTaskFile(task(path), { source: 'bad.json', baseDir: root });
    const err = (path: string) => {
      try {
        parse(path);
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };

    it('a missing file', () => {
      expect(err('nope/model.json')).toMatch(
        /^bad\.json: model\.path: model file '.*nope\/model\.json' does not exist/,
      );
    });
    it('malformed model.json: not JSON, no topology, no manifest', async () => {
      const { path } = await saved('mlpImages');
      const dir = join(root, 'malformed');
      const { mkdirSync } = await import('node:fs');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'a.json'), '{ "modelTopology": ');
      expect(err('malformed/a.json')).toMatch(/is not valid JSON/);
      writeFileSync(join(dir, 'b.json'), JSON.stringify({ weightsManifest: [] }));
      expect(err('malformed/b.json')).toMatch(/no modelTopology with class_name and config/);
      const j = JSON.parse(readFileSync(path, 'utf8'));
      writeFileSync(join(dir, 'c.json'), JSON.stringify({ modelTopology: j.modelTopology }));
      expect(err('malformed/c.json')).toMatch(/no weightsManifest/);
    });
    it('missing weights: no weight file, a short file, a weight not in the manifest', async () => {
      const { path } = await saved('mlpImages');
      const j = JSON.parse(readFileSync(path, 'utf8'));
      writeFileSync(
        join(root, 'mlpImages', 'nofile.json'),
        JSON.stringify({ ...j, weightsManifest: [{ ...j.weightsManifest[0], paths: ['./gone.bin'] }] }),
      );
      expect(err('mlpImages/nofile.json')).toMatch(/weight file '.*gone\.bin' does not exist/);
      writeFileSync(join(root, 'mlpImages', 'short.bin'), new Uint8Array(12));
      writeFileSync(
        join(root, 'mlpImages', 'short.json'),
        JSON.stringify({ ...j, weightsManifest: [{ ...j.weightsManifest[0], paths: ['./short.bin'] }] }),
      );
      expect(err('mlpImages/short.json')).toMatch(/hold 12 bytes, the manifest's weights need \d+/);
      const w = j.weightsManifest[0].weights;
      writeFileSync(
        join(root, 'mlpImages', 'noweight.json'),
        JSON.stringify({ ...j, weightsManifest: [{ paths: [], weights: [] }] }),
      );
      expect(err('mlpImages/noweight.json')).toMatch(
        new RegExp(`weight '${w[0].name}' of layer '.*' \\(Dense\\) is missing from the weightsManifest`),
      );
    });
    it('an unsupported layer names its class and lists the supported ones', async () => {
      const m = tf.sequential();
      m.add(tf.layers.dense({ inputShape: [784], units: 4 }));
      m.add(tf.layers.batchNormalization());
      m.add(tf.layers.dense({ units: 10 }));
      await saveLayersModel(m, join(root, 'bn'));
      const msg = err('bn/model.json');
      expect(msg).toMatch(
        /layer 'batch_normalization_BatchNormalization\d+' \(BatchNormalization\): not supported in a task's model/,
      );
      expect(msg).toContain(`supported layers: ${TASK_LAYERS.join(', ')}`);
      const g = tf.sequential();
      g.add(tf.layers.gru({ inputShape: [28, 28], units: 4 }));
      g.add(tf.layers.dense({ units: 10 }));
      await saveLayersModel(g, join(root, 'gru'));
      expect(err('gru/model.json')).toMatch(
        /\(GRU\): not supported in a task's model; supported layers: InputLayer, Dense, Conv2D/,
      );
    });
    it('a model that does not fit the data or is not a classifier', async () => {
      await saved('mlpImages');
      expect(err('mlpImages/model.json')).toMatch(
        /the model's input \[6,6,1\] takes 36 values but fashion-mnist images have 784/,
      );
      const m = tf.sequential();
      m.add(tf.layers.dense({ inputShape: [784], units: 10, activation: 'sigmoid' }));
      await saveLayersModel(m, join(root, 'sig'));
      expect(err('sig/model.json')).toMatch(/ends in activation 'sigmoid'/);
    });
  });
});
