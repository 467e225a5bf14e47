/**
 * Golden case A through the public tfjs API only: a tf.sequential equivalent to the official FM-16
 * conv net, with the golden weights copied into tfjs layouts, gives exactly the golden neural graph and
 * NiNoOptimizer's nowcast into the model's own weights gives the golden predictions (atol 1e-6, the
 * reference tolerance for pred_k). Backend: cpu.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, modelGraph, NiNoOptimizer } from '../src/index.ts';
import { makeConvNet } from '../src/tasks/models/convnet.ts';
import { fm16Sequential } from '../examples/models.ts';
import { maxAbsDiff, refJson, refSt } from './helpers/reference.ts';
import { getTorchFlat, setTorchFlat } from './helpers/tfjs-models.ts';

const gs = refSt('case_a_fm16/graph.safetensors').tensors;
const inp = refSt('case_a_fm16/inputs.safetensors').tensors;
const meta = refJson('case_a_fm16/meta.json');
const n: number = meta.num_params;
const states = inp.states.data as Float32Array; // [n, 5]
const stateT = (t: number) => {
  const s = new Float32Array(n);
  for (let i = 0; i < n; i++) s[i] = states[i * 5 + t];
  return s;
};

/** A tfjs optimizer standing in for training: its i-th step sets the model to golden state (i mod 4) + 1. */
class GoldenStates extends tf.Optimizer {
  static get className() {
    return 'GoldenStates';
  }
  calls = 0;
  constructor(private readonly model: tf.LayersModel) {
    super();
  }
  applyGradients(): void {
    setTorchFlat(this.model, stateT((this.calls++ % 4) + 1));
  }
  getConfig() {
    return {};
  }
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe('tfjs FM-16 Sequential vs golden case A', () => {
  it("is the FM-16 net: same parameter count and the same logits as nino's PyTorch-layout conv net", () => {
    const model = fm16Sequential();
    expect(model.countParams()).toBe(n);
    const s0 = inp.s0.data as Float32Array;
    setTorchFlat(model, s0);
    const ref = makeConvNet({ hid: [16, 32, 32], inChannels: 1, numClasses: 10 });
    let off = 0;
    const params = ref.specs.map((s) => {
      const k = s.shape.reduce((a, b) => a * b, 1);
      const t = tf.tensor(s0.subarray(off, off + k), s.shape);
      off += k;
      return t;
    });
    const x = tf.randomNormal([4, 28, 28, 1], 0, 1, 'float32', 7);
    const a = (model.predict(x) as tf.Tensor).dataSync();
    const b = ref.forward(params, x).dataSync();
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
    expect(Math.max(...Array.from(b, Math.abs))).toBeGreaterThan(1e-3);
    tf.dispose([x, ...params]);
    model.dispose();
  });

  it('gives exactly the golden edge_index, edge_type, edge_param_index and edge_const', () => {
    const model = fm16Sequential();
    const { graph: g } = modelGraph(model, { maxFeat: 9 });
    expect([g.numNodes, g.numEdges, g.maxFeat, g.layout.total]).toEqual([
      meta.num_nodes,
      meta.num_edges,
      meta.max_feat_size,
      n,
    ]);
    expect(Array.from(g.edgeIndex)).toEqual(Array.from(gs.edge_index.data as Int32Array));
    expect(Array.from(g.edgeType)).toEqual(Array.from(gs.edge_type.data as Int32Array));
    expect(Array.from(g.edgeParamIndex)).toEqual(Array.from(gs.edge_param_index.data as Int32Array));
    expect(Array.from(g.edgeConst)).toEqual(Array.from(gs.edge_const.data as Float32Array));
    model.dispose();
  });

  it("reads the model's tfjs weights as the golden PyTorch-layout vector and writes them back", () => {
    const model = fm16Sequential();
    const s0 = inp.s0.data as Float32Array;
    setTorchFlat(model, s0);
    const mg = modelGraph(model);
    expect(maxAbsDiff(mg.read(), s0)).toBe(0);
    const s3 = stateT(3);
    mg.write(s3);
    expect(maxAbsDiff(getTorchFlat(model), s3)).toBe(0);
    model.dispose();
  });

  for (const [ckpt, usePos] of [
    ['nino_no_posw', true],
    ['nino_mlp', false],
  ] as const) {
    it(`NiNoOptimizer (${ckpt}) writes the golden pred_k40 and pred_k1 into the model's weights`, () => {
      const out = refSt(`case_a_fm16/outputs_${ckpt}.safetensors`).tensors;
      const model = fm16Sequential();
      const before = model.trainableWeights.map((w) => w.read());
      // period 5: a state before every step; schedule over 10 steps = [40, 1]
      const opt = new NiNoOptimizer({
        baseOpt: new GoldenStates(model),
        model,
        ckpt: `official:${ckpt}`,
        period: 5,
        maxTrainSteps: 10,
        ...(usePos ? { pos: gs.pos.data as Float32Array } : {}),
      });
      for (const k of [40, 1]) {
        setTorchFlat(model, stateT(0));
        for (let s = 0; s < 5; s++) opt.applyGradients({});
        expect(opt.events.at(-1)).toMatchObject({ k, applied: true });
        const pred = getTorchFlat(model);
        expect(maxAbsDiff(pred, out[`pred_k${k}`].data as Float32Array), `k${k}`).toBeLessThan(1e-6);
        expect(maxAbsDiff(pred, stateT(4))).toBeGreaterThan(1e-3);
      }
      // the nowcast went into the model's own variables (no shadow copies)
      model.trainableWeights.forEach((w, i) => expect(w.read()).toBe(before[i]));
      expect(opt.iterations).toBe(10);
      model.dispose();
    });
  }
});
