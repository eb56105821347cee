/**
 * item2vec (Barkan & Koenigstein, 2016): skip-gram Word2Vec with negative sampling over users' time-ordered
 * click sequences, an item standing in for a word. Items clicked near each other by the same users get
 * similar vectors — a collaborative embedding that needs no content. Trained on lib/graph's engine: the model
 * is two embedding tables and a dot product, the loss the usual binary cross-entropy (1 for the observed
 * context, 0 for K items drawn from the unigram^0.75 distribution), lazy Adam on the touched rows only.
 */
import pl from "nodejs-polars";
import { sortByIds } from "../features/table.ts";
import { embedding, type ModelBuilder } from "../graph/nn.ts";
import { matmul, reshape } from "../graph/tensor.ts";
import type { Backend } from "../train/backend.ts";
import { TrainSession } from "../train/session.ts";
import { cumulative, Rng, sampleCumulative } from "../util/rng.ts";
import { progress } from "../viz/progress.ts";
import { timed } from "../util/profile.ts";

export interface ClickSequences {
  /** Item vocabulary indices (1..V−1), users one after another, each in time order. */
  tokens: Int32Array;
  /** Start of each user's sequence in `tokens`, plus the end. */
  offsets: Int32Array;
}

/** Each user's clicked items on `days` (day indices), in time (row_id) order, through the item vocabulary (OOV dropped). */
export function clickSequences(
  events: pl.DataFrame,
  days: number[],
  itemVocab: pl.DataFrame,
): ClickSequences {
  const joined = events.filter(pl.col("label").eq(pl.lit(1)).and(pl.col("day").isIn(days)))
    .join(itemVocab.select("item_id", pl.col("idx").alias("item_idx")), { on: "item_id", how: "inner" });
  const clicks = sortByIds(joined, "user_id", ["row_id"]).select(
    pl.col("user_id").cast(pl.Utf8),
    pl.col("item_idx").cast(pl.Int32),
  );
  const users = clicks.getColumn("user_id").toArray() as string[];
  const tokens = Int32Array.from(clicks.getColumn("item_idx").toTypedArray() as Int32Array);
  const offsets = [0];
  for (let i = 1; i < users.length; i++) if (users[i] !== users[i - 1]) offsets.push(i);
  offsets.push(users.length);
  return { tokens, offsets: Int32Array.from(offsets) };
}

export interface Item2VecOptions {
  dim?: number;
  /** Maximum distance between centre and context (default 5); each centre draws its window from 1..window. */
  window?: number;
  /** Negative samples per positive pair (default 5). */
  negatives?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  /** Word2Vec's frequent-token subsampling threshold (default 1e-3; 0 keeps everything). */
  subsample?: number;
  seed?: number;
  progressLabel?: string | false;
}

/** (centre, context) pairs for one epoch: dynamic windows, frequent items subsampled, within each user's sequence. */
export function skipGramPairs(
  seqs: ClickSequences,
  counts: Float64Array,
  o: { window: number; subsample: number },
  rng: Rng,
): { centre: Int32Array; context: Int32Array } {
  const total = seqs.tokens.length;
  const keep = (t: number) =>
    o.subsample <= 0
      ? 1
      : Math.min(1, Math.sqrt(o.subsample * total / counts[t]) + o.subsample * total / counts[t]);
  const centre: number[] = [], context: number[] = [];
  for (let u = 0; u + 1 < seqs.offsets.length; u++) {
    const kept = [];
    for (let i = seqs.offsets[u]; i < seqs.offsets[u + 1]; i++) {
      if (rng.next() < keep(seqs.tokens[i])) kept.push(seqs.tokens[i]);
    }
    for (let i = 0; i < kept.length; i++) {
      const b = 1 + rng.int(o.window);
      for (let j = Math.max(0, i - b); j <= Math.min(kept.length - 1, i + b); j++) {
        if (j !== i && kept[j] !== kept[i]) {
          centre.push(kept[i]);
          context.push(kept[j]);
        }
      }
    }
  }
  return { centre: Int32Array.from(centre), context: Int32Array.from(context) };
}

/** The skip-gram model: logits [B, 1 + K] = ⟨in(centre), out(context_j)⟩ for the positive and K negatives. */
export function skipGram(c: { vocab: number; dim: number; negatives: number }) {
  return (m: ModelBuilder) => {
    const K1 = c.negatives + 1;
    const centre = embedding(m, "item_in", m.input("centre", ["B"], "int64"), c.vocab, c.dim, {
      std: 0.5 / c.dim,
    });
    const ctx = embedding(m, "item_out", m.input("context", ["B", K1], "int64"), c.vocab, c.dim, {
      std: 0.5 / c.dim,
    });
    return { logits: reshape(matmul(ctx, reshape(centre, ["B", c.dim, 1])), ["B", K1]) };
  };
}

export interface Item2Vec {
  /** vocab × dim, row-major; row 0 (out of vocabulary) and never-clicked items stay near their random start. */
  vectors: Float32Array;
  dim: number;
  /** Training-click count per vocabulary index (0: no vector worth using). */
  counts: Float64Array;
  history: { epoch: number; pairs: number; loss: number; seconds: number }[];
}

export async function trainItem2vec(
  seqs: ClickSequences,
  vocab: number,
  backend: Backend,
  o: Item2VecOptions = {},
): Promise<Item2Vec> {
  return timed("training", async () => {
    const dim = o.dim ?? 128, K = o.negatives ?? 5, B = o.batchSize ?? 2048, epochs = o.epochs ?? 2;
    const counts = new Float64Array(vocab);
    for (const t of seqs.tokens) counts[t]++;
    const noise = cumulative(Array.from(counts, (n) => Math.pow(n, 0.75)));
    const s = await TrainSession.build(skipGram({ vocab, dim, negatives: K }), backend, {
      optimizer: { type: "adam" },
    }, { seed: o.seed ?? 1 });
    const rng = Rng.derive(o.seed ?? 1, "item2vec");
    const history: Item2Vec["history"] = [];
    const label = new Float32Array(B * (K + 1));
    for (let r = 0; r < B; r++) label[r * (K + 1)] = 1;
    for (let epoch = 0; epoch < epochs; epoch++) {
      const t0 = performance.now();
      const pairs = skipGramPairs(
        seqs,
        counts,
        { window: o.window ?? 5, subsample: o.subsample ?? 1e-3 },
        rng,
      );
      const order = rng.shuffle(Uint32Array.from({ length: pairs.centre.length }, (_, i) => i));
      const steps = Math.ceil(order.length / B);
      const bar = o.progressLabel === false
        ? null
        : progress(steps, `${o.progressLabel ?? "item2vec"} epoch ${epoch + 1}/${epochs}`);
      let lastLoss = 0;
      for (let k = 0; k < steps; k++) {
        const rows = Math.min(B, order.length - k * B);
        const centre = new BigInt64Array(rows), context = new BigInt64Array(rows * (K + 1));
        for (let r = 0; r < rows; r++) {
          const p = order[k * B + r];
          centre[r] = BigInt(pairs.centre[p]);
          context[r * (K + 1)] = BigInt(pairs.context[p]);
          for (let j = 1; j <= K; j++) context[r * (K + 1) + j] = BigInt(sampleCumulative(noise, rng.next()));
        }
        const loss = await s.step(
          { centre, context, label: label.subarray(0, rows * (K + 1)) },
          rows,
          o.lr ?? 0.005,
          k === steps - 1 || backend.name !== "webgpu",
        );
        if (loss !== null) lastLoss = loss;
        bar?.tick(1);
      }
      bar?.done(`loss ${lastLoss.toFixed(4)}`);
      history.push({ epoch, pairs: order.length, loss: lastLoss, seconds: (performance.now() - t0) / 1000 });
    }
    const vectors = (await s.snapshot()).values.item_in;
    await s.release();
    return { vectors, dim, counts, history };
  });
}

/** Cosine nearest neighbours of each query row among rows with `eligible[i]` true (the query itself excluded). */
export function nearestNeighbours(
  vectors: Float32Array,
  dim: number,
  queries: number[],
  k: number,
  eligible: (i: number) => boolean,
): { query: number; neighbours: { idx: number; cosine: number }[] }[] {
  const n = vectors.length / dim;
  const norms = Float64Array.from(
    { length: n },
    (_, i) => Math.hypot(...vectors.subarray(i * dim, (i + 1) * dim)) || 1,
  );
  return queries.map((q) => {
    const scores: { idx: number; cosine: number }[] = [];
    for (let i = 0; i < n; i++) {
      if (i === q || !eligible(i)) continue;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += vectors[q * dim + d] * vectors[i * dim + d];
      scores.push({ idx: i, cosine: dot / (norms[q] * norms[i]) });
    }
    return { query: q, neighbours: scores.sort((a, b) => b.cosine - a.cosine).slice(0, k) };
  });
}

/**
 * Share of each query's k nearest neighbours that share its label (e.g. the generator's latent topic), averaged —
 * beside the same share for random neighbours (the chance level).
 */
export function neighbourAgreement(
  vectors: Float32Array,
  dim: number,
  labelOf: (i: number) => number | undefined,
  queries: number[],
  k: number,
  eligible: (i: number) => boolean,
): { precision: number; chance: number } {
  const nn = nearestNeighbours(vectors, dim, queries, k, eligible);
  let hit = 0, total = 0;
  for (const r of nn) {
    for (const nb of r.neighbours) {
      total++;
      if (labelOf(nb.idx) === labelOf(r.query)) hit++;
    }
  }
  const pool = [...Array(vectors.length / dim).keys()].filter(eligible);
  const freq = new Map<number | undefined, number>();
  for (const i of pool) freq.set(labelOf(i), (freq.get(labelOf(i)) ?? 0) + 1);
  const chance =
    queries.reduce((a, q) => a + ((freq.get(labelOf(q)) ?? 1) - 1) / Math.max(1, pool.length - 1), 0) /
    Math.max(1, queries.length);
  return { precision: hit / Math.max(1, total), chance };
}
