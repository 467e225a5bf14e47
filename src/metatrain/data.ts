/**
 * Meta-training data for `nino train-nino` (official `dataset/dataset.py` + the batching of `train_nino.py`).
 *
 * A trajectory (one Arrow file, see src/trajectories/schema.ts) has R records (flat parameter vectors).
 * A *window* starting at record i0 takes ctx input states i0, i0+s, ..., i0+(ctx-1)s (s = stride, in
 * records) and up to seqLen targets: horizon h = 1..seqLen is the record end + h*s, end = i0+(ctx-1)s,
 * masked where it is past the trajectory end. States and targets are scaled per tensor with the INPUT
 * states' statistics (scale.ts); the regression target of slot (e, f) at horizon h is
 * scaled_target_h - scaled_last (the model predicts the residual delta from the last input state).
 * Slots without a parameter (edgeParamIndex -1: padding, self-loops, aux edges) are masked.
 * Batches are disjoint unions of graphs (edges concatenated with node offsets).
 *
 *   const set = loadTrajectorySet(['runs/traj'], { ctx: 5, seqLen: 40 });
 *   const s = makeSample(set.graphs[0], set.trajs[0], 0, 5, 40);
 *   const b = assembleBatch([s, s2], set.maxFeat, 5, 40, 8);
 */
import type { LayersDesc } from '../core/layers.ts';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Logger } from '../core/logger.ts';
import { silentLogger } from '../core/logger.ts';
import { createHash } from 'node:crypto';
import { checkSeed, Rng } from '../core/rng.ts';
import { buildNeuralGraph, laplacianPE, toEdges, type NeuralGraph } from '../graph/index.ts';
import { getTask } from '../tasks/registry.ts';
import { readTrajectory, TrajectoryFormatError } from '../trajectories/arrow.ts';
import { InputError } from '../core/errors.ts';
import { LineFitter } from '../model/linefit.ts';
import type { ParamLayout } from '../core/params.ts';
import { scaleStates } from '../trajectories/scale.ts';

const f32 = Math.fround;

/** Trajectories unfit for meta-training (an input error, exit code 2). */
export class TrajectoryDataError extends InputError {}

/** One graph per task (all trajectories of a task share names/shapes and hence the graph). */
export interface TaskGraph {
  task: string;
  arch: string;
  graph: NeuralGraph;
  /** base Laplacian PE [N*lpe] (fixed signs), or undefined when lpe = 0 */
  pos?: Float32Array;
  lpe: number;
}

export interface TrajData {
  path: string;
  task: string;
  seed: number;
  /** index into TrajectorySet.graphs */
  graph: number;
  /** flat parameter vectors, one per record */
  params: Float32Array[];
  steps: number[];
  /** records between consecutive input states */
  stride: number;
}

export interface TrajectorySet {
  graphs: TaskGraph[];
  trajs: TrajData[];
  /** F used for all batches (max over the graphs) */
  maxFeat: number;
}

export interface LoadOptions {
  ctx: number;
  seqLen: number;
  /** records between input states (default: task period/ctx steps divided by the record spacing, >= 1) */
  stride?: number;
  /** LPE columns (0 = none) */
  lpe?: number;
  logger?: Logger;
  /** graph arch + heads for a task (default: the model the trajectory stored in meta.config.model, else the task registry, else 'mlp') */
  archOf?: (task: string, config: Record<string, unknown>) => { arch: string; numHeads?: number; layers?: LayersDesc };
}

function globToRegex(seg: string): RegExp {
  const re = seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`);
}

function walkArrow(dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue; // e.g. .seed-3.partial (unfinished collect runs)
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walkArrow(p, out);
    else if (name.endsWith('.arrow')) out.push(p);
  }
}

/** Expands directories (recursively: every *.arrow, skipping dot-entries), files and globs (`*`, `?`, `**`). */
export function expandDataPaths(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    if (!/[*?]/.test(a)) {
      if (!existsSync(a)) throw new TrajectoryDataError(`--data '${a}' does not exist`);
      if (statSync(a).isDirectory()) {
        const before = out.length;
        walkArrow(a, out);
        if (out.length === before) throw new TrajectoryDataError(`--data '${a}': no .arrow trajectory files in this folder`);
      } else out.push(a);
      continue;
    }
    const abs = a.startsWith('/');
    const segs = a.split('/').filter((s, i) => s !== '' || i === 0);
    let cur: string[] = [abs ? '/' : '.'];
    for (let i = abs ? 1 : 0; i < segs.length; i++) {
      const seg = segs[i];
      const last = i === segs.length - 1;
      const next: string[] = [];
      for (const base of cur) {
        if (seg === '**') {
          const stack = [base];
          while (stack.length) {
            const d = stack.pop()!;
            next.push(d);
            for (const n of readdirSync(d)) if (!n.startsWith('.') && statSync(join(d, n)).isDirectory()) stack.push(join(d, n));
          }
        } else if (/[*?]/.test(seg)) {
          if (!existsSync(base) || !statSync(base).isDirectory()) continue;
          const re = globToRegex(seg);
          for (const n of readdirSync(base).sort()) if (re.test(n) && !n.startsWith('.')) next.push(join(base, n));
        } else next.push(join(base, seg));
      }
      cur = next.filter((p) => existsSync(p) && (last || statSync(p).isDirectory()));
    }
    const files = cur.filter((p) => statSync(p).isFile() && p.endsWith('.arrow'));
    if (!files.length) throw new TrajectoryDataError(`--data '${a}' matches no .arrow files`);
    out.push(...files.sort());
  }
  const seen = new Set<string>();
  return out.map((p) => resolve(p)).filter((r) => {
    if (seen.has(r)) return false;
    seen.add(r);
    return true;
  });
}

function defaultArchOf(task: string, config: Record<string, unknown>): { arch: string; numHeads?: number; layers?: LayersDesc } {
  // the model the trajectory stored (task files' tasks are not in the registry), else the registry's
  let model = config.model as Record<string, unknown> | undefined;
  if (!model) {
    try {
      model = getTask(task).model as unknown as Record<string, unknown>;
    } catch {
      model = undefined;
    }
  }
  const a = String(model?.arch ?? 'mlp');
  // a task file's tfjs model carries its layer description (the graph is built from it, not from names)
  return { arch: a === 'convnet' ? 'conv' : a, numHeads: model?.nHead as number | undefined, layers: model?.layers as LayersDesc | undefined };
}

function sameLayout(a: ParamLayout, b: ParamLayout): string | null {
  if (a.entries.length !== b.entries.length) return `${b.entries.length} parameter tensors instead of ${a.entries.length}`;
  for (let i = 0; i < a.entries.length; i++) {
    const x = a.entries[i];
    const y = b.entries[i];
    if (x.name !== y.name) return `parameter #${i} is '${y.name}', expected '${x.name}'`;
    if (x.shape.join(',') !== y.shape.join(',')) return `parameter '${y.name}' has shape [${y.shape}], expected [${x.shape}]`;
  }
  return null;
}

/**
 * Default stride in records: (task period / ctx) steps between states divided by the record spacing.
 * The period is the trajectory's stored task definition's (taskPeriod), else the registry's.
 */
export function defaultStride(task: string, recordEvery: number, ctx: number, taskPeriod?: number): number {
  let period: number | undefined = taskPeriod;
  if (period === undefined) {
    try {
      period = getTask(task).period;
    } catch {
      period = undefined;
    }
  }
  if (!period || !(recordEvery > 0)) return 1;
  return Math.max(1, Math.round(period / ctx / recordEvery));
}

/**
 * Reads and validates trajectory files: schema version, consistent names/shapes per task, finite
 * values, increasing steps, enough records for ctx+1 states; builds one neural graph (+ LPE) per task.
 * Errors name the bad file and what is wrong.
 */
export function loadTrajectorySet(paths: readonly string[], o: LoadOptions): TrajectorySet {
  const logger = o.logger ?? silentLogger;
  const archOf = o.archOf ?? defaultArchOf;
  const graphs: TaskGraph[] = [];
  const byTask = new Map<string, { gi: number; layout: ParamLayout; first: string }>();
  const trajs: TrajData[] = [];
  const seen = new Map<string, string>();
  for (const path of paths) {
    let t;
    try {
      t = readTrajectory(path);
    } catch (e) {
      if (e instanceof TrajectoryFormatError) throw new TrajectoryDataError(e.message);
      throw new TrajectoryDataError(`${path}: cannot read trajectory (${(e as Error).message})`);
    }
    const { meta, layout, records } = t;
    if (!meta.task) throw new TrajectoryDataError(`${path}: no task name in the metadata`);
    if (layout.total === 0) throw new TrajectoryDataError(`${path}: no parameters`);
    const key = `${meta.task}#${meta.seed}`;
    try {
      checkSeed(meta.seed);
    } catch (e) {
      throw new TrajectoryDataError(`${path}: ${(e as Error).message}`);
    }
    if (seen.has(key)) throw new TrajectoryDataError(`${path}: duplicate trajectory (task ${meta.task}, seed ${meta.seed}) already read from ${seen.get(key)}`);
    seen.set(key, path);
    // the same run under another seed label would put one run on both sides of the train/validation split
    const first = records.length ? createHash('sha1').update(new Uint8Array(records[0].params.buffer, records[0].params.byteOffset, records[0].params.byteLength)).digest('hex') : '';
    const same = first && seen.get(`${meta.task}#state:${first}`);
    if (same) throw new TrajectoryDataError(`${path}: same initial parameters as ${same} (task ${meta.task}, seed ${meta.seed}): one run under two seeds`);
    if (first) seen.set(`${meta.task}#state:${first}`, path);
    let tg = byTask.get(meta.task);
    if (tg) {
      const diff = sameLayout(tg.layout, layout);
      if (diff) throw new TrajectoryDataError(`${path}: does not match the other ${meta.task} trajectories (${tg.first}): ${diff}`);
    } else {
      const { arch, numHeads, layers } = archOf(meta.task, meta.config);
      let graph: NeuralGraph;
      try {
        graph = buildNeuralGraph(arch, layout.entries.map((e) => ({ name: e.name, shape: [...e.shape] })), { numHeads, layers, logger });
      } catch (e) {
        throw new TrajectoryDataError(`${path}: cannot build the '${arch}' neural graph of task ${meta.task} (${(e as Error).message})`);
      }
      const lpe = o.lpe ?? 0;
      let pos: Float32Array | undefined;
      if (lpe > 0) pos = laplacianPE(graph, { k: lpe, rng: new Rng(0).fork('lpe') }).pos;
      graphs.push({ task: meta.task, arch, graph, pos, lpe });
      tg = { gi: graphs.length - 1, layout, first: path };
      byTask.set(meta.task, tg);
    }
    for (let r = 0; r < records.length; r++) {
      const p = records[r].params;
      for (let i = 0; i < p.length; i++) {
        if (!Number.isFinite(p[i])) {
          const e = layout.entries.find((x) => i >= x.offset && i < x.offset + x.numel)!;
          throw new TrajectoryDataError(`${path}: record ${r} (step ${records[r].step}) has a non-finite value (${p[i]}) in parameter '${e.name}'`);
        }
      }
      if (r > 0 && !(records[r].step > records[r - 1].step)) {
        throw new TrajectoryDataError(`${path}: steps are not increasing (record ${r} has step ${records[r].step} after ${records[r - 1].step})`);
      }
    }
    const gaps = records.slice(1).map((x, i) => x.step - records[i].step).sort((a, b) => a - b);
    const every = gaps.length ? gaps[gaps.length >> 1] : 0;
    const stride = o.stride ?? defaultStride(meta.task, every, o.ctx, meta.taskDef?.period as number | undefined);
    const need = o.ctx * stride + 1;
    if (records.length < need) {
      throw new TrajectoryDataError(
        `${path}: ${records.length} records, need at least ${need} (ctx ${o.ctx} input states + 1 target, ${stride} record(s) apart)`,
      );
    }
    trajs.push({ path, task: meta.task, seed: meta.seed, graph: tg.gi, params: records.map((x) => x.params), steps: records.map((x) => x.step), stride });
  }
  if (!trajs.length) throw new TrajectoryDataError('no trajectories given');
  const maxFeat = Math.max(...graphs.map((g) => g.graph.maxFeat));
  return { graphs, trajs, maxFeat };
}

/**
 * Splits by whole trajectory: per task the `val` highest seeds are held out. Tasks with a single
 * trajectory stay in training only when val would take them all (a warning is logged).
 */
export function splitByTrajectory(set: TrajectorySet, val: number, logger: Logger = silentLogger): { train: number[]; val: number[] } {
  const train: number[] = [];
  const held: number[] = [];
  const tasks = [...new Set(set.trajs.map((t) => t.task))];
  for (const task of tasks) {
    const ids = set.trajs.map((t, i) => ({ t, i })).filter((x) => x.t.task === task).sort((a, b) => a.t.seed - b.t.seed);
    if (val > 0 && ids.length <= val) {
      throw new TrajectoryDataError(`task ${task} has ${ids.length} trajectories; holding out --val ${val} would leave none for training`);
    }
    const cut = ids.length - val;
    ids.forEach((x, j) => (j < cut ? train : held).push(x.i));
  }
  if (val > 0) logger.info({ train: train.length, val: held.length }, 'split by trajectory');
  return { train, val: held };
}

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
  /** number of valid horizons (1..seqLen) */
  horizons: number;
  /** number of valid (slot, horizon) targets */
  count: number;
  /** per-LPE-column signs (+-1) for this sample, or undefined (no flips) */
  lpeSign?: Float32Array;
  /** train on this subgraph only (wte row subsampling), or undefined (whole graph) */
  subset?: Subset | null;
}

/**
 * One window: ctx inputs at records start + j*stride, targets at start + (ctx-1+h)*stride, h = 1..seqLen.
 */
export function makeSample(set: TrajectorySet, ti: number, start: number, ctx: number, seqLen: number): Sample {
  const t = set.trajs[ti];
  const tg = set.graphs[t.graph];
  const g = tg.graph;
  const s = t.stride;
  const R = t.params.length;
  if (start < 0 || start + ctx * s > R - 1) throw new Error(`window start ${start} out of range for ${t.path} (${R} records, ctx ${ctx}, stride ${s})`);
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
  const H = Math.min(seqLen, Math.floor((R - 1 - end) / s));
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

export interface Batch {
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
  hmax: number;
  /** [E*F*hmax] */
  target: Float32Array;
  mask: Float32Array;
  /** sum of mask */
  count: number;
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

/** Disjoint union of the samples' graphs (or their `subset`s), all padded to F feature slots. */
export function assembleBatch(set: TrajectorySet, samples: readonly Sample[], F: number, ctx: number, _seqLen: number, lpe: number): Batch {
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
  const hmax = Math.max(1, ...samples.map((s) => s.horizons));
  const target = new Float32Array(E * F * hmax);
  const mask = new Float32Array(E * F * hmax);
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
        const to = ((eo + i) * F + f) * hmax;
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
      if (pos) for (let k = 0; k < lpe; k++) pos[(no + j) * lpe + k] = sign ? tg.pos![v * lpe + k] * sign[k] : tg.pos![v * lpe + k];
    }
    eo += ne;
    no += nn;
  }
  return { E, F, edgeAttr, edgeIndex, edgeType, pos, posW, numNodes: N, hmax, target, mask, count };
}

/**
 * Baseline errors of a sample, per horizon (sum of |pred - target| over valid slots, scaled space):
 * "last" (delta 0) and linefit (least-squares line through the ctx states, extrapolated h intervals).
 */
export function baselineErrors(set: TrajectorySet, s: Sample, ctx: number, seqLen: number): { last: Float64Array; linefit: Float64Array; count: Float64Array } {
  const g = set.graphs[s.graph].graph;
  const SL = g.numEdges * g.maxFeat;
  const last = new Float64Array(seqLen);
  const linefit = new Float64Array(seqLen);
  const count = new Float64Array(seqLen);
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

/** Short display name of a trajectory file */
export function trajLabel(t: TrajData): string {
  return `${t.task}/seed-${t.seed} (${basename(dirname(t.path))}/${basename(t.path)})`;
}
