/**
 * The training table as Spark SQL, compiled from the same definitions the polars engine uses: the feature
 * catalogue (defs.ts: entity, day range, statistic, scene), the point-in-time rule (a window of days
 * D − from … D − to, moved one day later only in the seed's leaky variant), Beta priors fitted on training
 * days, training-only vocabularies with OOV 0 ordered by length then text, and the temporal split.
 *
 * `tablePlan` returns a SparkPlan (lib/data/spark.ts) that writes table/split=*, the vocabularies and the
 * counts, and collects what the manifest needs; lib/features/table.ts writes the manifest with the same code
 * as for polars. A window here is a RANGE frame over the entity's daily table; polars reads the same sums off
 * running totals and as-of joins. tests/spark_test.ts holds the two engines to the same rows and values.
 */
import type { CleanSchema } from "../data/etl.ts";
import { literalRegex, q, type SparkPlan, type SparkStep, str } from "../data/spark.ts";
import { type DayRange, type FeatureDef, featureDefs } from "./defs.ts";
import { countColumn, type Entity, ENTITY_KEYS, windowCounts, windowName } from "./history.ts";

/** Per-(key, day) impressions and clicks, in total and — for users and items with several scenes — per scene. */
function dailySql(entity: Entity, scenes: number): string {
  const keys = ENTITY_KEYS[entity].map(q).join(", ");
  const perScene = entity === "pair" || scenes < 2 ? [] : Array.from({ length: scenes }, (_, s) => [
    `SUM(IF(scene = ${s}, 1, 0)) AS imp_s${s}`,
    `SUM(IF(scene = ${s}, label, 0)) AS clk_s${s}`,
  ]).flat();
  return `SELECT ${keys}, day, COUNT(*) AS imp, SUM(label) AS clk${perScene.map((c) => `, ${c}`).join("")}
FROM narrow GROUP BY ${keys}, day`;
}

/** A count summed over a day range, as a window over the entity's daily rows (0 when the frame is empty). */
function windowSql(c: string, r: DayRange, keys: string, shift: number): string {
  const bound = (lag: number) => lag === 0 ? "CURRENT ROW" : `${lag} PRECEDING`;
  const from = r.to === null ? "UNBOUNDED PRECEDING" : bound(r.to - shift);
  return `CAST(COALESCE(SUM(${q(c)}) OVER (PARTITION BY ${keys} ORDER BY day RANGE BETWEEN ${from} AND ${
    bound(r.from - shift)
  }), 0) AS FLOAT) AS ${q(windowName(c, r))}`;
}

/** A feature from its window sums: the same one rule per statistic as history.ts's statExpr. */
function statSql(d: FeatureDef, prior: boolean): string | undefined {
  const w = (what: "imp" | "clk") => q(windowName(countColumn(d, what), d.days!));
  const e = d.stat === "days"
    ? "day - first_day"
    : d.stat === "imp" || d.stat === "clk"
    ? w(d.stat)
    : d.stat === "ctr"
    ? `IF(${w("imp")} > 0, ${w("clk")} / ${w("imp")}, 0)`
    : prior
    ? `(${w("clk")} + p.alpha) / (${w("imp")} + p.alpha + p.beta)`
    : undefined;
  return e && `CAST(${e} AS FLOAT) AS ${q(d.name)}`;
}

/** Per (key, day) history for one entity: every catalogue feature of that entity, as of the day. */
export function historySql(entity: Entity, scenes: number, leaky: boolean): string {
  const keys = ENTITY_KEYS[entity].map(q).join(", ");
  const defs = featureDefs(scenes).filter((d) => d.entity === entity);
  const windows = new Map<string, string>();
  for (const d of defs) {
    for (const what of windowCounts(d)) {
      const c = countColumn(d, what);
      windows.set(windowName(c, d.days!), windowSql(c, d.days!, keys, leaky ? 1 : 0));
    }
  }
  const prior = entity !== "pair";
  const stats = defs.flatMap((d) => statSql(d, prior) ?? []);
  return `SELECT ${keys.split(", ").map((k) => `w.${k}`).join(", ")}, w.day, ${stats.join(",\n  ")}
FROM (SELECT ${keys}, day, MIN(day) OVER (PARTITION BY ${keys}) AS first_day,
  ${[...windows.values()].join(",\n  ")}
  FROM daily_${entity}) w${prior ? ` CROSS JOIN prior_${entity} p` : ""}`;
}

/** Beta prior by the method of moments over per-entity training CTRs (≥ minImp impressions): history.ts fitCtrPrior. */
function priorSql(entity: "user" | "item", minImp = 5): string {
  const key = q(ENTITY_KEYS[entity][0]);
  return `WITH per AS (SELECT ${key}, AVG(label) AS ctr FROM narrow WHERE split = 'train' GROUP BY ${key}
  HAVING COUNT(*) >= ${minImp}),
m AS (SELECT COUNT(*) AS n, AVG(ctr) AS mu, GREATEST(1e-6D, VAR_SAMP(ctr)) AS v FROM per),
g AS (SELECT AVG(label) AS mean FROM narrow WHERE split = 'train'),
s AS (SELECT n, mu, mean, LEAST(1000D, GREATEST(1D, mu * (1 - mu) / v - 1)) AS strength FROM m CROSS JOIN g)
SELECT IF(n < 2, mean * 10, mu * strength) AS alpha, IF(n < 2, (1 - mean) * 10, (1 - mu) * strength) AS beta FROM s`;
}

/** Training-day vocabulary of a column: values seen ≥ minCount times get 1..V by (length, value); table.ts buildVocab. */
function vocabSql(column: string, minCount: number): string {
  const c = q(column);
  return `SELECT ${c}, CAST(ROW_NUMBER() OVER (ORDER BY LENGTH(CAST(${c} AS STRING)), ${c}) AS BIGINT) AS idx, count
FROM (SELECT ${c}, COUNT(*) AS count FROM narrow WHERE split = 'train' AND ${c} IS NOT NULL GROUP BY ${c}
  HAVING COUNT(*) >= ${minCount})`;
}

const HIST_ALIAS: Record<Entity, string> = { user: "hu", item: "hi", pair: "hp" };

export interface TablePlanOptions {
  schema: CleanSchema;
  valDays: number;
  testDays: number;
  minCount: number;
  includeCurrentDay?: boolean;
  /** The table's columns in order (table.ts tableColumns), and the standardised ones (name, transform). */
  columns: string[];
  standardised: { name: string; transform: "log1p" | "none" }[];
}

/** Where the plan writes each part under the table folder (vocabularies are moved into place by table.ts). */
export const sparkVocabDir = (out: string, column: string) => `${out}/_spark/vocab_${column}`;

/** The Spark plan that builds the training table of the cleaned data in `clean` into `out`. */
export function tablePlan(clean: string, out: string, o: TablePlanOptions): SparkPlan {
  const { spec } = o.schema, scenes = o.schema.scenes.length;
  const categorical = spec.categorical.map((c) => c.column);
  const extra = [...spec.numeric.map((n) => n.column), ...categorical];
  const steps: SparkStep[] = [];
  steps.push({
    view: "events",
    cache: true,
    sql: `SELECT row_id, CAST(user_id AS STRING) AS user_id, CAST(item_id AS STRING) AS item_id,
  CAST(scene AS INT) AS scene, CAST(label AS INT) AS label, CAST(UNIX_DATE(CAST(date AS DATE)) AS INT) AS day${
      extra.map((c) => `, ${q(c)}`).join("")
    } FROM clean`,
  });
  // the temporal split: the last testDays days test, the valDays before validate, the rest train
  steps.push({
    view: "split_days",
    cache: true,
    sql: `SELECT day, CASE WHEN back <= ${o.testDays} THEN 'test' WHEN back <= ${
      o.testDays + o.valDays
    } THEN 'val' ELSE 'train' END AS split
FROM (SELECT day, DENSE_RANK() OVER (ORDER BY day DESC) AS back FROM (SELECT DISTINCT day FROM events))`,
  });
  steps.push({ collect: "split_days", sql: "SELECT day, split FROM split_days ORDER BY day" });
  steps.push({
    view: "narrow",
    cache: true,
    sql: "SELECT e.*, d.split FROM events e JOIN split_days d USING (day)",
  });
  for (const e of ["user", "item"] as const) {
    steps.push({ view: `prior_${e}`, cache: true, sql: priorSql(e) });
    steps.push({ collect: `prior_${e}`, sql: `SELECT * FROM prior_${e}` });
  }
  const vocabCols = ["user_id", "item_id", ...categorical];
  for (const c of vocabCols) {
    const minCount = c === "user_id" || c === "item_id"
      ? o.minCount
      : spec.categorical.find((k) => k.column === c)!.minCount ?? 1;
    steps.push({ view: `vocab_${c}`, cache: true, sql: vocabSql(c, minCount) });
    steps.push({
      write: { path: sparkVocabDir(out, c), compression: "snappy" },
      sql: `SELECT /*+ REPARTITION(1) */ * FROM ${q(`vocab_${c}`)} SORT BY idx`,
    });
  }
  for (const e of ["user", "item", "pair"] as const) {
    steps.push({ view: `daily_${e}`, cache: true, sql: dailySql(e, scenes) });
    steps.push({ view: `hist_${e}`, sql: historySql(e, scenes, !!o.includeCurrentDay) });
  }
  // the table: ids through the vocabularies (0 = OOV), then each entity's history joined on (key, day)
  const entityOf = new Map(featureDefs(scenes).map((d) => [d.name, d.entity]));
  const vocabJoins = vocabCols.map((c, k) =>
    `LEFT JOIN ${q(`vocab_${c}`)} v${k} ON n.${q(c)} = v${k}.${q(c)}`
  );
  const select = o.columns.map((c) => {
    if (c === "user_idx" || c === "item_idx") {
      return `CAST(COALESCE(v${c === "user_idx" ? 0 : 1}.idx, 0) AS DOUBLE) AS ${c}`;
    }
    if (c === "u_train_imp" || c === "i_train_imp") {
      return `CAST(COALESCE(v${c === "u_train_imp" ? 0 : 1}.count, 0) AS DOUBLE) AS ${c}`;
    }
    const cat = categorical.findIndex((k) => `${k}_idx` === c);
    if (cat >= 0) return `CAST(COALESCE(v${cat + 2}.idx, 0) AS DOUBLE) AS ${q(c)}`;
    const entity = entityOf.get(c);
    return entity ? `${HIST_ALIAS[entity]}.${q(c)}` : `n.${q(c)}`;
  });
  steps.push({
    view: "table_all",
    cache: true,
    sql: `SELECT ${select.join(", ")}, n.split FROM narrow n
${vocabJoins.join("\n")}
LEFT JOIN hist_user hu ON n.user_id = hu.user_id AND n.day = hu.day
LEFT JOIN hist_item hi ON n.item_id = hi.item_id AND n.day = hi.day
LEFT JOIN hist_pair hp ON n.user_id = hp.user_id AND n.item_id = hp.item_id AND n.day = hp.day`,
  });
  for (const sp of ["train", "val", "test"]) {
    steps.push({
      write: { path: `${out}/split=${sp}`, compression: "zstd" },
      sql: `SELECT ${o.columns.map(q).join(", ")} FROM table_all WHERE split = '${sp}' ORDER BY day, row_id`,
    });
  }
  steps.push({ collect: "rows", sql: "SELECT split, COUNT(*) AS rows FROM table_all GROUP BY split" });
  steps.push({ collect: "narrow_rows", sql: "SELECT COUNT(*) AS rows FROM narrow" });
  // standardisation statistics over the training split (history.ts / table.ts: mean, sample std, missing share)
  const stat = o.standardised.flatMap(({ name, transform }) => {
    const x = transform === "log1p" ? `LN(CAST(${q(name)} AS DOUBLE) + 1)` : `CAST(${q(name)} AS DOUBLE)`;
    return [
      `AVG(${x}) AS ${q(`${name}:mean`)}`,
      `STDDEV_SAMP(${x}) AS ${q(`${name}:std`)}`,
      `AVG(IF(${q(name)} IS NULL, 1D, 0D)) AS ${q(`${name}:missing`)}`,
    ];
  });
  steps.push({ collect: "stats", sql: `SELECT ${stat.join(", ")} FROM table_all WHERE split = 'train'` });
  // entity tokens of the spec's entity-list text columns on training days (sorted into a vocabulary by table.ts)
  const entityCols = spec.text.filter((t) => t.entities);
  if (entityCols.length) {
    const tokens = entityCols.map((t) =>
      `SELECT EXPLODE(SPLIT(c.${q(t.column)}, ${str(literalRegex(t.entities!))}, -1)) AS entity FROM clean c
  JOIN split_days d ON CAST(UNIX_DATE(CAST(c.date AS DATE)) AS INT) = d.day WHERE d.split = 'train'`
    );
    steps.push({
      collect: "entities",
      sql: `SELECT entity, COUNT(*) AS n FROM (${tokens.join("\nUNION ALL\n")})
WHERE entity IS NOT NULL AND entity <> '' GROUP BY entity`,
    });
  }
  return {
    app: "ctrlab features",
    inputs: [{ view: "clean", path: clean }],
    steps,
  };
}
