/**
 * The inference op set of the NiNo definitions (nino-layer.ts): one horizon k, bounded memory, no
 * tensor leaks, tuned for tfjs-wasm:
 *   - Linear weights transposed once per model (wasm's matMul with transposeB is ~10x slower);
 *   - GNN: each EdgeMLP's final `lin1` folded into the Linears that consume its output (next layer's
 *     edge_encoder halves and lin_e, or edge_out.fc.0):  (u W1 + b1) W + b = u (W1 W) + (b1 W + b),
 *     so the edge state kept between layers is u = silu(z) and lin1 (H*H MACs per edge and layer) is
 *     never evaluated. Same math; float32 rounding differs at the 1e-7 level;
 *   - edge-wise work in chunks of edges, node tables and the mean aggregation on the host (embedding
 *     and per-edge gathers there too: tfjs-wasm's gather is slow), edge sampling by a message-edge subset.
 *   const w = new InferenceWeights(weights, cfg);  ...  new InferenceGnnOps(w, cfg, input, opts)
 */
import * as tf from '@tensorflow/tfjs';
import type { NiNoConfig } from './config.ts';
import { gather2Host, gatherHost, inDegree, segmentSumAccumulateHost } from './graph-ops.ts';
import type { GnnOps, LayerOps, LinearPart } from './nino-layer.ts';
import { edgeUpdateLayers } from './nino-layer.ts';
import type { NowcastInput } from './types.ts';
import type { Weights } from './weights.ts';

/** [in,out] weight + bias of one linear map */
interface LinWB {
  WT: tf.Tensor2D;
  b: tf.Tensor1D;
}

/** y = x WT + b  (x [M,in], WT [in,out], b [out]); one fused kernel */
function lin(x: tf.Tensor2D, WT: tf.Tensor2D, b?: tf.Tensor): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: WT, bias: b }) as tf.Tensor2D;
}

/**
 * A model's weights prepared for inference: Linear weights transposed to [in, out], host copies of
 * embedding tables, and (GNN) the lin1-folded edge Linears. Made once per model; dispose() frees the copies.
 */
export class InferenceWeights {
  private readonly transposed = new Map<string, tf.Tensor2D>();
  private readonly hostTables = new Map<string, Float32Array>();
  /** folded Linears by module name, and the folded halves of the split ones (edge_encoder) */
  readonly folded = new Map<string, LinWB>();
  readonly foldedSplit = new Map<string, [LinWB, LinWB]>();
  private readonly keep: tf.Tensor[] = [];

  constructor(
    readonly ws: Weights,
    cfg: NiNoConfig,
  ) {
    for (const [k, x] of Object.entries(ws)) {
      if (k.endsWith('.weight') && x.rank === 2 && !k.startsWith('layer_embed') && !k.startsWith('wte_pos_enc')) {
        this.transposed.set(k.slice(0, -'.weight'.length), tf.keep(tf.transpose(x as tf.Tensor2D)));
      }
    }
    if (cfg.kind === 'gnn') this.foldEdgeLinears(cfg);
  }

  /** [in, out] transposed weight of Linear `name` */
  t(name: string): tf.Tensor2D {
    const x = this.transposed.get(name);
    if (!x) throw new Error(`missing weight '${name}.weight'`);
    return x;
  }

  /** a raw weight tensor by full name */
  v(name: string): tf.Tensor {
    const t = this.ws[name];
    if (!t) throw new Error(`missing weight '${name}'`);
    return t;
  }

  /** host copy of a weight tensor by full name (cached) */
  host(name: string): Float32Array {
    let t = this.hostTables.get(name);
    if (!t) this.hostTables.set(name, (t = Float32Array.from(this.v(name).dataSync() as Float32Array)));
    return t;
  }

  private foldEdgeLinears(cfg: NiNoConfig): void {
    const H = cfg.hid;
    const nUpd = edgeUpdateLayers(cfg);
    /** W, b of a Linear applied to the output of layer l-1's lin1 (l = 0: to the edge embedding) */
    const fold = (l: number, WT: tf.Tensor2D, b: tf.Tensor1D): LinWB => {
      const [W2, b2] = tf.tidy(() => {
        if (l === 0) return [tf.clone(WT), tf.clone(b)];
        const p = `gnn.edge_update.${l - 1}.lin1`;
        const W1T = this.t(p);
        const b1 = this.v(`${p}.bias`);
        return [tf.matMul(W1T, WT), tf.add(tf.squeeze(tf.matMul(tf.reshape(b1, [1, H]), WT), [0]), b)];
      });
      // fresh rank-1 bias record (tfjs-wasm's fused matMul reads the bias rank from its data record)
      const r: LinWB = { WT: W2 as tf.Tensor2D, b: tf.tensor1d(b2.dataSync() as Float32Array) };
      b2.dispose();
      this.keep.push(r.WT, r.b);
      return r;
    };
    for (let l = 0; l < nUpd; l++) {
      const p = `gnn.convs.${l}.edge_encoder`;
      const [encT, encB] = [this.t(p), this.v(`${p}.bias`)];
      const halves = tf.tidy(() => [
        tf.slice(encT, [0, 0], [H, H]),
        tf.slice(encB, [0], [H]),
        tf.slice(encT, [0, H], [H, H]),
        tf.slice(encB, [H], [H]),
      ]);
      this.foldedSplit.set(p, [
        fold(l, halves[0] as tf.Tensor2D, halves[1] as tf.Tensor1D),
        fold(l, halves[2] as tf.Tensor2D, halves[3] as tf.Tensor1D),
      ]);
      tf.dispose(halves);
      const q = `gnn.edge_update.${l}.lin_e`;
      this.folded.set(q, fold(l, this.t(q), this.v(`${q}.bias`) as tf.Tensor1D));
    }
    this.folded.set('edge_out.fc.0', fold(nUpd, this.t('edge_out.fc.0'), this.v('edge_out.fc.0.bias') as tf.Tensor1D));
  }

  dispose(): void {
    this.transposed.forEach((x) => x.dispose());
    tf.dispose(this.keep);
  }
}

/** Linear / embedding / head ops for horizon k; call close() when the forward is done. */
export class InferenceOps implements LayerOps {
  private readonly heads = new Map<string, LinWB>();

  constructor(
    protected readonly w: InferenceWeights,
    protected readonly cfg: NiNoConfig,
    private readonly k: number,
    protected readonly trace?: Record<string, Float32Array[]>,
  ) {}

  /** folded Linears (GNN edge consumers) use their folded weights; see InferenceWeights */
  linear(x: tf.Tensor2D, name: string, part?: LinearPart): tf.Tensor2D {
    const f = part ? undefined : this.w.folded.get(name);
    if (f) return lin(x, f.WT, f.b);
    let WT = this.w.t(name);
    if (part?.in) WT = tf.slice(WT, [part.in[0], 0], [part.in[1], WT.shape[1]]);
    return lin(x, WT, part?.bias === false ? undefined : this.w.v(`${name}.bias`));
  }

  linearSplit(x: tf.Tensor2D, name: string, at: number): [tf.Tensor2D, tf.Tensor2D] {
    const f = this.w.foldedSplit.get(name);
    if (f) return [lin(x, f[0].WT, f[0].b), lin(x, f[1].WT, f[1].b)];
    const y = this.linear(x, name);
    const [n, out] = y.shape;
    return [tf.slice(y, [0, 0], [n, at]), tf.slice(y, [0, at], [n, out - at])];
  }

  embed(name: string, idx: Int32Array): tf.Tensor2D {
    const full = `${name}.weight`;
    return gatherHost(this.w.host(full), idx, this.w.v(full).shape[1]!);
  }

  /** the head's rows f*S + (k-1) are gathered once per forward */
  outHead(x: tf.Tensor2D, name: string, _maxFeat: number, F: number): tf.Tensor2D {
    let h = this.heads.get(name);
    if (!h) {
      const S = this.cfg.maxHorizon;
      const k = this.k;
      const [WT, b] = tf.tidy(() => {
        const rows = tf.tensor1d(
          Int32Array.from({ length: F }, (_, f) => f * S + (k - 1)),
          'int32',
        );
        // bias rebuilt as a fresh rank-1 tensor: tfjs-wasm's fused matMul reads the bias rank from
        // its data record, which for a gather result is the pre-reshape rank
        const bAll = this.w.v(`${name}.bias`).dataSync();
        const bRows = Float32Array.from({ length: F }, (_, f) => bAll[f * S + (k - 1)]);
        return [tf.gather(this.w.t(name), rows, 1), tf.tensor1d(bRows)];
      });
      this.heads.set(name, (h = { WT: tf.keep(WT) as tf.Tensor2D, b: tf.keep(b) as tf.Tensor1D }));
    }
    return lin(x, h.WT, h.b);
  }

  rec(name: string, t: tf.Tensor): void {
    if (this.trace) (this.trace[name] ??= []).push(Float32Array.from(t.dataSync() as Float32Array));
  }

  close(): void {
    this.heads.forEach((h) => tf.dispose([h.WT, h.b]));
    this.heads.clear();
  }
}

export interface InferenceGnnOptions {
  /** edges per chunk (0 = all at once) */
  chunkEdges?: number;
  /** sorted ids of the edges that take part in message passing (null = all) */
  messageEdges?: Int32Array | null;
  trace?: Record<string, Float32Array[]>;
  /** adds wall-clock ms per phase */
  timings?: Record<string, number>;
}

/**
 * The GNN's graph-level ops for one NowcastInput: the edge state is one tensor per edge chunk, node
 * tables are host arrays, and the mean aggregation is accumulated on the host in edge order.
 * Tensors it hands out are tracked; close() frees what is left (also after an error).
 */
export class InferenceGnnOps extends InferenceOps implements GnnOps<tf.Tensor2D[], Float32Array, Float32Array> {
  readonly numNodes: number;
  readonly F: number;
  readonly posW?: Int32Array;
  private readonly H: number;
  private readonly ranges: [number, number][] = [];
  private readonly src: Int32Array;
  private readonly dst: Int32Array;
  /** per chunk: the (global) ids of its message edges and their local ids; null = all */
  private readonly mp: ({ glob: Int32Array; local: Int32Array } | null)[];
  private readonly cnt: tf.Tensor2D;
  private readonly live = new Set<tf.Tensor>();
  private tPhase = performance.now();

  constructor(
    w: InferenceWeights,
    cfg: NiNoConfig,
    private readonly inp: NowcastInput,
    private readonly o: InferenceGnnOptions = {},
  ) {
    super(w, cfg, inp.k, o.trace);
    const E = inp.edgeType.length;
    this.numNodes = inp.numNodes;
    this.F = inp.F;
    this.posW = inp.posW;
    this.H = cfg.hid;
    const chunk = o.chunkEdges && o.chunkEdges > 0 ? o.chunkEdges : Math.max(E, 1);
    for (let a = 0; a < E; a += chunk) this.ranges.push([a, Math.min(E, a + chunk)]);
    this.src = inp.edgeIndex.subarray(0, E);
    this.dst = inp.edgeIndex.subarray(E, 2 * E);
    const sub = o.messageEdges ?? null;
    this.mp = this.ranges.map(([a, b]) => {
      if (!sub) return null;
      const glob = sub.subarray(lowerBound(sub, a), lowerBound(sub, b));
      return { glob, local: glob.map((i) => i - a) };
    });
    this.cnt = tf.tensor2d(inDegree(this.dst, this.numNodes, sub), [this.numNodes, 1]);
  }

  private track<T extends tf.Tensor | tf.Tensor[]>(t: T): T {
    for (const x of Array.isArray(t) ? t : [t]) this.live.add(x);
    return t;
  }

  private release(ts: Iterable<tf.Tensor>): void {
    for (const t of ts) {
      this.live.delete(t);
      t.dispose();
    }
  }

  private slice(arr: Int32Array, c: number): Int32Array {
    return arr.subarray(this.ranges[c][0], this.ranges[c][1]);
  }

  pos(): tf.Tensor2D | undefined {
    const { pos, numNodes: N } = this.inp;
    const lpe = this.cfg.lpe;
    if (!pos || lpe === 0) return undefined;
    if (pos.length !== N * lpe) throw new Error(`pos has ${pos.length} values, expected N*lpe = ${N * lpe}`);
    return tf.tensor2d(pos, [N, lpe]);
  }

  step<T extends tf.Tensor | tf.Tensor[]>(f: () => T, done: tf.Tensor[] = []): T {
    const r = this.track(tf.tidy(f));
    this.release(done);
    return r;
  }

  table(t: tf.Tensor2D): Float32Array {
    const h = t.dataSync() as Float32Array;
    this.release([t]);
    return h;
  }

  edges(f: (edgeAttr: tf.Tensor2D, edgeType: Int32Array) => tf.Tensor2D): tf.Tensor2D[] {
    const { F, ctx } = this.inp;
    return this.ranges.map(([a, b]) =>
      this.track(
        tf.tidy(() =>
          f(
            tf.tensor2d(this.inp.edgeAttr.subarray(a * F * ctx, b * F * ctx), [b - a, F * ctx]),
            this.inp.edgeType.subarray(a, b),
          ),
        ),
      ),
    );
  }

  meanMessages(
    e: tf.Tensor2D[],
    A: Float32Array,
    B: Float32Array,
    msg: (e: tf.Tensor2D, h: tf.Tensor2D) => tf.Tensor2D,
  ): tf.Tensor2D {
    const { H, src, dst } = this;
    const aggHost = new Float32Array(this.numNodes * H);
    for (let c = 0; c < this.ranges.length; c++) {
      const m0 = this.mp[c];
      if (m0 && m0.glob.length === 0) continue;
      let d = this.slice(dst, c);
      const m = tf.tidy(() => {
        let eM = e[c];
        let s = this.slice(src, c);
        if (m0) {
          eM = gatherHost(eM.dataSync() as Float32Array, m0.local, H);
          s = m0.glob.map((i) => src[i]);
          d = m0.glob.map((i) => dst[i]);
        }
        return msg(eM, gather2Host(A, d, B, s, H));
      });
      segmentSumAccumulateHost(aggHost, m.dataSync() as Float32Array, d, H);
      m.dispose();
    }
    const aggSum = tf.tensor2d(aggHost, [this.numNodes, H]);
    const agg = tf.tidy(() => tf.div(aggSum, this.cnt) as tf.Tensor2D);
    aggSum.dispose();
    return this.track(agg);
  }

  updateEdges(
    e: tf.Tensor2D[],
    S: Float32Array,
    T: Float32Array,
    upd: (e: tf.Tensor2D, st: tf.Tensor2D) => tf.Tensor2D,
  ): tf.Tensor2D[] {
    return e.map((eC, c) => {
      const eNew = this.track(
        tf.tidy(() => upd(eC, gather2Host(S, this.slice(this.src, c), T, this.slice(this.dst, c), this.H))),
      );
      this.release([eC]);
      return eNew;
    });
  }

  /** lin1 is folded into the edge state's consumers: the state stays u (lin1 only runs for a trace) */
  edgeOut(name: string, u: tf.Tensor2D, traceName: string): tf.Tensor2D {
    if (this.trace) this.rec(traceName, lin(u, this.w.t(name), this.w.v(`${name}.bias`)));
    return u;
  }

  result(e: tf.Tensor2D[], f: (e: tf.Tensor2D) => tf.Tensor2D): Float32Array {
    const out = new Float32Array(this.inp.edgeType.length * this.F);
    for (let c = 0; c < this.ranges.length; c++) {
      const d = tf.tidy(() => f(e[c]));
      out.set(d.dataSync() as Float32Array, this.ranges[c][0] * this.F);
      d.dispose();
    }
    return out;
  }

  mark(name: string): void {
    const now = performance.now();
    if (this.o.timings) this.o.timings[name] = (this.o.timings[name] ?? 0) + now - this.tPhase;
    this.tPhase = now;
  }

  override close(): void {
    super.close();
    this.release([...this.live]);
    this.cnt.dispose();
  }
}

function lowerBound(a: Int32Array, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
