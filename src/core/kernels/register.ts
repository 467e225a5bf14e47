/**
 * Registers nino's own tfjs kernels for the wasm backend (kernels tfjs does not ship, or ships slow or
 * wrong). Each kernel lives in its own file beside this one and is tested against the cpu backend
 * (test/kernels.test.ts). Called by initBackend('wasm') after importing @tensorflow/tfjs-backend-wasm and
 * before tf.setBackend('wasm'); idempotent.
 *
 *   Conv2DBackpropInput   replaces the stock (naive loop) kernel          conv2d_backprop.ts
 *   Conv2DBackpropFilter  missing on wasm                                 conv2d_backprop.ts
 *   UnsortedSegmentSum    missing on wasm                                 unsorted_segment_sum.ts
 *   GatherV2              replaces the stock kernel (~100x slower here)   gather_v2.ts
 *   Conv2D, FusedConv2D   stock XNNPACK kernels, wrapped to pass 'same'   conv2d_same_fix.ts
 *                         as explicit pads (the stock 'same' path is wrong when stride > filter size)
 *   BatchMatMul,          stock kernels, wrapped to transpose operands     matmul_transpose_fix.ts
 *   _FusedMatMul          explicitly (stock transposed variants are 10-20x slower)
 *
 *   import { registerNinoWasmKernels } from './kernels/register.ts'; registerNinoWasmKernels();
 */
import * as tf from '@tensorflow/tfjs';
import { conv2DBackpropFilterConfig, conv2DBackpropInputConfig } from './conv2d_backprop.ts';
import { makeSameFixConfig } from './conv2d_same_fix.ts';
import { gatherV2Config } from './gather_v2.ts';
import { makeExplicitTransposeConfig } from './matmul_transpose_fix.ts';
import { unsortedSegmentSumConfig } from './unsorted_segment_sum.ts';

/** Kernels nino provides outright (no stock kernel involved). */
export const NINO_WASM_KERNELS: readonly tf.KernelConfig[] = [
  conv2DBackpropInputConfig,
  conv2DBackpropFilterConfig,
  unsortedSegmentSumConfig,
  gatherV2Config,
];

/** Stock kernels nino wraps (the wrapper calls the stock kernel), with the wrapper factory. */
const WRAPPERS: Record<string, (stock: tf.KernelConfig) => tf.KernelConfig> = {
  Conv2D: makeSameFixConfig,
  FusedConv2D: makeSameFixConfig,
  BatchMatMul: makeExplicitTransposeConfig,
  _FusedMatMul: makeExplicitTransposeConfig,
};
export const WRAPPED_STOCK_KERNELS: readonly string[] = Object.keys(WRAPPERS);

const wrappers = new Map<string, tf.KernelConfig>();

function put(k: tf.KernelConfig): void {
  const existing = tf.getKernel(k.kernelName, k.backendName);
  if (existing === k) return;
  if (existing) tf.unregisterKernel(k.kernelName, k.backendName); // registerKernel would warn
  tf.registerKernel(k);
}

export function registerNinoWasmKernels(): void {
  for (const k of NINO_WASM_KERNELS) put(k);
  for (const name of WRAPPED_STOCK_KERNELS) {
    const current = tf.getKernel(name, 'wasm');
    if (!current) continue; // wasm backend not imported: nothing to wrap
    if (wrappers.get(name) === current) continue; // already wrapped
    const w = WRAPPERS[name](current);
    wrappers.set(name, w);
    put(w);
  }
}

/** The kernel config nino registered for `name` on wasm (for tests). */
export function ninoWasmKernel(name: string): tf.KernelConfig | undefined {
  return NINO_WASM_KERNELS.find((k) => k.kernelName === name) ?? wrappers.get(name);
}
