/**
 * The training table: impressions joined with their point-in-time history, categorical ids mapped through
 * vocabularies built on training days only (index 0 = out of vocabulary), a split column, and a manifest
 * with the feature list, vocabulary sizes and normalisation statistics — all fitted on the training split.
 *
 * Layout: <out>/split=train|val|test/part-00000.parquet, <out>/manifest.json, <out>/vocab_<column>.parquet.
 */
import pl from "nodejs-polars";
import { type CleanSchema, generatorSchema, readCleanSchema, scanClean } from "../data/etl.ts";
import { featureDefs } from "./defs.ts";
import { type BetaPrior, dayExpr, fitCtrPrior, joinHistory } from "./history.ts";
import { releaseMemory } from "../util/memory.ts";
import {
  partFiles,
  pathBytes,
  runSparkPlan,
  shufflePartitions,
  type SparkDriver,
  type SparkResult,
} from "../data/spark.ts";
import { sparkVocabDir, tablePlan } from "./sql.ts";
import { unitHash } from "../util/frame.ts";
import { dayIndex, dayName } from "../util/time.ts";
import { timed } from "../util/profile.ts";

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
  /** Stored as float32 in the table (exact for counts); models read the standardised column n_<name>. */
  dtype: "float32";
  transform: "log1p" | "none";
  mean: number;
  std: number;
  /** A numeric column of the dataset spec. */
  spec?: true;
  /** A spec column's missing value, standardised: 0 (the training mean) unless the spec gives a value. */
  fill?: number;
  /** Share of training rows where a spec column is missing. */
  missingShare?: number;
}

export interface Manifest {
  createdAt: string;
  source: string;
  split: Required<SplitConfig> & { days: Record<SplitName, string[]> };
  rows: Record<SplitName, number>;
  features: FeatureStat[];
  vocabs: Record<string, { size: number; minCount: number; oovIndex: 0 }>;
  priors: Record<"user" | "item", BetaPrior>;
  /** Number of scenes (tasks) and their names, from the dataset spec (index = the scene column's value). */
  scenes: number;
  sceneNames: string[];
  /** The spec's further categorical columns, each with a vocabulary (in `vocabs`) and an index column <name>_idx. */
  categorical: string[];
  includeCurrentDay: boolean;
}

export const MANIFEST_FILE = "manifest.json";

/** A split configuration with its defaults: temporal, 3 validation and 3 test days. */
export function splitConfig(cfg: SplitConfig = {}): Required<SplitConfig> {
  return { mode: "temporal", valDays: 3, testDays: 3, seed: 7, ...cfg };
}

/** Split column by day (temporal) or at random (leaky, for contrast). */
export function splitExpr(days: number[], cfg: SplitConfig): pl.Expr {
  const c = splitConfig(cfg);
  if (days.length < c.valDays + c.testDays + 1) {
    throw new Error(
      `split: ${days.length} days cannot hold ${c.valDays} validation + ${c.testDays} test days and a training day ` +
        `(a short log: set the dataset spec's "split": { "valDays": …, "testDays": … })`,
    );
  }
  const sorted = [...days].sort((a, b) => a - b);
  const testStart = sorted[sorted.length - c.testDays],
    valStart = sorted[sorted.length - c.testDays - c.valDays];
  if (c.mode === "temporal") {
    return pl.when(pl.col("day").gtEq(pl.lit(testStart))).then(pl.lit("test"))
      .when(pl.col("day").gtEq(pl.lit(valStart))).then(pl.lit("val")).otherwise(pl.lit("train")).alias(
        "split",
      );
  }
  // random: a hash of row_id and the seed, cut in the temporal split's proportions
  const nTest = c.testDays / days.length, nVal = c.valDays / days.length;
  const u = unitHash("row_id", c.seed);
  return pl.when(u.lt(pl.lit(nTest))).then(pl.lit("test")).when(u.lt(pl.lit(nTest + nVal))).then(
    pl.lit("val"),
  ).otherwise(pl.lit("train")).alias("split");
}

/**
 * Vocabulary of `column` over training rows: ids seen at least `minCount` times get 1..V, others 0 (missing
 * values too). Ids are strings; they are ordered by length, then text, so integer ids keep their numeric order.
 */
export function buildVocab(train: pl.DataFrame, column: string, minCount = 1): pl.DataFrame {
  const counts = train.filter(pl.col(column).isNotNull()).groupBy(column).agg(pl.len().alias("count")).filter(
    pl.col("count").gtEq(minCount),
  );
  return sortByIds(counts, column).withRowIndex("idx", 1).select(
    pl.col(column),
    pl.col("idx").cast(pl.Int64),
    pl.col("count"),
  );
}

/** `df` sorted by an id column in vocabulary order (length, then text: integer ids in numeric order), then by `then`. */
export function sortByIds(df: pl.DataFrame, id: string, then: string[] = []): pl.DataFrame {
  return df.withColumns(pl.col(id).cast(pl.Utf8).str.lengths().alias("__id_len")).sort([
    "__id_len",
    id,
    ...then,
  ]).drop("__id_len");
}

/** Id columns with a training vocabulary: (id column, index column, training-impressions column). */
export const ID_VOCABS = [["user_id", "user_idx", "u_train_imp"], [
  "item_id",
  "item_idx",
  "i_train_imp",
]] as const;

/**
 * Each id's vocabulary index (0 = out of vocabulary) and how much training history it has (for cold-start
 * slices); each categorical column's index (<name>_idx, 0 = unseen or missing).
 */
export function withVocabIndex(
  df: pl.DataFrame,
  vocabs: Record<string, pl.DataFrame>,
  categorical: string[] = [],
): pl.DataFrame {
  let out = df;
  for (const [col, as, count] of ID_VOCABS) {
    out = out.join(
      vocabs[col].select(col, pl.col("idx").alias(as), pl.col("count").cast(pl.Float32).alias(count)),
      { on: col, how: "left" },
    )
      .withColumns(pl.col(as).fillNull(0), pl.col(count).fillNull(0));
  }
  for (const col of categorical) {
    out = out.join(vocabs[col].select(col, pl.col("idx").alias(`${col}_idx`)), { on: col, how: "left" })
      .withColumns(pl.col(`${col}_idx`).fillNull(0)).drop(col);
  }
  return out;
}

export interface BuildOptions {
  split?: SplitConfig;
  /** Keep date and log_time in the table (dropped by default to save memory). */
  keepTime?: boolean;
  minCount?: number;
  includeCurrentDay?: boolean;
  /** What the cleaned data holds (scenes, numeric and categorical columns); default: the generator's layout. */
  schema?: CleanSchema;
}

/**
 * Vocabulary of entity tokens (the entries of the spec's entity-list text columns) over training days only:
 * tokens seen at least `minCount` times get 1..V, the rest map to 0 (OOV).
 */
export function buildEntityVocab(cleanDir: string, trainDays: string[], minCount = 1): pl.DataFrame {
  const entityColumns = readCleanSchema(cleanDir).spec.text.filter((t) => t.entities);
  // one streaming query over the training days' files; the exploded token lists never sit in memory whole
  const days = trainDays.map(dayIndex);
  const scan = () => scanClean(cleanDir).filter(pl.col("date").cast(pl.Int32).isIn(days));
  const counts = new Map<string, number>();
  for (const { column: c, entities } of entityColumns) {
    const per = scan().select(pl.col(c).str.split(entities!).alias("entity")).explode("entity")
      .filter(pl.col("entity").isNotNull().and(pl.col("entity").neq(pl.lit("")))).groupBy("entity").agg(
        pl.len().alias("n"),
      )
      .collectSync({ engine: "streaming" } as never);
    const [ents, ns] = [
      per.getColumn("entity").toArray() as string[],
      per.getColumn("n").toArray() as number[],
    ];
    ents.forEach((e, i) => counts.set(e, (counts.get(e) ?? 0) + Number(ns[i])));
  }
  return entityVocab(counts, minCount);
}

/** The entity vocabulary from token counts: tokens seen ≥ minCount times, sorted, indexed from 1. */
function entityVocab(counts: Map<string, number>, minCount: number): pl.DataFrame {
  const tokens = [...counts].filter(([, n]) => n >= minCount).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  return pl.DataFrame({
    entity: tokens.map(([e]) => e),
    idx: tokens.map((_, i) => i + 1),
    count: tokens.map(([, n]) => n),
  })
    .withColumns(pl.col("idx").cast(pl.Int64), pl.col("count").cast(pl.Int64));
}

/** Load cleaned impressions with a day index (and the spec's numeric and categorical columns). */
export function loadEvents(cleanDir: string): pl.DataFrame {
  return timed("data", () => {
    const { spec } = readCleanSchema(cleanDir);
    const extra = [...spec.numeric.map((n) => n.column), ...spec.categorical.map((c) => c.column)];
    return scanClean(cleanDir).select(
      "row_id",
      pl.col("user_id").cast(pl.Utf8),
      pl.col("item_id").cast(pl.Utf8),
      "scene",
      "label",
      "date",
      "log_time",
      ...extra,
    )
      .withColumns(dayExpr(), pl.col("scene").cast(pl.Int32)).collectSync();
  });
}

/** Build features, splits and vocabularies in memory (the notebook inspects this before writing). */
export interface BuiltTable {
  table: pl.DataFrame;
  manifest: Manifest;
  vocabs: Record<string, pl.DataFrame>;
}

export async function buildTable(events: pl.DataFrame, o: BuildOptions = {}): Promise<BuiltTable> {
  return timed("features", async () => {
    const schema = o.schema ?? generatorSchema();
    const scenes = schema.scenes.length;
    const categorical = schema.spec.categorical;
    const split = splitConfig({ ...schema.spec.split, ...o.split });
    const days = events.getColumn("day").unique().sort().toArray() as number[];
    // ids, split and coldness on the narrow event frame first; the wide history joins come last, once
    // (date and log_time are not needed past this point: day and row_id order carry the time)
    let narrow = events.sort("row_id").select(
      ...events.columns.filter((c) => o.keepTime || (c !== "date" && c !== "log_time")),
    ).withColumns(splitExpr(days, split));
    const train = narrow.filter(pl.col("split").eq(pl.lit("train")));
    const priors = { user: fitCtrPrior(train, "user"), item: fitCtrPrior(train, "item") };
    const vocabs: Record<string, pl.DataFrame> = {};
    for (const [col] of ID_VOCABS) vocabs[col] = buildVocab(train, col, o.minCount ?? 1);
    for (const c of categorical) vocabs[c.column] = buildVocab(train, c.column, c.minCount ?? 1);
    narrow = withVocabIndex(narrow, vocabs, categorical.map((c) => c.column));
    await releaseMemory();
    const table = await joinHistory(narrow, { priors, includeCurrentDay: o.includeCurrentDay, scenes });
    narrow = table; // let the narrow frame go
    await releaseMemory();
    // standardisation statistics from the training split, all features in one pass
    const all = standardised(schema);
    const stats = table.lazy().filter(pl.col("split").eq(pl.lit("train"))).select(...all.flatMap((d) => {
      const x = transformed(pl.col(d.name).cast(pl.Float64), d.transform);
      return [
        x.mean().alias(`${d.name}:mean`),
        x.std().alias(`${d.name}:std`),
        pl.col(d.name).isNull().mean().alias(`${d.name}:missing`),
      ];
    })).collectSync();
    const features = featureStats(all, (name, k) => stats.getColumn(`${name}:${k}`).get(0) as number);
    const counts = narrow.groupBy("split").agg(
      pl.len().alias("rows"),
      pl.col("day").unique().sort().alias("days"),
    );
    const rows = Object.fromEntries(SPLITS.map((sp) => [sp, 0])) as Record<SplitName, number>;
    const splitDays: Record<SplitName, string[]> = { train: [], val: [], test: [] };
    for (const r of counts.toRecords() as unknown as { split: SplitName; rows: number; days: number[] }[]) {
      rows[r.split] = Number(r.rows);
      splitDays[r.split] = r.days.map(dayName);
    }
    const manifest = makeManifest(schema, o, { split, splitDays, rows, features, priors, vocabs });
    return { table, manifest, vocabs };
  });
}

/** The manifest of a built table: the same for either engine. */
function makeManifest(
  schema: CleanSchema,
  o: BuildOptions,
  b: {
    split: Required<SplitConfig>;
    splitDays: Record<SplitName, string[]>;
    rows: Record<SplitName, number>;
    features: FeatureStat[];
    priors: Record<"user" | "item", BetaPrior>;
    vocabs: Record<string, { height: number }>;
  },
): Manifest {
  return {
    createdAt: new Date().toISOString(),
    source: "",
    split: { ...b.split, days: b.splitDays },
    rows: b.rows,
    features: b.features,
    priors: b.priors,
    scenes: schema.scenes.length,
    sceneNames: schema.scenes,
    categorical: schema.spec.categorical.map((c) => c.column),
    includeCurrentDay: !!o.includeCurrentDay,
    vocabs: Object.fromEntries(
      Object.entries(b.vocabs).map((
        [c, v],
      ) => [c, { size: v.height + 1, minCount: o.minCount ?? 1, oovIndex: 0 as const }]),
    ),
  };
}

/** The standardised columns: behaviour features, then the spec's numeric columns (whose mean and std skip missing values). */
export function standardised(
  schema: CleanSchema,
): { name: string; transform: "log1p" | "none"; spec?: true; fill?: "mean" | number }[] {
  return [
    ...featureDefs(schema.scenes.length).map((d) => ({ name: d.name, transform: d.transform })),
    ...schema.spec.numeric.map((n) => ({
      name: n.column,
      transform: n.transform ?? "none" as const,
      spec: true as const,
      fill: n.fill,
    })),
  ];
}

/** Feature statistics from the training split's mean, std and missing share (`stat(name, "mean" | "std" | "missing")`). */
function featureStats(
  all: ReturnType<typeof standardised>,
  stat: (name: string, k: "mean" | "std" | "missing") => number,
): FeatureStat[] {
  return all.map((d) => {
    const std = stat(d.name, "std"), mean = stat(d.name, "mean");
    const f: FeatureStat = {
      name: d.name,
      dtype: "float32" as const,
      transform: d.transform,
      mean: Number.isFinite(mean) ? mean : 0,
      std: std > 1e-12 ? std : 1,
    };
    if (!d.spec) return f;
    const fill = typeof d.fill === "number"
      ? ((d.transform === "log1p" ? Math.log1p(d.fill) : d.fill) - f.mean) / f.std
      : 0;
    return { ...f, spec: true, fill, missingShare: stat(d.name, "missing") };
  });
}

/**
 * The training table's columns in order, as the polars engine leaves them: the event columns (the spec's
 * numeric ones among them), the day, vocabulary indices and training counts, then the catalogue's features.
 */
export function tableColumns(schema: CleanSchema): string[] {
  const categorical = schema.spec.categorical.map((c) => `${c.column}_idx`);
  return [
    "row_id",
    "user_id",
    "item_id",
    "scene",
    "label",
    ...schema.spec.numeric.map((n) => n.column),
    "day",
    ...ID_VOCABS.flatMap(([, idx, count]) => [idx, count]),
    ...categorical,
    ...featureDefs(schema.scenes.length).map((d) => d.name),
  ];
}

function transformed(e: pl.Expr, t: "log1p" | "none"): pl.Expr {
  return t === "log1p" ? e.add(pl.lit(1)).log() : e;
}

/** Standardised feature columns ("n_<name>", float32) from the manifest's training statistics; a missing spec value becomes its fill (0: the training mean). */
export function normalizedFeatures(manifest: Manifest): pl.Expr[] {
  return manifest.features.map((f) => {
    const z = transformed(pl.col(f.name), f.transform).sub(pl.lit(f.mean)).div(pl.lit(f.std)).cast(
      pl.Float32,
    );
    return (f.spec ? z.fillNull(f.fill ?? 0).fillNan(f.fill ?? 0) : z).alias(`n_${f.name}`);
  });
}

/**
 * Write the table, vocabularies (user, item, entity tokens) and manifest; every input row lands in exactly
 * one split (checked). `source` is the cleaned table the events came from.
 */
export async function writeTable(outDir: string, built: BuiltTable, source: string): Promise<Manifest> {
  return timed("writing", async () => {
    await Deno.remove(outDir, { recursive: true }).catch(() => {});
    for (const sp of SPLITS) {
      await Deno.mkdir(`${outDir}/split=${sp}`, { recursive: true });
      built.table.lazy().filter(pl.col("split").eq(pl.lit(sp))).drop("split")
        .sinkParquet(`${outDir}/split=${sp}/part-00000.parquet`, { compression: "zstd" }).collectSync();
      await releaseMemory();
    }
    const entity = buildEntityVocab(
      source,
      built.manifest.split.days.train,
      built.manifest.vocabs.user_id.minCount,
    );
    for (const [c, v] of Object.entries({ ...built.vocabs, entity })) {
      v.writeParquet(`${outDir}/vocab_${c}.parquet`);
    }
    const manifest: Manifest = {
      ...built.manifest,
      source,
      vocabs: {
        ...built.manifest.vocabs,
        entity: { size: entity.height + 1, minCount: built.manifest.vocabs.user_id.minCount, oovIndex: 0 },
      },
    };
    const total = SPLITS.reduce((a, s) => a + manifest.rows[s], 0);
    if (total !== built.table.height) {
      throw new Error(`split accounting: ${total} rows in splits, ${built.table.height} in the table`);
    }
    await Deno.writeTextFile(`${outDir}/${MANIFEST_FILE}`, JSON.stringify(manifest, null, 2));
    return manifest;
  });
}

/** Display names of the scenes ("scene 0", "scene home", …; a single task is "all scenes"), indexed like the scene column. */
export function sceneLabels(manifest: Pick<Manifest, "scenes" | "sceneNames">): string[] {
  const names = manifest.sceneNames ?? Array.from({ length: manifest.scenes }, (_, i) => String(i));
  return names.map((n) => n === "all" && names.length === 1 ? "all scenes" : `scene ${n}`);
}

export function readManifest(dir: string): Manifest {
  return JSON.parse(Deno.readTextFileSync(`${dir}/${MANIFEST_FILE}`));
}

/** A split's Parquet files in row order: one from polars, part-00000… from Spark (sorted names = sorted rows). */
export function splitFiles(dir: string, split: SplitName): string[] {
  return partFiles(`${dir}/split=${split}`);
}

/** A split of a written table (optionally some columns), its part files in order. */
export function readSplitRaw(dir: string, split: SplitName, columns?: string[]): pl.DataFrame {
  const parts = splitFiles(dir, split).map((f) =>
    pl.readParquet(f, columns ? { columns } as never : undefined)
  );
  return parts.length === 1 ? parts[0] : pl.concat(parts, { how: "vertical" });
}

/** One split of a written table, with normalised feature columns added. */
export function readSplit(dir: string, split: SplitName, manifest = readManifest(dir)): pl.DataFrame {
  return timed("data", () => {
    return readSplitRaw(dir, split).withColumns(...normalizedFeatures(manifest));
  });
}

export interface SparkTableOptions extends BuildOptions {
  /** Spark master URL: local[N], spark://host:port, … (default: local with every core). */
  master?: string;
  /** Further Spark settings (spark.driver.memory, spark.executor.memory, spark.sql.shuffle.partitions, …). */
  sparkConf?: Record<string, string>;
  /** A running driver to use instead of starting one on `master` (its settings hold; sparkConf takes spark.sql.*). */
  driver?: SparkDriver;
}

/**
 * Build and write the training table on Apache Spark from the same definitions (lib/features/sql.ts compiles
 * them): the same files, manifest and vocabularies as `buildTable` + `writeTable`, for data one process cannot
 * hold. Temporal split only (the random split's hash is polars'). Returns the manifest and Spark's timings.
 */
export async function buildTableSpark(
  clean: string,
  outDir: string,
  o: SparkTableOptions = {},
): Promise<{ manifest: Manifest; spark: SparkResult }> {
  return timed("features", async () => {
    const schema = o.schema ?? readCleanSchema(clean);
    const split = splitConfig({ ...schema.spec.split, ...o.split });
    if (split.mode !== "temporal") throw new Error("the Spark engine builds temporal splits only");
    const minCount = o.minCount ?? 1;
    const all = standardised(schema);
    await Deno.remove(outDir, { recursive: true }).catch(() => {});
    const plan = tablePlan(clean, outDir, {
      schema,
      valDays: split.valDays,
      testDays: split.testDays,
      minCount,
      includeCurrentDay: o.includeCurrentDay,
      columns: tableColumns(schema),
      standardised: all,
    });
    // the clean Parquet is compressed (its rows take several times its size once read): a partition per 16 MiB
    const partitions = shufflePartitions(pathBytes(clean), 16 << 20);
    const spark = await runSparkPlan(
      { ...plan, conf: { "spark.sql.shuffle.partitions": partitions, ...o.sparkConf } },
      o.driver ?? o.master,
    );
    const got = spark.collected;
    const days = got.split_days as { day: number; split: SplitName }[];
    splitExpr(days.map((d) => d.day), split); // the same check as polars: enough days for the split
    const splitDays: Record<SplitName, string[]> = { train: [], val: [], test: [] };
    for (const d of days) splitDays[d.split].push(dayName(d.day));
    const rows = Object.fromEntries(SPLITS.map((sp) => [sp, 0])) as Record<SplitName, number>;
    for (const r of got.rows as { split: SplitName; rows: number }[]) rows[r.split] = Number(r.rows);
    const total = SPLITS.reduce((a, sp) => a + rows[sp], 0), events = Number(got.narrow_rows[0].rows);
    if (total !== events) throw new Error(`split accounting: ${total} rows in splits, ${events} events`);
    // vocabularies: Spark's single part file into place; entity tokens sorted and indexed here, as for polars
    const vocabs: Record<string, { height: number }> = {};
    for (const c of ["user_id", "item_id", ...schema.spec.categorical.map((k) => k.column)]) {
      const dir = sparkVocabDir(outDir, c);
      const [part] = partFiles(dir);
      if (!part) throw new Error(`Spark wrote no vocabulary file for ${c} in ${dir}`);
      await Deno.rename(part, `${outDir}/vocab_${c}.parquet`);
      vocabs[c] = {
        height: pl.readParquet(`${outDir}/vocab_${c}.parquet`, { columns: ["idx"] } as never).height,
      };
    }
    await Deno.remove(`${outDir}/_spark`, { recursive: true });
    const counts = new Map((got.entities ?? []).map((r) => [String(r.entity), Number(r.n)]));
    const entity = entityVocab(counts, minCount);
    entity.writeParquet(`${outDir}/vocab_entity.parquet`);
    const prior = (e: "user" | "item") => got[`prior_${e}`][0] as unknown as BetaPrior;
    const stats = got.stats[0] as Record<string, number | null>;
    const manifest: Manifest = {
      ...makeManifest(schema, o, {
        split,
        splitDays,
        rows,
        features: featureStats(all, (name, k) => Number(stats[`${name}:${k}`] ?? NaN)),
        priors: { user: prior("user"), item: prior("item") },
        vocabs,
      }),
      source: clean,
    };
    manifest.vocabs.entity = { size: entity.height + 1, minCount, oovIndex: 0 };
    await Deno.writeTextFile(`${outDir}/${MANIFEST_FILE}`, JSON.stringify(manifest, null, 2));
    return { manifest, spark };
  });
}

export interface MakeTableOptions extends SparkTableOptions {
  engine?: "polars" | "spark";
}

/**
 * The training table of the cleaned data in `clean`, written to `outDir` by the chosen engine (polars in this
 * process, the default; or Spark on `master`) from the same definitions. Returns the manifest and how long it took.
 */
export async function makeTable(
  clean: string,
  outDir: string,
  o: MakeTableOptions = {},
): Promise<{ manifest: Manifest; engine: "polars" | "spark"; seconds: number; spark?: SparkResult }> {
  const t0 = performance.now(), engine = o.engine ?? "polars";
  const schema = o.schema ?? readCleanSchema(clean);
  if (engine === "spark") {
    const { manifest, spark } = await buildTableSpark(clean, outDir, { ...o, schema });
    return { manifest, engine, seconds: (performance.now() - t0) / 1000, spark };
  }
  const manifest = await writeTable(outDir, await buildTable(loadEvents(clean), { ...o, schema }), clean);
  return { manifest, engine, seconds: (performance.now() - t0) / 1000 };
}

/**
 * A written table's accounting, by streaming scans: per split the rows and the shares of rows with an
 * out-of-vocabulary user or item, and the distinct row ids over all splits (equal to the rows: each row once).
 */
export function tableCounts(dir: string): {
  splits: { split: SplitName; rows: number; userOov: number; itemOov: number }[];
  distinctRowIds: number;
} {
  // part files in name order (one from polars, several from Spark); the path's split=… is not a column here
  const scan = (split: string) =>
    pl.scanParquet(`${dir}/split=${split}/part-*.parquet`, { hivePartitioning: false } as never);
  const splits = SPLITS.map((split) => {
    const r = scan(split).select(
      pl.len().alias("rows"),
      pl.col("user_idx").eq(pl.lit(0)).mean().alias("u"),
      pl.col("item_idx").eq(pl.lit(0)).mean().alias("i"),
    ).collectSync().toRecords()[0] as Record<string, number>;
    return { split, rows: Number(r.rows), userOov: Number(r.u), itemOov: Number(r.i) };
  });
  const ids = scan("*").select(pl.col("row_id").nUnique()).collectSync().getColumn("row_id").get(0);
  return { splits, distinctRowIds: Number(ids) };
}
