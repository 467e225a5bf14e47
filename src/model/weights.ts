/**
 * Weight containers. `HostWeights` are plain float32 arrays keyed by official state_dict names (what
 * checkpoints hold); `Weights` are the tfjs tensors (or tf.Variables, for training) the forwards take.
 *
 *   const w = toTensors(host, specs);   // validates names/shapes
 *   const host = await fromTensors(w);
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../core/rng.ts';
import type { NiNoConfig, WeightSpec } from './config.ts';
import { weightSpecs } from './config.ts';

export interface HostTensor {
  shape: number[];
  data: Float32Array;
}
export type HostWeights = Record<string, HostTensor>;
export type Weights = Record<string, tf.Tensor>;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Checks that host weights match the config exactly (no missing, no extra, same shapes). */
export function checkHostWeights(host: HostWeights, cfg: NiNoConfig, source = 'weights'): void {
  const specs = weightSpecs(cfg);
  const missing = specs.filter((s) => !(s.name in host)).map((s) => s.name);
  const names = new Set(specs.map((s) => s.name));
  const extra = Object.keys(host).filter((k) => !names.has(k));
  const wrong = specs
    .filter((s) => s.name in host && !sameShape(host[s.name].shape, s.shape))
    .map((s) => `${s.name}: got [${host[s.name].shape}] want [${s.shape}]`);
  if (missing.length || extra.length || wrong.length) {
    throw new Error(
      `${source} do not match the ${cfg.kind} config (hid ${cfg.hid}):` +
        (missing.length ? ` missing ${missing.join(', ')};` : '') +
        (extra.length ? ` unexpected ${extra.join(', ')};` : '') +
        (wrong.length ? ` wrong shapes ${wrong.join('; ')}` : ''),
    );
  }
}

/** Host arrays -> tensors (validated against the config). */
export function toTensors(host: HostWeights, cfg: NiNoConfig, source?: string): Weights {
  checkHostWeights(host, cfg, source);
  const w: Weights = {};
  for (const s of weightSpecs(cfg)) w[s.name] = tf.tensor(host[s.name].data, s.shape, 'float32');
  return w;
}

/**
 * Weights for a nowcaster: host arrays become tensors owned by the nowcaster (owns = true, freed by its
 * dispose()); tensors passed in stay the caller's (owns = false).
 */
export function adoptWeights(
  weights: Weights | HostWeights,
  cfg: NiNoConfig,
  source: string,
): { weights: Weights; owns: boolean } {
  const owns = !(Object.values(weights)[0] instanceof tf.Tensor);
  return { weights: owns ? toTensors(weights as HostWeights, cfg, source) : (weights as Weights), owns };
}

/** Tensors -> host arrays (copies). */
export function fromTensors(w: Weights): HostWeights {
  const out: HostWeights = {};
  for (const [k, t] of Object.entries(w))
    out[k] = { shape: [...t.shape], data: Float32Array.from(t.dataSync() as Float32Array) };
  return out;
}

/** Official init: Linear weights and embeddings normal(0, 0.02), biases 0; seeded. */
export function initHostWeights(
  cfg: NiNoConfig,
  seed: number | string = 0,
  specs: WeightSpec[] = weightSpecs(cfg),
): HostWeights {
  const rng = new Rng(seed);
  const out: HostWeights = {};
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (s.init === 'w') for (let i = 0; i < n; i++) data[i] = 0.02 * rng.normal();
    out[s.name] = { shape: [...s.shape], data };
  }
  return out;
}

export function disposeWeights(w: Weights): void {
  for (const t of Object.values(w)) t.dispose();
}
