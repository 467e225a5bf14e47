/**
 * What the tfjs optimizer and the model.fit callback share: options, checks done at construction
 * (before any training step), the nowcaster for a tf.LayersModel and the NiNoCore that drives it.
 *
 *   const { core, io, graph } = setupNiNo({ model, ckpt: 'official:nino_no_posw', period: 1000 });
 */
import * as tf from '@tensorflow/tfjs';
import type { Logger } from '../core/logger.ts';
import { loadNowcastModel } from '../model/registry.ts';
import { GraphNowcaster } from '../nowcast/graph-nowcaster.ts';
import { defaultNowcasterRef } from '../nowcast/index.ts';
import { NiNoCore, type FlatParamIO, type Nowcaster } from '../nowcast/nino.ts';
import { nowcasterPath } from '../nowcast/resolve.ts';
import { modelGraph, type ModelGraph } from './graph.ts';

export interface TfjsNiNoOptions {
  /** the model whose own weights are nowcast (Sequential or functional, built) */
  model: tf.LayersModel;
  /**
   * nowcaster: 'project' (nino's own GNN, the default), 'project-mlp', 'official:nino_no_posw',
   * 'official:nino_mlp', 'linefit' or a checkpoint path; null = never nowcast
   */
  ckpt?: string | null;
  /** base steps between nowcasts (official 1000); a multiple of the nowcaster's ctx (5) */
  period?: number;
  /** training length the horizon schedule (k = 40 -> 1) is spread over (official 10000) */
  maxTrainSteps?: number;
  /** horizon decay power (official 2) */
  p?: number;
  /** seed of the Laplacian positional encodings' sign flips */
  lpeSeed?: number;
  /** precomputed Laplacian positional encodings [numNodes*8] (skips the eigen-solve) */
  pos?: Float32Array;
  /** edges per chunk in the GNN (bounds memory on large models; 0 = all at once) */
  chunkEdges?: number;
  /** receives warnings (a NaN nowcast skipped); default: console.warn */
  logger?: Logger;
}

export interface NiNoSetup {
  core: NiNoCore;
  io: FlatParamIO;
  graph: ModelGraph;
  nowcaster: Nowcaster | null;
}

/** console.warn for warnings, nothing else: what a library user sees by default. */
export const consoleWarnLogger: Logger = {
  info: () => {},
  debug: () => {},
  warn: (obj, msg) =>
    console.warn(
      `nino: ${msg ?? (typeof obj === 'string' ? obj : '')}`,
      typeof obj === 'string' ? '' : JSON.stringify(obj),
    ),
  error: (obj, msg) =>
    console.error(
      `nino: ${msg ?? (typeof obj === 'string' ? obj : '')}`,
      typeof obj === 'string' ? '' : JSON.stringify(obj),
    ),
};

export function setupNiNo(o: TfjsNiNoOptions, who: string): NiNoSetup {
  if (!o || typeof o !== 'object') throw new Error(`${who}: expected an options object { model, ... }`);
  if (!(o.model instanceof tf.LayersModel)) {
    throw new Error(
      `${who}: 'model' must be a tf.LayersModel (tf.sequential or tf.model) from the same @tensorflow/tfjs as nino's, got ${o.model === undefined ? 'nothing' : String((o.model as object)?.constructor?.name ?? typeof o.model)}`,
    );
  }
  const logger = o.logger ?? consoleWarnLogger;
  const ref = o.ckpt === undefined ? defaultNowcasterRef() : o.ckpt;
  if (ref === null) {
    const graph = modelGraph(o.model);
    const core = new NiNoCore({ nowcaster: null, period: o.period, maxTrainSteps: o.maxTrainSteps, p: o.p, logger });
    return { core, io: graph, graph, nowcaster: null };
  }
  const path = nowcasterPath(ref);
  const model = loadNowcastModel(path ?? 'linefit', { chunkEdges: o.chunkEdges });
  try {
    const graph = modelGraph(o.model, { maxFeat: model.maxFeat });
    const nowcaster = new GraphNowcaster(model, graph.graph, { lpeSeed: o.lpeSeed, pos: o.pos, logger });
    if (o.pos && o.pos.length !== graph.graph.numNodes * model.lpe) {
      throw new Error(
        `${who}: pos has ${o.pos.length} values, the model's graph needs ${graph.graph.numNodes}*${model.lpe}`,
      );
    }
    const core = new NiNoCore({ nowcaster, period: o.period, maxTrainSteps: o.maxTrainSteps, p: o.p, logger });
    return { core, io: graph, graph, nowcaster };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
