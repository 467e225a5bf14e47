/**
 * Turns a nowcaster reference into a Nowcaster for a given model:
 *   'linefit'                  least-squares line through the states (no weights)
 *   'official:<name>'          an official checkpoint (nino_no_posw, nino_mlp, nino_mlp_h32), shipped in
 *                              checkpoints/official (the `officialDir` option is looked in first; the
 *                              CLI passes $NINO_OFFICIAL_DIR)
 *   'project', 'project-mlp'   nino's own meta-trained checkpoints (checkpoints/nino-project.safetensors, the
 *                              GNN; checkpoints/nino-project-mlp.safetensors, the graph-free baseline)
 *   <path>                     a checkpoint file: nino .safetensors, official .safetensors (+ .json) or .pt
 *
 * Inference options (all optional): chunkEdges / edgeSampleRatio go to the model (GNN/MLP), subgraph
 * (nowcast a transformer one block at a time, see subgraph.ts) and lpeSeed to the GraphNowcaster.
 *
 *   const nc = await resolveNowcaster('official:nino_no_posw', { model, subgraph: true, chunkEdges: 65536, logger });
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../core/logger.ts';
import { buildNeuralGraph } from '../graph/index.ts';
import { loadNowcastModel } from '../model/registry.ts';
import type { ModelDef } from '../tasks/types.ts';
import { GraphNowcaster } from './graph-nowcaster.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const PROJECT_CHECKPOINT = join(repoRoot, 'checkpoints', 'nino-project.safetensors');
const PROJECT_REFS: Record<string, string> = {
  project: PROJECT_CHECKPOINT,
  'project-mlp': join(repoRoot, 'checkpoints', 'nino-project-mlp.safetensors'),
};

/** Where references are looked up (the caller's configuration; the library reads no environment variables). */
export interface NowcasterPathOptions {
  /** folder looked in first for 'official:<name>' (the CLI passes $NINO_OFFICIAL_DIR); default: none */
  officialDir?: string;
}

/** The official checkpoints ship in checkpoints/official; `officialDir`, when given, is looked in first. */
export function officialDirs(o: NowcasterPathOptions = {}): string[] {
  return [o.officialDir, join(repoRoot, 'checkpoints', 'official')].filter((x): x is string => !!x);
}

/** The checkpoint path a reference points to (null for linefit). */
export function nowcasterPath(ref: string, o: NowcasterPathOptions = {}): string | null {
  if (ref === 'linefit') return null;
  if (Object.hasOwn(PROJECT_REFS, ref)) {
    const p = PROJECT_REFS[ref];
    if (!existsSync(p))
      throw new Error(`the project checkpoint ${p} does not exist; run scripts/train-project-nino.sh`);
    return p;
  }
  if (ref.startsWith('official:')) {
    const name = ref.slice('official:'.length);
    for (const d of officialDirs(o)) {
      for (const ext of ['.safetensors', '.pt']) {
        const p = join(d, name + ext);
        if (existsSync(p)) return p;
      }
    }
    throw new Error(
      `official checkpoint '${name}' not found in ${officialDirs(o).join(', ')}; set NINO_OFFICIAL_DIR (officialDir in the library) or pass a file path`,
    );
  }
  if (!existsSync(ref))
    throw new Error(
      `nowcaster '${ref}' is neither 'linefit', 'project', 'official:<name>' nor an existing checkpoint file`,
    );
  return ref;
}

/** Short label for tables: 'linefit', 'nino_no_posw', file base name. */
export function nowcasterLabel(ref: string): string {
  if (ref.startsWith('official:')) return ref.slice('official:'.length);
  if (ref === 'linefit') return ref;
  if (Object.hasOwn(PROJECT_REFS, ref)) return `nino-${ref}`;
  return ref.replace(/^.*\//, '').replace(/\.(safetensors|pt)$/, '');
}

export function graphArchOf(model: ModelDef): string {
  return model.arch === 'convnet' ? 'conv' : model.arch;
}

export interface ResolveNowcasterOptions extends NowcasterPathOptions {
  model: ModelDef;
  logger?: Logger;
  /** seed of the LPE sign flips (per-subgraph LPEs derive theirs from it) */
  lpeSeed?: number;
  /** model option: edges per chunk for the edge-wise parts (0/undefined = all at once) */
  chunkEdges?: number;
  /** model option (GNN): fraction of non-self-loop edges dropped from message passing */
  edgeSampleRatio?: number;
  /** nowcast transformer graphs one block at a time (official `subgraph=True`); default false */
  subgraph?: boolean;
}

export async function resolveNowcaster(ref: string, o: ResolveNowcasterOptions): Promise<GraphNowcaster> {
  const path = nowcasterPath(ref, o);
  const nc = loadNowcastModel(path ?? 'linefit', { chunkEdges: o.chunkEdges, edgeSampleRatio: o.edgeSampleRatio });
  const graph = buildNeuralGraph(graphArchOf(o.model), o.model.specs, {
    numHeads: o.model.graphInfo.numHeads as number | undefined,
    numKvHeads: o.model.graphInfo.numKvHeads as number | undefined,
    layers: o.model.layers,
    logger: o.logger,
  });
  return new GraphNowcaster(nc, graph, { lpeSeed: o.lpeSeed, subgraph: o.subgraph, logger: o.logger });
}
