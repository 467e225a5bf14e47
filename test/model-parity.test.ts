/**
 * Parity of the nino nowcasters against the official PyTorch NiNo golden data
 * (shared/reference/README.md §5, §6): both cases, all three checkpoints, k = 1, 10, 40, starting from
 * the golden edge_attr and pos. Plus intermediates (GNN k1) to localize errors, tensor-leak checks,
 * chunking and linefit. Both op sets of the one model definition (src/model/nino-layer.ts) are checked:
 * inference (the nowcasters) and training (gnnTrainForward / mlpTrainForward, what meta-training
 * differentiates), and against each other. Backend: cpu (NINO_TEST_BACKEND=wasm to run on wasm).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend.ts';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { nowcasterFromCheckpoint, createNowcastModel } from '../src/model/registry.ts';
import { Rng } from '../src/core/rng.ts';
import { NiNoGnn, sampleMessageEdges } from '../src/model/gnn.ts';
import { NiNoMlp } from '../src/model/mlp.ts';
import { gnnTrainForward, mlpTrainForward, type TrainForwardOptions } from '../src/model/train-ops.ts';
import type { NiNoConfig } from '../src/model/config.ts';
import type { Weights } from '../src/model/weights.ts';
import { applyResidual, type NowcastInput } from '../src/model/types.ts';
import { maxAbsDiff, refSt, refCheckpoint, GNN_TRACE, MLP_TRACE } from './helpers/reference.ts';

const CASES = [
  { dir: 'case_a_fm16', F: 9 },
  { dir: 'case_b_gpt2', F: 1 },
] as const;
const CKPTS = ['nino_no_posw', 'nino_mlp', 'nino_mlp_h32'] as const;
const KS = [1, 10, 40];

function caseInput(dir: string, F: number, k: number): NowcastInput {
  const g = refSt(`${dir}/graph.safetensors`).tensors;
  const inp = refSt(`${dir}/inputs.safetensors`).tensors;
  return {
    edgeAttr: inp.edge_attr.data as Float32Array,
    F,
    ctx: 5,
    edgeIndex: g.edge_index.data as Int32Array,
    edgeType: g.edge_type.data as Int32Array,
    pos: g.pos.data as Float32Array,
    posW: g.pos_w.data as Int32Array,
    numNodes: g.pos.shape[0],
    k,
  };
}

function concat(parts: Float32Array[]): Float32Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Float32Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Each recorded intermediate (its chunks in order) within 1e-5 relative of the golden one of case `dir`. */
function expectGnnTrace(dir: string, trace: Record<string, Float32Array[]>): void {
  const ref = refSt(`${dir}/intermediates_nino_no_posw_k1.safetensors`).tensors;
  for (const n of GNN_TRACE) {
    const r = ref[n].data as Float32Array;
    expect(maxAbsDiff(concat(trace[n]), r) / maxAbs(r), n).toBeLessThanOrEqual(1e-5);
  }
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** the training forward (whole graph, all horizons) on a golden case: [E*F] host delta per horizon 1..S */
function trainForward(
  cfg: NiNoConfig,
  ws: Weights,
  inp: NowcastInput,
  opts: TrainForwardOptions & { messageEdges?: Int32Array | null } = {},
): (k: number) => Float32Array {
  const E = inp.edgeType.length;
  const S = cfg.maxHorizon;
  const before = tf.memory().numTensors;
  const all = tf.tidy(() => {
    const ea = tf.tensor2d(inp.edgeAttr, [E, inp.F * inp.ctx]);
    const out =
      cfg.kind === 'gnn'
        ? gnnTrainForward(
            ws,
            cfg,
            {
              edgeAttr: ea,
              F: inp.F,
              edgeIndex: inp.edgeIndex,
              edgeType: inp.edgeType,
              pos: tf.tensor2d(inp.pos!, [inp.numNodes, cfg.lpe]),
              posW: inp.posW,
              numNodes: inp.numNodes,
              messageEdges: opts.messageEdges,
            },
            S,
            opts,
          )
        : mlpTrainForward(ws, cfg, ea, inp.edgeType, inp.F, S, opts);
    expect(out.shape).toEqual([E, inp.F, S]);
    return out.dataSync() as Float32Array;
  });
  expect(tf.memory().numTensors).toBe(before);
  return (k) => Float32Array.from({ length: E * inp.F }, (_, i) => all[i * S + k - 1]);
}

beforeAll(async () => {
  await initBackend(process.env.NINO_TEST_BACKEND ?? 'cpu');
});

describe.each(CASES)('$dir', ({ dir, F }) => {
  describe.each(CKPTS)('%s', (ck) => {
    it('delta and edge_out match golden at k = 1, 10, 40 (atol 2e-5)', () => {
      const nc = nowcasterFromCheckpoint(loadCheckpoint(refCheckpoint(`${ck}.safetensors`)));
      const out = refSt(`${dir}/outputs_${ck}.safetensors`).tensors;
      try {
        for (const k of KS) {
          const inp = caseInput(dir, F, k);
          const before = tf.memory().numTensors;
          const delta = nc.predictDelta(inp);
          const pred = nc.predict(inp);
          expect(tf.memory().numTensors).toBe(before);
          const dd = maxAbsDiff(delta, out[`delta_k${k}`].data as Float32Array);
          const de = maxAbsDiff(pred, out[`edge_out_k${k}`].data as Float32Array);
          expect(dd, `delta k${k}`).toBeLessThan(2e-5);
          expect(de, `edge_out k${k}`).toBeLessThan(2e-5);
          // guard against a vacuous pass
          expect(maxAbs(out[`delta_k${k}`].data as Float32Array)).toBeGreaterThan(1e-3);
        }
      } finally {
        nc.dispose();
      }
    });
  });

  describe.each(CKPTS)('%s, training op set', (ck) => {
    it('delta and edge_out match golden at k = 1, 10, 40 (atol 2e-5), and equal inference (atol 1e-5)', () => {
      const c = loadCheckpoint(refCheckpoint(`${ck}.safetensors`));
      const nc = nowcasterFromCheckpoint(c) as NiNoGnn | NiNoMlp;
      const out = refSt(`${dir}/outputs_${ck}.safetensors`).tensors;
      try {
        const delta = trainForward(c.config, nc.weights, caseInput(dir, F, 1));
        for (const k of KS) {
          const inp = caseInput(dir, F, k);
          const d = delta(k);
          expect(maxAbsDiff(d, out[`delta_k${k}`].data as Float32Array), `delta k${k}`).toBeLessThan(2e-5);
          expect(
            maxAbsDiff(applyResidual(inp, d, c.config.updScale), out[`edge_out_k${k}`].data as Float32Array),
            `edge_out k${k}`,
          ).toBeLessThan(2e-5);
          expect(maxAbsDiff(d, nc.predictDelta(inp)), `training vs inference k${k}`).toBeLessThan(1e-5);
        }
      } finally {
        nc.dispose();
      }
    });
  });

  it('training op set: GNN intermediates (nino_no_posw, k1) within 1e-5 relative', () => {
    const ck = loadCheckpoint(refCheckpoint('nino_no_posw.safetensors'));
    const nc = new NiNoGnn(ck.config, ck.weights);
    const trace: Record<string, Float32Array[]> = {};
    trainForward(ck.config, nc.weights, caseInput(dir, F, 1), { trace });
    nc.dispose();
    // the training op set runs the whole graph at once: one recording per intermediate
    for (const n of GNN_TRACE) expect(trace[n].length, n).toBe(1);
    expectGnnTrace(dir, trace);
  });

  it('edge sampling: training op set on the sampled message edges equals inference (atol 1e-5)', () => {
    const ck = loadCheckpoint(refCheckpoint('nino_no_posw.safetensors'));
    const nc = new NiNoGnn(ck.config, ck.weights, { edgeSampleRatio: 0.5, seed: 7, chunkEdges: 500 });
    const inp = caseInput(dir, F, 10);
    const messageEdges = sampleMessageEdges(inp.edgeType, 0.5, new Rng(7));
    const sampled = trainForward(ck.config, nc.weights, inp, { messageEdges })(10);
    const full = trainForward(ck.config, nc.weights, inp)(10);
    expect(maxAbsDiff(sampled, nc.predictDelta(inp))).toBeLessThan(1e-5);
    expect(maxAbsDiff(sampled, full)).toBeGreaterThan(1e-4);
    nc.dispose();
  });

  it('GNN intermediates (nino_no_posw, k1) within 1e-5 relative', () => {
    const ck = loadCheckpoint(refCheckpoint('nino_no_posw.safetensors'));
    const nc = new NiNoGnn(ck.config, ck.weights);
    const trace: Record<string, Float32Array[]> = {};
    nc.predictDelta(caseInput(dir, F, 1), { trace });
    nc.dispose();
    expectGnnTrace(dir, trace);
  });

  it('edge chunking gives the same result as one pass', () => {
    const ck = loadCheckpoint(refCheckpoint('nino_no_posw.safetensors'));
    const a = new NiNoGnn(ck.config, ck.weights);
    const b = new NiNoGnn(ck.config, ck.weights, { chunkEdges: 300 });
    const inp = caseInput(dir, F, 10);
    const before = tf.memory().numTensors;
    const da = a.predictDelta(inp);
    const db = b.predictDelta(inp);
    expect(tf.memory().numTensors).toBe(before);
    // only the summation grouping of the mean aggregation differs
    expect(maxAbsDiff(da, db)).toBeLessThan(1e-5);
    const m = loadCheckpoint(refCheckpoint('nino_mlp.safetensors'));
    const ma = new NiNoMlp(m.config, m.weights);
    expect(maxAbsDiff(ma.predictDelta(inp), ma.predictDelta(inp, { chunkEdges: 77 }))).toBe(0);
    a.dispose();
    b.dispose();
    ma.dispose();
  });
});

describe('MLP intermediates (case B, nino_mlp k1)', () => {
  it('training op set: within 1e-5 relative', () => {
    const ck = loadCheckpoint(refCheckpoint('nino_mlp.safetensors'));
    const nc = new NiNoMlp(ck.config, ck.weights);
    const trace: Record<string, Float32Array[]> = {};
    trainForward(ck.config, nc.weights, caseInput('case_b_gpt2', 1, 1), { trace });
    nc.dispose();
    const ref = refSt('case_b_gpt2/intermediates_nino_mlp_k1.safetensors').tensors;
    for (const n of MLP_TRACE) {
      const r = ref[n].data as Float32Array;
      expect(trace[n].length, n).toBe(1);
      expect(maxAbsDiff(trace[n][0], r) / maxAbs(r), n).toBeLessThanOrEqual(1e-5);
    }
  });
  it('within 1e-5 relative', () => {
    const ck = loadCheckpoint(refCheckpoint('nino_mlp.safetensors'));
    const nc = new NiNoMlp(ck.config, ck.weights);
    const trace: Record<string, Float32Array[]> = {};
    nc.predictDelta(caseInput('case_b_gpt2', 1, 1), { trace });
    nc.dispose();
    const ref = refSt('case_b_gpt2/intermediates_nino_mlp_k1.safetensors').tensors;
    for (const n of MLP_TRACE) {
      const r = ref[n].data as Float32Array;
      expect(maxAbsDiff(concat(trace[n]), r) / maxAbs(r), n).toBeLessThanOrEqual(1e-5);
    }
  });
});

describe('edge sampling', () => {
  it('is seeded, keeps self-loops, changes the prediction, and ratio 0 is exact', () => {
    const ck = loadCheckpoint(refCheckpoint('nino_no_posw.safetensors'));
    const inp = caseInput('case_a_fm16', 9, 1);
    const full = new NiNoGnn(ck.config, ck.weights).predictDelta(inp);
    const s1 = new NiNoGnn(ck.config, ck.weights, { edgeSampleRatio: 0.5, seed: 7 });
    const s2 = new NiNoGnn(ck.config, ck.weights, { edgeSampleRatio: 0.5, seed: 7, chunkEdges: 500 });
    const before = tf.memory().numTensors;
    const d1 = s1.predictDelta(inp);
    const d2 = s2.predictDelta(inp);
    expect(tf.memory().numTensors).toBe(before);
    expect(maxAbsDiff(d1, d2)).toBeLessThan(1e-5); // same seed, chunking irrelevant
    expect(maxAbsDiff(d1, full)).toBeGreaterThan(1e-4);
    const again = s1.predictDelta(inp); // the stream advances
    expect(maxAbsDiff(again, d1)).toBeGreaterThan(1e-6);
    expect(Number.isFinite(maxAbs(d1))).toBe(true);
  });
});

describe('registry', () => {
  it('unknown names list the valid ones', () => {
    expect(() => createNowcastModel('nope')).toThrow(/valid: nino, nino_mlp, linefit/);
  });
  it('builds fresh models of each kind behind the same interface', () => {
    const inp = caseInput('case_b_gpt2', 1, 3);
    for (const name of ['nino', 'nino_mlp', 'linefit']) {
      const nc = createNowcastModel(name, { config: { wtePosEnc: false, hid: 16 }, seed: 1 });
      const p = nc.predict(inp);
      expect(p.length).toBe(inp.edgeType.length);
      expect(Number.isFinite(maxAbs(p))).toBe(true);
      nc.dispose();
    }
  });
});
