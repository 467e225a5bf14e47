/**
 * Training windows (official `dataset/dataset.py`). A trajectory has R records (flat parameter vectors).
 * A *window* starting at record i0 takes ctx input states i0, i0+s, ..., i0+(ctx-1)s (s = stride, in
 * records) and up to maxHorizon targets: horizon h = 1..maxHorizon is the record end + h*s, end = i0+(ctx-1)s,
 * masked where it is past the trajectory end. States and targets are scaled per tensor with the INPUT
 * states' statistics (scale.ts); the regression target of slot (e, f) at horizon h is
 * scaled_target_h - scaled_last (the model predicts the residual delta from the last input state).
 * Slots without a parameter (edgeParamIndex -1: padding, self-loops, aux edges) are masked.
 * Also: the word-embedding subgraph of a sample (LM graphs) and the "last"/linefit baselines of a window.
 *
 *   const s = makeSample(set, 0, 0, 5, 40);
 */
import { Rng } from '../core/rng.ts';
import { toEdges, type NeuralGraph } from '../graph/index.ts';
import { LineFitter } from '../model/linefit.ts';
import { scaleStates } from '../trajectories/scale.ts';
import type { TrajData, TrajectorySet } from './trajectories.ts';

const f32 = Math.fround;

/** Number of valid window starts of a trajectory: starts 0..R-1-ctx*stride. */
export function numWindowStarts(t: TrajData, ctx: number): number {
  return Math.max(0, t.params.length - ctx * t.stride);
}

export interface Sample {
  graph: number;
  traj: number;
  start: number;
  /** [E, F*ctx] scaled input states (F = the graph's own maxFeat) */
  edgeAttr: Float32Array;
  /** [E*F, horizons] target delta (scaled target - scaled last), horizons 1..this.horizons */
  target: Float32Array;
  /** [E*F, horizons] 1 where the slot holds a parameter */
  mask: Float32Array;
  /** number of valid horizons (1..maxHorizon) */
  horizons: number;
  /** number of valid (slot, horizon) targets */
  count: number;
  /** per-LPE-column signs (+-1) for this sample, or undefined (no flips) */
  lpeSign?: Float32Array;
  /** train on this subgraph only (wte row subsampling), or undefined (whole graph) */
  subset?: Subset | null;
}

/**
 * One window: ctx inputs at records start + j*stride, targets at start + (ctx-1+h)*stride, h = 1..maxHorizon.
 */
export function makeSample(set: TrajectorySet, ti: number, start: number, ctx: number, maxHorizon: number): Sample {
  const t = set.trajs[ti];
  const tg = set.graphs[t.graph];
  const g = tg.graph;
  const s = t.stride;
  const R = t.params.length;
  if (start < 0 || start + ctx * s > R - 1)
    throw new Error(`window start ${start} out of range for ${t.path} (${R} records, ctx ${ctx}, stride ${s})`);
  const layout = g.layout;
  const n = layout.total;
  const states = new Float32Array(n * ctx);
  for (let j = 0; j < ctx; j++) {
    const p = t.params[start + j * s];
    for (let i = 0, o = j; i < n; i++, o += ctx) states[o] = p[i];
  }
  const { scaled, scales } = scaleStates(states, layout, ctx);
  const edgeAttr = toEdges(g, scaled, ctx);
  // per-parameter mean and std+eps (the inputs' statistics)
  const mean = new Float32Array(n);
  const den = new Float32Array(n);
  layout.entries.forEach((e, k) => {
    mean.fill(scales[2 * k], e.offset, e.offset + e.numel);
    den.fill(f32(scales[2 * k + 1] + f32(1e-6)), e.offset, e.offset + e.numel);
  });
  const end = start + (ctx - 1) * s;
  const H = Math.min(maxHorizon, Math.floor((R - 1 - end) / s));
  const SL = g.numEdges * g.maxFeat;
  const target = new Float32Array(SL * H);
  const mask = new Float32Array(SL * H);
  const epi = g.edgeParamIndex;
  let count = 0;
  const xs = Array.from({ length: H }, (_, h) => t.params[end + (h + 1) * s]);
  for (let sl = 0, o = 0; sl < SL; sl++, o += H) {
    const p = epi[sl];
    if (p < 0) continue;
    const last = scaled[p * ctx + ctx - 1];
    const m = mean[p];
    const d = den[p];
    for (let h = 0; h < H; h++) {
      target[o + h] = f32(f32(f32(xs[h][p] - m) / d) - last);
      mask[o + h] = 1;
    }
    count += H;
  }
  return { graph: t.graph, traj: ti, start, edgeAttr, target, mask, horizons: H, count };
}

/**
 * Word-embedding row subsampling for LM graphs (official: 1000 random wte rows per sample): keeps a
 * random `k` of the vocabulary input nodes (posW > 0) and every other node, and the edges between kept
 * nodes. Returns null when the graph has <= k vocabulary nodes (nothing to drop).
 */
export function wteSubset(g: NeuralGraph, k: number, rng: Rng): Subset | null {
  const vocab: number[] = [];
  for (let v = 0; v < g.numNodes; v++) if (g.posW[v] > 0) vocab.push(v);
  if (vocab.length <= k) return null;
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(vocab.length - i);
    const t = vocab[i];
    vocab[i] = vocab[j];
    vocab[j] = t;
  }
  const keep = new Uint8Array(g.numNodes).fill(1);
  for (let i = k; i < vocab.length; i++) keep[vocab[i]] = 0;
  const nodeMap = new Int32Array(g.numNodes).fill(-1);
  const nodes: number[] = [];
  for (let v = 0; v < g.numNodes; v++) if (keep[v]) nodeMap[v] = nodes.push(v) - 1;
  const E = g.numEdges;
  const edges: number[] = [];
  for (let e = 0; e < E; e++) if (keep[g.edgeIndex[e]] && keep[g.edgeIndex[E + e]]) edges.push(e);
  return { edges: Int32Array.from(edges), nodes: Int32Array.from(nodes), nodeMap };
}

export interface Subset {
  /** kept edge ids (ascending) */
  edges: Int32Array;
  /** kept node ids (ascending) */
  nodes: Int32Array;
  /** old node id -> new id (-1 = dropped) */
  nodeMap: Int32Array;
}

/**
 * Baseline errors of a sample, per horizon (sum of |pred - target| over valid slots, scaled space):
 * "last" (delta 0) and linefit (least-squares line through the ctx states, extrapolated h intervals).
 */
export function baselineErrors(
  set: TrajectorySet,
  s: Sample,
  ctx: number,
  maxHorizon: number,
): { last: Float64Array; linefit: Float64Array; count: Float64Array } {
  const g = set.graphs[s.graph].graph;
  const SL = g.numEdges * g.maxFeat;
  const last = new Float64Array(maxHorizon);
  const linefit = new Float64Array(maxHorizon);
  const count = new Float64Array(maxHorizon);
  const fit = new LineFitter(ctx);
  for (let sl = 0; sl < SL; sl++) {
    if (g.edgeParamIndex[sl] < 0) continue;
    fit.fit(s.edgeAttr, sl * ctx);
    for (let h = 1; h <= s.horizons; h++) {
      const tg = s.target[sl * s.horizons + h - 1];
      last[h - 1] += Math.abs(tg);
      linefit[h - 1] += Math.abs(fit.delta(h) - tg);
      count[h - 1] += 1;
    }
  }
  return { last, linefit, count };
}
