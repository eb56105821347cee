/** Hand-written impression logs for the feature tests: the events table loadEvents makes, a row per tuple. */
import pl from "nodejs-polars";

/** Day 0 of a hand-written log: 2023-07-10, in days since 1970-01-01. */
export const D0 = 19548;

/** A tiny log from [user, item, scene, dayOffset, label] tuples, in time order (row ids 0, 1, …). */
export function eventLog(rows: [number, number, number, number, number][]): pl.DataFrame {
  return pl.DataFrame({
    row_id: rows.map((_, i) => i),
    user_id: rows.map((r) => r[0]),
    item_id: rows.map((r) => r[1]),
    scene: rows.map((r) => r[2]),
    day: rows.map((r) => D0 + r[3]),
    label: rows.map((r) => r[4]),
  }).withColumns(
    pl.col("scene").cast(pl.Int32),
    pl.col("day").cast(pl.Int32),
    pl.col("label").cast(pl.Int32),
  );
}
