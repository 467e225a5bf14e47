/**
 * Wrappers around the wasm backend's stock BatchMatMul and _FusedMatMul that replace transposeA /
 * transposeB by an explicit Transpose of the operand (last two axes) followed by the plain product.
 *
 * Why: the stock transposed variants bypass XNNPACK and run 10-20x slower here, e.g. for [15000,128]
 * operands: dy @ w^T 575 ms vs 32 ms with an explicit transpose, a^T @ dy 356 ms vs 19 ms. tfjs's matMul
 * gradient uses exactly these variants (da = dy b^T, db = a^T dy), so every model's backward pass on
 * wasm (GNN, GPT-2, the conv net's classifier) goes through here.
 *
 * BatchMatMul with a batch > 1 runs the stock kernel once per batch entry (operands copied out of the
 * heap with copyWithin): the stock batched path also bypasses XNNPACK, e.g. [8,256,256]x[8,256,256]
 * took 295 ms against 18 ms for eight single products. Only when an entry is big enough
 * (M*K*N >= 8192 multiply-adds; below that the per-call overhead wins: 256 x 8x8x8 took 1.1 ms per entry
 * vs 0.18 ms stock). Batch dims must be equal or one side's must be all ones (broadcast); other
 * broadcasts go to the stock kernel.
 *
 * Also fixes two stock _FusedMatMul bias bugs: (1) with a batch > 1 its result is wrong (max error ~1 on
 * random data against the cpu backend, with or without transposes); (2) it checks the bias rank on the
 * shape stored with the data, so a bias reshaped to 1-D from a 2-D tensor throws, and a broadcastable
 * rank-2 bias is refused. Those cases run as BatchMatMul, then Add(bias), then the activation kernel.
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
  const prod = runWasmKernel(
    backend,
    'BatchMatMul',
    { a, b },
    { transposeA: attrs.transposeA, transposeB: attrs.transposeB },
  );
  const withBias = runWasmKernel(backend, 'Add', { a: prod, b: bias });
  free(backend, prod);
  const out = applyActivation(backend, withBias, attrs, preluActivationWeights);
  if (out !== withBias) free(backend, withBias);
  return out;
}

/** Per-entry products only from this size of one entry (multiply-adds); measured crossover ~4096. */
const MIN_ENTRY_MACS = 8192;

function byteOffset(backend: WasmBackend, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId)!.memoryOffset as number;
}

/** Per-batch-entry products for a [...batch, M, K] x b [...batch, K, N] (no transposes). null: not handled. */
function batchedByEntries(
  backend: WasmBackend,
  stock: tf.KernelConfig,
  a: TensorInfo,
  b: TensorInfo,
): TensorInfo | null {
  const ba = batchOf(a.shape);
  const bb = batchOf(b.shape);
  const batch = Math.max(ba, bb);
  if (batch <= 1 || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const aBatchDims = a.shape.slice(0, -2);
  const bBatchDims = b.shape.slice(0, -2);
  let outBatchDims: number[];
  if (ba === bb && aBatchDims.length === bBatchDims.length && aBatchDims.every((d, i) => d === bBatchDims[i]))
    outBatchDims = aBatchDims;
  else if (ba === 1 && aBatchDims.length <= bBatchDims.length) outBatchDims = bBatchDims;
  else if (bb === 1 && bBatchDims.length <= aBatchDims.length) outBatchDims = aBatchDims;
  else return null;
  const [m, k] = a.shape.slice(-2);
  const n = b.shape[b.shape.length - 1];
  if (m * k * n < MIN_ENTRY_MACS) return null;
  const out = backend.makeOutput([...outBatchDims, m, n], 'float32');
  const attrs = { transposeA: false, transposeB: false };
  const heap = () => (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
  const entry = (t: TensorInfo, i: number, rows: number, cols: number): TensorInfo => {
    const e = backend.makeOutput([1, rows, cols], 'float32');
    const bytes = rows * cols * 4;
    const src = byteOffset(backend, t) + i * bytes;
    heap().copyWithin(byteOffset(backend, e), src, src + bytes);
    return e;
  };
  const a1 = ba === 1 ? runWasmKernel(backend, 'Reshape', { x: a }, { shape: [1, m, k] }) : null;
  const b1 = bb === 1 ? runWasmKernel(backend, 'Reshape', { x: b }, { shape: [1, k, n] }) : null;
  try {
    for (let i = 0; i < batch; i++) {
      const ai = a1 ?? entry(a, i, m, k);
      const bi = b1 ?? entry(b, i, k, n);
      const oi = stock.kernelFunc({ inputs: { a: ai, b: bi }, backend, attrs }) as TensorInfo;
      const bytes = m * n * 4;
      const src = byteOffset(backend, oi);
      heap().copyWithin(byteOffset(backend, out) + i * bytes, src, src + bytes);
      free(backend, oi);
      if (ai !== a1) free(backend, ai);
      if (bi !== b1) free(backend, bi);
    }
  } finally {
    if (a1) free(backend, a1);
    if (b1) free(backend, b1);
  }
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
        const storedRank = bias ? backend.dataIdMap.get(bias.dataId)!.shape.length : 1;
        if (bias && (Math.max(batchOf(a.shape), batchOf(b.shape)) > 1 || storedRank !== 1 || bias.shape.length !== 1)) {
          return fusedMatMulDecomposed(backend, args.inputs as Record<string, TensorInfo>, attrs);
        }
      }
      if (!attrs.transposeA && !attrs.transposeB) {
        if (stock.kernelName === 'BatchMatMul') {
          const { a, b } = args.inputs as Record<string, TensorInfo>;
          const r = batchedByEntries(backend, stock, a, b);
          if (r) return r;
        }
        return stock.kernelFunc(args);
      }
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
        if (stock.kernelName === 'BatchMatMul') {
          const r = batchedByEntries(backend, stock, inputs.a, inputs.b);
          if (r) return r;
        }
        return stock.kernelFunc({ inputs, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
      } finally {
        for (const t of temps) free(backend, t);
      }
    },
  };
}
