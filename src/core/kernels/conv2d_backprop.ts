/**
 * Backward kernels of 2-D convolution for the tfjs wasm backend, built on the wasm backend's own
 * Conv2D kernel (XNNPACK, ~30 GFLOP/s here) instead of loops:
 *
 *  Conv2DBackpropInput (dx, replaces the stock kernel, which took ~160-340 ms per FM-16 layer):
 *    dx = conv2d(dilate(dy, stride), rot180(W) with in/out channels swapped), stride 1, explicit pads
 *    (kh-1-padTop, H - Hd + padTop), i.e. a "full" correlation. dilate() is a no-op for stride 1.
 *
 *  Conv2DBackpropFilter (dW, missing on wasm):
 *    dW[kh,kw,ci,co] = sum_{b,oh,ow} x[b, oh*sh+kh-pt, ow*sw+kw-pl, ci] * dy[b,oh,ow,co]
 *    which is a convolution where Ci plays the batch, B the input channels and dy the (Ho x Wo) filter
 *    dilated by the stride:  conv2d(x^T [Ci,H,W,B], dy^T [Ho,Wo,B,Co], dilation (sh,sw), explicit pads)
 *    -> [Ci,kh,kw,Co] -> transpose -> [kh,kw,Ci,Co].
 *
 * Shapes: NHWC activations, HWIO filters ([kh,kw,Ci,Co]), float32. Dilations of the forward conv must be
 * 1 (tfjs's conv2d gradient asserts that too). Only dataFormat NHWC.
 *
 * Try: npx vitest run test/kernels.test.ts (compares against the cpu backend, forward and gradient).
 */
import * as tf from '@tensorflow/tfjs';
import type { Attrs, TensorInfo, WasmBackend } from './wasm_util.ts';
import { f32View, free, runWasmKernel } from './wasm_util.ts';

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];
type RoundingMode = 'floor' | 'round' | 'ceil' | undefined;

function checkNHWC(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`nino wasm ${kernel}: only dataFormat NHWC is supported (got ${String(dataFormat)})`);
  }
}

/**
 * Rotated, channel-swapped filter for the input gradient:
 * out[i, j, co, ci] = W[kh-1-i, kw-1-j, ci, co]   (W [kh,kw,Ci,Co] -> out [kh,kw,Co,Ci])
 */
function rotateFilter(backend: WasmBackend, filter: TensorInfo): TensorInfo {
  const [kh, kw, ci, co] = filter.shape;
  const out = backend.makeOutput([kh, kw, co, ci], 'float32');
  const w = f32View(backend, filter);
  const o = f32View(backend, out);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const src = ((kh - 1 - i) * kw + (kw - 1 - j)) * ci * co;
      const dst = (i * kw + j) * co * ci;
      for (let c = 0; c < ci; c++) {
        for (let d = 0; d < co; d++) o[dst + d * ci + c] = w[src + c * co + d];
      }
    }
  }
  return out;
}

/** dy [B,Ho,Wo,C] -> [B,(Ho-1)*sh+1,(Wo-1)*sw+1,C] with zeros between rows/columns. */
function dilate(backend: WasmBackend, dy: TensorInfo, sh: number, sw: number): TensorInfo {
  const [b, ho, wo, c] = dy.shape;
  const hd = (ho - 1) * sh + 1;
  const wd = (wo - 1) * sw + 1;
  const out = backend.makeOutput([b, hd, wd, c], 'float32');
  const src = f32View(backend, dy);
  const dst = f32View(backend, out);
  dst.fill(0);
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        const s = ((n * ho + i) * wo + j) * c;
        dst.set(src.subarray(s, s + c), ((n * hd + i * sh) * wd + j * sw) * c);
      }
    }
  }
  return out;
}

/** Input gradient of conv2d. inputs {dy [B,Ho,Wo,Co], filter [kh,kw,Ci,Co]} -> dx = inputShape [B,H,W,Ci]. */
export function conv2DBackpropInputWasm(args: {
  inputs: { dy?: TensorInfo; filter?: TensorInfo };
  backend: WasmBackend;
  attrs?: Attrs;
}): TensorInfo {
  const { backend } = args;
  const dy = args.inputs.dy!;
  const filter = args.inputs.filter!;
  const attrs = (args.attrs ?? {}) as Attrs;
  checkNHWC('Conv2DBackpropInput', attrs.dataFormat);
  const inputShape = attrs.inputShape as Shape4;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as Shape4,
    attrs.strides as number | [number, number],
    1,
    attrs.pad as Pad,
    attrs.dimRoundingMode as RoundingMode,
  );
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  const [, H, W] = inputShape;
  const hd = (dy.shape[1] - 1) * sh + 1;
  const wd = (dy.shape[2] - 1) * sw + 1;
  const pt = kh - 1 - top;
  const pl = kw - 1 - left;
  const pb = H - hd + top;
  const pr = W - wd + left;
  if (pt < 0 || pl < 0 || pb < 0 || pr < 0) {
    throw new Error(
      `nino wasm Conv2DBackpropInput: padding larger than filter-1 is not supported (${JSON.stringify(info.padInfo)})`,
    );
  }
  const rot = rotateFilter(backend, filter);
  const dyd = sh === 1 && sw === 1 ? dy : dilate(backend, dy, sh, sw);
  const out = runWasmKernel(
    backend,
    'Conv2D',
    { x: dyd, filter: rot },
    {
      strides: [1, 1],
      dilations: [1, 1],
      pad: [
        [0, 0],
        [pt, pb],
        [pl, pr],
        [0, 0],
      ],
      dataFormat: 'NHWC',
    },
  );
  free(backend, rot);
  if (dyd !== dy) free(backend, dyd);
  return out;
}

/** Filter gradient of conv2d. inputs {x [B,H,W,Ci], dy [B,Ho,Wo,Co]} -> dW = filterShape [kh,kw,Ci,Co]. */
export function conv2DBackpropFilterWasm(args: {
  inputs: { x?: TensorInfo; dy?: TensorInfo };
  backend: WasmBackend;
  attrs?: Attrs;
}): TensorInfo {
  const { backend } = args;
  const x = args.inputs.x!;
  const dy = args.inputs.dy!;
  const attrs = (args.attrs ?? {}) as Attrs;
  checkNHWC('Conv2DBackpropFilter', attrs.dataFormat);
  const filterShape = attrs.filterShape as Shape4;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filterShape,
    attrs.strides as number | [number, number],
    1,
    attrs.pad as Pad,
    attrs.dimRoundingMode as RoundingMode,
  );
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw, outHeight: ho, outWidth: wo } = info;
  const { top: pt, left: pl } = info.padInfo;
  const [, H, W, ci] = x.shape;
  const co = filterShape[3];
  // rows of x actually read: up to (kh-1) + (ho-1)*sh - pt; pad the bottom so the output is exactly kh
  // rows, or crop x when it has rows no window reaches (negative pad).
  let pb = kh - 1 + (ho - 1) * sh + 1 - H - pt;
  let pr = kw - 1 + (wo - 1) * sw + 1 - W - pl;
  if (pt < 0 || pl < 0) throw new Error('nino wasm Conv2DBackpropFilter: negative padding');

  let xT = runWasmKernel(backend, 'Transpose', { x }, { perm: [3, 1, 2, 0] }); // [Ci,H,W,B]
  if (pb < 0 || pr < 0) {
    const hc = pb < 0 ? H + pb : H;
    const wc = pr < 0 ? W + pr : W;
    const cropped = runWasmKernel(backend, 'Slice', { x: xT }, { begin: [0, 0, 0, 0], size: [ci, hc, wc, x.shape[0]] });
    free(backend, xT);
    xT = cropped;
    pb = Math.max(pb, 0);
    pr = Math.max(pr, 0);
  }
  const dyT = runWasmKernel(backend, 'Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho,Wo,B,Co]
  const r = runWasmKernel(
    backend,
    'Conv2D',
    { x: xT, filter: dyT },
    {
      strides: [1, 1],
      dilations: [sh, sw],
      pad: [
        [0, 0],
        [pt, pb],
        [pl, pr],
        [0, 0],
      ],
      dataFormat: 'NHWC',
    },
  ); // [Ci,kh,kw,Co]
  free(backend, xT);
  free(backend, dyT);
  if (r.shape[1] !== kh || r.shape[2] !== kw || r.shape[3] !== co) {
    free(backend, r);
    throw new Error(`nino wasm Conv2DBackpropFilter: internal shape mismatch ${r.shape} vs ${filterShape}`);
  }
  const out = runWasmKernel(backend, 'Transpose', { x: r }, { perm: [1, 2, 0, 3] }); // [kh,kw,Ci,Co]
  free(backend, r);
  return out;
}

export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInputWasm as unknown as tf.KernelFunc,
};

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterWasm as unknown as tf.KernelFunc,
};
