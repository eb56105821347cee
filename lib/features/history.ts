/**
 * Point-in-time behaviour features. For every impression, user, item and user×item statistics use only
 * events strictly before the impression's day (the default) — or, with `includeCurrentDay`, the seed
 * project's leaky variant that also counts the current day's own clicks, kept for demonstration.
 *
 * One daily table per entity (impressions, clicks, and per-scene counts per key and day) is the single
 * source; every window of the catalogue (defs.ts: days D − from … D − to) is a difference of its running
 * total C(t) = count through day t:
 *   window(D)     = C(D − from) − C(D − to − 1)           (C(D − to − 1) = 0 when `to` is open; a day later when leaky)
 *   C(D − 1)      = cum(≤D) − day(D),  C(D − k), k ≥ 2: an as-of join to the last active day ≤ D − k
 */
import pl from "nodejs-polars";
import { type DayRange, type FeatureDef, featureDefs } from "./defs.ts";
import { releaseMemory } from "../util/memory.ts";
import { timed } from "../util/profile.ts";

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

export const ENTITY_KEYS = { user: ["user_id"], item: ["item_id"], pair: ["user_id", "item_id"] } as const;
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

/** The count column a feature reads: impressions or clicks, in total or in its scene. */
export function countColumn(d: FeatureDef, what: "imp" | "clk"): string {
  return d.scene === undefined ? what : `${what}_s${d.scene}`;
}

/** The counts a feature's window sums (a ratio needs both; days since first seen, none). */
export function windowCounts(d: FeatureDef): ("imp" | "clk")[] {
  return d.stat === "imp" ? ["imp"] : d.stat === "clk" ? ["clk"] : d.stat === "days" ? [] : ["clk", "imp"];
}

/** The internal name of a count summed over a day range: w<from>_<to|all>_<count>. */
export const windowName = (c: string, r: DayRange) => `w${r.from}_${r.to ?? "all"}_${c}`;

/** A feature's value from its window counts (named by `windowName`) and the entity's first day: one rule per statistic. */
function statExpr(d: FeatureDef, prior: BetaPrior | undefined): pl.Expr | undefined {
  if (d.stat === "days") return pl.col("day").sub(pl.col("first_day"));
  const w = (what: "imp" | "clk") => windowName(countColumn(d, what), d.days!);
  if (d.stat === "imp" || d.stat === "clk") return pl.col(w(d.stat));
  if (d.stat === "ctr") return ratio(w("clk"), w("imp"));
  return prior
    ? pl.col(w("clk")).add(pl.lit(prior.alpha)).div(pl.col(w("imp")).add(pl.lit(prior.alpha + prior.beta)))
    : undefined;
}

/**
 * Per (key, day) history statistics for one entity, compiled from the catalogue: a window of days D − from …
 * D − to is C(D − from) − C(D − to − 1), where C(t) is the entity's cumulative count through day t — read off
 * the daily table's running sum (t = D: through the day; t = D − 1: through the day minus the day) or, for
 * further lags, by an as-of join to the last active day ≤ t.
 */
export function entityHistory(events: pl.DataFrame, entity: Entity, o: HistoryOptions = {}): pl.DataFrame {
  const keys: string[] = [...ENTITY_KEYS[entity]];
  const over = (e: pl.Expr) => e.over(keys[0], ...keys.slice(1));
  const scenes = sceneCount(events, o.scenes);
  const daily = dailyCounts(events, entity, scenes);
  const shift = o.includeCurrentDay ? 1 : 0;
  const defs = featureDefs(scenes).filter((d) =>
    d.entity === entity && daily.columns.includes(countColumn(d, "imp"))
  );
  // every (count, day range) the catalogue asks for, and the lags C(D − lag) they need
  const windows = new Map<string, { c: string; r: DayRange }>();
  for (const d of defs) {
    for (const what of windowCounts(d)) {
      const c = countColumn(d, what);
      windows.set(windowName(c, d.days!), { c, r: d.days! });
    }
  }
  const counts = [...new Set([...windows.values()].map((w) => w.c))];
  let h = daily.withColumns(...counts.map((c) => over(pl.col(c).cumSum()).alias(`cum_${c}`)));
  const lagged = new Map<number, Set<string>>(); // lag ≥ 2 → counts read by an as-of join
  const at = (c: string, lag: number): pl.Expr => {
    if (lag === 0) return pl.col(`cum_${c}`);
    if (lag === 1) return pl.col(`cum_${c}`).sub(pl.col(c));
    lagged.set(lag, (lagged.get(lag) ?? new Set()).add(c));
    return pl.col(`at${lag}_${c}`);
  };
  const sums = [...windows].map(([name, { c, r }]) => {
    const upTo = at(c, r.from - shift);
    return (r.to === null ? upTo : upTo.sub(at(c, r.to + 1 - shift))).cast(pl.Float32).alias(name);
  });
  for (const [lag, cs] of [...lagged].sort(([a], [b]) => a - b)) {
    const edge = h.select(
      ...keys,
      pl.col("day").alias("edge_day"),
      ...[...cs].map((c) => pl.col(`cum_${c}`).alias(`at${lag}_${c}`)),
    ).sort("edge_day");
    h = h.withColumns(pl.col("day").sub(pl.lit(lag)).cast(pl.Int32).alias("lookup_day")).sort("lookup_day")
      .joinAsof(edge, {
        leftOn: "lookup_day",
        rightOn: "edge_day",
        by: keys,
        strategy: "backward",
        checkSortedness: false,
      })
      .withColumns(...[...cs].map((c) => pl.col(`at${lag}_${c}`).fillNull(0)))
      .drop("lookup_day", "edge_day");
  }
  // float32 holds every count exactly (≤ 2^24 rows) at half the memory of float64
  const w = h.select(...keys, "day", over(pl.col("day").min()).alias("first_day"), ...sums);
  const prior = entity === "pair" ? undefined : o.priors?.[entity];
  const out = defs.flatMap((d) => {
    const e = statExpr(d, prior);
    return e ? [e.cast(pl.Float32).alias(d.name)] : [];
  });
  return w.select(...keys, "day", ...out);
}

/**
 * Beta prior for smoothed CTRs, fitted by the method of moments on per-entity CTRs over training rows
 * (entities with at least `minImp` impressions), so a user with 1 impression and 1 click is not "CTR 1.0".
 * The entities are summed in key order: a group-by's order follows how the table is chunked, and a sum's last bit
 * follows its order.
 */
export function fitCtrPrior(trainEvents: pl.DataFrame, entity: "user" | "item", minImp = 5): BetaPrior {
  const key = ENTITY_KEYS[entity][0];
  const per = trainEvents.groupBy(key).agg(pl.len().alias("n"), pl.col("label").mean().alias("ctr")).filter(
    pl.col("n").gtEq(minImp),
  ).sort(key);
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
  const unsupported = featureDefs(1).filter((d) =>
    d.entity === "pair" &&
    (d.days?.from !== 1 || d.days.to !== null || !["imp", "clk", "ctr"].includes(d.stat))
  );
  if (unsupported.length) {
    throw new Error(
      `user×item features are cumulative counts and CTR here; not ${unsupported.map((d) => d.name)}`,
    );
  }
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
  return timed("features", async () => {
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
  });
}

export type { FeatureDef };
