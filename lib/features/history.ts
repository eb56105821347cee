/**
 * Point-in-time behaviour features. For every impression, user, item and user×item statistics use only
 * events strictly before the impression's day (the default) — or, with `includeCurrentDay`, the seed
 * project's leaky variant that also counts the current day's own clicks, kept for demonstration.
 *
 * One daily table per entity (impressions, clicks, and per-scene counts per key and day) is the single
 * source; cumulative, 7-day and previous-day statistics are expressions over it:
 *   cumBefore(D)  = cum(≤D) − day(D)                      (or cum(≤D) when leaky)
 *   roll7(D)      = cumBefore(D) − cum(≤D−8)              (days D−7..D−1, via an as-of join)
 *   prevDay(D)    = day(D−1)
 */
import pl from "nodejs-polars";
import { type FeatureDef, featureDefs } from "./defs.ts";
import { releaseMemory } from "../util/memory.ts";

export interface HistoryOptions {
  /** The seed project's leak: statistics include the impression's own day. Never for training. */
  includeCurrentDay?: boolean;
  /**
   * "day" (default): cumulative statistics use events strictly before the impression's day.
   * "timestamp": they use events strictly before the impression's log_time (same-timestamp events excluded);
   * previous-day and 7-day windows stay day-based.
   */
  asOf?: "day" | "timestamp";
  /** Beta prior for smoothed CTRs per entity (fit on training days with `fitCtrPrior`). */
  priors?: Record<"user" | "item", BetaPrior>;
  /** Number of scenes (the dataset's scene list); default: the largest scene index in the events + 1. */
  scenes?: number;
}

/** The scene count to use: the given one, or the events' largest scene index + 1. */
export function sceneCount(events: pl.DataFrame, scenes?: number): number {
  return scenes ?? ((events.getColumn("scene").max() as number) + 1);
}

const countCols = (
  scenes: number,
) => [
  "imp",
  "clk",
  ...Array.from({ length: scenes > 1 ? scenes : 0 }, (_, s) => [`imp_s${s}`, `clk_s${s}`]).flat(),
];

export interface BetaPrior {
  alpha: number;
  beta: number;
}

const ENTITY_KEYS = { user: ["user_id"], item: ["item_id"], pair: ["user_id", "item_id"] } as const;
export type Entity = keyof typeof ENTITY_KEYS;

/** Day index (days since 1970-01-01) from the cleaned table's `date` column. */
export const dayExpr = () => pl.col("date").cast(pl.Int32).alias("day");

/** Impressions and clicks per key and `at` (day or log_time), in total and — for users and items — per scene. */
function countsBy(
  events: pl.DataFrame,
  entity: Entity,
  at: "day" | "log_time",
  scenes: number,
): pl.DataFrame {
  const keys: string[] = [...ENTITY_KEYS[entity]];
  const perScene = entity === "pair" || scenes < 2 ? [] : Array.from({ length: scenes }, (_, s) => [
    pl.col("scene").eq(pl.lit(s)).cast(pl.Int32).sum().alias(`imp_s${s}`),
    pl.col("label").mul(pl.col("scene").eq(pl.lit(s)).cast(pl.Int32)).sum().alias(`clk_s${s}`),
  ]).flat();
  return events.groupBy([...keys, at]).agg(
    pl.len().cast(pl.Int32).alias("imp"),
    pl.col("label").sum().cast(pl.Int32).alias("clk"),
    ...perScene,
  )
    .sort([...keys, at]);
}

/** Impressions and clicks per key and day, in total and per scene. */
export const dailyCounts = (events: pl.DataFrame, entity: Entity, scenes?: number) =>
  countsBy(events, entity, "day", sceneCount(events, scenes));

/** clicks / impressions, 0 without impressions. */
const ratio = (clk: string, imp: string) =>
  pl.when(pl.col(imp).gt(0)).then(pl.col(clk).div(pl.col(imp))).otherwise(pl.lit(0));

/** Per (key, day) history statistics for one entity, named with the entity's feature prefix. */
export function entityHistory(events: pl.DataFrame, entity: Entity, o: HistoryOptions = {}): pl.DataFrame {
  const keys: string[] = [...ENTITY_KEYS[entity]];
  const over = (e: pl.Expr) => e.over(keys[0], ...keys.slice(1));
  const scenes = sceneCount(events, o.scenes);
  const daily = dailyCounts(events, entity, scenes);
  const counts = countCols(scenes).filter((c) => daily.columns.includes(c));
  const leaky = !!o.includeCurrentDay;
  // cumulative through each day, per key; "before" drops the day itself unless leaky
  let h = daily.withColumns(...counts.map((c) => over(pl.col(c).cumSum()).alias(`cum_${c}`)));
  h = h.withColumns(
    ...counts.map((c) =>
      (leaky ? pl.col(`cum_${c}`) : pl.col(`cum_${c}`).sub(pl.col(c))).alias(`before_${c}`)
    ),
  );
  const defs = featureDefs(scenes).filter((d) => d.entity === entity);
  // the cumulative count at the last active day ≤ D − 8 (≤ D − 7 when leaky) closes the 7-day window
  const lag = leaky ? 7 : 8;
  const edge = h.select(
    ...keys,
    pl.col("day").alias("edge_day"),
    pl.col("cum_imp").alias("edge_imp"),
    pl.col("cum_clk").alias("edge_clk"),
  )
    .sort("edge_day");
  h = h.withColumns(pl.col("day").sub(pl.lit(lag)).cast(pl.Int32).alias("lookup_day")).sort("lookup_day")
    .joinAsof(edge, {
      leftOn: "lookup_day",
      rightOn: "edge_day",
      by: keys,
      strategy: "backward",
      checkSortedness: false,
    })
    .withColumns(pl.col("edge_imp").fillNull(0), pl.col("edge_clk").fillNull(0));
  // the previous day's counts (the current day's when leaky)
  const prev = daily.select(
    ...keys,
    pl.col("day").add(pl.lit(leaky ? 0 : 1)).cast(pl.Int32).alias("day"),
    pl.col("imp").alias("prev_imp"),
    pl.col("clk").alias("prev_clk"),
  );
  const on: string[] = [...keys, "day"];
  h = h.join(prev, { on, how: "left" }).withColumns(
    pl.col("prev_imp").fillNull(0),
    pl.col("prev_clk").fillNull(0),
  );
  const first = over(pl.col("day").min());
  const base: Record<string, pl.Expr> = {
    imp_1d: pl.col("prev_imp"),
    clk_1d: pl.col("prev_clk"),
    imp_7d: pl.col("before_imp").sub(pl.col("edge_imp")),
    clk_7d: pl.col("before_clk").sub(pl.col("edge_clk")),
    imp_cum: pl.col("before_imp"),
    clk_cum: pl.col("before_clk"),
    days_seen: pl.col("day").sub(first),
  };
  for (let s = 0; s < scenes; s++) {
    if (!counts.includes(`imp_s${s}`)) continue;
    base[`imp_s${s}`] = pl.col(`before_imp_s${s}`);
    base[`clk_s${s}`] = pl.col(`before_clk_s${s}`);
  }
  // float32 holds every count exactly (≤ 2^24 rows) at half the memory of float64
  const out = h.select(...keys, "day", ...Object.entries(base).map(([k, e]) => e.cast(pl.Float32).alias(k)));
  const prior = entity === "pair" ? undefined : o.priors?.[entity];
  const derived = out.withColumns(
    ratio("clk_7d", "imp_7d").alias("ctr_7d"),
    ratio("clk_cum", "imp_cum").alias("ctr_cum"),
    ...(prior
      ? [
        pl.col("clk_cum").add(pl.lit(prior.alpha)).div(
          pl.col("imp_cum").add(pl.lit(prior.alpha + prior.beta)),
        ).alias("sctr_cum"),
      ]
      : []),
  );
  // keep exactly the catalogue's columns for this entity, with its prefix
  return derived.select(
    ...keys,
    "day",
    ...defs.filter((d) => derived.columns.includes(d.column)).map((d) =>
      pl.col(d.column).cast(pl.Float32).alias(d.name)
    ),
  );
}

/**
 * Beta prior for smoothed CTRs, fitted by the method of moments on per-entity CTRs over training rows
 * (entities with at least `minImp` impressions), so a user with 1 impression and 1 click is not "CTR 1.0".
 */
export function fitCtrPrior(trainEvents: pl.DataFrame, entity: "user" | "item", minImp = 5): BetaPrior {
  const key = ENTITY_KEYS[entity][0];
  const per = trainEvents.groupBy(key).agg(pl.len().alias("n"), pl.col("label").mean().alias("ctr")).filter(
    pl.col("n").gtEq(minImp),
  );
  const mean = trainEvents.getColumn("label").mean();
  if (per.height < 2) return { alpha: mean * 10, beta: (1 - mean) * 10 };
  const ctr = per.getColumn("ctr");
  const mu = ctr.mean(),
    v = Math.max(1e-6, per.select(pl.col("ctr").var()).getColumn("ctr").get(0) as number);
  const strength = Math.min(1000, Math.max(1, mu * (1 - mu) / v - 1));
  return { alpha: mu * strength, beta: (1 - mu) * strength };
}

/** Cumulative statistics strictly before each (key, log_time): the "timestamp" point-in-time mode. */
export function entityHistoryAtTime(
  events: pl.DataFrame,
  entity: Entity,
  o: HistoryOptions = {},
): pl.DataFrame {
  const keys: string[] = [...ENTITY_KEYS[entity]];
  const over = (e: pl.Expr) => e.over(keys[0], ...keys.slice(1));
  const scenes = sceneCount(events, o.scenes);
  const at = countsBy(events, entity, "log_time", scenes);
  const counts = countCols(scenes).filter((c) => at.columns.includes(c));
  const before = at.select(
    ...keys,
    "log_time",
    ...counts.map((c) => over(pl.col(c).cumSum()).sub(pl.col(c)).cast(pl.Float32).alias(c)),
  );
  const prior = entity === "pair" ? undefined : o.priors?.[entity];
  const cols: pl.Expr[] = [
    pl.col("imp").alias("imp_cum"),
    pl.col("clk").alias("clk_cum"),
    ratio("clk", "imp").alias("ctr_cum"),
  ];
  if (prior) {
    cols.push(
      pl.col("clk").add(pl.lit(prior.alpha)).div(pl.col("imp").add(pl.lit(prior.alpha + prior.beta))).alias(
        "sctr_cum",
      ),
    );
  }
  for (let s = 0; s < scenes; s++) {
    if (counts.includes(`imp_s${s}`)) cols.push(pl.col(`imp_s${s}`), pl.col(`clk_s${s}`));
  }
  const derived = before.select(...keys, "log_time", ...cols);
  const defs = featureDefs(scenes).filter((d) =>
    d.entity === entity && d.window === "cum" && derived.columns.includes(d.column)
  );
  return derived.select(
    ...keys,
    "log_time",
    ...defs.map((d) => pl.col(d.column).cast(pl.Float32).alias(d.name)),
  );
}

/**
 * User×item cumulative counts as window expressions over the events themselves (no join: the pair-day table
 * is nearly as long as the log). Needs rows in day order. Within a pair's day, every
 * row sees the count at that day's first row: clicks before it are exactly the clicks before the day.
 */
function withPairHistory(events: pl.LazyDataFrame, leaky: boolean): pl.LazyDataFrame {
  const pairDay = (e: pl.Expr) => e.over("user_id", "item_id", "day");
  // stage 1: running counts per pair, through each row (nested windows would restart per day, so two stages)
  const running = events.withColumns(
    pl.col("label").mul(0).add(1).cumSum().over("user_id", "item_id").alias("_imp_thru"),
    pl.col("label").cumSum().over("user_id", "item_id").alias("_clk_thru"),
  );
  // stage 2: the count at the day's first row (before the day) or at its last (leaky: through the day)
  const imp = leaky ? pairDay(pl.col("_imp_thru").max()) : pairDay(pl.col("_imp_thru").sub(pl.lit(1)).min());
  const clk = leaky
    ? pairDay(pl.col("_clk_thru").max())
    : pairDay(pl.col("_clk_thru").sub(pl.col("label")).min());
  return running.withColumns(
    imp.cast(pl.Float32).alias("ui_imp_cum"),
    clk.cast(pl.Float32).alias("ui_clk_cum"),
  )
    .withColumns(ratio("ui_clk_cum", "ui_imp_cum").cast(pl.Float32).alias("ui_ctr_cum"))
    .drop("_imp_thru", "_clk_thru");
}

/** Every impression with its user, item and user×item history (absent history = 0, smoothed CTR = prior). */
export async function joinHistory(events: pl.DataFrame, o: HistoryOptions = {}): Promise<pl.DataFrame> {
  o = { ...o, scenes: sceneCount(events, o.scenes) };
  const atTime = o.asOf === "timestamp";
  // day order for the pair windows (ETL row ids are already chronological, so this keeps row_id order);
  // one join at a time, letting each superseded wide frame go before the next is built
  let out = events.sort(["day", "row_id"]);
  for (const entity of ["user", "item"] as const) {
    const byDay = entityHistory(events, entity, o);
    const on: string[] = [...ENTITY_KEYS[entity], "day"];
    if (!atTime) out = out.join(byDay, { on, how: "left" });
    else {
      // day-based windows from byDay, cumulative statistics as of the timestamp
      const cum = entityHistoryAtTime(events, entity, o);
      const names = cum.columns.filter((c) => !on.includes(c) && c !== "log_time");
      out = out.join(byDay.select(...byDay.columns.filter((c) => !names.includes(c))), { on, how: "left" })
        .join(cum, { on: [...ENTITY_KEYS[entity], "log_time"], how: "left" });
    }
    await releaseMemory();
  }
  // user×item features are all cumulative
  out = atTime
    ? out.join(entityHistoryAtTime(events, "pair", o), {
      on: ["user_id", "item_id", "log_time"],
      how: "left",
    })
    : withPairHistory(out.lazy(), !!o.includeCurrentDay).collectSync();
  await releaseMemory();
  return out;
}

export type { FeatureDef };
