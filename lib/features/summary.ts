/** Summaries of the feature table that notebooks chart: history coverage by day and the cold-start mix. */
import pl from "nodejs-polars";
import { dayName } from "../util/time.ts";

export const COLDNESS = ["zero", "few", "warm"] as const;
export type Coldness = typeof COLDNESS[number];

/** Fewer training impressions than this make an id "few" (cold): the coldness slices and the text fallback's cut-off. */
export const COLD_BELOW = 5;

/** zero = no history, few = fewer than `few` impressions, warm otherwise. */
export function coldnessExpr(count: string, few = COLD_BELOW): pl.Expr {
  return pl.when(pl.col(count).eq(pl.lit(0))).then(pl.lit("zero")).when(pl.col(count).lt(pl.lit(few))).then(
    pl.lit("few"),
  ).otherwise(pl.lit("warm"));
}

/**
 * Coldness of each row's user and item: for validation/test rows by their training-split impressions (how
 * a deployed model sees them), for training rows by the history before the row's day.
 */
export function withColdness(table: pl.DataFrame, few = COLD_BELOW): pl.DataFrame {
  const pick = (trainCount: string, history: string) =>
    pl.when(pl.col("split").eq(pl.lit("train"))).then(pl.col(history)).otherwise(pl.col(trainCount));
  return table.withColumns(
    pick("u_train_imp", "u_imp_cum").alias("_u_n"),
    pick("i_train_imp", "i_imp_cum").alias("_i_n"),
  )
    .withColumns(
      coldnessExpr("_u_n", few).alias("user_coldness"),
      coldnessExpr("_i_n", few).alias("item_coldness"),
    ).drop("_u_n", "_i_n");
}

/** Share of impressions per day whose user / item / pair has no earlier history. */
export function coverageByDay(
  table: pl.DataFrame,
): { date: string[]; user: number[]; item: number[]; pair: number[] } {
  const g = table.groupBy("day").agg(
    pl.col("u_imp_cum").eq(pl.lit(0)).cast(pl.Float64).mean().alias("user"),
    pl.col("i_imp_cum").eq(pl.lit(0)).cast(pl.Float64).mean().alias("item"),
    pl.col("ui_imp_cum").eq(pl.lit(0)).cast(pl.Float64).mean().alias("pair"),
  ).sort("day");
  const days = g.getColumn("day").toArray() as number[];
  return {
    date: days.map(dayName),
    user: g.getColumn("user").toArray() as number[],
    item: g.getColumn("item").toArray() as number[],
    pair: g.getColumn("pair").toArray() as number[],
  };
}

/** Rows per split × coldness for users or items: { split: { zero, few, warm } } as shares. */
export function coldStartMix(
  table: pl.DataFrame,
  entity: "user" | "item",
): Record<string, Record<Coldness, number>> {
  const col = `${entity}_coldness`;
  const out: Record<string, Record<Coldness, number>> = {};
  for (const split of ["train", "val", "test"]) {
    const part = table.filter(pl.col("split").eq(pl.lit(split)));
    const shares = Object.fromEntries(
      COLDNESS.map((
        c,
      ) => [c, part.height ? part.filter(pl.col(col).eq(pl.lit(c))).height / part.height : NaN]),
    ) as Record<Coldness, number>;
    out[split] = shares;
  }
  return out;
}
