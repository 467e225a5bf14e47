/**
 * Dense symmetric eigen-decompositions in Float64 (EISPACK tred2 + tql2, after JAMA): the exact solver of
 * the Laplacian encodings (lpe.ts) for small graphs and for Lanczos's tridiagonal matrices.
 */

/**
 * Symmetric eigen-decomposition (EISPACK tred2 + tql2, after JAMA, working on the transposed eigenvector
 * matrix so that every O(n^3) loop is contiguous). `a` [n*n] row-major symmetric, overwritten.
 * Returns ascending eigenvalues [n] and `vectors` [n*n] with ROW j = eigenvector j.
 */
export function symEig(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const d = new Float64Array(n),
    e = new Float64Array(n);
  tred2T(a, d, e, n);
  tql2T(a, d, e, n);
  return { values: d, vectors: a };
}

/** JAMA tred2 with every V[x][y] replaced by W[y][x] (W = V^T; W = A initially since A is symmetric). */
function tred2T(W: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = W[j * n + n - 1];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0,
      h = 0;
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
  let f = 0,
    tst1 = 0;
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
        let c = 1,
          c2 = c,
          c3 = c;
        const el1 = e[l + 1];
        let s = 0,
          s2 = 0;
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
          const ri = i * n,
            r1 = ri + n;
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
    let k = i,
      p = d[i];
    for (let j = i + 1; j < n; j++)
      if (d[j] < p) {
        k = j;
        p = d[j];
      }
    if (k !== i) {
      d[k] = d[i];
      d[i] = p;
      const tmp = W.slice(i * n, i * n + n);
      W.copyWithin(i * n, k * n, k * n + n);
      W.set(tmp, k * n);
    }
  }
}

/** Eigen-decomposition of the symmetric tridiagonal matrix with diagonal alpha and off-diagonal beta (m x m). */
export function symTridiag(
  alpha: number[],
  beta: number[],
  m: number,
): { values: Float64Array; vectors: Float64Array } {
  const V = new Float64Array(m * m);
  for (let i = 0; i < m; i++) V[i * m + i] = 1;
  const d = Float64Array.from(alpha.slice(0, m));
  const e = new Float64Array(m);
  for (let i = 1; i < m; i++) e[i] = beta[i - 1];
  tql2T(V, d, e, m);
  return { values: d, vectors: V };
}
