/**
 * Laplacian eigenvector positional encoding (official `NeuralGraph._add_lpe`: PyG `ToUndirected` +
 * `AddLaplacianEigenvectorPE(k=8, is_undirected=True)`, README §4).
 *
 * A = symmetric binary adjacency (both edge directions, duplicates merged, self-loops removed);
 * L = I - D^-1/2 A D^-1/2 (isolated nodes: L_ii = 1). Take the k+1 smallest eigenpairs (ascending), drop
 * index 0, keep columns 1..k, multiply column j by a random sign from `rng`. Solvers (Float64):
 *  - N <= denseMaxNodes (400): dense Householder tridiagonalization + implicit QL (EISPACK tred2/tql2,
 *    symeig.ts), exact.
 *  - otherwise: Lanczos with full (twice-applied classical Gram-Schmidt) reorthogonalization, the exact
 *    null vectors D^1/2·1 of every connected component deflated up front, and verification passes
 *    (Lanczos deflated against all accepted vectors) that catch eigenvalues a single Krylov sequence misses
 *    (repeated eigenvalues).
 * Degenerate eigenspaces (e.g. eigenvalue 1 in case A) make some columns basis-dependent; see the README.
 *
 *   const { pos } = laplacianPE(graph, { k: 8, rng: new Rng(1234) });   // pos: Float32Array [N*k]
 */
import { Rng } from '../core/rng.ts';
import { symEig, symTridiag } from './symeig.ts';
import type { NeuralGraph } from './types.ts';

export interface LpeOptions {
  /** number of eigenvectors (default 8) */
  k?: number;
  /** source of the random sign flips (default new Rng(1234)); also seeds Lanczos start vectors */
  rng?: Rng;
  /** largest N solved densely (default 400; dense costs ~0.4 s at N=500, ~2.7 s at N=1000) */
  denseMaxNodes?: number;
  /** Lanczos residual tolerance ‖Lv − λv‖ (default 1e-9) */
  tol?: number;
  /** Lanczos max Krylov dimension per pass (default 400) */
  maxIter?: number;
  /** disable the random sign flip (signs all +1) */
  noSignFlip?: boolean;
}

export interface LpeResult {
  /** [N, k] row-major: the positional encodings fed to the model (after sign flip) */
  pos: Float32Array;
  /** [k+1] smallest eigenvalues, ascending (index 0 is the dropped one) */
  eigvals: Float64Array;
  /** [k] the ±1 flips applied to the columns */
  signs: Int8Array;
  method: 'dense' | 'lanczos';
  /** Lanczos: total matrix-vector products */
  matvecs: number;
}

/** Normalized Laplacian as CSR of A plus D^-1/2: L x = x - dinv ⊙ A (dinv ⊙ x). */
export interface SymLaplacian {
  n: number;
  /** [n+1] */
  rowPtr: Int32Array;
  /** [nnz] sorted, unique neighbours (no self) */
  col: Int32Array;
  /** [n] D^-1/2 (0 for isolated nodes) */
  dinv: Float64Array;
}

export function normalizedLaplacian(g: Pick<NeuralGraph, 'numNodes' | 'numEdges' | 'edgeIndex'>): SymLaplacian {
  const n = g.numNodes,
    E = g.numEdges,
    ei = g.edgeIndex;
  const cnt = new Int32Array(n + 1);
  for (let e = 0; e < E; e++) {
    const s = ei[e],
      d = ei[E + e];
    if (s === d) continue;
    cnt[s + 1]++;
    cnt[d + 1]++;
  }
  for (let i = 0; i < n; i++) cnt[i + 1] += cnt[i];
  const fill = cnt.slice(0, n);
  const tmp = new Int32Array(cnt[n]);
  for (let e = 0; e < E; e++) {
    const s = ei[e],
      d = ei[E + e];
    if (s === d) continue;
    tmp[fill[s]++] = d;
    tmp[fill[d]++] = s;
  }
  const rowPtr = new Int32Array(n + 1);
  let w = 0;
  for (let i = 0; i < n; i++) {
    const seg = tmp.subarray(cnt[i], cnt[i + 1]);
    seg.sort();
    rowPtr[i] = w;
    let prev = -1;
    for (let j = 0; j < seg.length; j++)
      if (seg[j] !== prev) {
        tmp[w++] = seg[j];
        prev = seg[j];
      }
  }
  rowPtr[n] = w;
  const col = tmp.slice(0, w);
  const dinv = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const deg = rowPtr[i + 1] - rowPtr[i];
    dinv[i] = deg > 0 ? 1 / Math.sqrt(deg) : 0;
  }
  return { n, rowPtr, col, dinv };
}

/** y = L x */
export function laplacianMatvec(
  L: SymLaplacian,
  x: Float64Array,
  y: Float64Array,
  scratch = new Float64Array(L.n),
): void {
  const { n, rowPtr, col, dinv } = L;
  for (let i = 0; i < n; i++) scratch[i] = dinv[i] * x[i];
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let p = rowPtr[i], q = rowPtr[i + 1]; p < q; p++) s += scratch[col[p]];
    y[i] = x[i] - dinv[i] * s;
  }
}

/** Dense L (row-major [n*n], Float64). */
export function denseLaplacian(L: SymLaplacian): Float64Array {
  const { n, rowPtr, col, dinv } = L;
  const M = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    M[i * n + i] = 1;
    for (let p = rowPtr[i]; p < rowPtr[i + 1]; p++) M[i * n + col[p]] = -dinv[i] * dinv[col[p]];
  }
  return M;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
function axpy(alpha: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] += alpha * x[i];
}
function normalize(x: Float64Array): number {
  const nr = Math.sqrt(dot(x, x));
  if (nr > 0) for (let i = 0; i < x.length; i++) x[i] /= nr;
  return nr;
}
/** x -= Q Q^T x, twice */
function orthAgainst(x: Float64Array, Q: Float64Array[]): void {
  for (let pass = 0; pass < 2; pass++) for (const q of Q) axpy(-dot(q, x), q, x);
}

interface Pair {
  value: number;
  vector: Float64Array;
}

/**
 * One Lanczos pass on L restricted to the orthogonal complement of `locked`; returns the `want` smallest
 * converged Ritz pairs (fewer if the Krylov space becomes invariant).
 */
function lanczosPass(
  L: SymLaplacian,
  locked: Float64Array[],
  want: number,
  rng: Rng,
  tol: number,
  maxIter: number,
  counter: { mv: number },
): Pair[] {
  const n = L.n;
  const Vs: Float64Array[] = [];
  const alpha: number[] = [],
    beta: number[] = [];
  let v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal();
  orthAgainst(v, locked);
  if (normalize(v) === 0) return [];
  const w = new Float64Array(n),
    scratch = new Float64Array(n);
  const maxK = Math.min(maxIter, n - locked.length);
  let result: Pair[] = [];
  for (let j = 0; j < maxK; j++) {
    Vs.push(v);
    laplacianMatvec(L, v, w, scratch);
    counter.mv++;
    const a = dot(v, w);
    alpha.push(a);
    const r = Float64Array.from(w);
    axpy(-a, v, r);
    if (j > 0) axpy(-beta[j - 1], Vs[j - 1], r);
    orthAgainst(r, locked);
    orthAgainst(r, Vs);
    const b = Math.sqrt(dot(r, r));
    const last = j === maxK - 1 || b < 1e-12;
    if (last || (j + 1 >= want && (j + 1) % 10 === 0)) {
      const m = j + 1;
      const { values, vectors } = symTridiag(alpha, beta, m);
      const nk = Math.min(want, m);
      let ok = true;
      for (let i = 0; i < nk; i++) if (Math.abs(b * vectors[i * m + m - 1]) > tol) ok = false;
      if (ok || last) {
        result = [];
        for (let i = 0; i < nk; i++) {
          const y = new Float64Array(n);
          for (let t = 0; t < m; t++) axpy(vectors[i * m + t], Vs[t], y);
          orthAgainst(y, locked);
          normalize(y);
          result.push({ value: values[i], vector: y });
        }
        if (ok || b < 1e-12) return result;
        if (last) throw new Error(`LPE Lanczos: no convergence after ${m} iterations (tol ${tol}); raise maxIter`);
      }
    }
    beta.push(b);
    for (let i = 0; i < n; i++) r[i] /= b;
    v = r;
  }
  return result;
}

/** Null vectors D^1/2·1 of each connected component (normalized), i.e. the eigenvalue-0 eigenvectors. */
function componentNullVectors(L: SymLaplacian): Float64Array[] {
  const { n, rowPtr, col, dinv } = L;
  const comp = new Int32Array(n).fill(-1);
  const out: Float64Array[] = [];
  const stack = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    if (comp[s] >= 0) continue;
    const c = out.length;
    const v = new Float64Array(n);
    let top = 0;
    stack[top++] = s;
    comp[s] = c;
    while (top > 0) {
      const i = stack[--top];
      v[i] = dinv[i] > 0 ? 1 / dinv[i] : 1; // sqrt(deg); isolated node: its own unit vector (L_ii = 1, not a null vector)
      for (let p = rowPtr[i]; p < rowPtr[i + 1]; p++)
        if (comp[col[p]] < 0) {
          comp[col[p]] = c;
          stack[top++] = col[p];
        }
    }
    normalize(v);
    if (rowPtr[s + 1] > rowPtr[s]) out.push(v); // isolated nodes have eigenvalue 1, found by Lanczos
  }
  return out;
}

/** The k+1 smallest eigenpairs of L, ascending (exact-solver or Lanczos). */
export function smallestEigenpairs(
  L: SymLaplacian,
  count: number,
  opts: LpeOptions = {},
): { values: Float64Array; vectors: Float64Array[]; method: 'dense' | 'lanczos'; matvecs: number } {
  const n = L.n;
  const want = Math.min(count, n);
  if (n <= (opts.denseMaxNodes ?? 400)) {
    const { values, vectors } = symEig(denseLaplacian(L), n);
    const vecs: Float64Array[] = [];
    for (let j = 0; j < want; j++) {
      vecs.push(vectors.slice(j * n, j * n + n));
    }
    return { values: values.slice(0, want), vectors: vecs, method: 'dense', matvecs: 0 };
  }
  const rng = (opts.rng ?? new Rng(1234)).fork('lpe-lanczos');
  const tol = opts.tol ?? 1e-9;
  const maxIter = opts.maxIter ?? 400;
  const counter = { mv: 0 };
  let acc: Pair[] = componentNullVectors(L).map((vector) => ({ value: 0, vector }));
  if (acc.length < want)
    acc.push(
      ...lanczosPass(
        L,
        acc.map((p) => p.vector),
        want - acc.length,
        rng,
        tol,
        maxIter,
        counter,
      ),
    );
  // verification passes: anything below the largest accepted eigenvalue that the Krylov sequence missed
  for (let guard = 0; guard < want + 2; guard++) {
    acc.sort((a, b) => a.value - b.value);
    if (acc.length > want) acc = acc.slice(0, want);
    if (acc.length + 0 >= n) break;
    const top = acc[acc.length - 1].value;
    const extra = lanczosPass(
      L,
      acc.map((p) => p.vector),
      1,
      rng,
      tol,
      maxIter,
      counter,
    );
    if (extra.length === 0) break;
    if (acc.length >= want && extra[0].value >= top - 1e-10) break;
    acc.push(extra[0]);
  }
  acc.sort((a, b) => a.value - b.value);
  acc = acc.slice(0, want);
  return {
    values: Float64Array.from(acc.map((p) => p.value)),
    vectors: acc.map((p) => p.vector),
    method: 'lanczos',
    matvecs: counter.mv,
  };
}

/** Laplacian eigenvector PE: [N, k] (columns = eigenvectors 1..k after ascending sort, random signs). */
export function laplacianPE(
  g: Pick<NeuralGraph, 'numNodes' | 'numEdges' | 'edgeIndex'>,
  opts: LpeOptions = {},
): LpeResult {
  const k = opts.k ?? 8;
  const n = g.numNodes;
  const L = normalizedLaplacian(g);
  const sp = smallestEigenpairs(L, k + 1, opts);
  const rng = opts.rng ?? new Rng(1234);
  const signs = new Int8Array(k);
  for (let j = 0; j < k; j++) signs[j] = opts.noSignFlip ? 1 : rng.int(2) === 1 ? 1 : -1;
  const pos = new Float32Array(n * k);
  for (let j = 0; j < k; j++) {
    const v = sp.vectors[j + 1];
    if (!v) continue; // fewer than k+1 nodes: zero padding
    for (let i = 0; i < n; i++) pos[i * k + j] = v[i] * signs[j];
  }
  const eigvals = new Float64Array(k + 1).fill(NaN);
  eigvals.set(sp.values);
  return { pos, eigvals, signs, method: sp.method, matvecs: sp.matvecs };
}
