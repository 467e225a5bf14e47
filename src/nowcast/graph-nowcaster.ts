/**
 * Connects a nowcasting model (src/model: NiNo GNN, per-parameter MLP, linefit) to a network's
 * parameters through its neural graph: states -> per-tensor scaling -> edge features -> model ->
 * parameters -> unscaling. This is the official `NiNo.step` prediction path.
 *
 *   const nc = new GraphNowcaster(model, buildNeuralGraph('gpt2', specs, { numHeads: 4 }), { lpeSeed: 0 });
 *   const next = nc.nowcast(states, 40);   // states [numParams, ctx]
 */
import { Rng } from '../core/rng.ts';
import { laplacianPE, toEdges, toVector, type NeuralGraph } from '../graph/index.ts';
import type { Nowcaster } from '../model/types.ts';
import { scaleStates, unscaleVector } from '../trajectories/scale.ts';
import type { ParamNowcaster } from './nino.ts';

export interface GraphNowcasterOptions {
  /** seed of the LPE sign flips (fixed once per graph, as in the official code) */
  lpeSeed?: number;
  /** precomputed positional encodings [N*lpe] (skips the eigen-solve) */
  pos?: Float32Array;
}

export class GraphNowcaster implements ParamNowcaster {
  readonly name: string;
  readonly ctx: number;
  readonly maxHorizon: number;
  private pos: Float32Array | undefined;
  private edgeAttr: Float32Array | undefined;

  constructor(
    readonly model: Nowcaster,
    readonly graph: NeuralGraph,
    private readonly o: GraphNowcasterOptions = {},
  ) {
    this.name = model.name;
    this.ctx = model.ctx;
    this.maxHorizon = Number.isFinite(model.seqLen) ? model.seqLen : 40;
    if (graph.maxFeat > model.maxFeat) {
      throw new Error(`graph has ${graph.maxFeat} feature slots per edge, nowcaster '${model.name}' supports at most ${model.maxFeat}`);
    }
    this.pos = o.pos;
  }

  /** LPE of the graph, computed on first use when the model needs it. */
  positions(): Float32Array | undefined {
    if (this.model.lpe > 0 && this.model.needsGraph && !this.pos) {
      this.pos = laplacianPE(this.graph, { k: this.model.lpe, rng: new Rng(this.o.lpeSeed ?? 0).fork('lpe') }).pos;
    }
    return this.pos;
  }

  nowcast(states: Float32Array, k: number): Float32Array {
    const g = this.graph;
    const { scaled, scales } = scaleStates(states, g.layout, this.ctx);
    this.edgeAttr = toEdges(g, scaled, this.ctx, this.edgeAttr);
    const out = this.model.predict({
      edgeAttr: this.edgeAttr,
      F: g.maxFeat,
      ctx: this.ctx,
      edgeIndex: g.edgeIndex,
      edgeType: g.edgeType,
      pos: this.positions(),
      posW: g.posW,
      numNodes: g.numNodes,
      k: Math.min(k, this.maxHorizon),
    });
    return unscaleVector(toVector(g, out), g.layout, scales);
  }
}
