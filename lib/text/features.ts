/**
 * Text features keyed by id. Item text = title + entity names; user text = query, service and bill entity
 * sequences. Each distinct text gets an index (0 = no text), each row gets the indices of its own user and
 * item texts (joined by row_id, never by position), and each distinct text one whitened vector.
 *
 * Layout (<dir> = a run's text/ folder): embedder/ (a fitted TF-IDF embedder's parameters, or model.json
 * naming a transformers.js model or { none: true } for logs without usable text), whitening.json ({ user, item }), user.f32 / item.f32 ((n+1) × k vectors,
 * row 0 = the empty text), texts_user.parquet / texts_item.parquet (idx, text), rows.parquet (row_id,
 * user_text_idx, item_text_idx), meta.json.
 */
import pl from "nodejs-polars";
import { readCleanSchema, scanClean } from "../data/etl.ts";
import { embedCached, type Embedder, type EmbedOptions, NO_TEXT } from "./embedder.ts";
import { type TfidfConfig, TfidfSvdEmbedder, TooLittleText } from "./tfidf.ts";
import { TransformersEmbedder } from "./transformers.ts";
import { applyWhitening, emptyWhitening, fitWhitening, truncateWhitening, type Whitening } from "./whiten.ts";
import { dayIndex } from "../util/time.ts";
import { timed } from "../util/profile.ts";

export type TextSide = "user" | "item";
export const TEXT_SIDES: TextSide[] = ["user", "item"];

/** The dataset spec's text columns per side (AntM2C: item = title + entity names; user = query, service and bill entity sequences). */
export function textColumns(cleanDir: string): Record<TextSide, string[]> {
  const { spec } = readCleanSchema(cleanDir);
  return {
    user: spec.text.filter((t) => t.side === "user").map((t) => t.column),
    item: spec.text.filter((t) => t.side === "item").map((t) => t.column),
  };
}

/** The side's text from its columns: non-empty fields joined by ","; "" when every field is empty (or there is none). */
export function textExpr(side: TextSide, columns: string[]): pl.Expr {
  if (columns.length === 0) return pl.lit("").alias(`${side}_text`);
  const cols = columns.map((c) => pl.col(c).cast(pl.Utf8).fillNull(pl.lit("")));
  const joined = pl.concatString(cols, ",").str.replaceAll(",+", ",").str.stripChars(",");
  return joined.alias(`${side}_text`);
}

/**
 * The distinct texts of `side` in a frame with a `<side>_text` column, sorted, with "" (no text) at index 0,
 * and the lookup frame (<side>_text → <side>_text_idx) to join rows with.
 */
export function indexTexts(frame: pl.DataFrame, side: TextSide): { texts: string[]; index: pl.DataFrame } {
  const col = `${side}_text`;
  const uniq = frame.select(pl.col(col)).unique().filter(pl.col(col).neq(pl.lit(""))).sort(col);
  const texts = ["", ...(uniq.getColumn(col).toArray() as string[])];
  const index = pl.DataFrame({ [col]: texts, [`${col}_idx`]: texts.map((_, i) => i) }).withColumns(
    pl.col(`${col}_idx`).cast(pl.Int32),
  );
  return { texts, index };
}

export interface TextFeatures {
  dir: string;
  embedder: Embedder;
  whitening: Record<TextSide, Whitening>;
  /** (n+1) × k whitened vectors per side; row 0 is the empty text. */
  tables: Record<TextSide, Float32Array>;
  texts: Record<TextSide, string[]>;
  k: number;
}

export interface TextBuildOptions {
  /** "tfidf" (default, fitted on training texts) or a transformers.js hub id / local model directory. */
  embedder?: "tfidf" | { transformers: string; lastLayers?: number };
  tfidf?: TfidfConfig;
  /** Whitened dimensions (default 128). */
  k?: number;
  /** Where embeddings are cached across runs (default <dataDir>/text_cache). */
  cacheDir?: string;
  onProgress?: EmbedOptions["onProgress"];
}

/**
 * Embed every distinct user and item text of the cleaned data, fit the embedder (TF-IDF) and the whitening on
 * texts of training days only, and write the result to `outDir`.
 */
export async function buildTextFeatures(
  dataDir: string,
  trainDays: string[],
  outDir: string,
  o: TextBuildOptions = {},
): Promise<TextFeatures> {
  return timed("features", async () => {
    const days = trainDays.map(dayIndex);
    const cols = textColumns(`${dataDir}/clean`);
    const rows = scanClean(`${dataDir}/clean`).select(
      pl.col("row_id"),
      pl.col("date").cast(pl.Int32).isIn(days).alias("train"),
      textExpr("user", cols.user),
      textExpr("item", cols.item),
    ).collectSync();
    await Deno.remove(outDir, { recursive: true }).catch(() => {});
    await Deno.mkdir(`${outDir}/embedder`, { recursive: true });
    // distinct texts per side, index 0 reserved for ""
    const texts = {} as Record<TextSide, string[]>;
    let indexed = rows;
    for (const side of TEXT_SIDES) {
      const { texts: distinct, index } = indexTexts(rows, side);
      texts[side] = distinct;
      indexed = indexed.join(index, { on: `${side}_text`, how: "left" });
      index.rename({ [`${side}_text`]: "text", [`${side}_text_idx`]: "idx" }).writeParquet(
        `${outDir}/texts_${side}.parquet`,
      );
    }
    const trainIdx = (side: TextSide) =>
      [...new Set(indexed.filter(pl.col("train")).getColumn(`${side}_text_idx`).toArray() as number[])]
        .filter((
          i,
        ) => i > 0).sort((a, b) => a - b);
    // no text to embed (no text column, empty fields, or too uniform to fit TF-IDF): NO_TEXT, every vector 0
    let embedder: Embedder = NO_TEXT;
    const corpus = TEXT_SIDES.flatMap((s) => trainIdx(s).map((i) => texts[s][i]));
    const someText = new Set(corpus).size >= 2;
    if (someText && (!o.embedder || o.embedder === "tfidf")) {
      try {
        const e = TfidfSvdEmbedder.fit(corpus, o.tfidf);
        await e.save(`${outDir}/embedder`);
        embedder = e;
      } catch (e) {
        if (!(e instanceof TooLittleText)) throw e;
      }
    } else if (someText && o.embedder && o.embedder !== "tfidf") {
      const e = await TransformersEmbedder.load(o.embedder.transformers, {
        lastLayers: o.embedder.lastLayers,
      });
      await Deno.writeTextFile(
        `${outDir}/embedder/model.json`,
        JSON.stringify({ transformers: o.embedder.transformers, lastLayers: o.embedder.lastLayers ?? 1 }),
      );
      embedder = e;
    }
    const noText = embedder === NO_TEXT;
    if (noText) await Deno.writeTextFile(`${outDir}/embedder/model.json`, JSON.stringify({ none: true }));
    const cacheDir = o.cacheDir ?? `${dataDir}/text_cache`;
    const whitening = {} as Record<TextSide, Whitening>, tables = {} as Record<TextSide, Float32Array>;
    const vectors = {} as Record<TextSide, Float32Array>;
    for (const side of TEXT_SIDES) {
      vectors[side] =
        (await embedCached(embedder, texts[side], cacheDir, { onProgress: o.onProgress })).vectors;
      const fit = trainIdx(side);
      const d = embedder.dim, train = new Float32Array(fit.length * d);
      fit.forEach((i, r) => train.set(vectors[side].subarray(i * d, (i + 1) * d), r * d));
      // a side with no text column (or fewer than two distinct training texts) spans no direction
      whitening[side] = fit.length >= 2 && !noText
        ? fitWhitening(train, d, o.k ?? 128)
        : emptyWhitening(d, fit.length);
    }
    // one width for both sides (models read [B, k] for each), the smaller of the two ranks among the sides
    // that have text; a side without any is zero at that width (it carries nothing); no text at all: one zero
    const ranks = TEXT_SIDES.map((s) => whitening[s].k).filter((k) => k > 0);
    const k = ranks.length ? Math.min(...ranks) : 1;
    for (const side of TEXT_SIDES) {
      if (whitening[side].k === 0) {
        whitening[side] = emptyWhitening(embedder.dim, whitening[side].fittedOn, k);
      }
    }
    for (const side of TEXT_SIDES) {
      whitening[side] = truncateWhitening(whitening[side], k);
      tables[side] = applyWhitening(whitening[side], vectors[side]);
      await Deno.writeFile(`${outDir}/${side}.f32`, new Uint8Array(tables[side].buffer));
    }
    indexed.select("row_id", "user_text_idx", "item_text_idx").writeParquet(`${outDir}/rows.parquet`);
    await Deno.writeTextFile(`${outDir}/whitening.json`, JSON.stringify(whitening));
    await Deno.writeTextFile(
      `${outDir}/meta.json`,
      JSON.stringify(
        {
          embedder: embedder.name,
          fingerprint: embedder.fingerprint,
          dim: embedder.dim,
          k,
          texts: { user: texts.user.length - 1, item: texts.item.length - 1 },
          trainDays,
        },
        null,
        2,
      ),
    );
    return { dir: outDir, embedder, whitening, tables, texts, k };
  });
}

/** The embedder a text folder was built with. */
export async function loadEmbedder(dir: string): Promise<Embedder> {
  try {
    const m = JSON.parse(await Deno.readTextFile(`${dir}/embedder/model.json`));
    if (m.none) return NO_TEXT;
    return await TransformersEmbedder.load(m.transformers, { lastLayers: m.lastLayers });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    return await TfidfSvdEmbedder.load(`${dir}/embedder`);
  }
}

/** Read back what `buildTextFeatures` wrote. */
export async function loadTextFeatures(dir: string): Promise<TextFeatures> {
  const whitening = JSON.parse(await Deno.readTextFile(`${dir}/whitening.json`)) as Record<
    TextSide,
    Whitening
  >;
  const tables = {} as Record<TextSide, Float32Array>, texts = {} as Record<TextSide, string[]>;
  for (const side of TEXT_SIDES) {
    const b = await Deno.readFile(`${dir}/${side}.f32`);
    tables[side] = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    texts[side] = pl.readParquet(`${dir}/texts_${side}.parquet`).getColumn("text").toArray() as string[];
  }
  return { dir, embedder: await loadEmbedder(dir), whitening, tables, texts, k: whitening.item.k };
}

/** `frame` with user_text_idx and item_text_idx joined on row_id (rows without text get 0). */
export function joinTextIndex(frame: pl.DataFrame, tf: Pick<TextFeatures, "dir">): pl.DataFrame {
  const idx = pl.readParquet(`${tf.dir}/rows.parquet`);
  return frame.join(idx, { on: "row_id", how: "left" }).withColumns(
    pl.col("user_text_idx").fillNull(0),
    pl.col("item_text_idx").fillNull(0),
  );
}

/** Whitened vectors for new texts (scoring): embed, then apply the stored whitening of `side`. */
export async function embedTexts(tf: TextFeatures, side: TextSide, texts: string[]): Promise<Float32Array> {
  return applyWhitening(tf.whitening[side], await tf.embedder.embed(texts));
}

/**
 * The fallback text table: row 0 (no text) replaced by the mean of the training texts' whitened vectors —
 * which whitening makes the zero vector — instead of the embedding of an empty string.
 */
export function withMeanForMissing(table: Float32Array, k: number): Float32Array {
  const t = Float32Array.from(table);
  t.fill(0, 0, k);
  return t;
}
