/**
 * The fused item embedding of the multimodal CTR seed: content (text + image, concatenated, PCA to k fitted on
 * training items, L2-normalised) and collaborative (item2vec, L2-normalised; zero for items never clicked on a
 * training day), mixed as α·content + (1 − α)·collaborative (seed: α = 0.5). One row per item, for every item
 * in the logs — new items get content even though they have no collaborative vector, which is the point.
 */
import pl from "nodejs-polars";
import { lookupJoin } from "../util/frame.ts";
import { fitPca, project } from "../util/linalg.ts";

/** Each row scaled to unit L2 norm (all-zero rows stay zero). */
export function l2Rows(x: Float32Array, d: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[r * d + j] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < d; j++) out[r * d + j] = x[r * d + j] * inv;
  }
  return out;
}

/** Row-wise concatenation of n × d_i blocks. */
export function concatRows(blocks: { x: Float32Array; d: number }[]): { x: Float32Array; d: number } {
  const n = blocks[0].x.length / blocks[0].d,
    D = blocks.reduce((a, b) => a + b.d, 0),
    x = new Float32Array(n * D);
  for (let r = 0; r < n; r++) {
    let off = 0;
    for (const b of blocks) {
      x.set(b.x.subarray(r * b.d, (r + 1) * b.d), r * D + off);
      off += b.d;
    }
  }
  return { x, d: D };
}

/** n × d rows widened to n × k (k ≥ d) with zero columns (norms unchanged). */
export function padColumns(x: Float32Array, n: number, d: number, k: number): Float32Array {
  if (k === d) return x;
  if (k < d) throw new Error(`padColumns: cannot narrow ${d} columns to ${k}`);
  if (d === 0) return new Float32Array(n * k); // no columns to keep (a content vector without any content)
  return concatRows([{ x, d }, { x: new Float32Array(n * (k - d)), d: k - d }]).x;
}

/** Rows of `x` (n × d) where `keep` holds. */
export function selectRows(x: Float32Array, d: number, keep: (r: number) => boolean): Float32Array {
  const rows = [...Array(x.length / d).keys()].filter(keep);
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, i) => out.set(x.subarray(r * d, (r + 1) * d), i * d));
  return out;
}

/** L2-normalised PCA to k, fitted on the rows where `fitOn` holds (training items), applied to all rows. */
export function pcaL2(
  x: Float32Array,
  d: number,
  k: number,
  fitOn: (r: number) => boolean,
): { vectors: Float32Array; k: number; explained: number } {
  const pca = fitPca(selectRows(x, d, fitOn), d, k);
  const total = pca.spectrum.reduce((a, v) => a + Math.max(0, v), 0);
  const kept = pca.spectrum.slice(0, pca.k).reduce((a, v) => a + Math.max(0, v), 0);
  // rows that do not vary (no text and no pictures: every content vector is zero) have nothing to explain
  return { vectors: l2Rows(project(pca, x), pca.k), k: pca.k, explained: total > 0 ? kept / total : 0 };
}

/** α·content + (1 − α)·collaborative, row by row (both n × k). */
export function fuse(content: Float32Array, collaborative: Float32Array, alpha: number): Float32Array {
  if (content.length !== collaborative.length) {
    throw new Error(`fuse: ${content.length} content vs ${collaborative.length} collaborative values`);
  }
  return Float32Array.from(content, (c, i) => alpha * c + (1 - alpha) * collaborative[i]);
}

/** item_id → item_vec_idx (the row in an item vector table built over `itemIds`), for TableData's item_vec lookup. */
export function withItemVecIndex(df: pl.DataFrame, itemIds: string[]): pl.DataFrame {
  const index = pl.DataFrame({ item_id: itemIds, item_vec_idx: itemIds.map((_, i) => i) }).withColumns(
    pl.col("item_id").cast(df.getColumn("item_id").dtype),
    pl.col("item_vec_idx").cast(pl.Int32),
  );
  return lookupJoin(df, index, "item_id", "item_vec_idx", "item vector");
}
