/**
 * Every item's embeddings side by side, one row per item in the logs (sorted by item_id): its whitened text
 * vector (lib/text), its image vector (lib/embed/image.ts, PCA to k on training items), the content vector
 * (text + image → PCA to k on training items, L2), and the collaborative vector (item2vec, L2; zero for items
 * never clicked on a training day). `fused(α)` mixes the last two; `withItemVecIndex` joins rows to them. With fewer
 * training items than k the content PCA has fewer directions; zero columns pad it to item2vec's width.
 */
import pl from "nodejs-polars";
import { IMAGES_DIR } from "../data/synth.ts";
import { sortByIds } from "../features/table.ts";
import { joinTextIndex, type TextFeatures } from "../text/features.ts";
import { concatRows, fuse, l2Rows, padColumns, pcaL2 } from "./fuse.ts";
import { type ImageEmbedder, PixelEmbedder } from "./image.ts";
import type { Item2Vec } from "./item2vec.ts";
import { timed } from "../util/profile.ts";

export interface ItemEmbeddings {
  itemIds: string[];
  /** Training-vocabulary index per item (0: the item never appears on a training day). */
  vocabIdx: Int32Array;
  /** Whitened text (text.k wide), image, content and collaborative vectors (k wide), n rows each. */
  text: { vectors: Float32Array; k: number };
  /** null when the dataset has no item pictures (a user's own logs). */
  image: { vectors: Float32Array; k: number; explained: number; embedder: string } | null;
  content: { vectors: Float32Array; k: number; explained: number };
  collaborative: Float32Array;
  k: number;
  fused(alpha: number): Float32Array;
}

export const itemImagePath = (dataDir: string, itemId: string) => `${dataDir}/${IMAGES_DIR}/${itemId}.png`;

/** Whether the dataset has item pictures (the generator draws them; a user's logs have none). */
export function hasItemImages(dataDir: string): boolean {
  try {
    return Deno.statSync(`${dataDir}/${IMAGES_DIR}`).isDirectory;
  } catch {
    return false;
  }
}

/** `events`: row_id and item_id of every logged row; `itemVocab`: the training vocabulary (item_id, idx). */
export async function buildItemEmbeddings(o: {
  dataDir: string;
  events: pl.DataFrame;
  itemVocab: pl.DataFrame;
  text: TextFeatures;
  item2vec: Item2Vec;
  imageEmbedder?: ImageEmbedder;
  k?: number;
}): Promise<ItemEmbeddings> {
  return timed("features", async () => {
    const k = o.k ?? 128;
    const items = sortByIds(
      // the text of the item's first record: row ids, not the order clean/'s files happen to be read in
      joinTextIndex(o.events.select("row_id", "item_id"), o.text).groupBy("item_id").agg(
        pl.col("item_text_idx").sortBy("row_id").first(),
      )
        .join(o.itemVocab.select("item_id", "idx"), { on: "item_id", how: "left" }).withColumns(
          pl.col("idx").fillNull(0),
        ),
      "item_id",
    );
    const itemIds = (items.getColumn("item_id").toArray() as (string | number | bigint)[]).map(String);
    const vocabIdx = Int32Array.from(items.getColumn("idx").toArray() as number[], Number);
    const textIdx = items.getColumn("item_text_idx").toArray() as number[];
    const inTrain = (r: number) => vocabIdx[r] > 0;
    const n = itemIds.length, kt = o.text.k;
    const textRaw = new Float32Array(n * kt);
    textIdx.forEach((t, r) => textRaw.set(o.text.tables.item.subarray(t * kt, (t + 1) * kt), r * kt));
    const text = { vectors: l2Rows(textRaw, kt), k: kt };
    // content = text (+ the picture where the dataset has them), PCA + L2 fitted on training items
    let image: ItemEmbeddings["image"] = null;
    if (hasItemImages(o.dataDir)) {
      const embedder = o.imageEmbedder ?? new PixelEmbedder();
      const pixels = await embedder.embed(itemIds.map((id) => itemImagePath(o.dataDir, id)));
      image = { ...pcaL2(pixels, embedder.dim, k, inTrain), embedder: embedder.name };
    }
    const both = concatRows([
      { x: text.vectors, d: kt },
      ...(image ? [{ x: image.vectors, d: image.k }] : []),
    ]);
    const content = pcaL2(both.x, both.d, k, inTrain);
    // one width for both: with fewer training items than k, the content PCA has fewer directions; zero columns pad it
    const kk = Math.max(content.k, o.item2vec.dim), d2v = o.item2vec.dim;
    const raw = new Float32Array(n * d2v);
    vocabIdx.forEach((v, r) => {
      if (v > 0 && o.item2vec.counts[v] > 0) {
        raw.set(o.item2vec.vectors.subarray(v * d2v, (v + 1) * d2v), r * d2v);
      }
    });
    const collaborative = padColumns(l2Rows(raw, d2v), n, d2v, kk),
      contentVectors = padColumns(content.vectors, n, content.k, kk);
    return {
      itemIds,
      vocabIdx,
      text,
      image,
      content: { vectors: contentVectors, k: kk, explained: content.explained },
      collaborative,
      k: kk,
      fused: (alpha: number) => fuse(contentVectors, collaborative, alpha),
    };
  });
}
