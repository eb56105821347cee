/**
 * The training table: impressions joined with their point-in-time history, categorical ids mapped through
 * vocabularies built on training days only (index 0 = out of vocabulary), a split column, and a manifest
 * with the feature list, vocabulary sizes and normalisation statistics — all fitted on the training split.
 *
 * Layout: <out>/split=train|val|test/part-00000.parquet, <out>/manifest.json, <out>/vocab_<column>.parquet.
 */
import pl from "nodejs-polars";
import { scanClean } from "../data/etl.ts";
import { FEATURE_DEFS, SCENE_COUNT } from "./defs.ts";
import { type BetaPrior, dayExpr, fitCtrPrior, joinHistory } from "./history.ts";

export type SplitName = "train" | "val" | "test";
export const SPLITS: SplitName[] = ["train", "val", "test"];

export interface SplitConfig {
  /** "temporal" (default): earlier days train, the next `valDays` validate, the last `testDays` test.
   *  "random": rows assigned at random in the same proportions — leaky: the future trains the past. */
  mode?: "temporal" | "random";
  valDays?: number;
  testDays?: number;
  seed?: number;
}

export interface FeatureStat {
  name: string;
  transform: "log1p" | "none";
  mean: number;
  std: number;
}

export interface Manifest {
  createdAt: string;
  source: string;
  split: Required<SplitConfig> & { days: Record<SplitName, string[]> };
  rows: Record<SplitName, number>;
  features: FeatureStat[];
  vocabs: Record<string, { size: number; minCount: number; oovIndex: 0 }>;
  priors: Record<"user" | "item", BetaPrior>;
  scenes: number;
  includeCurrentDay: boolean;
}

export const MANIFEST_FILE = "manifest.json";

/** Split column by day (temporal) or at random (leaky, for contrast). */
export function splitExpr(days: number[], cfg: SplitConfig): pl.Expr {
  const c = { mode: "temporal", valDays: 3, testDays: 3, seed: 7, ...cfg };
  if (days.length < c.valDays + c.testDays + 1) throw new Error(`split: ${days.length} days cannot hold ${c.valDays} validation + ${c.testDays} test days and a training day`);
  const sorted = [...days].sort((a, b) => a - b);
  const testStart = sorted[sorted.length - c.testDays], valStart = sorted[sorted.length - c.testDays - c.valDays];
  if (c.mode === "temporal") {
    return pl.when(pl.col("day").gtEq(pl.lit(testStart))).then(pl.lit("test"))
      .when(pl.col("day").gtEq(pl.lit(valStart))).then(pl.lit("val")).otherwise(pl.lit("train")).alias("split");
  }
  // random: a hash of row_id and the seed, cut in the temporal split's proportions
  const nTest = c.testDays / days.length, nVal = c.valDays / days.length;
  const u = pl.col("row_id").hash(c.seed).modulo(pl.lit(1_000_000)).cast(pl.Float64).div(pl.lit(1_000_000));
  return pl.when(u.lt(pl.lit(nTest))).then(pl.lit("test")).when(u.lt(pl.lit(nTest + nVal))).then(pl.lit("val")).otherwise(pl.lit("train")).alias("split");
}

/** Vocabulary of `column` over training rows: ids seen at least `minCount` times get 1..V, others 0. */
export function buildVocab(train: pl.DataFrame, column: string, minCount = 1): pl.DataFrame {
  return train.groupBy(column).agg(pl.len().alias("count")).filter(pl.col("count").gtEq(minCount)).sort(column)
    .withRowIndex("idx", 1).select(pl.col(column), pl.col("idx").cast(pl.Int64), pl.col("count"));
}

export function applyVocab(df: pl.DataFrame, vocab: pl.DataFrame, column: string, as: string): pl.DataFrame {
  return df.join(vocab.select(column, pl.col("idx").alias(as)), { on: column, how: "left" }).withColumns(pl.col(as).fillNull(0));
}

export interface BuildOptions {
  split?: SplitConfig;
  minCount?: number;
  includeCurrentDay?: boolean;
}

/** Load cleaned impressions with a day index. */
export function loadEvents(cleanDir: string): pl.DataFrame {
  return scanClean(cleanDir).select("row_id", "user_id", "item_id", "scene", "label", "date", "log_time")
    .withColumns(dayExpr(), pl.col("scene").cast(pl.Int32)).collectSync();
}

/** Build features, splits and vocabularies in memory (the notebook inspects this before writing). */
export function buildTable(events: pl.DataFrame, o: BuildOptions = {}): { table: pl.DataFrame; manifest: Manifest; vocabs: Record<string, pl.DataFrame> } {
  const split = { mode: "temporal" as const, valDays: 3, testDays: 3, seed: 7, ...o.split };
  const days = (events.getColumn("day").unique().sort().toArray() as number[]);
  const withSplit = events.withColumns(splitExpr(days, split));
  const train = withSplit.filter(pl.col("split").eq(pl.lit("train")));
  const priors = { user: fitCtrPrior(train, "user"), item: fitCtrPrior(train, "item") };
  let table = joinHistory(withSplit, { priors, includeCurrentDay: o.includeCurrentDay });
  const vocabs: Record<string, pl.DataFrame> = {};
  for (const [col, as] of [["user_id", "user_idx"], ["item_id", "item_idx"]]) {
    vocabs[col] = buildVocab(train, col, o.minCount ?? 1);
    table = applyVocab(table, vocabs[col], col, as);
  }
  // how much training history each user and item has (for cold-start slices)
  for (const [col, as] of [["user_id", "u_train_imp"], ["item_id", "i_train_imp"]]) {
    table = table.join(vocabs[col].select(col, pl.col("count").alias(as)), { on: col, how: "left" }).withColumns(pl.col(as).fillNull(0));
  }
  const trainRows = table.filter(pl.col("split").eq(pl.lit("train")));
  const features: FeatureStat[] = FEATURE_DEFS.map((d) => {
    const x = transformed(pl.col(d.name), d.transform);
    const s = trainRows.select(x.mean().alias("m"), x.std().alias("s"));
    const std = s.getColumn("s").get(0) as number;
    return { name: d.name, transform: d.transform, mean: s.getColumn("m").get(0) as number, std: std > 1e-12 ? std : 1 };
  });
  const dayStr = (d: number) => new Date(d * 86_400_000).toISOString().slice(0, 10);
  const splitDays = Object.fromEntries(SPLITS.map((sp) => [sp, (table.filter(pl.col("split").eq(pl.lit(sp))).getColumn("day").unique().sort().toArray() as number[]).map(dayStr)])) as Record<SplitName, string[]>;
  const rows = Object.fromEntries(SPLITS.map((sp) => [sp, table.filter(pl.col("split").eq(pl.lit(sp))).height])) as Record<SplitName, number>;
  const manifest: Manifest = {
    createdAt: new Date().toISOString(), source: "", split: { ...split, days: splitDays }, rows, features, priors, scenes: SCENE_COUNT,
    includeCurrentDay: !!o.includeCurrentDay,
    vocabs: Object.fromEntries(Object.entries(vocabs).map(([c, v]) => [c, { size: v.height + 1, minCount: o.minCount ?? 1, oovIndex: 0 as const }])),
  };
  return { table: table.sort("row_id"), manifest, vocabs };
}

function transformed(e: pl.Expr, t: "log1p" | "none"): pl.Expr {
  return t === "log1p" ? e.add(pl.lit(1)).log() : e;
}

/** Standardised feature columns ("n_<name>", float32) from the manifest's training statistics. */
export function normalizedFeatures(manifest: Manifest): pl.Expr[] {
  return manifest.features.map((f) => transformed(pl.col(f.name), f.transform).sub(pl.lit(f.mean)).div(pl.lit(f.std)).cast(pl.Float32).alias(`n_${f.name}`));
}

/** Write the table, vocabularies and manifest; every input row lands in exactly one split (checked). */
export async function writeTable(outDir: string, built: ReturnType<typeof buildTable>, source: string): Promise<Manifest> {
  await Deno.remove(outDir, { recursive: true }).catch(() => {});
  for (const sp of SPLITS) {
    await Deno.mkdir(`${outDir}/split=${sp}`, { recursive: true });
    built.table.filter(pl.col("split").eq(pl.lit(sp))).drop("split").writeParquet(`${outDir}/split=${sp}/part-00000.parquet`, { compression: "zstd" });
  }
  for (const [c, v] of Object.entries(built.vocabs)) v.writeParquet(`${outDir}/vocab_${c}.parquet`);
  const manifest = { ...built.manifest, source };
  const total = SPLITS.reduce((a, s) => a + manifest.rows[s], 0);
  if (total !== built.table.height) throw new Error(`split accounting: ${total} rows in splits, ${built.table.height} in the table`);
  await Deno.writeTextFile(`${outDir}/${MANIFEST_FILE}`, JSON.stringify(manifest, null, 2));
  return manifest;
}

export function readManifest(dir: string): Manifest {
  return JSON.parse(Deno.readTextFileSync(`${dir}/${MANIFEST_FILE}`));
}

/** One split of a written table, with normalised feature columns added. */
export function readSplit(dir: string, split: SplitName, manifest = readManifest(dir)): pl.DataFrame {
  return pl.readParquet(`${dir}/split=${split}/part-00000.parquet`).withColumns(...normalizedFeatures(manifest));
}
