/**
 * BERT-whitening (Su et al., 2021): centre sentence vectors on the training mean, rotate onto the covariance's
 * eigenvectors and scale each by 1/√λ, keeping the top k. Whitened training vectors have identity covariance,
 * which makes cosine similarity meaningful and compresses the dimension. Fit on training rows only.
 */
import { meanCovariance, symmetricEigen } from "./linalg.ts";

export interface Whitening {
  /** Input dimension d and output dimension k. */
  dim: number;
  k: number;
  mean: number[];
  /** d × k, row-major: x_white = (x − mean) · W. */
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
export function fitWhitening(x: Float32Array, d: number, k = 128, o: { eps?: number; rtol?: number; scale?: boolean } = {}): Whitening {
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

/** PCA to k dimensions: the same centring and rotation without the 1/√λ scaling (variance kept); apply with `applyWhitening`. */
export const fitPca = (x: Float32Array, d: number, k = 128) => fitWhitening(x, d, k, { scale: false });

/** (x − mean) · W for the n × d rows of `x` → n × k. */
export function applyWhitening(wh: Whitening, x: Float32Array): Float32Array {
  const { dim: d, k } = wh, n = x.length / d;
  if (!Number.isInteger(n)) throw new Error(`whitening: ${x.length} values are not rows of ${d}`);
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

/** The same whitening keeping only its first `k` output directions. */
export function truncateWhitening(wh: Whitening, k: number): Whitening {
  if (k > wh.k) throw new Error(`whitening has ${wh.k} directions, cannot keep ${k}`);
  const w = new Array<number>(wh.dim * k);
  for (let i = 0; i < wh.dim; i++) for (let j = 0; j < k; j++) w[i * k + j] = wh.w[i * wh.k + j];
  return { ...wh, k, w };
}
