/**
 * Small dense linear algebra in float64: a symmetric eigendecomposition (cyclic Jacobi — exact enough and
 * simple for the ≤ 300-dimensional matrices here), Gram–Schmidt orthonormalisation of columns, a covariance,
 * and projections fitted on rows (PCA; text whitening scales them). Matrices are row-major Float64Arrays.
 */

/** Eigenvalues (descending) and eigenvectors (column j of `vectors` belongs to values[j]) of a symmetric n×n matrix. */
export function symmetricEigen(
  a: Float64Array,
  n: number,
  o: { sweeps?: number; tol?: number } = {},
): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(a), V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  const scale = Math.max(1e-300, Math.sqrt(A.reduce((s, x) => s + x * x, 0)));
  for (let sweep = 0; sweep < (o.sweeps ?? 60); sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q] ** 2;
    if (Math.sqrt(off) <= (o.tol ?? 1e-12) * scale) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) { // rotate columns p, q
          const akp = A[k * n + p], akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) { // rotate rows p, q
          const apk = A[p * n + k], aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p], vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = [...Array(n).keys()].sort((i, j) => A[j * n + j] - A[i * n + i]);
  const values = Float64Array.from(order, (i) => A[i * n + i]);
  const vectors = new Float64Array(n * n);
  order.forEach((src, j) => {
    for (let k = 0; k < n; k++) vectors[k * n + j] = V[k * n + src];
  });
  return { values, vectors };
}

/** Orthonormalise the columns of an r×c matrix in place (modified Gram–Schmidt); returns it. */
export function orthonormalizeColumns(m: Float64Array, r: number, c: number): Float64Array {
  for (let j = 0; j < c; j++) {
    for (let i = 0; i < j; i++) {
      let dot = 0;
      for (let k = 0; k < r; k++) dot += m[k * c + i] * m[k * c + j];
      for (let k = 0; k < r; k++) m[k * c + j] -= dot * m[k * c + i];
    }
    let norm = 0;
    for (let k = 0; k < r; k++) norm += m[k * c + j] ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let k = 0; k < r; k++) m[k * c + j] /= norm;
  }
  return m;
}

/** Mean and (population) covariance of the n×d rows of `x`. */
export function meanCovariance(
  x: ArrayLike<number>,
  n: number,
  d: number,
): { mean: Float64Array; cov: Float64Array } {
  if (n < 2) throw new Error(`covariance needs at least 2 rows, got ${n}`);
  const mean = new Float64Array(d), cov = new Float64Array(d * d), row = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j] / n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = x[i * d + j] - mean[j];
    for (let a = 0; a < d; a++) {
      const ra = row[a];
      if (ra === 0) continue;
      for (let b = a; b < d; b++) cov[a * d + b] += ra * row[b];
    }
  }
  for (let a = 0; a < d; a++) for (let b = a; b < d; b++) cov[b * d + a] = cov[a * d + b] /= n;
  return { mean, cov };
}

/** A linear projection fitted on rows: x ↦ (x − mean) · W (PCA, and with 1/√λ scaling, whitening). */
export interface Projection {
  /** Input dimension d and output dimension k. */
  dim: number;
  k: number;
  mean: number[];
  /** d × k, row-major: x_projected = (x − mean) · W. */
  w: number[];
  /** All d eigenvalues of the training covariance, descending (the spectrum plot). */
  spectrum: number[];
  /** Rows the statistics were fitted on. */
  fittedOn: number;
}

/**
 * Fit on the n × d rows of `x`, keeping the top `k` directions (default 128) — fewer when the covariance has
 * fewer than k eigenvalues above `rtol` × the largest (few texts, or a low-rank embedder): scaling a null
 * direction by 1/√λ would only amplify rounding noise.
 */
export function fitProjection(
  x: Float32Array,
  d: number,
  k = 128,
  o: { eps?: number; rtol?: number; scale?: boolean } = {},
): Projection {
  const n = x.length / d, eps = o.eps ?? 1e-9;
  const { mean, cov } = meanCovariance(x, n, d);
  const { values, vectors } = symmetricEigen(cov, d);
  const rank = values.filter((v) => v > (o.rtol ?? 1e-4) * values[0]).length;
  const kk = Math.min(k, d, rank);
  const w = new Array<number>(d * kk);
  const scale = (j: number) => o.scale === false ? 1 : 1 / Math.sqrt(Math.max(values[j], 0) + eps);
  for (let i = 0; i < d; i++) for (let j = 0; j < kk; j++) w[i * kk + j] = vectors[i * d + j] * scale(j);
  return { dim: d, k: kk, mean: [...mean], w, spectrum: [...values], fittedOn: n };
}

/** PCA to k dimensions: centring and rotation without the 1/√λ scaling (variance kept); apply with `project`. */
export const fitPca = (x: Float32Array, d: number, k = 128) => fitProjection(x, d, k, { scale: false });

/** (x − mean) · W for the n × d rows of `x` → n × k. */
export function project(wh: Projection, x: Float32Array): Float32Array {
  const { dim: d, k } = wh, n = x.length / d;
  if (!Number.isInteger(n)) throw new Error(`projection: ${x.length} values are not rows of ${d}`);
  const out = new Float32Array(n * k), row = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < d; i++) row[i] = x[r * d + i] - wh.mean[i];
    for (let i = 0; i < d; i++) {
      const v = row[i];
      if (v === 0) continue;
      const base = i * k;
      for (let j = 0; j < k; j++) out[r * k + j] += v * wh.w[base + j];
    }
  }
  return out;
}

/** Cosine similarity of rows a and b of the row-major matrix `v` (rows of width d). */
export function rowCosine(v: ArrayLike<number>, d: number, a: number, b: number): number {
  let s = 0, na = 0, nb = 0;
  for (let j = 0; j < d; j++) {
    s += v[a * d + j] * v[b * d + j];
    na += v[a * d + j] ** 2;
    nb += v[b * d + j] ** 2;
  }
  return s / Math.sqrt(na * nb);
}
