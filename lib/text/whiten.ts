/**
 * BERT-whitening (Su et al., 2021): centre sentence vectors on the training mean, rotate onto the covariance's
 * eigenvectors and scale each by 1/√λ, keeping the top k. Whitened training vectors have identity covariance,
 * which makes cosine similarity meaningful and compresses the dimension. Fit on training rows only.
 */
import { fitProjection, project, type Projection } from "../util/linalg.ts";

/** The whitening: a fitted projection (lib/util/linalg.ts) with each direction scaled by 1/√λ. */
export type Whitening = Projection;

/**
 * Fit on the n × d rows of `x`, keeping the top `k` directions (default 128) — fewer when the covariance has
 * fewer than k eigenvalues above `rtol` × the largest (few texts, or a low-rank embedder).
 */
export const fitWhitening = (
  x: Float32Array,
  d: number,
  k = 128,
  o: { eps?: number; rtol?: number } = {},
): Whitening => fitProjection(x, d, k, o);

/** (x − mean) · W for the n × d rows of `x` → n × k. */
export const applyWhitening = project;

/** The same whitening keeping only its first `k` output directions. */
export function truncateWhitening(wh: Whitening, k: number): Whitening {
  if (k > wh.k) throw new Error(`whitening has ${wh.k} directions, cannot keep ${k}`);
  const w = new Array<number>(wh.dim * k);
  for (let i = 0; i < wh.dim; i++) for (let j = 0; j < k; j++) w[i * k + j] = wh.w[i * wh.k + j];
  return { ...wh, k, w };
}

/**
 * The whitening of a side that has no text to fit (no text column, or fewer than two distinct training texts):
 * `k` directions, all zero, so every vector of that side maps to 0 and carries nothing.
 */
export function emptyWhitening(d: number, fittedOn: number, k = 0): Whitening {
  return { dim: d, k, mean: new Array(d).fill(0), w: new Array(d * k).fill(0), spectrum: [], fittedOn };
}
