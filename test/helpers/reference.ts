/**
 * Golden data from the official PyTorch NiNo (commit 84fb0cf), committed under test/fixtures/reference
 * (see its README). NINO_REFERENCE_DIR points the tests at another copy (e.g. the full ../shared/reference).
 * The official checkpoints' safetensors/json live in checkpoints/official (shipped with the package);
 * their .pt originals, used only by the .pt importer tests, in the fixtures.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, type Safetensors } from '../../src/core/safetensors.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REF = process.env.NINO_REFERENCE_DIR ?? join(root, 'test', 'fixtures', 'reference');
if (!existsSync(REF)) throw new Error(`golden data not found at ${REF}; set NINO_REFERENCE_DIR`);

/** Path of an official checkpoint file ('nino_no_posw.safetensors', 'nino_mlp.pt', 'nino_mlp.json'). */
export function refCheckpoint(file: string): string {
  if (process.env.NINO_REFERENCE_DIR || file.endsWith('.pt')) return join(REF, 'checkpoints', file);
  return join(root, 'checkpoints', 'official', file);
}
function refPath(rel: string): string {
  const m = /^checkpoints\/(.*)$/.exec(rel);
  return m ? refCheckpoint(m[1]!) : join(REF, rel);
}
export function refSt(rel: string): Safetensors {
  return readSafetensors(readFileSync(refPath(rel)), rel);
}
/** The graph fields of a golden case's meta.json (written by the reference's graph dump). */
export interface RefGraphMeta {
  num_params: number;
  num_nodes: number;
  num_edges: number;
  first_self_loop_edge: number;
  max_feat_size: number;
  edge_type_counts: Record<string, number>;
  model_dict: { name: string; shape: number[]; offset: number; numel: number }[];
  model_dict_expanded: {
    name: string;
    shape: number[];
    param_type: number;
    edge_range: [number, number];
    has_params: boolean;
    src_nodes_min_max: [number, number];
    dst_nodes_min_max: [number, number];
  }[];
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- golden JSON of many shapes; callers that care pass T
export function refJson<T = any>(rel: string): T {
  return JSON.parse(readFileSync(refPath(rel), 'utf8')) as T;
}
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * The golden intermediates the parity tests compare (test/model-parity.test.ts) and therefore the ones
 * scripts/make-fixtures.ts keeps when it trims the reference data: the GNN's (nino_no_posw, k1) and the
 * graph-free MLP's (nino_mlp, k1).
 */
export const GNN_TRACE = [
  'gnn_in_x',
  'gnn_in_edge',
  'conv0_messages',
  'conv0_aggr',
  'conv0_x_out',
  'edge_update0_out',
  'conv1_messages',
  'conv1_aggr',
  'conv1_x_out',
  'edge_update1_out',
  'edge_out_hidden',
] as const;
export const MLP_TRACE = ['mlp_edge_proj_out', 'mlp_hidden_1', 'mlp_hidden_3', 'mlp_hidden_5'] as const;
