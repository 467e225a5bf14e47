/**
 * Training forwards of the NiNo GNN and MLP with wasm-friendly gradients. Same math, weights and
 * output layout as `gnnForwardAll` / `mlpForwardAll` (src/model; tested equal), but every Linear is a
 * `tf.customGrad` whose forward and backward use only plain (non-transposed) matMuls plus explicit
 * transposes: tfjs-wasm's matMul with transposeA/transposeB (what tfjs' generic matMul gradient emits)
 * is ~10x slower and was ~70% of a training step.
 *
 *   const delta = trainForward(weights, cfg, batchInput);   // [E, F, seqLen]
 */
import * as tf from '@tensorflow/tfjs';
import type { NiNoConfig } from '../model/config.ts';
import { gatherRows, segmentSum } from '../model/graph-ops.ts';
import type { GraphTensorsInput } from '../model/gnn.ts';
import type { Weights } from '../model/weights.ts';

/**
 * y = x W^T + b  with x [M, in], W [out, in] (torch Linear layout), b [out].
 * Gradients: dx = dy W, dW = dy^T x, db = sum_rows(dy) — all plain matMuls.
 */
const linearB = tf.customGrad(((x: tf.Tensor2D, W: tf.Tensor2D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
  save([x, W]);
  const value = tf.fused.matMul({ a: x, b: tf.transpose(W), bias: b });
  return {
    value,
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs, Ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, Ws), tf.matMul(tf.transpose(dy), xs), tf.sum(dy, 0)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor2D, W: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;

const linearNoB = tf.customGrad(((x: tf.Tensor2D, W: tf.Tensor2D, save: tf.GradSaveFunc) => {
  save([x, W]);
  const value = tf.matMul(x, tf.transpose(W));
  return {
    value,
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs, Ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, Ws), tf.matMul(tf.transpose(dy), xs)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor2D, W: tf.Tensor2D) => tf.Tensor2D;

/** torch-layout Linear with the fast gradient */
export function linear(x: tf.Tensor2D, W: tf.Tensor, b?: tf.Tensor): tf.Tensor2D {
  return b ? linearB(x, W as tf.Tensor2D, b as tf.Tensor1D) : linearNoB(x, W as tf.Tensor2D);
}

const silu = (x: tf.Tensor2D) => tf.mul(x, tf.sigmoid(x)) as tf.Tensor2D;

function w(ws: Weights, name: string): tf.Tensor {
  const t = ws[name];
  if (!t) throw new Error(`missing weight '${name}'`);
  return t;
}

function inDegree(dst: Int32Array, N: number): Float32Array {
  const cnt = new Float32Array(N);
  for (let i = 0; i < dst.length; i++) cnt[dst[i]]++;
  for (let i = 0; i < N; i++) if (cnt[i] === 0) cnt[i] = 1;
  return cnt;
}

/**
 * Differentiable NiNo GNN forward, [E, F, hmax] = horizons 1..hmax (default seqLen) of the official
 * output (see src/model/gnn.ts for the math); only those rows of edge_out.fc.2 are computed. No edge sampling.
 */
export function gnnTrainForward(ws: Weights, cfg: NiNoConfig, g: GraphTensorsInput, hmax = cfg.seqLen): tf.Tensor3D {
  if (g.messageEdges) throw new Error('gnnTrainForward does not support edge sampling');
  const H = cfg.hid;
  const E = g.edgeType.length;
  const N = g.numNodes;
  const src = g.edgeIndex.subarray(0, E);
  const dst = g.edgeIndex.subarray(E, 2 * E);
  const srcT = tf.tensor1d(src, 'int32');
  const dstT = tf.tensor1d(dst, 'int32');
  const cnt = tf.tensor2d(inDegree(dst, N), [N, 1]);
  // node init
  let x: tf.Tensor2D | null = null;
  if (cfg.lpe > 0) {
    if (!g.pos) throw new Error(`this NiNo GNN needs pos [N, ${cfg.lpe}] (LPE)`);
    x = linear(g.pos, w(ws, 'node_proj.fc.0.weight'), w(ws, 'node_proj.fc.0.bias'));
  }
  if (cfg.wtePosEnc) {
    if (!g.posW || g.posW.length !== N) throw new Error(`this NiNo GNN (wte_pos_enc) needs posW [${N}]`);
    const emb = gatherRows(w(ws, 'wte_pos_enc_layer.weight') as tf.Tensor2D, g.posW);
    x = (x ? tf.add(x, emb) : emb) as tf.Tensor2D;
  }
  if (!x) x = tf.zeros([N, H]) as tf.Tensor2D;
  // edge embedding
  const Wp = w(ws, 'edge_proj.fc.0.weight') as tf.Tensor2D; // [H, maxFeat*ctx]
  const Wpf = g.F === cfg.maxFeat ? Wp : (tf.slice(Wp, [0, 0], [H, g.F * cfg.ctx]) as tf.Tensor2D);
  let e = linear(g.edgeAttr, Wpf, w(ws, 'edge_proj.fc.0.bias'));
  if (cfg.edgeTypes > 0) e = tf.add(e, gatherRows(w(ws, 'layer_embed.weight') as tf.Tensor2D, g.edgeType)) as tf.Tensor2D;
  const nUpd = cfg.finalEdgeUpdate ? cfg.layers : cfg.layers - 1;
  for (let l = 0; l < nUpd; l++) {
    const p = `gnn.convs.${l}`;
    const Wpre = w(ws, `${p}.pre_nns.0.0.weight`) as tf.Tensor2D; // [H, 2H]
    const A = linear(x, tf.slice(Wpre, [0, 0], [H, H]), w(ws, `${p}.pre_nns.0.0.bias`));
    const B = linear(x, tf.slice(Wpre, [0, H], [H, H]));
    const h = tf.add(gatherRows(A, dstT), gatherRows(B, srcT)) as tf.Tensor2D;
    const enc = linear(e, w(ws, `${p}.edge_encoder.weight`), w(ws, `${p}.edge_encoder.bias`));
    const m = tf.add(tf.mul(tf.slice(enc, [0, 0], [E, H]), h), tf.slice(enc, [0, H], [E, H])) as tf.Tensor2D;
    const agg = tf.div(segmentSum(m, dstT, N), cnt) as tf.Tensor2D;
    const y = linear(tf.concat([x, agg], 1) as tf.Tensor2D, w(ws, `${p}.post_nns.0.0.weight`), w(ws, `${p}.post_nns.0.0.bias`));
    x = silu(linear(y, w(ws, `${p}.lin.weight`), w(ws, `${p}.lin.bias`)));
    const q = `gnn.edge_update.${l}`;
    const S = linear(x, w(ws, `${q}.lin_s.weight`), w(ws, `${q}.lin_s.bias`));
    const T = linear(x, w(ws, `${q}.lin_t.weight`), w(ws, `${q}.lin_t.bias`));
    const z = tf.add(linear(e, w(ws, `${q}.lin_e.weight`), w(ws, `${q}.lin_e.bias`)), tf.add(gatherRows(S, srcT), gatherRows(T, dstT))) as tf.Tensor2D;
    e = linear(silu(z), w(ws, `${q}.lin1.weight`), w(ws, `${q}.lin1.bias`));
  }
  const hid = silu(linear(e, w(ws, 'edge_out.fc.0.weight'), w(ws, 'edge_out.fc.0.bias')));
  const [Wo, bo] = outRows(w(ws, 'edge_out.fc.2.weight'), w(ws, 'edge_out.fc.2.bias'), cfg.maxFeat, cfg.seqLen, g.F, hmax);
  return tf.reshape(linear(hid, Wo, bo), [E, g.F, hmax]) as tf.Tensor3D;
}

/** rows f*S + k (f < F, k < hmax) of an output layer W [maxFeat*S, H], b [maxFeat*S] */
function outRows(W: tf.Tensor, b: tf.Tensor, maxFeat: number, S: number, F: number, hmax: number): [tf.Tensor2D, tf.Tensor1D] {
  if (hmax < 1 || hmax > S) throw new Error(`hmax ${hmax} out of range 1..${S}`);
  if (F === maxFeat && hmax === S) return [W as tf.Tensor2D, b as tf.Tensor1D];
  const H = W.shape[1]!;
  const Wr = tf.reshape(tf.slice(tf.reshape(W, [maxFeat, S, H]), [0, 0, 0], [F, hmax, H]), [F * hmax, H]) as tf.Tensor2D;
  // 1-D slices + concat (not reshape of a 2-D slice): wasm's _FusedMatMul reads the bias rank from the
  // shape stored with the data, which a reshape does not change
  const parts = Array.from({ length: F }, (_, f) => tf.slice(b as tf.Tensor1D, [f * S], [hmax]));
  const br = (F === 1 ? parts[0] : tf.concat(parts)) as tf.Tensor1D;
  return [Wr, br];
}

/** Differentiable per-parameter MLP forward, [E, F, hmax] (see src/model/mlp.ts). */
export function mlpTrainForward(ws: Weights, cfg: NiNoConfig, edgeAttr: tf.Tensor2D, edgeType: Int32Array, F: number, hmax = cfg.seqLen): tf.Tensor3D {
  const E = edgeAttr.shape[0];
  const H = cfg.hid;
  let h = linear(tf.reshape(edgeAttr, [E * F, cfg.ctx]) as tf.Tensor2D, w(ws, 'edge_proj.fc.0.weight'), w(ws, 'edge_proj.fc.0.bias'));
  if (cfg.edgeTypes > 0) {
    const emb = gatherRows(w(ws, 'layer_embed.weight') as tf.Tensor2D, edgeType);
    h = tf.reshape(tf.add(tf.reshape(h, [E, F, H]), tf.reshape(emb, [E, 1, H])), [E * F, H]) as tf.Tensor2D;
  }
  for (const i of [0, 2, 4]) h = silu(linear(h, w(ws, `edge_mlp.fc.${i}.weight`), w(ws, `edge_mlp.fc.${i}.bias`)));
  const [Wo, bo] = outRows(w(ws, 'edge_mlp.fc.6.weight'), w(ws, 'edge_mlp.fc.6.bias'), 1, cfg.seqLen, 1, hmax);
  return tf.reshape(linear(h, Wo, bo), [E, F, hmax]) as tf.Tensor3D;
}
