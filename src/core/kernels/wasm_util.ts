/**
 * Small helpers shared by nino's wasm kernels: calling the wasm backend's own registered kernels
 * (Conv2D, Transpose, Slice, BatchMatMul, ...) from inside a kernel, allocating outputs, and taking
 * typed-array views of the wasm heap.
 *
 * Rules every kernel here follows:
 *  - allocate every output/temporary (backend.makeOutput or a nested kernel call) BEFORE taking heap
 *    views: growing the wasm memory detaches earlier views silently;
 *  - free temporaries with `free(backend, info)` (backend.disposeData), never with tf.dispose (they are
 *    TensorInfos, not Tensors, and no tf op is recorded on the tape inside a kernel).
 *
 * Not meant to be used outside src/core/kernels. Tried through test/kernels.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type TensorInfo = tf.TensorInfo;
export type Attrs = tf.NamedAttrMap;

/** The wasm backend instance, as seen by kernel functions. */
export type WasmBackend = BackendWasm;

/** Runs the kernel registered as `name` for the wasm backend (the stock one unless nino replaced it). */
export function runWasmKernel(
  backend: WasmBackend,
  name: string,
  inputs: Record<string, TensorInfo>,
  attrs: Attrs = {},
): TensorInfo {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm kernel '${name}' is not registered`);
  const out = k.kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error(`wasm kernel '${name}' returned several outputs`);
  return out;
}

/** Frees a temporary produced inside a kernel. */
export function free(backend: WasmBackend, info: TensorInfo): void {
  backend.disposeData(info.dataId);
}

/** Float32 view of a tensor's data on the wasm heap (valid until the next allocation). */
export function f32View(backend: WasmBackend, info: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** Int32 view of a tensor's data on the wasm heap (valid until the next allocation). */
export function i32View(backend: WasmBackend, info: TensorInfo): Int32Array {
  return backend.typedArrayFromHeap(info) as Int32Array;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
