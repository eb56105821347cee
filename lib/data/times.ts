/**
 * How a time field becomes epoch ms on the default engine: AntM2C's layouts and epoch numbers by csv.ts's hand
 * parsers, any other strptime pattern by polars over the whole field, and instants (epoch times, times with an
 * offset) moved to the spec's time zone. `etl_spark.ts` holds the same rules in Spark SQL.
 */
import pl from "nodejs-polars";
import { parseEpochBytes, parseLogTimeBytes } from "./csv.ts";
import {
  ANTM2C_TIME_FORMATS,
  instantOffsetMs,
  type ResolvedSpec,
  SpecError,
  TIME_RANGE_MS,
  type TimeSpec,
  zoneOffsetMs,
} from "./spec.ts";

/** Where a spec's days begin: its zone, and the offset of times written without one. */
export type Zone = Pick<TimeSpec, "zone" | "naive">;

/**
 * How the time column is parsed: by hand on bytes (the AntM2C layouts, epoch numbers) or by polars (other
 * patterns, each checked here, before anything is written, so that one polars refuses names the spec).
 */
export function timeParser(spec: ResolvedSpec): ((b: Uint8Array, s: number, e: number) => number) | null {
  const formats = spec.time.format;
  if (formats.length === 1 && (formats[0] === "epoch_s" || formats[0] === "epoch_ms")) {
    const unit = formats[0] === "epoch_s" ? 1000 : 1;
    return (b, s, e) => { // milliseconds under epoch_s (year 55,000) are out of range, not a time
      const ms = parseEpochBytes(b, s, e, unit);
      return ms >= TIME_RANGE_MS[0] && ms < TIME_RANGE_MS[1] ? ms : NaN;
    };
  }
  if (formats.every((f) => ANTM2C_TIME_FORMATS.includes(f))) return parseLogTimeBytes;
  if (formats.some((f) => f.startsWith("epoch_"))) {
    throw new SpecError(spec.name, `time.format: epoch_s / epoch_ms cannot be mixed with patterns`);
  }
  const none = pl.DataFrame({ t: [] }, { schema: { t: pl.Utf8 } } as never);
  for (const f of formats) {
    try {
      none.select(patternMs(pl.col("t"), f));
    } catch (e) {
      throw new SpecError(
        spec.name,
        `time.format "${f}" is not a pattern polars can read: ${(e as Error).message}`,
      );
    }
  }
  if (spec.time.zone) {
    try {
      none.select(wallClockMs(pl.lit(0), spec.time.zone));
    } catch (e) {
      throw new SpecError(
        spec.name,
        `time.zone "${spec.time.zone}" is not one polars knows: ${(e as Error).message}`,
      );
    }
  }
  return null;
}

/** Epoch ms null outside TIME_RANGE_MS. */
export const inTimeRange = (ms: pl.Expr) =>
  pl.when(ms.gtEq(pl.lit(TIME_RANGE_MS[0])).and(ms.lt(pl.lit(TIME_RANGE_MS[1])))).then(ms).otherwise(
    pl.lit(null),
  );

/** An instant (epoch ms) as the wall-clock time of `zone` (a name or a fixed offset), in epoch ms. */
export function wallClockMs(ms: pl.Expr, zone: string): pl.Expr {
  const offset = zoneOffsetMs(zone);
  if (offset !== null) return ms.add(pl.lit(offset).cast(pl.Int64));
  // deno-lint-ignore no-explicit-any
  const dt = ms.cast(pl.Datetime("ms", "UTC")).dt as any;
  return (dt.convertTimeZone(zone).dt.replaceTimeZone(undefined) as pl.Expr).cast(pl.Int64);
}

/**
 * Epoch ms as `format` read them, as the wall clock of the spec's zone (null outside TIME_RANGE_MS): instants
 * moved to it, times without an offset first made instants by `naive` if given, else kept as read.
 */
export function zonedMs(ms: pl.Expr, format: string, zone: Zone): pl.Expr {
  const written = instantOffsetMs(format, zone);
  if (written === null) return inTimeRange(ms);
  return inTimeRange(wallClockMs(inTimeRange(ms.sub(pl.lit(written).cast(pl.Int64))), zone.zone!));
}

/**
 * Epoch ms of a strptime pattern over the whole field, as the wall clock of the spec's zone (`zonedMs`); null
 * where it does not parse or falls outside TIME_RANGE_MS. nodejs-polars' `strptime` matches anywhere in the field (so "12:34:56+08:00" read by
 * "%H:%M:%S" silently dropped its offset); its binding takes the exact flag: (format, time unit, time zone,
 * strict, exact, cache, ambiguous).
 */
export function patternMs(e: pl.Expr, format: string, zone: Zone = {}): pl.Expr {
  // %B: after a short month name chrono slices the text for the long name's rest ("Sep" + "tember") without a
  // length check, and panics when fewer characters are left: a literal tail on field and pattern prevents it
  const tail = /%[-_0]?B/.test(format) ? "\u0001".repeat(8) : "";
  const field = tail ? pl.concatString([e, pl.lit(tail)], "") : e;
  const [strict, exact, cache] = [false, true, false];
  // deno-lint-ignore no-explicit-any
  const parsed = (field as any).inner().strToDatetime(
    format + tail,
    "ms",
    undefined,
    strict,
    exact,
    cache,
    undefined,
  );
  // deno-lint-ignore no-explicit-any
  const ms = (pl.Expr as any)(parsed).cast(pl.Datetime("ms")).cast(pl.Int64) as pl.Expr;
  return zonedMs(ms, format, zone);
}

/**
 * Epoch ms of a time field under a list of patterns, tried in order (the first that gives a time wins), each
 * read as `patternMs` reads it; null where none does.
 */
export function patternsMs(e: pl.Expr, formats: string[], zone: Zone = {}): pl.Expr {
  // deno-lint-ignore no-explicit-any
  let parsed: any = null;
  for (const f of formats) {
    const ms = patternMs(e, f, zone);
    parsed = parsed === null ? pl.when(ms.isNotNull()).then(ms) : parsed.when(ms.isNotNull()).then(ms);
  }
  return parsed.otherwise(pl.lit(null));
}
