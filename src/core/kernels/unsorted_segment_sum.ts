/**
 * UnsortedSegmentSum for the tfjs wasm backend (tfjs does not ship one): a single typed-array pass
 * over the rows of x, adding row r into output row segmentIds[r].
 *
 *   inputs  x [R, ...inner] (float32 or int32), segmentIds [R] int32 (or any shape equal to x's leading
 *           dims; flattened), attrs { numSegments }
 *   output  [numSegments, ...inner], same dtype as x; ids < 0 or >= numSegments are dropped (as in TF).
 *
 * Also exports `segmentSumInto`, the plain loop, used by ops.ts on the cpu backend.
 * Try: npx vitest run test/kernels.test.ts
 */
import * as tf from '@tensorflow/tfjs';
import type { Attrs, TensorInfo, WasmBackend } from './wasm_util.ts';
import { sizeOf } from './wasm_util.ts';

/**
 * out[seg[r]*inner + k] += x[r*inner + k] for r < seg.length, k < inner; out must be zeroed by the caller
 * (it is not cleared here). Out-of-range ids are skipped.
 */
export function segmentSumInto(
  x: Float32Array | Int32Array,
  seg: Int32Array,
  inner: number,
  numSegments: number,
  out: Float32Array | Int32Array,
): void {
  const rows = seg.length;
  if (inner === 1) {
    for (let r = 0; r < rows; r++) {
      const s = seg[r];
      if (s >= 0 && s < numSegments) out[s] += x[r];
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const s = seg[r];
    if (s < 0 || s >= numSegments) continue;
    let xo = r * inner;
    let oo = s * inner;
    const end = xo + inner;
    // 4-way unrolled (about 1.5x faster than the plain loop in V8 here)
    for (; xo + 4 <= end; xo += 4, oo += 4) {
      out[oo] += x[xo];
      out[oo + 1] += x[xo + 1];
      out[oo + 2] += x[xo + 2];
      out[oo + 3] += x[xo + 3];
    }
    for (; xo < end; xo++, oo++) out[oo] += x[xo];
  }
}

export function unsortedSegmentSumWasm(args: {
  inputs: { x?: TensorInfo; segmentIds?: TensorInfo };
  backend: WasmBackend;
  attrs?: Attrs;
}): TensorInfo {
  const { backend } = args;
  const x = args.inputs.x!;
  const ids = args.inputs.segmentIds!;
  const numSegments = Number((args.attrs ?? {}).numSegments);
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new Error(`nino wasm UnsortedSegmentSum: bad numSegments ${String(numSegments)}`);
  }
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`nino wasm UnsortedSegmentSum: dtype ${x.dtype} not supported`);
  }
  if (ids.dtype !== 'int32')
    throw new Error(`nino wasm UnsortedSegmentSum: segmentIds must be int32, got ${ids.dtype}`);
  const rows = sizeOf(ids.shape);
  for (let i = 0; i < ids.shape.length; i++) {
    if (x.shape[i] !== ids.shape[i]) {
      throw new Error(`nino wasm UnsortedSegmentSum: segmentIds shape ${ids.shape} must prefix x shape ${x.shape}`);
    }
  }
  const innerShape = x.shape.slice(ids.shape.length);
  const inner = sizeOf(innerShape);
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  // views only after the allocation above (heap growth detaches older views)
  const o = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  o.fill(0);
  if (rows > 0 && inner > 0) {
    const xv = backend.typedArrayFromHeap(x) as Float32Array | Int32Array;
    const sv = backend.typedArrayFromHeap({ ...ids, shape: [rows] }) as Int32Array;
    segmentSumInto(xv, sv, inner, numSegments, o);
  }
  return out;
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: 'UnsortedSegmentSum',
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSumWasm as unknown as tf.KernelFunc,
};
