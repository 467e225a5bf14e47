/**
 * Model-level behaviour beyond golden parity: linefit exactness, the differentiable all-horizon
 * (training-op) forwards used by meta-training agree with inference and have correct gradients, input validation.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend.ts';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { makeConfig } from '../src/model/config.ts';
import { NiNoGnn, sampleMessageEdges } from '../src/model/gnn.ts';
import { LineFit } from '../src/model/linefit.ts';
import { NiNoMlp } from '../src/model/mlp.ts';
import { gnnTrainForward, mlpTrainForward } from '../src/model/train-ops.ts';
import type { NowcastInput } from '../src/model/types.ts';
import { initHostWeights, toTensors } from '../src/model/weights.ts';
import { Rng } from '../src/core/rng.ts';
import { maxAbsDiff, refSt, refCheckpoint } from './helpers/reference.ts';

beforeAll(async () => {
  await initBackend(process.env.NINO_TEST_BACKEND ?? 'cpu');
});

function caseB(k: number): NowcastInput {
  const g = refSt('case_b_gpt2/graph.safetensors').tensors;
  const inp = refSt('case_b_gpt2/inputs.safetensors').tensors;
  return {
    edgeAttr: inp.edge_attr.data as Float32Array,
    F: 1,
    ctx: 5,
    edgeIndex: g.edge_index.data as Int32Array,
    edgeType: g.edge_type.data as Int32Array,
    pos: g.pos.data as Float32Array,
    posW: g.pos_w.data as Int32Array,
    numNodes: g.pos.shape[0],
    k,
  };
}

describe('linefit', () => {
  it('recovers the extrapolation of an exact line', () => {
    const E = 4,
      F = 2,
      ctx = 5;
    const a = new Float32Array(E * F * ctx);
    const slopes: number[] = [];
    for (let i = 0; i < E * F; i++) {
      const s = (i - 3) * 0.25,
        c = i * 0.5 - 1;
      slopes.push(s);
      for (let t = 0; t < ctx; t++) a[i * ctx + t] = c + s * t;
    }
    const lf = new LineFit(ctx);
    for (const k of [1, 7, 40]) {
      const inp: NowcastInput = {
        edgeAttr: a,
        F,
        ctx,
        edgeIndex: new Int32Array(2 * E),
        edgeType: new Int32Array(E),
        numNodes: 1,
        k,
      };
      const d = lf.predictDelta(inp);
      const p = lf.predict(inp);
      for (let i = 0; i < E * F; i++) {
        expect(d[i]).toBeCloseTo(slopes[i] * k, 5);
        expect(p[i]).toBeCloseTo(a[i * ctx + ctx - 1] + slopes[i] * k, 5);
      }
    }
  });
  it('validates shapes and k', () => {
    const lf = new LineFit(5);
    const inp: NowcastInput = {
      edgeAttr: new Float32Array(9),
      F: 1,
      ctx: 5,
      edgeIndex: new Int32Array(4),
      edgeType: new Int32Array(2),
      numNodes: 2,
      k: 1,
    };
    expect(() => lf.predictDelta(inp)).toThrow(/expected E\*F\*ctx/);
    expect(() => lf.predictDelta({ ...inp, edgeAttr: new Float32Array(10), k: 0 })).toThrow(/k=0/);
    expect(() => lf.predictDelta({ ...inp, edgeAttr: new Float32Array(8), ctx: 4 })).toThrow(/ctx=5/);
  });
});

describe('differentiable forwards (meta-training)', () => {
  it('gnnTrainForward horizon k equals inference predictDelta (golden weights, case B)', () => {
    const ck = loadCheckpoint(refCheckpoint('nino_no_posw.safetensors'));
    const nc = new NiNoGnn(ck.config, ck.weights);
    const inp = caseB(1);
    const before = tf.memory().numTensors;
    const all = tf.tidy(() => {
      const out = gnnTrainForward(nc.weights, ck.config, {
        edgeAttr: tf.tensor2d(inp.edgeAttr, [inp.edgeType.length, 5]),
        F: 1,
        edgeIndex: inp.edgeIndex,
        edgeType: inp.edgeType,
        pos: tf.tensor2d(inp.pos!, [inp.numNodes, 8]),
        numNodes: inp.numNodes,
      });
      expect(out.shape).toEqual([inp.edgeType.length, 1, 40]);
      return out.arraySync() as number[][][];
    });
    expect(tf.memory().numTensors).toBe(before);
    const out = refSt('case_b_gpt2/outputs_nino_no_posw.safetensors').tensors;
    for (const k of [1, 10, 40]) {
      const col = Float32Array.from(all.map((r) => r[0][k - 1]));
      expect(maxAbsDiff(col, out[`delta_k${k}`].data as Float32Array), `k${k}`).toBeLessThan(2e-5);
    }
    nc.dispose();
  });

  it('gnnTrainForward gradients match finite differences (float64-free check on a tiny model)', () => {
    const cfg = makeConfig('gnn', { hid: 8, wtePosEnc: false, maxFeat: 2, maxHorizon: 3, lpe: 2 });
    const host = initHostWeights(cfg, 5);
    // bigger weights so the check is not dominated by tiny values
    for (const v of Object.values(host))
      for (let i = 0; i < v.data.length; i++) v.data[i] = v.data[i] * 20 + 0.01 * ((i % 7) - 3);
    const E = 7,
      N = 4,
      F = 2;
    const rng = new Rng(1);
    const edgeIndex = Int32Array.from([0, 1, 2, 3, 0, 1, 2, 1, 2, 3, 0, 0, 1, 2]);
    const edgeType = Int32Array.from([1, 2, 3, 13, 13, 13, 1]);
    const ea = Float32Array.from({ length: E * F * 5 }, () => rng.normal());
    const pos = Float32Array.from({ length: N * 2 }, () => rng.normal());
    const vars: Record<string, tf.Variable> = {};
    for (const [k, t] of Object.entries(toTensors(host, cfg))) {
      vars[k] = tf.variable(t, true, `fdcheck/${k}`);
      t.dispose();
    }
    const target = tf.tensor3d(
      Float32Array.from({ length: E * F * 3 }, () => rng.normal()),
      [E, F, 3],
    );
    const loss = () =>
      tf.tidy(() => {
        const out = gnnTrainForward(vars, cfg, {
          edgeAttr: tf.tensor2d(ea, [E, F * 5]),
          F,
          edgeIndex,
          edgeType,
          pos: tf.tensor2d(pos, [N, 2]),
          numNodes: N,
        });
        return tf.sum(tf.square(tf.sub(out, target))) as tf.Scalar;
      });
    const { grads, value } = tf.variableGrads(loss);
    value.dispose();
    for (const name of [
      'gnn.convs.0.pre_nns.0.0.weight',
      'gnn.edge_update.1.lin_s.weight',
      'edge_proj.fc.0.weight',
      'node_proj.fc.0.bias',
      'layer_embed.weight',
      'gnn.convs.1.edge_encoder.bias',
    ]) {
      const g = grads[`fdcheck/${name}`].dataSync();
      const v = vars[name];
      const base = v.dataSync().slice();
      for (const idx of [0, 3, Math.min(base.length - 1, 11)]) {
        const h = 1e-2;
        const p = base.slice();
        p[idx] += h;
        v.assign(tf.tensor(p, v.shape));
        const lp = loss();
        const fp = lp.dataSync()[0];
        lp.dispose();
        const m = base.slice();
        m[idx] -= h;
        v.assign(tf.tensor(m, v.shape));
        const lm = loss();
        const fm = lm.dataSync()[0];
        lm.dispose();
        v.assign(tf.tensor(base, v.shape));
        const fd = (fp - fm) / (2 * h);
        expect(Math.abs(fd - g[idx]), `${name}[${idx}] fd ${fd} vs ${g[idx]}`).toBeLessThan(
          2e-2 * Math.max(1, Math.abs(fd)),
        );
      }
    }
    expect(Object.keys(grads).length).toBe(Object.keys(vars).filter((k) => !k.startsWith('gnn.convs.2')).length);
    tf.dispose(grads);
    tf.dispose(vars);
    target.dispose();
  });

  it('mlpTrainForward horizon k equals inference (golden weights, case B)', () => {
    const ck = loadCheckpoint(refCheckpoint('nino_mlp_h32.safetensors'));
    const nc = new NiNoMlp(ck.config, ck.weights);
    const inp = caseB(10);
    const all = tf.tidy(
      () =>
        mlpTrainForward(
          nc.weights,
          ck.config,
          tf.tensor2d(inp.edgeAttr, [inp.edgeType.length, 5]),
          inp.edgeType,
          1,
        ).arraySync() as number[][][],
    );
    const col = Float32Array.from(all.map((r) => r[0][9]));
    expect(maxAbsDiff(col, nc.predictDelta(inp))).toBeLessThan(1e-5);
    nc.dispose();
  });
});

describe('edge sampling helper', () => {
  it('drops the exact fraction of non-self-loop edges and never a self-loop', () => {
    const types = Int32Array.from({ length: 1000 }, (_, i) => (i >= 900 ? 13 : 1));
    const keep = sampleMessageEdges(types, 0.3, new Rng(2))!;
    expect(keep.length).toBe(1000 - 270);
    for (let i = 900; i < 1000; i++) expect(keep.includes(i)).toBe(true);
    expect(sampleMessageEdges(types, 0, new Rng(2))).toBeNull();
  });
});

describe('GNN input checks', () => {
  it('missing pos / bad edge index fail clearly', () => {
    const ck = loadCheckpoint(refCheckpoint('nino_no_posw.safetensors'));
    const nc = new NiNoGnn(ck.config, ck.weights);
    const inp = caseB(1);
    expect(() => nc.predictDelta({ ...inp, pos: undefined })).toThrow(/needs pos/);
    const bad = inp.edgeIndex.slice();
    bad[3] = 9999;
    expect(() => nc.predictDelta({ ...inp, edgeIndex: bad })).toThrow(/out of range/);
    expect(() => nc.predictDelta({ ...inp, k: 41 })).toThrow(/k=41/);
    nc.dispose();
  });
});

describe('weight ownership', () => {
  it('tensors passed in stay alive after dispose(); host weights are freed', () => {
    const cfg = makeConfig('gnn', { hid: 8, wtePosEnc: false });
    const host = initHostWeights(cfg, 1);
    const w = toTensors(host, cfg);
    const before = tf.memory().numTensors;
    const a = new NiNoGnn(cfg, w);
    a.dispose();
    expect(Object.values(w).every((t) => !t.isDisposed)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    const b = new NiNoGnn(cfg, host);
    b.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(w));
  });
});
