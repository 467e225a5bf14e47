/**
 * The NiNo GNN as an inference `NowcastModel` (official `NiNoModel` with PNA layers, checkpoint
 * `nino_no_posw`): the definition in nino-layer.ts run on the inference op set (infer-ops.ts:
 * transposed + folded weights, edge chunks, host gathers, bounded memory, no tensor leaks), plus edge
 * sampling. The differentiable all-horizon forward is `gnnTrainForward` (train-ops.ts).
 */
import { Rng } from '../core/rng.ts';
import type { NiNoConfig } from './config.ts';
import { InferenceGnnOps, InferenceWeights } from './infer-ops.ts';
import { gnnForward } from './nino-layer.ts';
import type { NowcastModel, NowcastInput } from './types.ts';
import { applyResidual, validateInput } from './types.ts';
import type { HostWeights, Weights } from './weights.ts';
import { adoptWeights, disposeWeights } from './weights.ts';

/** edge type id of the self-loops appended by the neural graph builders */
export const SELF_LOOP_TYPE = 13;

export interface GnnRunOptions {
  /** process edge-wise parts in chunks of this many edges (0 = all at once) */
  chunkEdges?: number;
  /** fraction of non-self-loop edges dropped from message passing (overrides the config) */
  edgeSampleRatio?: number;
  /** seed of the edge-sampling stream (advances with every call) */
  seed?: number;
  /** debug: collects intermediates (per chunk, in edge order) under the golden-data names */
  trace?: Record<string, Float32Array[]>;
  /** profiling: adds wall-clock ms per phase (embed, messages{l}, node{l}, edges{l}, out) */
  timings?: Record<string, number>;
}

/**
 * Indices of the edges that take part in message passing: all self-loops and a seeded random
 * (1 - ratio) share of the other edges (exact count, round(ratio * #non-self-loop) dropped).
 * Returns null when ratio <= 0 (all edges).
 */
export function sampleMessageEdges(edgeType: Int32Array, ratio: number, rng: Rng): Int32Array | null {
  if (!(ratio > 0)) return null;
  if (ratio >= 1) throw new Error(`edgeSampleRatio must be in [0, 1), got ${ratio}`);
  const other: number[] = [];
  for (let i = 0; i < edgeType.length; i++) if (edgeType[i] !== SELF_LOOP_TYPE) other.push(i);
  const nDrop = Math.round(ratio * other.length);
  // partial Fisher-Yates: the first nDrop positions are the dropped edges
  for (let i = 0; i < nDrop; i++) {
    const j = i + rng.int(other.length - i);
    const t = other[i];
    other[i] = other[j];
    other[j] = t;
  }
  const keep = new Uint8Array(edgeType.length).fill(1);
  for (let i = 0; i < nDrop; i++) keep[other[i]] = 0;
  const out = new Int32Array(edgeType.length - nDrop);
  let c = 0;
  for (let i = 0; i < keep.length; i++) if (keep[i]) out[c++] = i;
  return out;
}

function checkGraph(edgeIndex: Int32Array, E: number, N: number): void {
  if (edgeIndex.length !== 2 * E) throw new Error(`edgeIndex has ${edgeIndex.length} entries, expected 2*E = ${2 * E}`);
  for (let i = 0; i < edgeIndex.length; i++) {
    const v = edgeIndex[i];
    if (v < 0 || v >= N) throw new Error(`edgeIndex[${i}] = ${v} out of range for numNodes = ${N}`);
  }
}

/**
 * The NiNo GNN as a NowcastModel (inference; edge-chunked).
 * Weights: host arrays (copied to tensors, freed by dispose()) or tensors/variables (caller keeps
 * ownership). Transposed and folded copies are made at construction, so later changes to passed-in
 * variables are not seen: build a new NiNoGnn (cheap) after a training step.
 */
export class NiNoGnn implements NowcastModel {
  readonly kind = 'gnn' as const;
  readonly needsGraph = true;
  readonly weights: Weights;
  private readonly prepared: InferenceWeights;
  private readonly rng: Rng;
  /** true when the weights were created here from host arrays (then dispose() frees them) */
  private readonly ownsWeights: boolean;
  private disposed = false;

  constructor(
    readonly config: NiNoConfig,
    weights: Weights | HostWeights,
    readonly options: GnnRunOptions = {},
    readonly name = 'nino',
  ) {
    if (config.kind !== 'gnn') throw new Error(`NiNoGnn needs a gnn config, got kind '${config.kind}'`);
    ({ weights: this.weights, owns: this.ownsWeights } = adoptWeights(weights, config, name));
    this.prepared = new InferenceWeights(this.weights, config);
    this.rng = new Rng(options.seed ?? 0);
  }

  get ctx() {
    return this.config.ctx;
  }
  get maxHorizon() {
    return this.config.maxHorizon;
  }
  get maxFeat() {
    return this.config.maxFeat;
  }
  get lpe() {
    return this.config.lpe;
  }
  get updScale() {
    return this.config.updScale;
  }

  predict(input: NowcastInput): Float32Array {
    return applyResidual(input, this.predictDelta(input), this.config.updScale);
  }

  predictDelta(inp: NowcastInput, opts: GnnRunOptions = {}): Float32Array {
    if (this.disposed) throw new Error('NiNoGnn used after dispose()');
    const cfg = this.config;
    const E = validateInput(inp, cfg.ctx, cfg.maxFeat, cfg.maxHorizon);
    checkGraph(inp.edgeIndex, E, inp.numNodes);
    const o = { ...this.options, ...opts };
    const messageEdges = sampleMessageEdges(inp.edgeType, o.edgeSampleRatio ?? cfg.edgeSampleRatio, this.rng);
    const ops = new InferenceGnnOps(this.prepared, cfg, inp, {
      chunkEdges: o.chunkEdges,
      messageEdges,
      trace: o.trace,
      timings: o.timings,
    });
    try {
      return gnnForward(ops, cfg);
    } finally {
      ops.close();
    }
  }

  dispose(): void {
    if (!this.disposed) {
      this.prepared.dispose();
      if (this.ownsWeights) disposeWeights(this.weights);
    }
    this.disposed = true;
  }
}
