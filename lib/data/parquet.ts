/**
 * Parquet inputs: how a typed column reaches the ETL's records, which are text. Both engines turn the columns a
 * spec reads into the same text — polars on the default engine (its CSV image of the file), Spark SQL on Spark —
 * so the record checks, quarantine and features downstream are the ones CSV gets:
 *
 * - strings (and categoricals) as they are; integers in decimal; booleans `true`/`false`; decimals with their scale;
 * - a float holding a whole number (below 2^53) as that integer, so that ids a file stores as floats (as pandas
 *   writes integer ids with gaps) are the ids other files store as integers or text: `1000000.0` is `1000000`;
 * - other floats as polars prints them: the shortest digits that read back to the same value, plain from 1e-5 to
 *   1e16 (`0.25`, `0.00001`), else in exponent form (`1e-7`, `1.5e+16`); a 32-bit float as the 64-bit value it
 *   holds (0.1 stored in 32 bits is 0.10000000149011612), so that a numeric column gets that value;
 * - timestamps and dates (`time.format: "timestamp"`, spec.ts TIMESTAMP_FORMATS) to the millisecond: without a
 *   time zone as wall-clock time `2024-01-02 10:00:00.123` (a date at midnight), with one as the instant in UTC,
 *   `2024-01-02T10:00:00.123+00:00`;
 * - lists (of strings or integers) only as a text column's entity list: elements joined by its `entities`
 *   separator, null elements dropped.
 *
 * Columns the spec does not read are never converted (any type may sit there). A column it reads in another type
 * (a struct, binary, a list elsewhere, a time of day) stops the ETL before it writes anything, naming the file,
 * the column and the type.
 */
import pl from "nodejs-polars";
import { requiredColumns, type ResolvedSpec, SpecError, TIMESTAMP_FORMATS } from "./spec.ts";

/** What a Parquet column is to the ETL. */
export type ParquetKind =
  | "text"
  | "integer"
  | "boolean"
  | "decimal"
  | "float"
  | "date"
  | "wall" // a timestamp without a time zone
  | "instant" // a timestamp with one
  | "list";

export interface ParquetField {
  name: string;
  /** The type as polars names it, for messages. */
  type: string;
  kind: ParquetKind;
  /** Timestamps: the unit Parquet stores (Spark reads nanoseconds as plain numbers). */
  unit?: "ms" | "us" | "ns";
  /** Lists: the separator the elements are joined with. */
  separator?: string;
}

const KINDS: Record<string, ParquetKind> = {
  String: "text",
  Utf8: "text",
  Categorical: "text",
  Enum: "text",
  Bool: "boolean",
  Decimal: "decimal",
  Float64: "float",
  Float32: "float",
  Date: "date",
};
for (const b of [8, 16, 32, 64]) KINDS[`Int${b}`] = KINDS[`UInt${b}`] = "integer";

/** Floats below this that hold a whole number print as integers (2^53: every integer up to it is a double). */
const WHOLE = 2 ** 53;

/** The text layouts of timestamps (polars' strftime), read back by TIMESTAMP_FORMATS. */
const WALL_TEXT = "%Y-%m-%d %H:%M:%S%.3f", INSTANT_TEXT = "%Y-%m-%dT%H:%M:%S%.3f%:z";

/** A user's Parquet file, lazily: its path as it is (polars would read * ? [ ] { } in it as a glob pattern). */
export const scanParquetFile = (path: string) => pl.scanParquet(path, { glob: false });

/** A Parquet file's columns and their types (from its footer; no rows read). */
export function parquetSchema(path: string): [string, pl.DataType][] {
  return Object.entries(scanParquetFile(path).head(0).collectSync().schema as Record<string, pl.DataType>);
}

/** A type as polars names it, without its wrappers: `List(String)`, `Datetime(ms,UTC)`. */
function typeName(dtype: pl.DataType): string {
  const s = String(dtype).replace(/DataType\((\w+)\)/g, "$1");
  return /^DataType\((.*)\)$/.exec(s)?.[1] ?? s;
}

/** How a column of type `dtype` reaches the records (lists joined by `separator`), or why it cannot. */
export function parquetField(name: string, dtype: pl.DataType, separator?: string): ParquetField | string {
  const d = dtype as unknown as { variant: string; timeUnit?: string; timeZone?: string; inner?: unknown[] };
  const type = typeName(dtype);
  if (d.variant === "Datetime") {
    return { name, type, kind: d.timeZone ? "instant" : "wall", unit: d.timeUnit as ParquetField["unit"] };
  }
  if (d.variant === "List") {
    const inner = KINDS[(d.inner?.[0] as { variant: string })?.variant];
    if (!separator) return `a list is read only as a text column's entity list (text: "entities")`;
    if (inner !== "text" && inner !== "integer") return "an entity list holds strings or integers";
    return { name, type, kind: "list", separator };
  }
  const kind = KINDS[d.variant];
  return kind
    ? { name, type, kind }
    : "ctrlab reads strings, numbers, booleans, dates, timestamps and entity lists";
}

/** Whether a field is a typed time (`time.format: "timestamp"`). */
export const isTypedTime = (f: ParquetField) =>
  f.kind === "date" || f.kind === "wall" || f.kind === "instant";

/** The columns of a Parquet file that `spec` reads, in the file's order, each checked (SpecError otherwise). */
export function parquetFields(path: string, spec: ResolvedSpec): ParquetField[] {
  const used = new Set(requiredColumns(spec));
  const timestamp = spec.time.format.join() === TIMESTAMP_FORMATS.join();
  return parquetSchema(path).filter(([name]) => used.has(name)).map(([name, dtype]) => {
    const f = parquetField(name, dtype, spec.text.find((t) => t.column === name)?.entities);
    const refuse = (why: string) =>
      new SpecError(
        path,
        `column "${name}" is ${typeName(dtype)} in Parquet: ${why}`,
      );
    if (typeof f === "string") throw refuse(f);
    if (name === spec.time.column && isTypedTime(f) && !timestamp) {
      throw refuse(`write "format": "timestamp" for time.format to read it as typed`);
    }
    if (name === spec.time.column && timestamp && !isTypedTime(f) && f.kind !== "text") {
      throw refuse(
        `"timestamp" reads timestamps and dates${
          f.kind === "integer" ? '; epoch numbers are "epoch_s" or "epoch_ms"' : ""
        }`,
      );
    }
    return f;
  });
}

/** A Parquet column as text in polars (the module comment's rules). */
export function parquetText(f: ParquetField): pl.Expr {
  const c = pl.col(f.name);
  switch (f.kind) {
    case "date":
      return c.cast(pl.Datetime("ms")).dt.strftime(WALL_TEXT);
    case "wall":
      return c.dt.strftime(WALL_TEXT);
    case "instant":
      return c.dt.convertTimeZone("UTC").dt.strftime(INSTANT_TEXT);
    case "list":
      return c.cast(pl.List(pl.Utf8)).lst.join({ separator: f.separator!, ignoreNulls: true } as never);
    case "float": {
      const x = c.cast(pl.Float64);
      return pl.when(x.eq(x.floor()).and(x.abs().lt(WHOLE))).then(x.cast(pl.Int64).cast(pl.Utf8))
        .otherwise(x.cast(pl.Utf8));
    }
    default:
      return c.cast(pl.Utf8);
  }
}

/** A Parquet file's columns `fields` as the text the ETL reads, then constant columns (those its path gives). */
export function parquetImage(path: string, fields: ParquetField[], fromPath: [string, string][] = []) {
  return scanParquetFile(path).select(
    ...fields.map((f) => parquetText(f).alias(f.name)),
    ...fromPath.map(([c, v]) => pl.lit(v).alias(c)),
  );
}

/** A Parquet column, as Spark reads it, as text in Spark SQL: the same text parquetText gives. */
export function parquetTextSql(f: ParquetField, column: string): string {
  // Spark reads nanosecond timestamps as their number (spark.sql.legacy.parquet.nanosAsLong): floor to µs
  const ts = f.unit === "ns" ? `TIMESTAMP_MICROS((${column} - PMOD(${column}, 1000)) DIV 1000)` : column;
  switch (f.kind) {
    case "date":
    case "wall":
      return `DATE_FORMAT(${f.kind === "date" ? column : ts}, 'yyyy-MM-dd HH:mm:ss.SSS')`;
    case "instant":
      return `DATE_FORMAT(${ts}, "yyyy-MM-dd'T'HH:mm:ss.SSSxxx")`; // the session's zone is UTC
    case "list":
      return `ARRAY_JOIN(CAST(${column} AS ARRAY<STRING>), '${
        f.separator!.replaceAll("\\", "\\\\").replaceAll("'", "\\'")
      }')`;
    case "float": {
      const x = `CAST(${column} AS DOUBLE)`;
      return `IF(${x} = FLOOR(${x}) AND ABS(${x}) < ${WHOLE}, CAST(CAST(${x} AS BIGINT) AS STRING), ${
        floatSql(x)
      })`;
    }
    default:
      return `CAST(${column} AS STRING)`;
  }
}

/**
 * A double as polars prints it, in Spark SQL. Java's own text (Spark's CAST) has the right digits in another
 * layout (`1.0E-5`, `1.23456789E8`), but on Java 17 not always the shortest ones (1e23 prints as
 * 9.999999999999999E22, 5e-324 as 4.9E-324). So each value asks one question — do one digit fewer read back to
 * the same value? — and only where they do (rarely) is the shortest length searched for, by halving: reading
 * back is monotone in the length. Whole numbers from 2^53 to 2^63 are rounded exactly instead (Java's formatter
 * rounds its own 17 digits, a second rounding). Zero and other whole numbers below 2^53 never come here
 * (parquetTextSql prints them as integers).
 */
function floatSql(x: string): string {
  const bind = (e: string, v: string, body: string) => `TRANSFORM(ARRAY(${e}), ${v} -> ${body})[0]`;
  const abs = `ABS(${x})`;
  /** Whether `k` significant digits (Java's formatter, rounding half up) read back to |x|. */
  const reads = (k: string) => `CAST(FORMAT_STRING(CONCAT('%.', ${k} - 1, 'e'), ${abs}) AS DOUBLE) = ${abs}`;
  /** The fewest digits in [lo, hi] that read back (hi does), by halving. */
  const fewest = (lo: number, hi: number): string => {
    if (lo === hi) return `${lo}`;
    const mid = (lo + hi) >> 1;
    return `IF(${reads(`${mid}`)}, ${fewest(lo, mid)}, ${fewest(mid + 1, hi)})`;
  };
  // [significant digits, exponent of the first (|x| = d.ddd × 10^e)] as text, from three sources:
  // Java's text (_j: "123.456", "0.00123", "1.0E-5")
  const java = bind(
    `CAST(${abs} AS STRING)`,
    "_j",
    bind(
      `REGEXP_REPLACE(_j, 'E.*$|\\\\.', '')`,
      "_m",
      `ARRAY(TRIM(TRAILING '0' FROM TRIM(LEADING '0' FROM _m)), CAST(INSTR(_j, '.') - 2 -
        (LENGTH(_m) - LENGTH(TRIM(LEADING '0' FROM _m))) + IF(INSTR(_j, 'E') > 0,
        CAST(SUBSTRING_INDEX(_j, 'E', -1) AS INT), 0) AS STRING))`,
    ),
  );
  // the formatter's shortest ("1e+23"), when one digit fewer than Java's reads back
  const formatted = bind(
    `FORMAT_STRING(CONCAT('%.', ${fewest(1, 16)} - 1, 'e'), ${abs})`,
    "_f",
    `ARRAY(TRIM(TRAILING '0' FROM REPLACE(SUBSTRING_INDEX(_f, 'e', 1), '.', '')),
      CAST(CAST(SUBSTRING_INDEX(_f, 'e', -1) AS INT) AS STRING))`,
  );
  // whole numbers that fit a BIGINT: rounded exactly, half to even, at each length until one reads back
  const n = `CAST(${abs} AS BIGINT)`, len = `LENGTH(CAST(${n} AS STRING))`;
  const roundTo = (m: string) =>
    // n rounded half-to-even at 10^m, as text
    bind(
      `CAST(POW(10, ${m}) AS BIGINT)`,
      "_p",
      `CONCAT(CAST(${n} DIV _p + IF(2 * (${n} % _p) > _p OR (2 * (${n} % _p) = _p AND (${n} DIV _p) % 2 = 1), 1, 0)
        AS STRING), REPEAT('0', ${m}))`,
    );
  const exact = bind(
    `FILTER(TRANSFORM(SEQUENCE(1, LEAST(17, ${len})), _k -> ${roundTo(`${len} - _k`)}),
      _c -> CAST(_c AS DOUBLE) = ${abs})[0]`,
    "_c",
    `ARRAY(TRIM(TRAILING '0' FROM _c), CAST(LENGTH(_c) - 1 AS STRING))`,
  );
  const render = (de: string) =>
    bind(
      de,
      "_d",
      bind(
        "CAST(_d[1] AS INT)",
        "_e",
        `CASE WHEN _e >= -5 AND _e < 16 THEN IF(_e >= 0,
          CONCAT(SUBSTR(RPAD(_d[0], _e + 1, '0'), 1, _e + 1), '.', COALESCE(NULLIF(SUBSTR(_d[0], _e + 2), ''), '0')),
          CONCAT('0.', REPEAT('0', -_e - 1), _d[0]))
        ELSE CONCAT(SUBSTR(_d[0], 1, 1), IF(LENGTH(_d[0]) > 1, CONCAT('.', SUBSTR(_d[0], 2)), ''), 'e',
          IF(_e >= 0, '+', '-'), ABS(_e)) END`,
      ),
    );
  const sign = `IF(${x} < 0, '-', '')`;
  const big = `${abs} >= ${WHOLE} AND ${abs} < 9.223372036854775807E18`;
  const digits = bind(
    java,
    "_jd",
    `IF(LENGTH(_jd[0]) >= 2 AND ${reads("LENGTH(_jd[0]) - 1")}, ${formatted}, _jd)`,
  );
  return `CASE WHEN ${x} IS NULL THEN NULL WHEN ISNAN(${x}) THEN 'NaN'
    WHEN ${abs} = CAST('Infinity' AS DOUBLE) THEN CONCAT(${sign}, 'inf')
    ELSE CONCAT(${sign}, ${render(`IF(${big}, ${exact}, ${digits})`)}) END`;
}
