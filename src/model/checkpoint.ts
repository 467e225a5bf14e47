/**
 * Checkpoints for nowcasters. Three formats, detected from the bytes:
 *   (a) official safetensors (state_dict, original names) + sibling JSON with `model_args_raw`
 *       (and `hyperparameters_resolved`), as in checkpoints/official/*.{safetensors,json};
 *   (b) official PyTorch `.pt` ({'state_dict': ..., 'model_args': ...}, read by torch-pt.ts);
 *   (c) nino's own: safetensors whose `__metadata__` holds `format: "nino-nowcaster"`, `version`,
 *       `kind`, `config` (NiNoConfig JSON), `model_args` (official-style JSON) and optional `extra` JSON.
 *
 *   const ck = loadCheckpoint('checkpoints/nino_no_posw.pt');   // { kind, config, weights, ... }
 *   const nc = nowcasterFromCheckpoint(ck);
 *   saveCheckpoint('out.safetensors', ck);
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { readSafetensors, writeSafetensors, type StTensor } from '../core/safetensors.ts';
import type { NiNoConfig } from './config.ts';
import { configFromOfficialArgs, configToOfficialArgs, weightSpecs } from './config.ts';
import { readTorchCheckpoint } from './torch-pt.ts';
import type { HostWeights } from './weights.ts';
import { checkHostWeights } from './weights.ts';

export const NINO_FORMAT = 'nino-nowcaster';
export const NINO_FORMAT_VERSION = '1';

export interface Checkpoint {
  kind: 'gnn' | 'mlp';
  config: NiNoConfig;
  /** official state_dict names -> float32 arrays */
  weights: HostWeights;
  /** official-style model_args as stored in the source (overrides of the NiNoModel defaults) */
  modelArgs: Record<string, unknown>;
  /** where it came from: 'pt' | 'official-safetensors' | 'nino' | 'memory' */
  format: 'pt' | 'official-safetensors' | 'nino' | 'memory';
  /** free-form JSON stored with nino checkpoints (e.g. training step, optimizer settings) */
  extra?: Record<string, unknown>;
  /** tensor names in stored order */
  order: string[];
}

function stToHost(t: StTensor, name: string): { shape: number[]; data: Float32Array } {
  if (t.dtype !== 'F32') throw new Error(`checkpoint tensor '${name}' has dtype ${t.dtype}; only F32 is supported`);
  return { shape: [...t.shape], data: t.data as Float32Array };
}

function finish(c: Omit<Checkpoint, 'kind'>, source: string): Checkpoint {
  checkHostWeights(c.weights, c.config, source);
  return { ...c, kind: c.config.kind };
}

/** Parses a checkpoint from bytes. `jsonSidecar` = the official JSON for format (a). */
export function parseCheckpoint(
  buf: Uint8Array,
  source = 'checkpoint',
  jsonSidecar?: Record<string, unknown>,
): Checkpoint {
  if (buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04) {
    const obj = readTorchCheckpoint(buf, source);
    let sd: unknown = obj;
    let modelArgs: Record<string, unknown> = {};
    if (obj && typeof obj === 'object' && !Array.isArray(obj) && 'state_dict' in (obj as object)) {
      sd = (obj as Record<string, unknown>).state_dict;
      modelArgs = ((obj as Record<string, unknown>).model_args as Record<string, unknown>) ?? {};
    }
    if (!(sd instanceof Map)) throw new Error(`${source}: expected a state_dict (dict of tensors) in the .pt`);
    const weights: HostWeights = {};
    const order: string[] = [];
    for (const [k, v] of sd as Map<string, unknown>) {
      const t = v as { dtype?: string; shape?: number[]; data?: unknown };
      if (!t || t.dtype !== 'float32' || !(t.data instanceof Float32Array)) {
        throw new Error(`${source}: state_dict entry '${k}' is not a float32 tensor (${t?.dtype ?? typeof v})`);
      }
      weights[k] = { shape: t.shape!, data: t.data };
      order.push(k);
    }
    return finish({ config: configFromOfficialArgs(modelArgs), weights, modelArgs, format: 'pt', order }, source);
  }
  const st = readSafetensors(buf, source);
  const weights: HostWeights = {};
  for (const k of st.order) weights[k] = stToHost(st.tensors[k], k);
  if (st.metadata.format === NINO_FORMAT) {
    if (st.metadata.version !== NINO_FORMAT_VERSION) {
      throw new Error(
        `${source}: nino checkpoint version ${st.metadata.version} not supported (want ${NINO_FORMAT_VERSION})`,
      );
    }
    const config = withStoredNames(JSON.parse(st.metadata.config));
    const modelArgs = st.metadata.model_args ? JSON.parse(st.metadata.model_args) : configToOfficialArgs(config);
    const extra = st.metadata.extra ? JSON.parse(st.metadata.extra) : undefined;
    return finish({ config, weights, modelArgs, format: 'nino', extra, order: st.order }, source);
  }
  const meta: Record<string, unknown> | undefined =
    jsonSidecar ?? (st.metadata.model_args ? { model_args_raw: JSON.parse(st.metadata.model_args) } : undefined);
  if (!meta) throw new Error(`${source}: official safetensors checkpoint without model_args (pass the sibling .json)`);
  const modelArgs = (meta.model_args_raw ?? meta.model_args ?? {}) as Record<string, unknown>;
  const config = configFromOfficialArgs(modelArgs);
  const res = meta.hyperparameters_resolved as Record<string, unknown> | undefined;
  if (res) {
    const c2 = configFromOfficialArgs(
      Object.fromEntries(Object.entries(res).filter(([k]) => k !== 'pna' && k !== 'is_mlp' && k !== 'n_msg_layers')),
    );
    for (const key of ['ctx', 'hid', 'layers', 'maxHorizon', 'maxFeat', 'edgeTypes', 'lpe', 'kind'] as const) {
      if (c2[key] !== config[key])
        throw new Error(
          `${source}: model_args_raw and hyperparameters_resolved disagree on ${key} (${config[key]} vs ${c2[key]})`,
        );
    }
  }
  return finish({ config, weights, modelArgs, format: 'official-safetensors', order: st.order }, source);
}

/**
 * A stored NiNoConfig under today's names: checkpoints written before the vocabulary of issue #13 (the
 * shipped nino-project*.safetensors among them) call the largest horizon `seqLen`.
 */
export function withStoredNames<T extends object>(stored: T): T {
  const c = { ...stored } as T & { seqLen?: number; maxHorizon?: number };
  if (c.maxHorizon === undefined && c.seqLen !== undefined) c.maxHorizon = c.seqLen;
  delete c.seqLen;
  return c;
}

/**
 * Loads a checkpoint file. For an official `.safetensors` the sibling `.json` (same stem) is read
 * for model_args.
 */
export function loadCheckpoint(path: string): Checkpoint {
  const buf = readFileSync(path);
  let side: Record<string, unknown> | undefined;
  if (path.endsWith('.safetensors')) {
    const j = path.replace(/\.safetensors$/, '.json');
    if (existsSync(j)) side = JSON.parse(readFileSync(j, 'utf8'));
  }
  return parseCheckpoint(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path, side);
}

/** Serialises a checkpoint in nino's format (safetensors + JSON metadata). */
export function serializeCheckpoint(
  ck: Pick<Checkpoint, 'config' | 'weights'> & { extra?: Record<string, unknown> },
): Uint8Array {
  checkHostWeights(ck.weights, ck.config, 'saveCheckpoint');
  const tensors: Record<string, StTensor> = {};
  for (const s of weightSpecs(ck.config))
    tensors[s.name] = { dtype: 'F32', shape: ck.weights[s.name].shape, data: ck.weights[s.name].data };
  const metadata: Record<string, string> = {
    format: NINO_FORMAT,
    version: NINO_FORMAT_VERSION,
    kind: ck.config.kind,
    config: JSON.stringify(ck.config),
    model_args: JSON.stringify(configToOfficialArgs(ck.config)),
  };
  if (ck.extra) metadata.extra = JSON.stringify(ck.extra);
  return writeSafetensors(tensors, metadata);
}

export function saveCheckpoint(
  path: string,
  ck: Pick<Checkpoint, 'config' | 'weights'> & { extra?: Record<string, unknown> },
): void {
  writeFileSync(path, serializeCheckpoint(ck));
}
