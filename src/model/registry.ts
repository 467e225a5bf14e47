/**
 * Builds nowcasters by name, so callers never care which model they get.
 *   'nino'      NiNo GNN (default config = official best model; nino_no_posw = { wtePosEnc: false })
 *   'nino_mlp'  per-parameter MLP baseline
 *   'linefit'   least-squares line extrapolation (no weights)
 *
 *   const nc = createNowcastModel('linefit');
 *   const nc = createNowcastModel('nino', { checkpoint: loadCheckpoint(p), chunkEdges: 100_000 });
 *   const nc = loadNowcastModel('/path/nino_no_posw.pt');
 */
import type { Checkpoint } from './checkpoint.ts';
import { loadCheckpoint } from './checkpoint.ts';
import type { NiNoConfig } from './config.ts';
import { makeConfig } from './config.ts';
import { NiNoGnn } from './gnn.ts';
import { LineFit } from './linefit.ts';
import { NiNoMlp } from './mlp.ts';
import type { NowcastModel } from './types.ts';
import { initHostWeights } from './weights.ts';

export interface NowcastModelOptions {
  /** trained weights + config; without it, learned models get the official random init */
  checkpoint?: Pick<Checkpoint, 'config' | 'weights'>;
  /** config overrides for a fresh (randomly initialised) model */
  config?: Partial<NiNoConfig>;
  /** init seed (fresh models) and edge-sampling seed */
  seed?: number;
  /** edges per chunk for the edge-wise parts (0 = all at once) */
  chunkEdges?: number;
  /** GNN: fraction of non-self-loop edges dropped from message passing */
  edgeSampleRatio?: number;
  /** linefit: number of states */
  ctx?: number;
}

type Factory = (o: NowcastModelOptions) => NowcastModel;

function learned(kind: 'gnn' | 'mlp', name: string): Factory {
  return (o) => {
    const config = o.checkpoint ? o.checkpoint.config : makeConfig(kind, o.config);
    if (config.kind !== kind)
      throw new Error(`nowcaster '${name}' needs a ${kind} checkpoint, got a ${config.kind} one`);
    const weights = o.checkpoint ? o.checkpoint.weights : initHostWeights(config, o.seed ?? 0);
    return kind === 'gnn'
      ? new NiNoGnn(
          config,
          weights,
          { chunkEdges: o.chunkEdges, edgeSampleRatio: o.edgeSampleRatio, seed: o.seed },
          name,
        )
      : new NiNoMlp(config, weights, { chunkEdges: o.chunkEdges }, name);
  };
}

export const NOWCASTERS: Record<string, Factory> = {
  nino: learned('gnn', 'nino'),
  nino_mlp: learned('mlp', 'nino_mlp'),
  linefit: (o) => new LineFit(o.ctx ?? 5),
};

export function nowcasterNames(): string[] {
  return Object.keys(NOWCASTERS);
}

export function createNowcastModel(name: string, opts: NowcastModelOptions = {}): NowcastModel {
  const f = Object.prototype.hasOwnProperty.call(NOWCASTERS, name) ? NOWCASTERS[name] : undefined;
  if (!f) throw new Error(`unknown nowcaster '${name}'; valid: ${nowcasterNames().join(', ')}`);
  return f(opts);
}

/** Builds the right nowcaster for a checkpoint (kind taken from its config). */
export function nowcasterFromCheckpoint(
  ck: Pick<Checkpoint, 'config' | 'weights'>,
  opts: Omit<NowcastModelOptions, 'checkpoint'> = {},
): NowcastModel {
  return createNowcastModel(ck.config.kind === 'gnn' ? 'nino' : 'nino_mlp', { ...opts, checkpoint: ck });
}

/** loadCheckpoint + nowcasterFromCheckpoint; 'linefit' is accepted as a pseudo-path. */
export function loadNowcastModel(pathOrName: string, opts: Omit<NowcastModelOptions, 'checkpoint'> = {}): NowcastModel {
  if (pathOrName === 'linefit') return new LineFit(opts.ctx ?? 5);
  return nowcasterFromCheckpoint(loadCheckpoint(pathOrName), opts);
}
