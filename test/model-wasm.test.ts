/**
 * The same golden parity as model-parity.test.ts, on the wasm backend (nino's UnsortedSegmentSum
 * kernel, XNNPACK matmuls, host gathers): both cases, all three checkpoints, k = 1, 10, 40, plus the
 * tensor-count invariant and GNN intermediates for case A.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend.ts';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { NiNoGnn } from '../src/model/gnn.ts';
import { nowcasterFromCheckpoint } from '../src/model/registry.ts';
import type { NowcastInput } from '../src/model/types.ts';
import { maxAbsDiff, refSt, refCheckpoint } from './helpers/reference.ts';

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

beforeAll(async () => {
  const b = await initBackend('wasm');
  expect(b.name).toBe('wasm');
});

describe.each([
  { dir: 'case_a_fm16', F: 9 },
  { dir: 'case_b_gpt2', F: 1 },
])('wasm $dir', ({ dir, F }) => {
  it.each(['nino_no_posw', 'nino_mlp', 'nino_mlp_h32'])('%s matches golden at k = 1, 10, 40 (atol 2e-5)', (ck) => {
    expect(tf.getBackend()).toBe('wasm');
    const nc = nowcasterFromCheckpoint(loadCheckpoint(refCheckpoint(`${ck}.safetensors`)), { chunkEdges: 1000 });
    const out = refSt(`${dir}/outputs_${ck}.safetensors`).tensors;
    try {
      for (const k of [1, 10, 40]) {
        const inp = caseInput(dir, F, k);
        const before = tf.memory().numTensors;
        const delta = nc.predictDelta(inp);
        const pred = nc.predict(inp);
        expect(tf.memory().numTensors).toBe(before);
        expect(maxAbsDiff(delta, out[`delta_k${k}`].data as Float32Array), `delta k${k}`).toBeLessThan(2e-5);
        expect(maxAbsDiff(pred, out[`edge_out_k${k}`].data as Float32Array), `edge_out k${k}`).toBeLessThan(2e-5);
      }
    } finally {
      nc.dispose();
    }
  });

  it('GNN intermediates within 1e-5 relative', () => {
    const ck = loadCheckpoint(refCheckpoint('nino_no_posw.safetensors'));
    const nc = new NiNoGnn(ck.config, ck.weights);
    const trace: Record<string, Float32Array[]> = {};
    nc.predictDelta(caseInput(dir, F, 1), { trace });
    nc.dispose();
    const ref = refSt(`${dir}/intermediates_nino_no_posw_k1.safetensors`).tensors;
    for (const n of [
      'gnn_in_edge',
      'conv0_messages',
      'conv0_x_out',
      'edge_update0_out',
      'conv1_messages',
      'conv1_x_out',
      'edge_update1_out',
      'edge_out_hidden',
    ]) {
      const r = ref[n].data as Float32Array;
      let m = 0;
      for (let i = 0; i < r.length; i++) m = Math.max(m, Math.abs(r[i]));
      const got = trace[n].length === 1 ? trace[n][0] : Float32Array.from(trace[n].flatMap((a) => Array.from(a)));
      expect(maxAbsDiff(got, r) / m, n).toBeLessThanOrEqual(1e-5);
    }
  });
});
