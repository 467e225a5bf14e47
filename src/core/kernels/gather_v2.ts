/**
 * GatherV2 for the tfjs wasm backend, replacing the stock kernel, which is very slow here (gathering
 * 15,000 rows of 128 floats from a [200,128] table took ~130 ms; this takes ~1-2 ms). Rows (slices) are
 * copied with HEAPU8.copyWithin (a memmove inside the wasm heap) when they are at least 64 bytes, else by
 * a typed-array loop.
 *
 *   inputs  x [..., D, ...slice], indices int32 (any shape); attrs { axis, batchDims }
 *   output  x.shape[:axis] + indices.shape[batchDims:] + x.shape[axis+1:], same dtype as x
 * Index values must lie in [0, D) (an Error otherwise, as the stock kernels do).
 *
 * Try: npx vitest run test/kernels.test.ts
 */
import * as tf from '@tensorflow/tfjs';
import type { Attrs, TensorInfo, WasmBackend } from './wasm_util.ts';
import { sizeOf } from './wasm_util.ts';

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

export function gatherV2Wasm(args: {
  inputs: { x?: TensorInfo; indices?: TensorInfo };
  backend: WasmBackend;
  attrs?: Attrs;
}): TensorInfo {
  const { backend } = args;
  const x = args.inputs.x!;
  const indices = args.inputs.indices!;
  const attrs = (args.attrs ?? {}) as Attrs;
  const bpe = BYTES[x.dtype];
  if (bpe === undefined) throw new Error(`nino wasm GatherV2: dtype ${x.dtype} not supported`);
  if (indices.dtype !== 'int32') throw new Error(`nino wasm GatherV2: indices must be int32, got ${indices.dtype}`);
  const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
  const batchDims = (attrs.batchDims as number | undefined) ?? 0;
  const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(
    x as unknown as tf.Tensor,
    indices as unknown as tf.Tensor,
    axis,
    batchDims,
  );
  const { batchSize, outerSize, dimSize, sliceSize, outputShape } = info;
  const nIdx = sizeOf(indices.shape);
  const perBatch = batchSize > 0 ? nIdx / batchSize : 0;

  const out = backend.makeOutput(outputShape, x.dtype);
  if (sizeOf(outputShape) === 0) return out;
  // views only after the allocation above (heap growth detaches older views)
  const idx = backend.typedArrayFromHeap({ ...indices, shape: [nIdx] }) as Int32Array;
  for (let i = 0; i < nIdx; i++) {
    const v = idx[i];
    if (!(v >= 0 && v < dimSize)) throw new Error(`GatherV2: the index value ${v} is not in [0, ${dimSize - 1}]`);
  }
  const xOff = backend.dataIdMap.get(x.dataId)!.memoryOffset as number;
  const oOff = backend.dataIdMap.get(out.dataId)!.memoryOffset as number;
  const sliceBytes = sliceSize * bpe;

  if (sliceBytes >= 64) {
    const heap = (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
    let dst = oOff;
    for (let b = 0; b < batchSize; b++) {
      for (let o = 0; o < outerSize; o++) {
        const srcBase = xOff + (b * outerSize + o) * dimSize * sliceBytes;
        const ib = b * perBatch;
        for (let j = 0; j < perBatch; j++) {
          const s = srcBase + idx[ib + j] * sliceBytes;
          heap.copyWithin(dst, s, s + sliceBytes);
          dst += sliceBytes;
        }
      }
    }
    return out;
  }
  // short slices: element loop on a bit-exact view (Int32 for 4-byte types, Uint8 for bool)
  const xv =
    bpe === 4
      ? (backend.typedArrayFromHeap({ ...x, dtype: 'int32' }) as Int32Array)
      : (backend.typedArrayFromHeap(x) as Uint8Array);
  const ov =
    bpe === 4
      ? (backend.typedArrayFromHeap({ ...out, dtype: 'int32' }) as Int32Array)
      : (backend.typedArrayFromHeap(out) as Uint8Array);
  let d = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let o = 0; o < outerSize; o++) {
      const srcBase = (b * outerSize + o) * dimSize * sliceSize;
      const ib = b * perBatch;
      for (let j = 0; j < perBatch; j++) {
        const s = srcBase + idx[ib + j] * sliceSize;
        for (let k = 0; k < sliceSize; k++) ov[d++] = xv[s + k];
      }
    }
  }
  return out;
}

export const gatherV2Config: tf.KernelConfig = {
  kernelName: 'GatherV2',
  backendName: 'wasm',
  kernelFunc: gatherV2Wasm as unknown as tf.KernelFunc,
};
