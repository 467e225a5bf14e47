/**
 * Batches for meta-training (the batching of official `train_nino.py`): disjoint unions of the samples'
 * graphs (edges concatenated with node offsets), padded to F feature slots.
 *
 *   const b = assembleBatch(set, [s, s2], batchFeat(set, [s, s2]), 5, 40, 8);
 */
import type { TrajectorySet } from './trajectories.ts';
import type { Sample } from './windows.ts';

export interface GraphBatch {
  /** total edges */
  E: number;
  F: number;
  /** [E, F*ctx] */
  edgeAttr: Float32Array;
  /** [2E] sources then targets, node ids offset per graph */
  edgeIndex: Int32Array;
  edgeType: Int32Array;
  /** [N*lpe] (sign-flipped per sample) */
  pos?: Float32Array;
  posW: Int32Array;
  numNodes: number;
  /** horizons kept in target/mask (max valid horizon over the samples; the rest is all masked) */
  horizons: number;
  /** [E*F*horizons] */
  target: Float32Array;
  mask: Float32Array;
  /** sum of mask */
  count: number;
}

/** Disjoint union of the samples' graphs (or their `subset`s), all padded to F feature slots. */
export function assembleBatch(
  set: TrajectorySet,
  samples: readonly Sample[],
  F: number,
  ctx: number,
  _seqLen: number,
  lpe: number,
): GraphBatch {
  let E = 0;
  let N = 0;
  for (const s of samples) {
    const g = set.graphs[s.graph].graph;
    E += s.subset ? s.subset.edges.length : g.numEdges;
    N += s.subset ? s.subset.nodes.length : g.numNodes;
  }
  const edgeAttr = new Float32Array(E * F * ctx);
  const edgeIndex = new Int32Array(2 * E);
  const edgeType = new Int32Array(E);
  const posW = new Int32Array(N);
  const pos = lpe > 0 ? new Float32Array(N * lpe) : undefined;
  const horizons = Math.max(1, ...samples.map((s) => s.horizons));
  const target = new Float32Array(E * F * horizons);
  const mask = new Float32Array(E * F * horizons);
  let eo = 0;
  let no = 0;
  let count = 0;
  for (const s of samples) {
    const tg = set.graphs[s.graph];
    const g = tg.graph;
    const Eg = g.numEdges;
    const Fg = g.maxFeat;
    const sub = s.subset;
    const ne = sub ? sub.edges.length : Eg;
    const nn = sub ? sub.nodes.length : g.numNodes;
    const hs = s.horizons;
    const st = s.target;
    const sm = s.mask;
    for (let i = 0; i < ne; i++) {
      const e = sub ? sub.edges[i] : i;
      const ea = s.edgeAttr.subarray(e * Fg * ctx, (e + 1) * Fg * ctx);
      edgeAttr.set(ea, (eo + i) * F * ctx);
      for (let f = 0; f < Fg; f++) {
        const from = (e * Fg + f) * hs;
        const to = ((eo + i) * F + f) * horizons;
        for (let h = 0; h < hs; h++) {
          target[to + h] = st[from + h];
          mask[to + h] = sm[from + h];
          count += sm[from + h];
        }
      }
      const a = g.edgeIndex[e];
      const b = g.edgeIndex[Eg + e];
      edgeIndex[eo + i] = (sub ? sub.nodeMap[a] : a) + no;
      edgeIndex[E + eo + i] = (sub ? sub.nodeMap[b] : b) + no;
      edgeType[eo + i] = g.edgeType[e];
    }
    if (pos && (!tg.pos || tg.lpe !== lpe)) throw new Error(`graph of task ${tg.task} has no LPE with ${lpe} columns`);
    const sign = s.lpeSign;
    for (let j = 0; j < nn; j++) {
      const v = sub ? sub.nodes[j] : j;
      posW[no + j] = g.posW[v];
      if (pos)
        for (let k = 0; k < lpe; k++)
          pos[(no + j) * lpe + k] = sign ? tg.pos![v * lpe + k] * sign[k] : tg.pos![v * lpe + k];
    }
    eo += ne;
    no += nn;
  }
  return { E, F, edgeAttr, edgeIndex, edgeType, pos, posW, numNodes: N, horizons, target, mask, count };
}

/** feature slots a batch of these samples needs (the largest of their graphs) */
export function batchFeat(set: TrajectorySet, samples: readonly Sample[]): number {
  return Math.max(...samples.map((x) => set.graphs[x.graph].graph.maxFeat));
}
