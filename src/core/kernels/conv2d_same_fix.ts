/**
 * Wrappers around the wasm backend's stock Conv2D and FusedConv2D (XNNPACK) that turn pad 'same' into
 * explicit pads before calling the stock kernel.
 *
 * Why: with pad 'same' the stock kernel hands XNNPACK its TensorFlow-SAME flag, which gives wrong results
 * (all zeros here) when a stride exceeds the filter size along an axis, e.g. x [1,2,8,1], filter
 * [1,4,1,1], stride 3: wasm 0,0,0 vs cpu 6,18,21. Explicit pads computed by tfjs's own
 * computeConv2DInfo (the same numbers the cpu backend uses) are handled correctly, and cost nothing.
 *
 * The wrappers keep the stock setup/dispose functions (they bind the wasm entry points), so they must be
 * built from the stock configs: `makeSameFixConfig(tf.getKernel('Conv2D', 'wasm'))`.
 * Try: npx vitest run test/kernels.test.ts (random stride/pad shapes against the cpu backend).
 */
import * as tf from '@tensorflow/tfjs';
import type { Attrs, TensorInfo } from './wasm_util.ts';

type Shape4 = [number, number, number, number];

/** Same attrs with 'same' replaced by the explicit [[0,0],[top,bottom],[left,right],[0,0]]. */
export function explicitSamePad(x: TensorInfo, filter: TensorInfo, attrs: Attrs): Attrs {
  if (attrs.pad !== 'same') return attrs;
  const fmt = attrs.dataFormat === 'NCHW' ? 'channelsFirst' : 'channelsLast';
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filter.shape as Shape4,
    attrs.strides as number | [number, number],
    (attrs.dilations as number | [number, number] | undefined) ?? 1,
    'same',
    undefined,
    false,
    fmt,
  );
  const { top, bottom, left, right } = info.padInfo;
  return {
    ...attrs,
    pad: [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ],
  };
}

/** A config for the same kernel name that calls `stock` with explicit pads. */
export function makeSameFixConfig(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: stock.kernelName,
    backendName: stock.backendName,
    setupFunc: stock.setupFunc,
    disposeFunc: stock.disposeFunc,
    kernelFunc: (args) => {
      const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
      return stock.kernelFunc({ ...args, attrs: explicitSamePad(x, filter, (args.attrs ?? {}) as Attrs) });
    },
  };
}
