/** What the text notebook shows about embeddings: a 2-D map of the texts, coloured by the scene they appear in most. */
import pl from "nodejs-polars";
import { scanClean } from "../data/etl.ts";
import type { TextFeatures, TextSide } from "./features.ts";

export interface TextPoint {
  x: number;
  y: number;
  scene: number;
  text: string;
}

/**
 * Each distinct text of `side` at its first two principal coordinates (the first two whitened dimensions
 * scaled back by √λ), with the scene most of its impressions come from; at most `limit` texts, evenly spread.
 */
export function textMap(tf: TextFeatures, dataDir: string, side: TextSide, limit = 3000): TextPoint[] {
  const col = `${side}_text_idx`;
  const scenes = pl.readParquet(`${tf.dir}/rows.parquet`).select("row_id", col)
    .join(scanClean(`${dataDir}/clean`).select("row_id", pl.col("scene").cast(pl.Int32)).collectSync(), {
      on: "row_id",
    })
    .filter(pl.col(col).gt(0)).groupBy([col, "scene"]).agg(pl.len().alias("n")).sort(
      [col, "n", "scene"],
      [false, true, false] as never,
    )
    .groupBy(col).agg(pl.col("scene").first()).sort(col);
  const idx = scenes.getColumn(col).toArray() as number[],
    sc = scenes.getColumn("scene").toArray() as number[];
  const { k, spectrum } = tf.whitening[side], t = tf.tables[side];
  const step = Math.max(1, Math.ceil(idx.length / limit));
  const out: TextPoint[] = [];
  for (let j = 0; j < idx.length; j += step) {
    const i = idx[j];
    out.push({
      x: t[i * k] * Math.sqrt(spectrum[0]),
      y: t[i * k + 1] * Math.sqrt(spectrum[1]),
      scene: sc[j],
      text: tf.texts[side][i],
    });
  }
  return out;
}
