/**
 * Connects a nowcasting model (src/model: NiNo GNN, per-parameter MLP, linefit) to a network's
 * parameters through its neural graph: states -> per-tensor scaling -> edge features -> model ->
 * parameters -> unscaling. This is the official `NiNo.step` prediction path.
 *
 *   const nc = new GraphNowcaster(model, buildNeuralGraph('gpt2', specs, { numHeads: 4 }), { lpeSeed: 0 });
 *   const next = nc.nowcast(states, 40);   // states [numParams, ctx]
 *
 * With `subgraph: true` (official `subgraph=True`) a transformer graph is nowcast one block at a time
 * (see subgraph.ts: partition, per-subgraph LPE, scatter back); graphs without transformer blocks
 * (conv/mlp) log one warning and run whole.
 */
import { Rng } from '../core/rng.ts';
import type { Logger } from '../core/logger.ts';
import { laplacianPE, toEdges, toVector, type NeuralGraph } from '../graph/index.ts';
import type { NowcastModel } from '../model/types.ts';
import { scaleStates, unscaleVector } from '../trajectories/scale.ts';
import type { Nowcaster } from './nino.ts';
import {
  partitionTransformerGraph,
  predictBySubgraph,
  slicePositions,
  subgraphPositions,
  type SubgraphPartition,
} from './subgraph.ts';

export interface GraphNowcasterOptions {
  /** seed of the LPE sign flips (fixed once per graph, as in the official code) */
  lpeSeed?: number;
  /**
   * precomputed positional encodings of the full graph [N*lpe] (skips the eigen-solve); in subgraph mode
   * each block uses its nodes' rows of it instead of its own LPE
   */
  pos?: Float32Array;
  /** nowcast transformer graphs one block at a time (official `subgraph=True`); default false */
  subgraph?: boolean;
  /** receives the "no transformer blocks, running the whole graph" warning of subgraph mode */
  logger?: Pick<Logger, 'warn'>;
}

export class GraphNowcaster implements Nowcaster {
  readonly name: string;
  readonly ctx: number;
  readonly maxHorizon: number;
  /** the block partition when subgraph mode is active (null: whole graph) */
  readonly partition: SubgraphPartition | null = null;
  private pos: Float32Array | undefined;
  private subPos: Float32Array[] | undefined;
  private edgeAttr: Float32Array | undefined;
  private scratch: Float32Array | undefined;

  constructor(
    readonly model: NowcastModel,
    readonly graph: NeuralGraph,
    private readonly o: GraphNowcasterOptions = {},
  ) {
    this.name = model.name;
    this.ctx = model.ctx;
    this.maxHorizon = Number.isFinite(model.maxHorizon) ? model.maxHorizon : 40;
    if (graph.maxFeat > model.maxFeat) {
      throw new Error(
        `graph has ${graph.maxFeat} feature slots per edge, nowcaster '${model.name}' supports at most ${model.maxFeat}`,
      );
    }
    this.pos = o.pos;
    if (o.subgraph) {
      this.partition = partitionTransformerGraph(graph);
      if (!this.partition) {
        o.logger?.warn(
          { arch: graph.arch, nowcaster: model.name },
          `subgraph mode needs a transformer graph (transformer.h.{i}. / model.layers.{i}. blocks); '${graph.arch}' graph has none, nowcasting the whole graph`,
        );
      }
    }
  }

  /** LPE of the graph, computed on first use when the model needs it. */
  positions(): Float32Array | undefined {
    if (this.model.lpe > 0 && this.model.needsGraph && !this.pos) {
      this.pos = laplacianPE(this.graph, { k: this.model.lpe, rng: new Rng(this.o.lpeSeed ?? 0).fork('lpe') }).pos;
    }
    return this.pos;
  }

  /** Per-block LPEs in subgraph mode (computed once; rows of the given full pos if one was passed). */
  subgraphPositions(): Float32Array[] | undefined {
    const part = this.partition;
    if (!part || !(this.model.lpe > 0 && this.model.needsGraph)) return undefined;
    this.subPos ??= this.pos
      ? slicePositions(part, this.pos, this.model.lpe)
      : subgraphPositions(part, this.model.lpe, this.o.lpeSeed ?? 0);
    return this.subPos;
  }

  nowcast(states: Float32Array, k: number): Float32Array {
    const g = this.graph;
    const { scaled, scales } = scaleStates(states, g.layout, this.ctx);
    this.edgeAttr = toEdges(g, scaled, this.ctx, this.edgeAttr);
    const kk = Math.min(k, this.maxHorizon);
    let out: Float32Array;
    if (this.partition) {
      const part = this.partition;
      this.scratch ??= new Float32Array(part.maxEdges * g.maxFeat * this.ctx);
      out = predictBySubgraph(this.model, g, part, this.edgeAttr, {
        ctx: this.ctx,
        k: kk,
        pos: this.subgraphPositions(),
        scratch: this.scratch,
      });
    } else {
      out = this.model.predict({
        edgeAttr: this.edgeAttr,
        F: g.maxFeat,
        ctx: this.ctx,
        edgeIndex: g.edgeIndex,
        edgeType: g.edgeType,
        pos: this.positions(),
        posW: g.posW,
        numNodes: g.numNodes,
        k: kk,
      });
    }
    return unscaleVector(toVector(g, out), g.layout, scales);
  }
}
