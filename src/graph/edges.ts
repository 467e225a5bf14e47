/**
 * Parameters ↔ edge features (official `NeuralGraph.to_edges` / `to_vector`, README §3 and §7).
 *
 *   const attr = toEdges(graph, scaled, 5);     // scaled [n, ctx] → attr [E, F*ctx], column f*ctx+t
 *   const vec  = toVector(graph, edgeOut);      // edgeOut [E, F] → vec [n]
 */
import type { NeuralGraph } from './types.ts';

/**
 * edge_attr[e, f*ctx + t] = idx >= 0 ? scaled[idx*ctx + t] : edgeConst[e*F+f]  (const repeated over t).
 * @param scaled [numParams, ctx] row-major (scaled states, oldest first)
 * @returns [E, F*ctx] row-major
 */
export function toEdges(graph: NeuralGraph, scaled: Float32Array, ctx: number, out?: Float32Array): Float32Array {
  const n = graph.layout.total;
  if (scaled.length !== n * ctx) throw new Error(`toEdges: scaled has ${scaled.length} values, expected ${n}*${ctx}`);
  const S = graph.numEdges * graph.maxFeat;
  const res = out ?? new Float32Array(S * ctx);
  if (res.length !== S * ctx) throw new Error(`toEdges: out has ${res.length} values, expected ${S * ctx}`);
  const epi = graph.edgeParamIndex;
  const ec = graph.edgeConst;
  if (ctx === 5) {
    for (let s = 0, o = 0; s < S; s++, o += 5) {
      const p = epi[s];
      if (p >= 0) {
        const q = p * 5;
        res[o] = scaled[q];
        res[o + 1] = scaled[q + 1];
        res[o + 2] = scaled[q + 2];
        res[o + 3] = scaled[q + 3];
        res[o + 4] = scaled[q + 4];
      } else {
        const c = ec[s];
        res[o] = c;
        res[o + 1] = c;
        res[o + 2] = c;
        res[o + 3] = c;
        res[o + 4] = c;
      }
    }
    return res;
  }
  for (let s = 0, o = 0; s < S; s++, o += ctx) {
    const p = epi[s];
    if (p >= 0) for (let t = 0, q = p * ctx; t < ctx; t++) res[o + t] = scaled[q + t];
    else res.fill(ec[s], o, o + ctx);
  }
  return res;
}

/**
 * vec[edgeParamIndex[e*F+f]] = edgeOut[e*F+f] for every parameter slot (each parameter exactly once).
 * @param edgeOut [E, F] row-major (model output, scaled space)
 * @returns [numParams]
 */
export function toVector(graph: NeuralGraph, edgeOut: Float32Array, out?: Float32Array): Float32Array {
  const S = graph.numEdges * graph.maxFeat;
  if (edgeOut.length !== S) throw new Error(`toVector: edgeOut has ${edgeOut.length} values, expected E*F = ${S}`);
  const slot = graph.paramSlot;
  const res = out ?? new Float32Array(slot.length);
  for (let p = 0; p < slot.length; p++) res[p] = edgeOut[slot[p]];
  return res;
}

/** Last-state view of edge features: [E, F] with value attr[e, f*ctx + ctx-1] (the residual base). */
export function lastState(graph: NeuralGraph, edgeAttr: Float32Array, ctx: number): Float32Array {
  const S = graph.numEdges * graph.maxFeat;
  const r = new Float32Array(S);
  for (let s = 0; s < S; s++) r[s] = edgeAttr[s * ctx + ctx - 1];
  return r;
}
