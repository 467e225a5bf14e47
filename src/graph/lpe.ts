/**
 * Laplacian eigenvector positional encoding (official `NeuralGraph._add_lpe`: PyG `ToUndirected` +
 * `AddLaplacianEigenvectorPE(k=8, is_undirected=True)`, README §4).
 *
 * A = symmetric binary adjacency (both edge directions, duplicates merged, self-loops removed);
 * L = I - D^-1/2 A D^-1/2 (isolated nodes: L_ii = 1). Take the k+1 smallest eigenpairs (ascending), drop
 * index 0, keep columns 1..k, multiply column j by a random sign from `rng`. Solvers (Float64):
 *  - N <= denseMaxNodes (400): dense Householder tridiagonalization + implicit QL (EISPACK tred2/tql2), exact.
 *  - otherwise: Lanczos with full (twice-applied classical Gram-Schmidt) reorthogonalization, the exact
 *    null vectors D^1/2·1 of every connected component deflated up front, and verification passes
 *    (Lanczos deflated against all accepted vectors) that catch eigenvalues a single Krylov sequence misses
 *    (repeated eigenvalues).
 * Degenerate eigenspaces (e.g. eigenvalue 1 in case A) make some columns basis-dependent; see the README.
 *
 *   const { pos } = laplacianPE(graph, { k: 8, rng: new Rng(1234) });   // pos: Float32Array [N*k]
 */
import { Rng } from '../core/rng.ts';
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
  const n = g.numNodes, E = g.numEdges, ei = g.edgeIndex;
  const cnt = new Int32Array(n + 1);
  for (let e = 0; e < E; e++) {
    const s = ei[e], d = ei[E + e];
    if (s === d) continue;
    cnt[s + 1]++;
    cnt[d + 1]++;
  }
  for (let i = 0; i < n; i++) cnt[i + 1] += cnt[i];
  const fill = cnt.slice(0, n);
  const tmp = new Int32Array(cnt[n]);
  for (let e = 0; e < E; e++) {
    const s = ei[e], d = ei[E + e];
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
    for (let j = 0; j < seg.length; j++) if (seg[j] !== prev) { tmp[w++] = seg[j]; prev = seg[j]; }
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
export function laplacianMatvec(L: SymLaplacian, x: Float64Array, y: Float64Array, scratch = new Float64Array(L.n)): void {
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

/**
 * Symmetric eigen-decomposition (EISPACK tred2 + tql2, after JAMA, working on the transposed eigenvector
 * matrix so that every O(n^3) loop is contiguous). `a` [n*n] row-major symmetric, overwritten.
 * Returns ascending eigenvalues [n] and `vectors` [n*n] with ROW j = eigenvector j.
 */
export function symEig(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const d = new Float64Array(n), e = new Float64Array(n);
  tred2T(a, d, e, n);
  tql2T(a, d, e, n);
  return { values: d, vectors: a };
}

/** JAMA tred2 with every V[x][y] replaced by W[y][x] (W = V^T; W = A initially since A is symmetric). */
function tred2T(W: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = W[j * n + n - 1];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0, h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = W[j * n + i - 1];
        W[j * n + i] = 0;
        W[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        W[i * n + j] = f;
        const row = j * n;
        g = e[j] + W[row + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          const w = W[row + k];
          g += w * d[k];
          e[k] += w * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        const row = j * n;
        for (let k = j; k <= i - 1; k++) W[row + k] -= f * e[k] + g * d[k];
        d[j] = W[row + i - 1];
        W[row + i] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    W[i * n + n - 1] = W[i * n + i];
    W[i * n + i] = 1;
    const h = d[i + 1];
    const r1 = (i + 1) * n;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = W[r1 + k] / h;
      for (let j = 0; j <= i; j++) {
        const row = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += W[r1 + k] * W[row + k];
        for (let k = 0; k <= i; k++) W[row + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) W[r1 + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = W[j * n + n - 1];
    W[j * n + n - 1] = 0;
  }
  W[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/**
 * Implicit QL on the tridiagonal (d, e[1..n-1] subdiagonal), accumulating rotations into the ROWS of W
 * (W = V^T); sorts ascending.
 */
function tql2T(W: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0, tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 100) throw new Error('tql2: no convergence');
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1, c2 = c, c3 = c;
        const el1 = e[l + 1];
        let s = 0, s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          const ri = i * n, r1 = ri + n;
          for (let k = 0; k < n; k++) {
            const hk = W[r1 + k];
            const wk = W[ri + k];
            W[r1 + k] = s * wk + c * hk;
            W[ri + k] = c * wk - s * hk;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  // selection sort ascending (as JAMA), swapping rows
  for (let i = 0; i < n - 1; i++) {
    let k = i, p = d[i];
    for (let j = i + 1; j < n; j++) if (d[j] < p) { k = j; p = d[j]; }
    if (k !== i) {
      d[k] = d[i];
      d[i] = p;
      const tmp = W.slice(i * n, i * n + n);
      W.copyWithin(i * n, k * n, k * n + n);
      W.set(tmp, k * n);
    }
  }
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

interface Pair { value: number; vector: Float64Array }

/**
 * One Lanczos pass on L restricted to the orthogonal complement of `locked`; returns the `want` smallest
 * converged Ritz pairs (fewer if the Krylov space becomes invariant).
 */
function lanczosPass(L: SymLaplacian, locked: Float64Array[], want: number, rng: Rng, tol: number, maxIter: number, counter: { mv: number }): Pair[] {
  const n = L.n;
  const Vs: Float64Array[] = [];
  const alpha: number[] = [], beta: number[] = [];
  let v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal();
  orthAgainst(v, locked);
  if (normalize(v) === 0) return [];
  const w = new Float64Array(n), scratch = new Float64Array(n);
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
    if (last || ((j + 1) >= want && ((j + 1) % 10 === 0))) {
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

function symTridiag(alpha: number[], beta: number[], m: number): { values: Float64Array; vectors: Float64Array } {
  const V = new Float64Array(m * m);
  for (let i = 0; i < m; i++) V[i * m + i] = 1;
  const d = Float64Array.from(alpha.slice(0, m));
  const e = new Float64Array(m);
  for (let i = 1; i < m; i++) e[i] = beta[i - 1];
  tql2T(V, d, e, m);
  return { values: d, vectors: V };
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
      for (let p = rowPtr[i]; p < rowPtr[i + 1]; p++) if (comp[col[p]] < 0) { comp[col[p]] = c; stack[top++] = col[p]; }
    }
    normalize(v);
    if (rowPtr[s + 1] > rowPtr[s]) out.push(v); // isolated nodes have eigenvalue 1, found by Lanczos
  }
  return out;
}

/** The k+1 smallest eigenpairs of L, ascending (exact-solver or Lanczos). */
export function smallestEigenpairs(L: SymLaplacian, count: number, opts: LpeOptions = {}): { values: Float64Array; vectors: Float64Array[]; method: 'dense' | 'lanczos'; matvecs: number } {
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
  if (acc.length < want) acc.push(...lanczosPass(L, acc.map((p) => p.vector), want - acc.length, rng, tol, maxIter, counter));
  // verification passes: anything below the largest accepted eigenvalue that the Krylov sequence missed
  for (let guard = 0; guard < want + 2; guard++) {
    acc.sort((a, b) => a.value - b.value);
    if (acc.length > want) acc = acc.slice(0, want);
    if (acc.length + 0 >= n) break;
    const top = acc[acc.length - 1].value;
    const extra = lanczosPass(L, acc.map((p) => p.vector), 1, rng, tol, maxIter, counter);
    if (extra.length === 0) break;
    if (acc.length >= want && extra[0].value >= top - 1e-10) break;
    acc.push(extra[0]);
  }
  acc.sort((a, b) => a.value - b.value);
  acc = acc.slice(0, want);
  return { values: Float64Array.from(acc.map((p) => p.value)), vectors: acc.map((p) => p.vector), method: 'lanczos', matvecs: counter.mv };
}

/** Laplacian eigenvector PE: [N, k] (columns = eigenvectors 1..k after ascending sort, random signs). */
export function laplacianPE(g: Pick<NeuralGraph, 'numNodes' | 'numEdges' | 'edgeIndex'>, opts: LpeOptions = {}): LpeResult {
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
