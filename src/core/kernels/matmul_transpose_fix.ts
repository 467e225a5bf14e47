/**
 * Wrappers around the wasm backend's stock BatchMatMul and _FusedMatMul that replace transposeA /
 * transposeB by an explicit Transpose of the operand (last two axes) followed by the plain product.
 *
 * Why: the stock transposed variants bypass XNNPACK and run 10-20x slower here, e.g. for [15000,128]
 * operands: dy @ w^T 575 ms vs 32 ms with an explicit transpose, a^T @ dy 356 ms vs 19 ms. tfjs's matMul
 * gradient uses exactly these variants (da = dy b^T, db = a^T dy), so every model's backward pass on
 * wasm (GNN, GPT-2, the conv net's classifier) goes through here.
 *
 * Also fixes the stock _FusedMatMul with a bias and a batch > 1 (rank-3+ operands): its result is wrong
 * there (max error ~1 on random data against the cpu backend, with or without transposes). That case is
 * computed as BatchMatMul, then Add(bias), then the activation kernel.
 *
 * The wrappers keep the stock setup/dispose functions, so they are built from the stock configs:
 * `makeExplicitTransposeConfig(tf.getKernel('BatchMatMul', 'wasm'))`.
 * Try: npx vitest run test/kernels.test.ts
 */
import type * as tf from '@tensorflow/tfjs';
import type { Attrs, TensorInfo, WasmBackend } from './wasm_util.ts';
import { free, runWasmKernel } from './wasm_util.ts';

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

/** Kernel (and extra attrs/inputs) applying a fused activation, as tfjs's fused ops define them. */
function applyActivation(backend: WasmBackend, x: TensorInfo, attrs: Attrs, prelu: TensorInfo | undefined): TensorInfo {
  const act = (attrs.activation as string | undefined) ?? 'linear';
  switch (act) {
    case 'linear':
      return x;
    case 'relu':
      return runWasmKernel(backend, 'Relu', { x });
    case 'relu6':
      return runWasmKernel(backend, 'Relu6', { x });
    case 'elu':
      return runWasmKernel(backend, 'Elu', { x });
    case 'sigmoid':
      return runWasmKernel(backend, 'Sigmoid', { x });
    case 'leakyrelu':
      return runWasmKernel(backend, 'LeakyRelu', { x }, { alpha: (attrs.leakyreluAlpha as number | undefined) ?? 0.2 });
    case 'prelu':
      if (!prelu) throw new Error('nino wasm _FusedMatMul: prelu activation without weights');
      return runWasmKernel(backend, 'Prelu', { x, alpha: prelu });
    default:
      throw new Error(`nino wasm _FusedMatMul: unknown activation ${act}`);
  }
}

function batchOf(shape: number[]): number {
  let n = 1;
  for (let i = 0; i < shape.length - 2; i++) n *= shape[i];
  return n;
}

/** _FusedMatMul with bias and batch > 1, decomposed (the stock kernel is wrong there). */
function fusedMatMulDecomposed(backend: WasmBackend, inputs: Record<string, TensorInfo>, attrs: Attrs): TensorInfo {
  const { a, b, bias, preluActivationWeights } = inputs;
  const prod = runWasmKernel(backend, 'BatchMatMul', { a, b }, { transposeA: attrs.transposeA, transposeB: attrs.transposeB });
  const withBias = runWasmKernel(backend, 'Add', { a: prod, b: bias });
  free(backend, prod);
  const out = applyActivation(backend, withBias, attrs, preluActivationWeights);
  if (out !== withBias) free(backend, withBias);
  return out;
}

export function makeExplicitTransposeConfig(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: stock.kernelName,
    backendName: stock.backendName,
    setupFunc: stock.setupFunc,
    disposeFunc: stock.disposeFunc,
    kernelFunc: (args) => {
      const attrs = (args.attrs ?? {}) as Attrs;
      const backend = args.backend as WasmBackend;
      if (stock.kernelName === '_FusedMatMul') {
        const { a, b, bias } = args.inputs as Record<string, TensorInfo>;
        if (bias && Math.max(batchOf(a.shape), batchOf(b.shape)) > 1) {
          return fusedMatMulDecomposed(backend, args.inputs as Record<string, TensorInfo>, attrs);
        }
      }
      if (!attrs.transposeA && !attrs.transposeB) return stock.kernelFunc(args);
      const inputs = { ...args.inputs } as Record<string, TensorInfo>;
      const temps: TensorInfo[] = [];
      for (const [key, flag] of [
        ['a', attrs.transposeA],
        ['b', attrs.transposeB],
      ] as const) {
        if (!flag) continue;
        const t = inputs[key];
        const tt = runWasmKernel(backend, 'Transpose', { x: t }, { perm: swapLastTwo(t.shape.length) });
        temps.push(tt);
        inputs[key] = tt;
      }
      try {
        return stock.kernelFunc({ inputs, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
      } finally {
        for (const t of temps) free(backend, t);
      }
    },
  };
}
