/**
 * The compute-backend layer. Everything numeric in nino goes through tfjs, and this module picks the
 * tfjs backend once at start:
 *   auto        tfjs-node-gpu if it loads (libtensorflow, GPU or CPU), else wasm, else cpu
 *   tensorflow  tfjs-node-gpu only (fails if it cannot load)
 *   wasm        @tensorflow/tfjs-backend-wasm plus nino's own kernels (src/core/kernels/)
 *   cpu         pure-JS reference backend (slow; used to check the wasm kernels)
 * Chosen by `--backend` or NINO_BACKEND.
 *
 *   const { name, reason } = await initBackend('auto', logger);
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import type { Logger } from './logger.ts';
import { silentLogger } from './logger.ts';
import { registerNinoWasmKernels } from './kernels/register.ts';

export const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

let active: { name: Exclude<BackendName, 'auto'>; reason: string } | null = null;

export function parseBackendName(s: string | undefined): BackendName {
  const v = (s ?? 'auto').toLowerCase();
  if (!(BACKENDS as readonly string[]).includes(v)) {
    throw new Error(`unknown backend '${s}'; choose one of: ${BACKENDS.join(', ')}`);
  }
  return v as BackendName;
}

async function tryTensorflow(): Promise<string | null> {
  try {
    // Optional dependency: its install downloads libtensorflow, impossible offline. Its documented
    // contract: importing it registers the 'tensorflow' backend (CUDA when available).
    const modName = '@tensorflow/tfjs-node-gpu';
    await import(modName);
    const ok = await tf.setBackend('tensorflow');
    return ok ? null : 'tfjs-node-gpu loaded but the tensorflow backend failed to initialise';
  } catch (e) {
    return `tfjs-node-gpu not available (${(e as Error).message.split('\n')[0]})`;
  }
}

async function tryWasm(): Promise<string | null> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    const dir = require.resolve('@tensorflow/tfjs-backend-wasm/package.json').replace(/package\.json$/, 'dist/');
    wasm.setWasmPaths(dir);
    registerNinoWasmKernels();
    const ok = await tf.setBackend('wasm');
    return ok ? null : 'wasm backend failed to initialise';
  } catch (e) {
    return `wasm backend not available (${(e as Error).message.split('\n')[0]})`;
  }
}

/** Initialises the chosen backend once per process (idempotent). */
export async function initBackend(
  requested: BackendName | string = process.env.NINO_BACKEND ?? 'auto',
  logger: Logger = silentLogger,
): Promise<{ name: Exclude<BackendName, 'auto'>; reason: string }> {
  const want = parseBackendName(requested);
  if (active && (want === 'auto' || want === active.name)) return active;
  const fails: string[] = [];
  const order: Exclude<BackendName, 'auto'>[] = want === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [want];
  for (const b of order) {
    let err: string | null;
    if (b === 'tensorflow') err = await tryTensorflow();
    else if (b === 'wasm') err = await tryWasm();
    else err = (await tf.setBackend('cpu')) ? null : 'cpu backend failed';
    if (err === null) {
      const reason = want === 'auto' ? (fails.length ? `auto: ${fails.join('; ')}` : 'auto: first choice') : 'requested';
      await tf.ready();
      active = { name: b, reason };
      logger.info({ backend: b, reason }, `compute backend: ${b}`);
      return active;
    }
    fails.push(err);
  }
  throw new Error(`could not initialise backend '${want}': ${fails.join('; ')}`);
}

export function activeBackend(): string {
  return tf.getBackend();
}
