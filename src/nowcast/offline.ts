/**
 * One nowcast applied offline to saved parameter states (the official `nino_step.py` use case: models
 * too large to hold NiNo and the training job together). States come from parameter safetensors files
 * (PyTorch names) or from rows of a trajectory Arrow file; the prediction is written as safetensors
 * with the same names and shapes.
 *
 *   const { specs, states } = readStateFiles(['s1.safetensors', ..., 's5.safetensors']);
 *   const { params, layout } = nowcastStates({ specs, states, nowcaster: 'official:nino_no_posw', k: 40, arch: 'gpt2', numHeads: 4 });
 *   writeParams('next.safetensors', layout, params, { nowcaster: 'official:nino_no_posw' });
 *
 * Bad input (an unknown arch, k out of range, the wrong number of states, a transformer without its head
 * count) throws InputError before any prediction runs.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { makeLayout, type ParamLayout, type ParamSpec } from '../core/params.ts';
import { readSafetensors, writeSafetensors, type StTensor } from '../core/safetensors.ts';
import { writeFileAtomic } from '../core/fsutil.ts';
import { buildNeuralGraph, graphBuilderNames } from '../graph/index.ts';
import { loadNowcastModel } from '../model/registry.ts';
import { GraphNowcaster } from './graph-nowcaster.ts';
import { nowcasterPath } from './resolve.ts';

export interface LoadedStates {
  specs: ParamSpec[];
  /** one flat vector per state, oldest first */
  states: Float32Array[];
}

/** Reads parameter safetensors files (F32 tensors, same names/shapes in each, file order = named_parameters order). */
export function readStateFiles(paths: readonly string[]): LoadedStates {
  let specs: ParamSpec[] | null = null;
  const states: Float32Array[] = [];
  for (const p of paths) {
    const st = readSafetensors(readFileSync(p), p);
    const these = st.order.map((name) => ({ name, shape: st.tensors[name].shape }));
    if (specs && JSON.stringify(specs) !== JSON.stringify(these)) {
      throw new Error(`${p}: parameter names/shapes differ from ${paths[0]}; all states must come from the same model`);
    }
    specs ??= these;
    const layout = makeLayout(specs);
    const flat = new Float32Array(layout.total);
    for (const e of layout.entries) {
      const t = st.tensors[e.name];
      if (t.dtype !== 'F32') throw new Error(`${p}: tensor '${e.name}' is ${t.dtype}; nino reads F32 parameters`);
      flat.set(t.data as Float32Array, e.offset);
    }
    states.push(flat);
  }
  if (!specs) throw new Error('no state files given');
  return { specs, states };
}

/** Guesses the graph architecture from parameter names (HF GPT-2 / Llama names; otherwise sequential). */
export function guessArch(specs: readonly ParamSpec[]): string {
  if (specs.some((s) => /^transformer\.h\.\d+\.attn\.c_attn\.weight$/.test(s.name))) return 'gpt2';
  if (specs.some((s) => /\.self_attn\.q_proj\.weight$/.test(s.name))) return 'llama';
  return 'mlp';
}

export interface OfflineNowcastOptions {
  specs: ParamSpec[];
  states: Float32Array[];
  nowcaster: string;
  k: number;
  arch?: string;
  numHeads?: number;
  numKvHeads?: number;
  chunkEdges?: number;
  edgeSampleRatio?: number;
  subgraph?: boolean;
  /** folder looked in first for 'official:<name>' (the CLI passes $NINO_OFFICIAL_DIR) */
  officialDir?: string;
  logger?: Logger;
}

export function nowcastStates(o: OfflineNowcastOptions): { params: Float32Array; layout: ParamLayout; ms: number } {
  const layout = makeLayout(o.specs);
  if (o.arch !== undefined && !graphBuilderNames().includes(o.arch)) {
    throw new InputError(`unknown --arch '${o.arch}'; known: ${graphBuilderNames().join(', ')}`);
  }
  const arch = o.arch ?? guessArch(o.specs);
  if ((arch === 'gpt2' || arch === 'llama') && !o.numHeads) {
    throw new InputError(`a ${arch} graph needs its attention head count (--num-heads / numHeads)`);
  }
  const model = loadNowcastModel(nowcasterPath(o.nowcaster, o) ?? 'linefit', {
    chunkEdges: o.chunkEdges,
    edgeSampleRatio: o.edgeSampleRatio,
  });
  let params: Float32Array;
  let ms: number;
  try {
    if (o.states.length !== model.ctx) {
      throw new InputError(`nowcaster '${o.nowcaster}' needs ${model.ctx} states, got ${o.states.length}`);
    }
    const graph = buildNeuralGraph(arch, o.specs, { numHeads: o.numHeads, numKvHeads: o.numKvHeads, logger: o.logger });
    const nc = new GraphNowcaster(model, graph, { subgraph: o.subgraph, logger: o.logger });
    if (!(Number.isInteger(o.k) && o.k >= 1 && o.k <= nc.maxHorizon)) {
      throw new InputError(
        `-k ${o.k} is out of range: nowcaster '${o.nowcaster}' predicts 1..${nc.maxHorizon} intervals ahead`,
      );
    }
    const n = layout.total;
    const stacked = new Float32Array(n * nc.ctx);
    o.states.forEach((s, t) => {
      if (s.length !== n) throw new Error(`state ${t} has ${s.length} values, the model has ${n}`);
      for (let i = 0; i < n; i++) stacked[i * nc.ctx + t] = s[i];
    });
    const t0 = performance.now();
    params = nc.nowcast(stacked, o.k);
    ms = performance.now() - t0;
  } finally {
    model.dispose();
  }
  if (!params.every(Number.isFinite)) throw new Error('the nowcast produced NaN/Inf; nothing written');
  return { params, layout, ms };
}

export function writeParams(
  path: string,
  layout: ParamLayout,
  params: Float32Array,
  metadata: Record<string, string>,
): void {
  const tensors: Record<string, StTensor> = {};
  for (const e of layout.entries)
    tensors[e.name] = { dtype: 'F32', shape: e.shape, data: params.slice(e.offset, e.offset + e.numel) };
  writeFileAtomic(path, writeSafetensors(tensors, metadata));
}
