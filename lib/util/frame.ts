/** Generic nodejs-polars helpers: an order-keeping checked lookup join, and a seeded per-row coin. */
import pl from "nodejs-polars";

/**
 * A seeded hash of `column` mapped to [0, 1): a stable per-row coin. (The u64 hash goes to float directly; taking
 * it modulo an integer literal first overflows to negative values for some rows.)
 */
export function unitHash(column: string, seed: number): pl.Expr {
  return pl.col(column).hash(seed).cast(pl.Float64).div(pl.lit(2 ** 64));
}

/**
 * Left join that keeps `df`'s row order and fails when any row finds no match in `other` (a lookup index must
 * cover every row; `column` is the joined column checked, `what` names it in the error).
 */
export function lookupJoin(
  df: pl.DataFrame,
  other: pl.DataFrame,
  on: string | string[],
  column: string,
  what: string,
): pl.DataFrame {
  const out = df.withRowIndex("__order").join(other, { on, how: "left" }).sort("__order").drop("__order");
  const missing = out.getColumn(column).nullCount();
  if (missing) throw new Error(`${missing} of ${df.height} rows have no ${what}`);
  return out;
}
