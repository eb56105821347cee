/**
 * What 07_text shows about item embeddings, computed here rather than in the notebook: items named by title
 * (and, for generated data, by their latent topic — never in the logs, like the oracle), item2vec's nearest
 * neighbours, and how often an embedding's nearest items share an item's topic, for warm and never-trained items.
 */
import pl from "nodejs-polars";
import { scanClean } from "../data/etl.ts";
import { ITEM_TRUTH } from "../data/synth.ts";
import { type Item2Vec, nearestNeighbours, neighbourAgreement } from "./item2vec.ts";
import type { ItemEmbeddings } from "./items.ts";
import { timed } from "../util/profile.ts";

/** Items with at least this many training clicks count as warm in the neighbour checks. */
export const WARM_CLICKS = 5;

export interface ItemCatalogue {
  /** item id → latent topic; empty for a user's logs (no ground truth). */
  topicOfId: Map<string, number>;
  hasTopics: boolean;
  /** "title (t3)" for a training-vocabulary index. */
  label(idx: number): string;
}

export function itemCatalogue(dataDir: string, itemVocab: pl.DataFrame, titleColumn?: string): ItemCatalogue {
  const truthPath = `${dataDir}/${ITEM_TRUTH}`;
  const truth = (() => {
    try {
      return pl.readParquet(truthPath);
    } catch {
      return null;
    }
  })();
  const topicOfId = new Map(
    (truth?.toRecords() ?? [] as unknown as { item_id: number; topic: number }[]).map((
      r,
    ) => [String(r.item_id), Number(r.topic)]),
  );
  const idOfIdx = new Map(
    (itemVocab.toRecords() as { item_id: string; idx: number }[]).map((
      r,
    ) => [Number(r.idx), String(r.item_id)]),
  );
  const titles = titleColumn
    ? scanClean(`${dataDir}/clean`).groupBy("item_id").agg(pl.col(titleColumn).sortBy("row_id").first()) // first record's
      .collectSync().toRecords() as unknown as Record<string, string>[]
    : [];
  const titleOf = new Map(titles.map((r) => [String(r.item_id), r[titleColumn!]]));
  return {
    topicOfId,
    hasTopics: !!truth,
    label: (idx) => {
      const id = idOfIdx.get(idx)!;
      return `${titleOf.get(id) || id}${truth ? ` (t${topicOfId.get(id)})` : ""}`;
    },
  };
}

/** The `k` nearest items of the `top` most-clicked ones, among warm items: one row per query. */
export function neighbourTable(i2v: Item2Vec, cat: ItemCatalogue, o: { top?: number; k?: number } = {}) {
  return timed("evaluation", () => {
    const warm = (i: number) => i > 0 && i2v.counts[i] >= WARM_CLICKS;
    const top = [...i2v.counts.keys()].sort((a, b) => i2v.counts[b] - i2v.counts[a]).slice(0, o.top ?? 6);
    return nearestNeighbours(i2v.vectors, i2v.dim, top, o.k ?? 5, warm).map((r) => ({
      item: cat.label(r.query),
      clicks: i2v.counts[r.query],
      ...Object.fromEntries(
        r.neighbours.map((x, j) => [`#${j + 1}`, `${cat.label(x.idx)} ${x.cosine.toFixed(2)}`]),
      ),
    }));
  });
}

export interface AgreementRow {
  embedding: string;
  "warm items: same topic in top 10": number;
  "cold items: same topic in top 10": number;
  chance: number;
}

/**
 * For each item embedding (text, image, content, collaborative, fused at α): the share of an item's 10 nearest
 * items that share its latent topic, over ≤ 400 warm items and ≤ 400 never-trained ones. Null without topics.
 */
export function embeddingAgreement(
  items: ItemEmbeddings,
  i2v: Item2Vec,
  cat: ItemCatalogue,
  alpha: number,
): { rows: AgreementRow[]; warm: number; cold: number } | { rows: null; warm: number; cold: number } {
  return timed("evaluation", () => {
    const rows = [...Array(items.itemIds.length).keys()];
    const inTraining = (r: number) => items.vocabIdx[r] > 0;
    const warmRows = rows.filter((r) => inTraining(r) && i2v.counts[items.vocabIdx[r]] >= WARM_CLICKS),
      coldRows = rows.filter((r) => !inTraining(r));
    if (!cat.hasTopics) return { rows: null, warm: warmRows.length, cold: coldRows.length };
    const topicOfRow = (r: number) => cat.topicOfId.get(items.itemIds[r]);
    const sample = (xs: number[]) => xs.filter((_, i) => i % Math.max(1, Math.floor(xs.length / 400)) === 0);
    const embeddings = [
      { embedding: "text (whitened)", v: items.text.vectors, k: items.text.k },
      ...(items.image
        ? [{
          embedding: `image (${items.image.embedder}, PCA ${items.image.k})`,
          v: items.image.vectors,
          k: items.image.k,
        }]
        : []),
      {
        embedding: items.image ? "content (text + image, PCA)" : "content (text, PCA)",
        v: items.content.vectors,
        k: items.k,
      },
      { embedding: "collaborative (item2vec)", v: items.collaborative, k: items.k },
      { embedding: `fused (α = ${alpha})`, v: items.fused(alpha), k: items.k },
    ];
    return {
      warm: warmRows.length,
      cold: coldRows.length,
      rows: embeddings.map((e) => {
        const w = neighbourAgreement(e.v, e.k, topicOfRow, sample(warmRows), 10, () => true);
        const c = neighbourAgreement(e.v, e.k, topicOfRow, sample(coldRows), 10, () => true);
        return {
          embedding: e.embedding,
          "warm items: same topic in top 10": w.precision,
          "cold items: same topic in top 10": c.precision,
          chance: w.chance,
        };
      }),
    };
  });
}
