/**
 * nino's wasm kernels (src/core/kernels) against the tfjs cpu backend: Conv2D gradients
 * (Conv2DBackpropInput, Conv2DBackpropFilter) on fixed and random shapes (strides 1-3, same / valid /
 * numeric pads, batch > 1, channels > 1), UnsortedSegmentSum, and the differentiable gatherRows /
 * segmentSum ops (forward and gradient, on both backends).
 * The same comparisons run on webgpu (tfjs-backend-webgpu on Dawn) against cpu where a WebGPU adapter
 * exists; elsewhere they are skipped, the describe title naming what is missing. NINO_REQUIRE_WEBGPU=1
 * turns a missing adapter into a failure (scripts/gpu-check.sh).
 *
 *   npx vitest run test/kernels.test.ts
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, probeWebgpu } from '../src/core/backend.ts';
import { Rng } from '../src/core/rng.ts';
import { gatherRows, segmentSum } from '../src/core/kernels/ops.ts';
import { NINO_WASM_KERNELS, WRAPPED_STOCK_KERNELS, ninoWasmKernel } from '../src/core/kernels/register.ts';

type Arrays = Float32Array[];

/** The backends compared against cpu; webgpu is skipped, saying why, where it has no adapter. */
interface Target {
  name: 'wasm' | 'webgpu';
  /** false, or why the comparisons are skipped */
  skip: string | false;
  /** ' [skipped: ...]' in describe titles */
  note: string;
  /** tolerance for a comparison whose wasm tolerance is `t` (GPU sums in another order) */
  tol(t: number): number;
}
const webgpu = await probeWebgpu();
if (webgpu.ok) await webgpu.activate(); // registers the 'webgpu' backend; on() switches to it
const webgpuSkip = webgpu.ok ? false : `no WebGPU here: ${webgpu.why}`;
const TARGETS: Target[] = [
  { name: 'wasm', skip: false, note: '', tol: (t) => t },
  {
    name: 'webgpu',
    skip: webgpuSkip,
    note: webgpuSkip ? ` [skipped: ${webgpuSkip}]` : '',
    tol: (t) => Math.max(t, 1e-4),
  },
];

/** Runs fn on the given backend (tensors in, arrays out; read with await, as webgpu needs), then goes back to wasm. */
async function on(backend: 'cpu' | Target['name'], fn: () => tf.Tensor[]): Promise<Arrays> {
  await tf.setBackend(backend);
  try {
    return await Promise.all(
      tf.tidy(fn).map(async (t) => {
        const a = Float32Array.from(await t.data());
        t.dispose();
        return a;
      }),
    );
  } finally {
    await tf.setBackend('wasm');
  }
}

/** max |a-b| / max(|b|, tiny) */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return m / Math.max(s, 1e-12);
}

function randArray(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

type Pad = 'same' | 'valid' | number;
interface ConvCase {
  x: [number, number, number, number];
  k: [number, number];
  co: number;
  stride: number | [number, number];
  pad: Pad;
}

/** y = conv2d(x, w); loss = sum(y * g) for a fixed g; returns [y, dL/dx, dL/dw]. */
function convFwdBwd(c: ConvCase, xv: Float32Array, wv: Float32Array): () => tf.Tensor[] {
  return () => {
    const x = tf.tensor4d(xv, c.x);
    const w = tf.tensor4d(wv, [c.k[0], c.k[1], c.x[3], c.co]);
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad);
    const y = f(x, w);
    const g = tf.sin(tf.range(0, y.size).reshape(y.shape)); // fixed, non-uniform upstream gradient
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a, b).mul(g).sum())([x, w]);
    return [y, dx, dw];
  };
}

async function checkConv(c: ConvCase, rng: Rng, t: Target): Promise<void> {
  const xv = randArray(
    rng,
    c.x.reduce((p, q) => p * q, 1),
  );
  const wv = randArray(rng, c.k[0] * c.k[1] * c.x[3] * c.co);
  const ref = await on('cpu', convFwdBwd(c, xv, wv));
  const got = await on(t.name, convFwdBwd(c, xv, wv));
  const names = ['y', 'dx', 'dw'];
  for (let i = 0; i < 3; i++) {
    const e = relErr(got[i], ref[i]);
    if (!(e < t.tol(1e-4))) throw new Error(`${names[i]} rel err ${e} for ${JSON.stringify(c)}`);
  }
}

beforeAll(async () => {
  const r = await initBackend('wasm');
  expect(r.name).toBe('wasm');
});

describe('registration', () => {
  it('nino kernels are the ones registered for wasm', () => {
    const names = NINO_WASM_KERNELS.map((k) => k.kernelName).sort();
    expect(names).toEqual(['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'GatherV2', 'UnsortedSegmentSum']);
    for (const k of NINO_WASM_KERNELS) expect(tf.getKernel(k.kernelName, 'wasm')).toBe(k);
    for (const name of WRAPPED_STOCK_KERNELS) {
      expect(ninoWasmKernel(name)).toBeDefined();
      expect(tf.getKernel(name, 'wasm')).toBe(ninoWasmKernel(name));
    }
  });
});

describe('webgpu', () => {
  it.runIf(process.env.NINO_REQUIRE_WEBGPU === '1')('has an adapter (NINO_REQUIRE_WEBGPU=1)', () => {
    if (!webgpu.ok) throw new Error(webgpu.detail);
    expect(webgpu.adapter).not.toBe('');
  });
});

for (const be of TARGETS)
  describe(`conv2d gradients on ${be.name} vs cpu${be.note}`, () => {
    const fixed: ConvCase[] = [
      { x: [3, 28, 28, 1], k: [3, 3], co: 4, stride: 2, pad: 'valid' }, // FM-16 first layer (smaller)
      { x: [2, 13, 13, 4], k: [3, 3], co: 5, stride: 1, pad: 'same' }, // FM-16 inner layers
      { x: [2, 9, 9, 3], k: [3, 3], co: 4, stride: 2, pad: 'same' },
      { x: [2, 10, 8, 2], k: [3, 3], co: 3, stride: 2, pad: 'same' },
      { x: [2, 8, 8, 2], k: [2, 2], co: 3, stride: 2, pad: 'same' },
      { x: [1, 6, 7, 2], k: [3, 2], co: 3, stride: 1, pad: 'valid' },
      { x: [2, 9, 9, 3], k: [3, 3], co: 4, stride: 1, pad: 1 },
      { x: [2, 11, 11, 3], k: [5, 5], co: 4, stride: 3, pad: 'same' },
      { x: [2, 9, 11, 3], k: [3, 3], co: 2, stride: [2, 1], pad: 'valid' },
      { x: [2, 5, 5, 3], k: [1, 1], co: 6, stride: 1, pad: 'valid' },
    ];
    for (const c of fixed) {
      it.skipIf(be.skip)(`x ${c.x} k ${c.k} co ${c.co} stride ${c.stride} pad ${c.pad}`, async () => {
        await checkConv(c, new Rng(`conv:${JSON.stringify(c)}`), be);
      });
    }

    it.skipIf(be.skip)('40 random shapes (stride 1-3, same/valid, batch 1-3, channels 1-6)', async () => {
      const rng = new Rng(7);
      for (let t = 0; t < 40; t++) {
        const kh = 1 + rng.int(4);
        const kw = 1 + rng.int(4);
        const stride = 1 + rng.int(3);
        const pad: Pad = rng.uniform() < 0.5 ? 'same' : 'valid';
        const h = kh + rng.int(9);
        const w = kw + rng.int(9);
        const c: ConvCase = { x: [1 + rng.int(3), h, w, 1 + rng.int(6)], k: [kh, kw], co: 1 + rng.int(6), stride, pad };
        await checkConv(c, rng, be);
      }
    });

    it.skipIf(be.skip)('fused conv2d + bias + relu forward (stock FusedConv2D behind the same-pad fix)', async () => {
      const rng = new Rng(5);
      const cases: ConvCase[] = [
        { x: [2, 2, 8, 3], k: [1, 4], co: 4, stride: 3, pad: 'same' }, // stride > filter: stock 'same' was wrong
        { x: [2, 13, 13, 4], k: [3, 3], co: 5, stride: 1, pad: 'same' },
        { x: [2, 28, 28, 1], k: [3, 3], co: 4, stride: 2, pad: 'valid' },
      ];
      for (const c of cases) {
        const xv = randArray(
          rng,
          c.x.reduce((p, q) => p * q, 1),
        );
        const wv = randArray(rng, c.k[0] * c.k[1] * c.x[3] * c.co);
        const bv = randArray(rng, c.co);
        const f = () => [
          tf.fused.conv2d({
            x: tf.tensor4d(xv, c.x),
            filter: tf.tensor4d(wv, [c.k[0], c.k[1], c.x[3], c.co]),
            strides: c.stride,
            pad: c.pad as 'same' | 'valid',
            bias: tf.tensor1d(bv),
            activation: 'relu',
          }),
        ];
        const ref = await on('cpu', f);
        const got = await on(be.name, f);
        expect(relErr(got[0], ref[0]), JSON.stringify(c)).toBeLessThan(be.tol(1e-4));
      }
    });

    it.skipIf(be.skip)('the check fails on a wrong gradient (the comparison is not vacuous)', () => {
      expect(relErr(new Float32Array([1, 2, 3]), new Float32Array([1, 2, 3.01]))).toBeGreaterThan(1e-4);
    });
  });

for (const be of TARGETS)
  describe(`UnsortedSegmentSum on ${be.name} vs cpu${be.note}`, () => {
    const cases: { x: number[]; n: number; dtype: 'float32' | 'int32' }[] = [
      { x: [50, 7], n: 9, dtype: 'float32' },
      { x: [200, 1], n: 13, dtype: 'float32' },
      { x: [31], n: 5, dtype: 'float32' },
      { x: [40, 3, 2], n: 6, dtype: 'float32' },
      { x: [60, 4], n: 8, dtype: 'int32' },
    ];
    for (const c of cases) {
      it.skipIf(be.skip)(`x ${c.x} ${c.dtype} into ${c.n} segments (with dropped ids)`, async () => {
        const rng = new Rng(`uss:${JSON.stringify(c)}`);
        const size = c.x.reduce((a, b) => a * b, 1);
        const xv =
          c.dtype === 'int32' ? Int32Array.from({ length: size }, () => rng.int(21) - 10) : randArray(rng, size);
        // some ids out of range (-1, n): dropped, as in TF
        const sv = Int32Array.from({ length: c.x[0] }, (_, i) =>
          i % 17 === 5 ? -1 : i % 19 === 3 ? c.n : rng.int(c.n),
        );
        const f = () => [tf.unsortedSegmentSum(tf.tensor(xv, c.x, c.dtype), tf.tensor1d(sv, 'int32'), c.n)];
        const ref = await on('cpu', f);
        const got = await on(be.name, f);
        expect(relErr(got[0], ref[0])).toBeLessThan(be.tol(1e-5));
        expect(got[0].length).toBe((size / c.x[0]) * c.n);
      });
    }
  });

for (const be of TARGETS)
  describe(`BatchMatMul / _FusedMatMul with transposes on ${be.name} vs cpu${be.note}`, () => {
    // [aShape, bShape, transposeA, transposeB]
    const cases: [number[], number[], boolean, boolean][] = [
      [[37, 20], [37, 11], true, false],
      [[37, 20], [11, 20], false, true],
      [[20, 37], [11, 20], true, true],
      [[37, 20], [20, 11], false, false],
      [[3, 9, 5], [3, 7, 5], false, true],
      [[3, 5, 9], [3, 5, 7], true, false],
      [[3, 5, 9], [1, 7, 5], true, true], // broadcast batch
      [[2, 3, 6, 4], [2, 3, 6, 5], true, false], // rank 4
      [[4, 17, 9], [4, 9, 13], false, false], // batched, small entries: stock batched kernel
      [[3, 24, 20], [3, 20, 24], false, false], // batched, big entries: one XNNPACK product per entry
      [[3, 20, 24], [3, 24, 20], true, true],
      [[17, 9], [4, 9, 13], false, false], // broadcast a
      [[40, 30], [3, 30, 20], false, false], // broadcast a, big entries
      [[2, 3, 6, 4], [1, 4, 5], false, false], // broadcast b, rank 4 x rank 3
      [[2, 3, 30, 20], [20, 25], false, false], // broadcast b, big entries
      [[2, 3, 6, 4], [6, 5], true, false],
    ];
    for (const [as, bs, ta, tb] of cases) {
      it.skipIf(be.skip)(`a ${as} b ${bs} transposeA ${ta} transposeB ${tb}`, async () => {
        const rng = new Rng(`mm:${as}:${bs}:${ta}:${tb}`);
        const av = randArray(
          rng,
          as.reduce((p, q) => p * q, 1),
        );
        const bv = randArray(
          rng,
          bs.reduce((p, q) => p * q, 1),
        );
        const f = () => {
          const a = tf.tensor(av, as);
          const b = tf.tensor(bv, bs);
          const y = tf.matMul(a, b, ta, tb);
          const bias = tf.sin(tf.range(0, y.shape[y.rank - 1]));
          const fused = tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation: 'relu' });
          const g = tf.cos(tf.range(0, y.size).reshape(y.shape));
          const fusedLin = tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias });
          const fusedNoBias = tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, activation: 'relu' });
          const sameBatch = as.length === bs.length && as.slice(0, -2).every((d, i) => d === bs[i]);
          if (!sameBatch) return [y, fused, fusedLin, fusedNoBias]; // tfjs has no broadcast-batch matMul gradient
          const [da, db] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.matMul(p, q, ta, tb).mul(g).sum())([a, b]);
          return [y, fused, fusedLin, fusedNoBias, da, db];
        };
        const ref = await on('cpu', f);
        const got = await on(be.name, f);
        for (let i = 0; i < ref.length; i++) expect(relErr(got[i], ref[i]), `output ${i}`).toBeLessThan(be.tol(1e-5));
      });
    }
  });

for (const be of TARGETS)
  describe(`_FusedMatMul bias edge cases on ${be.name} vs cpu${be.note}`, () => {
    it.skipIf(be.skip)('bias reshaped to 1-D from 2-D data, and a rank-2 broadcast bias', async () => {
      const rng = new Rng('fused-bias');
      const av = randArray(rng, 6 * 5);
      const bv = randArray(rng, 5 * 8);
      const biasv = randArray(rng, 2 * 8);
      const f = () => {
        const a = tf.tensor2d(av, [6, 5]);
        const b = tf.tensor2d(bv, [5, 8]);
        const bias2d = tf.tensor2d(biasv, [2, 8]);
        const reshaped = tf.reshape(tf.slice(bias2d, [1, 0], [1, 8]), [8]); // 1-D view of 2-D data
        const y1 = tf.fused.matMul({ a, b, bias: reshaped, activation: 'relu' });
        const y2 = tf.fused.matMul({ a, b, bias: tf.slice(bias2d, [0, 0], [1, 8]), transposeB: false });
        return [y1, y2];
      };
      const ref = await on('cpu', f);
      const got = await on(be.name, f);
      for (let i = 0; i < ref.length; i++) expect(relErr(got[i], ref[i]), `output ${i}`).toBeLessThan(be.tol(1e-5));
    });
  });

for (const be of TARGETS)
  describe(`GatherV2 on ${be.name} vs cpu${be.note}`, () => {
    const cases: {
      x: number[];
      idx: number[];
      axis: number;
      batchDims?: number;
      dtype: 'float32' | 'int32' | 'bool';
    }[] = [
      { x: [20, 128], idx: [300], axis: 0, dtype: 'float32' }, // long rows: copyWithin path
      { x: [20, 3], idx: [50], axis: 0, dtype: 'float32' }, // short rows: element loop
      { x: [7], idx: [4, 5], axis: 0, dtype: 'float32' },
      { x: [4, 9, 5], idx: [6], axis: 1, dtype: 'float32' },
      { x: [4, 9, 32], idx: [2, 3], axis: 1, dtype: 'int32' },
      { x: [3, 6, 2], idx: [3, 4], axis: 1, batchDims: 1, dtype: 'float32' },
      { x: [10, 5], idx: [12], axis: 0, dtype: 'bool' },
      { x: [10, 40], idx: [12], axis: 0, dtype: 'bool' },
      { x: [5, 8], idx: [0], axis: 0, dtype: 'float32' },
    ];
    for (const c of cases) {
      it.skipIf(be.skip)(`x ${c.x} ${c.dtype} idx ${c.idx} axis ${c.axis} batchDims ${c.batchDims ?? 0}`, async () => {
        const rng = new Rng(`gather:${JSON.stringify(c)}`);
        const size = c.x.reduce((a, b) => a * b, 1);
        const xv =
          c.dtype === 'float32'
            ? randArray(rng, size)
            : c.dtype === 'int32'
              ? Int32Array.from({ length: size }, () => rng.int(1000) - 500)
              : Uint8Array.from({ length: size }, () => rng.int(2));
        const n = c.idx.reduce((a, b) => a * b, 1);
        const iv = Int32Array.from({ length: n }, () => rng.int(c.x[c.axis]));
        const f = () => [
          tf.gather(tf.tensor(xv, c.x, c.dtype), tf.tensor(iv, c.idx, 'int32'), c.axis, c.batchDims ?? 0).toFloat(),
        ];
        const ref = await on('cpu', f);
        const got = await on(be.name, f);
        expect(Array.from(got[0])).toEqual(Array.from(ref[0]));
      });
    }
    it.skipIf(be.skip)(
      "tfjs's own gradients of gather and unsortedSegmentSum (which call these kernels) match cpu",
      async () => {
        const rng = new Rng('stock-grads');
        const xv = randArray(rng, 12 * 5);
        const ev = randArray(rng, 30 * 5);
        const idx = Int32Array.from({ length: 30 }, () => rng.int(12));
        const f = () => {
          const x = tf.tensor2d(xv, [12, 5]);
          const e = tf.tensor2d(ev, [30, 5]);
          const i = tf.tensor1d(idx, 'int32');
          const g1 = tf.grad((a: tf.Tensor) =>
            tf
              .gather(a, i)
              .mul(tf.tensor2d(ev, [30, 5]))
              .sum(),
          )(x);
          const g2 = tf.grad((a: tf.Tensor) => tf.unsortedSegmentSum(a, i, 12).square().sum())(e);
          const g3 = tf.grad((a: tf.Tensor) =>
            tf
              .gather(a, tf.tensor2d(Int32Array.from(idx.slice(0, 6)), [2, 3], 'int32'), 1)
              .square()
              .sum(),
          )(tf.tensor2d(xv, [5, 12]));
          return [g1, g2, g3];
        };
        const ref = await on('cpu', f);
        const got = await on(be.name, f);
        for (let i = 0; i < ref.length; i++) expect(relErr(got[i], ref[i]), `grad ${i}`).toBeLessThan(be.tol(1e-5));
      },
    );

    // nino's wasm GatherV2 checks indices; stock webgpu does not (the GPU clamps)
    it.runIf(be.name === 'wasm')('rejects out-of-range indices', () => {
      expect(() => tf.gather(tf.zeros([4, 16]), tf.tensor1d([1, 4], 'int32'))).toThrow(/not in \[0, 3\]/);
      expect(() => tf.gather(tf.zeros([4, 16]), tf.tensor1d([-1], 'int32'))).toThrow(/not in/);
    });
  });

for (const be of TARGETS)
  describe(`gatherRows / segmentSum (custom gradients) on cpu and ${be.name}${be.note}`, () => {
    const N = 23;
    const E = 150;
    const H = 6;
    const rng = new Rng(11);
    const xv = randArray(rng, N * H);
    const ev = randArray(rng, E * H);
    const src = Int32Array.from({ length: E }, () => rng.int(N));
    const dst = Int32Array.from({ length: E }, () => rng.int(N));
    const gN = randArray(rng, N * H); // upstream gradients
    const gE = randArray(rng, E * H);

    // reference with plain tfjs ops (stock gradients), computed on cpu
    const stock = () => {
      const x = tf.tensor2d(xv, [N, H]);
      const e = tf.tensor2d(ev, [E, H]);
      const gathered = tf.gather(x, tf.tensor1d(src, 'int32'));
      const summed = tf.unsortedSegmentSum(e, tf.tensor1d(dst, 'int32'), N);
      const [dx] = tf.grads((a: tf.Tensor) =>
        tf
          .gather(a, tf.tensor1d(src, 'int32'))
          .mul(tf.tensor2d(gE, [E, H]))
          .sum(),
      )([x]);
      const [de] = tf.grads((a: tf.Tensor) =>
        tf
          .unsortedSegmentSum(a, tf.tensor1d(dst, 'int32'), N)
          .mul(tf.tensor2d(gN, [N, H]))
          .sum(),
      )([e]);
      return [gathered, summed, dx, de];
    };
    const ours = () => {
      const x = tf.tensor2d(xv, [N, H]);
      const e = tf.tensor2d(ev, [E, H]);
      const gathered = gatherRows(x, tf.tensor1d(src, 'int32'));
      const summed = segmentSum(e, tf.tensor1d(dst, 'int32'), N);
      const [dx] = tf.grads((a: tf.Tensor) =>
        gatherRows(a, tf.tensor1d(src, 'int32'))
          .mul(tf.tensor2d(gE, [E, H]))
          .sum(),
      )([x]);
      const [de] = tf.grads((a: tf.Tensor) =>
        segmentSum(a, tf.tensor1d(dst, 'int32'), N)
          .mul(tf.tensor2d(gN, [N, H]))
          .sum(),
      )([e]);
      // a message-passing round trip: d/dx of sum(segmentSum(gatherRows(x, src), dst) * g)
      const [dxx] = tf.grads((a: tf.Tensor) =>
        segmentSum(gatherRows(a, tf.tensor1d(src, 'int32')), tf.tensor1d(dst, 'int32'), N)
          .mul(tf.tensor2d(gN, [N, H]))
          .sum(),
      )([x]);
      return [gathered, summed, dx, de, dxx];
    };

    it.skipIf(be.skip)(`forward and gradient match stock tfjs, on cpu and on ${be.name}`, async () => {
      const ref = await on('cpu', stock);
      for (const b of ['cpu', be.name] as const) {
        const got = await on(b, ours);
        for (let i = 0; i < 4; i++) expect(relErr(got[i], ref[i]), `${b} output ${i}`).toBeLessThan(be.tol(1e-5));
      }
    });

    it.skipIf(be.skip)('round-trip gradient equals the hand-computed one', async () => {
      // d/dx[n] = sum_{e: src[e]=n} gN[dst[e]]
      const want = new Float32Array(N * H);
      for (let e = 0; e < E; e++) for (let k = 0; k < H; k++) want[src[e] * H + k] += gN[dst[e] * H + k];
      for (const b of ['cpu', be.name] as const) {
        const got = await on(b, ours);
        expect(relErr(got[4], want), b).toBeLessThan(be.tol(1e-5));
      }
    });

    it.skipIf(be.skip)('does not leak tensors', async () => {
      const before = tf.memory().numTensors;
      await on(be.name, ours);
      expect(tf.memory().numTensors).toBe(before);
    });
  });
