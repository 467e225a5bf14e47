/** Laplacian eigenvector PE: properties vs the golden spectrum (values of degenerate columns are not unique). */
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/core/rng.ts';
import { buildNeuralGraph, type NeuralGraph } from '../src/graph/index.ts';
import { gpt2Specs } from '../src/tasks/models/gpt2.ts';
import {
  denseLaplacian,
  laplacianMatvec,
  laplacianPE,
  normalizedLaplacian,
  smallestEigenpairs,
} from '../src/graph/lpe.ts';
import { maxAbsDiff, refJson, refSt } from './helpers/reference.ts';

const CASES = [
  { dir: 'case_a_fm16', arch: 'cnn', opts: {}, unique: [0, 1, 2], pairs: [] as number[][], tolVec: 1e-5 },
  {
    dir: 'case_b_gpt2',
    arch: 'gpt2',
    opts: { numHeads: 2 },
    unique: [0, 1, 2, 3, 4, 5],
    pairs: [[6, 7]],
    tolVec: 1e-4,
  },
];

function residualAndOrtho(
  g: NeuralGraph,
  vecs: Float64Array[],
  vals: ArrayLike<number>,
): { res: number; ortho: number } {
  const L = normalizedLaplacian(g);
  const y = new Float64Array(L.n);
  let res = 0,
    ortho = 0;
  vecs.forEach((v, j) => {
    laplacianMatvec(L, v, y);
    let s = 0;
    for (let i = 0; i < L.n; i++) s += (y[i] - vals[j] * v[i]) ** 2;
    res = Math.max(res, Math.sqrt(s));
    vecs.forEach((w, k) => {
      let d = 0;
      for (let i = 0; i < L.n; i++) d += v[i] * w[i];
      ortho = Math.max(ortho, Math.abs(d - (j === k ? 1 : 0)));
    });
  });
  return { res, ortho };
}

for (const c of CASES) {
  describe(`LPE ${c.dir}`, () => {
    const meta = refJson(`${c.dir}/meta.json`);
    const g = buildNeuralGraph(c.arch, meta.model_dict, c.opts);
    const gs = refSt(`${c.dir}/graph.safetensors`).tensors;
    const N = g.numNodes;

    it('normalized Laplacian equals the golden float32 dense L', () => {
      const L = denseLaplacian(normalizedLaplacian(g));
      expect(maxAbsDiff(L, gs.lpe_laplacian_dense.data as Float32Array)).toBeLessThan(1e-7);
    });

    for (const denseMaxNodes of [100000, 0]) {
      const method = denseMaxNodes ? 'dense' : 'lanczos';
      it(`${method}: eigenvalues, residuals, orthonormality, sign-invariant equality for unique columns`, () => {
        const sp = smallestEigenpairs(normalizedLaplacian(g), 9, { denseMaxNodes });
        expect(sp.method).toBe(method);
        const ref = gs.lpe_eigvals_f64_full.data as Float64Array;
        // golden L is float32, so its spectrum differs from the exact one by ~5e-8
        expect(maxAbsDiff(sp.values, ref.subarray(0, 9))).toBeLessThan(2e-7);
        const { res, ortho } = residualAndOrtho(g, sp.vectors, sp.values);
        expect(res).toBeLessThan(1e-8);
        expect(ortho).toBeLessThan(1e-10);
        const raw = gs.lpe_eigvecs_raw_f32.data as Float32Array;
        const col = (a: ArrayLike<number>, j: number, stride: number) =>
          Float64Array.from({ length: N }, (_, i) => a[i * stride + j]);
        for (const j of c.unique) {
          const mine = sp.vectors[j + 1],
            gold = col(raw, j, 8);
          const dPlus = maxAbsDiff(mine, gold),
            dMinus = maxAbsDiff(
              mine,
              gold.map((x) => -x),
            );
          expect(Math.min(dPlus, dMinus), `column ${j}`).toBeLessThan(c.tolVec);
        }
        for (const [a, b] of c.pairs) {
          // golden columns a, b lie in span of ours
          for (const j of [a, b]) {
            const gold = col(raw, j, 8);
            let p2 = 0;
            for (const m of [a, b]) {
              let d = 0;
              for (let i = 0; i < N; i++) d += gold[i] * sp.vectors[m + 1][i];
              p2 += d * d;
            }
            expect(Math.abs(p2 - 1), `pair column ${j}`).toBeLessThan(1e-5);
          }
        }
      });
    }

    it('laplacianPE: [N, 8], columns = eigenvectors 1..8 times seeded random signs', () => {
      const a = laplacianPE(g, { rng: new Rng(5) });
      const b = laplacianPE(g, { rng: new Rng(5), noSignFlip: true });
      expect(a.pos.length).toBe(N * 8);
      for (let j = 0; j < 8; j++)
        for (let i = 0; i < N; i++) expect(a.pos[i * 8 + j]).toBe(Math.fround(b.pos[i * 8 + j] * a.signs[j]));
      expect(Array.from(laplacianPE(g, { rng: new Rng(5) }).signs)).toEqual(Array.from(a.signs));
    });
  });
}

describe('LPE at LM1B-3-24 size (Lanczos)', () => {
  it('converges: residuals and orthonormality on 51,922 nodes', () => {
    const g = buildNeuralGraph('gpt2', gpt2Specs({ vocabSize: 50257, nPositions: 1024, nEmbd: 24, nLayer: 3 }), {
      numHeads: 3,
    });
    const sp = smallestEigenpairs(normalizedLaplacian(g), 9, {});
    expect(sp.method).toBe('lanczos');
    expect(sp.values[0]).toBeCloseTo(0, 12);
    for (let j = 1; j < 9; j++) expect(sp.values[j]).toBeGreaterThanOrEqual(sp.values[j - 1]);
    const { res, ortho } = residualAndOrtho(g, sp.vectors, sp.values);
    expect(res).toBeLessThan(1e-8);
    expect(ortho).toBeLessThan(1e-10);
  }, 60_000);
});
