/**
 * The ETL on Apache Spark: the dataset spec's rules (record checks, time layouts, value checks in role order,
 * the scene list, the cleaned layout) compiled to Spark SQL, with the same accounting as lib/data/etl.ts —
 * every record read is written or quarantined with its file, line, byte offset, row id, reason and column:
 * written + quarantined = read, per file and in total — and the same output: clean/date=…/scene=…/ Parquet,
 * `_quarantine.csv`, `_etl_report.json`, `_dataset.json`.
 *
 * Spark reads the files as numbered lines in parallel splits; SQL then puts the lines of a record with quoted line
 * breaks back together where csv.ts's scanRecord reads one (lineSteps), with the same cuts: a record whose quote
 * never closes, or closes past MAX_RECORD_BYTES, is its first line alone. CSV input is plain or gzip named *.gz,
 * each line's bytes decoded in SQL from the spec's encoding: UTF-8, or GBK and GB18030 both as Java's GB18030 (the
 * WHATWG gbk decoder etl.ts uses reads GB18030 too; of all one- and two-byte sequences the two read only the lone
 * byte 0x80 and A3 A0 differently); bytes that do not decode become U+FFFD and the record is quarantined (with
 * etl.ts's message: quoteErrorSql, encodingErrorSql). Parquet
 * files are read by Spark as typed, each row a record (its number in the file as the line), their columns turned to
 * text by parquet.ts's rules.
 * tests/spark_test.ts compares both engines record by record.
 */
import pl from "nodejs-polars";
import { compressionOf, MAX_RECORD_BYTES } from "./csv.ts";
import {
  checkHeader,
  type CleanSchema,
  type EtlOptions,
  type EtlReport,
  inputName,
  isParquetInput,
  LEFT_OPEN,
  listInputFiles,
  pathColumns,
  prepareOutput,
  QUARANTINE_FILE,
  QuarantineWriter,
  readHeaderRecord,
  REPORT_FILE,
  runEtl,
  SCHEMA_FILE,
  specFor,
} from "./etl.ts";
import { type ParquetField, parquetFields, parquetTextSql } from "./parquet.ts";
import {
  literalRegex,
  partFiles,
  pathBytes,
  q,
  runSparkPlan,
  shufflePartitions,
  type SparkDriver,
  type SparkPlan,
  type SparkResult,
  type SparkStep,
  str,
} from "./spark.ts";
import {
  ANTM2C_TIME_FORMATS,
  instantOffsetMs,
  requiredColumns,
  type ResolvedSpec,
  TIME_RANGE_MS,
  zoneOffsetMs,
} from "./spec.ts";
import type { Zone } from "./times.ts";
import { timed } from "../util/profile.ts";

/** Lines per bucket in which a file's stretches of one-line records are looked up (records, in etlSteps). */
export const GAP_BUCKET = 1024;

/** The Java charset DECODE reads a spec's encoding with: the WHATWG "gbk" decoder is GB18030's. */
const JAVA_CHARSET: Record<string, string> = { "utf-8": "UTF-8", gbk: "GB18030", gb18030: "GB18030" };

/** Trimmed text (Unicode white space, as polars' strip). */
const trim = (e: string) => `REGEXP_REPLACE(${e}, ${str("(?U)^\\s+|\\s+$")}, '')`;
const blank = (e: string) => `(${e} IS NULL OR ${trim(e)} = '')`;
/** csvField (csv.ts) in SQL: quoted when it holds a quote, comma or line break. */
const csvField = (e: string) =>
  `IF(COALESCE(${e}, '') RLIKE ${
    str('[",\\n\\r]')
  }, CONCAT('"', REPLACE(${e}, '"', '""'), '"'), COALESCE(${e}, ''))`;

const DAY = 86_400_000;

/** Epoch ms `ms` if within TIME_RANGE_MS, else NULL. */
const inTimeRange = (ms: string) =>
  `IF(${ms} >= ${TIME_RANGE_MS[0]} AND ${ms} < ${TIME_RANGE_MS[1]}, ${ms}, NULL)`;

/** An instant (epoch ms) as the wall-clock time of `zone` (a name or a fixed offset), in epoch ms: times.ts's wallClockMs. */
function wallClockSql(ms: string, zone: string): string {
  const offset = zoneOffsetMs(zone);
  if (offset !== null) return `(${ms} + ${offset})`;
  return `UNIX_MILLIS(FROM_UTC_TIMESTAMP(TIMESTAMP_MILLIS(${ms}), ${str(zone)}))`; // the session's zone is UTC
}

/** Epoch ms as `format` read them, as the wall clock of the spec's zone (NULL outside TIME_RANGE_MS): times.ts's zonedMs. */
function zonedSql(ms: string, format: string, zone: Zone): string {
  const written = instantOffsetMs(format, zone);
  if (written === null) return inTimeRange(ms);
  return inTimeRange(wallClockSql(inTimeRange(`(${ms} - ${written})`), zone.zone!));
}

/**
 * Epoch milliseconds of a time field under the spec's formats, as the wall clock of its zone (NULL when none
 * parses): csv.ts's and times.ts's parsers in SQL.
 */
export function timeSql(t: string, formats: string[], zone: Zone = {}): string {
  if (formats.length === 1 && (formats[0] === "epoch_s" || formats[0] === "epoch_ms")) {
    const unit = formats[0] === "epoch_s" ? 1000 : 1;
    const ms = `CAST(ROUND(CAST(${t} AS DECIMAL(38, 10)) * ${unit}) AS BIGINT)`;
    return `IF(${t} RLIKE ${str("^[+-]?[0-9]{1,16}(\\.[0-9]*)?$")}, ${zonedSql(ms, formats[0], zone)}, NULL)`;
  }
  if (!formats.every((f) => ANTM2C_TIME_FORMATS.includes(f))) {
    // polars tries the patterns in order and keeps the first that gives a time (times.ts)
    return `COALESCE(${formats.map((f) => patternSql(trim(t), f, zone)).join(", ")})`;
  }
  // parseLogTimeBytes: yyyy-MM-dd HH:mm:ss or yyyy/M/d H:mm, every part in range
  const a = "^([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})$";
  const b = "^([0-9]{4})/([0-9]{1,2})/([0-9]{1,2}) ([0-9]{1,2}):([0-9]{2})$";
  const ms = (re: string, seconds: boolean) => {
    const g = (k: number) => `CAST(REGEXP_EXTRACT(${t}, ${str(re)}, ${k}) AS INT)`;
    const s = seconds ? g(6) : "0";
    return `IF(${g(1)} >= 1 AND ${g(4)} <= 23 AND ${g(5)} <= 59 AND ${s} <= 59, CAST(UNIX_DATE(MAKE_DATE(${
      g(1)
    }, ${g(2)}, ${g(3)})) AS BIGINT) * ${DAY} + ((${g(4)} * 60 + ${g(5)}) * 60 + ${s}) * 1000, NULL)`;
  };
  // moved only when the spec says so: a 4-digit year from 1 cannot leave TIME_RANGE_MS, so no range check
  const z = (e: string) => instantOffsetMs(formats[0], zone) === null ? e : zonedSql(e, formats[0], zone);
  return `CASE WHEN ${t} RLIKE ${str(a)} THEN ${z(ms(a, true))} WHEN ${t} RLIKE ${str(b)} THEN ${
    z(ms(b, false))
  } END`;
}

/*
 * Strptime patterns in Spark SQL, parsed by the rules of chrono, which polars' strptime runs (exact match of the
 * whole field): a number takes 1–2 digits (%Y up to 4, more with a sign) after any white space, white space in
 * the pattern takes any run of it (none included), %.f an optional fraction of any length, %z ±hh[:]mm, %#z also
 * Z and ±hh. Possessive quantifiers keep Java's regex from backtracking where chrono does not.
 */
const WS = "\\p{IsWhite_Space}*+";
const NUM = (max: number) => `${WS}([0-9]{1,${max}}+)`;
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const MONTH_ENDS = ["uary", "ruary", "ch", "il", "", "e", "y", "ust", "tember", "ober", "ember", "ember"];
const COMPOSITE: Record<string, string> = { F: "%Y-%m-%d", T: "%H:%M:%S", R: "%H:%M", D: "%m/%d/%y" };
/** What a directive reads: the field it sets and its regex (one group, or `groups` of them). */
const DIRECTIVES: Record<string, { field: string; re: string; groups?: number }> = {
  Y: { field: "year", re: `${WS}([+-][0-9]++|[0-9]{1,4}+)` },
  y: { field: "year2", re: NUM(2) },
  m: { field: "month", re: NUM(2) },
  b: { field: "monthName", re: `((?i:${MONTHS.join("|")}))` },
  B: {
    field: "monthName",
    re: `((?i:${MONTHS.map((m, k) => MONTH_ENDS[k] ? `${m}(?:${MONTH_ENDS[k]})?+` : m).join("|")}))`,
  },
  d: { field: "day", re: NUM(2) },
  H: { field: "hour", re: NUM(2) },
  I: { field: "hour12", re: NUM(2) },
  p: { field: "ampm", re: "((?i:am|pm))" },
  M: { field: "minute", re: NUM(2) },
  S: { field: "second", re: NUM(2) },
  ".f": { field: "fraction", re: "(?:\\.([0-9]++))?+" },
  f: { field: "nanos", re: NUM(9) },
  z: { field: "offset", re: `${WS}([+\\-\u2212])([0-9]{2})[:\\p{IsWhite_Space}]*+([0-9]{2})`, groups: 3 },
  "#z": {
    field: "offset",
    re: `${WS}(?:([Zz])|([+\\-\u2212])([0-9]{2})(?:[:\\p{IsWhite_Space}]*+([0-9]{2}))?+)`,
    groups: 4,
  },
};
Object.assign(DIRECTIVES, {
  e: DIRECTIVES.d,
  h: DIRECTIVES.b,
  k: DIRECTIVES.H,
  l: DIRECTIVES.I,
  P: DIRECTIVES.p,
});
DIRECTIVES[":z"] = DIRECTIVES.z;
for (const n of [3, 6, 9]) {
  DIRECTIVES[`.${n}f`] = { field: "fraction", re: `(?:\\.([0-9]{${n}}))?+` };
  DIRECTIVES[`${n}f`] = { field: "fraction", re: `([0-9]{${n}})` };
}
/** The directives Spark reads, for the error message. */
const SPARK_DIRECTIVES = [...Object.keys(DIRECTIVES), ...Object.keys(COMPOSITE), "%"].map((d) => `%${d}`)
  .join(" ");

/**
 * Epoch ms of field `t` under one strptime pattern, as the wall clock of the spec's zone, or NULL (no match, a
 * part out of range, or outside TIME_RANGE_MS).
 */
export function patternSql(t: string, pattern: string, zone: Zone = {}): string {
  const refuse = (why: string) =>
    new Error(
      `time.format "${pattern}": ${why}; the Spark ETL reads ${SPARK_DIRECTIVES} (the default engine reads any)`,
    );
  let re = "^";
  let groups = 0;
  const at: Record<string, { group: number; directive: string }> = {}; // field → what set it, and its first group
  const walk = (p: string) => {
    for (let i = 0; i < p.length; i++) {
      const c = p[i];
      if (/\s/.test(c)) {
        while (i + 1 < p.length && /\s/.test(p[i + 1])) i++;
        re += WS;
        continue;
      }
      if (c !== "%") {
        re += /[A-Za-z0-9]/.test(c) ? c : `\\x{${c.codePointAt(0)!.toString(16)}}`;
        continue;
      }
      let d = p[++i] ?? "";
      if (d && "-_0".includes(d)) d = p[++i] ?? ""; // padding flags: parsing ignores them
      if (d === "%") {
        re += "%";
        continue;
      }
      if (d in COMPOSITE) {
        walk(COMPOSITE[d]);
        continue;
      }
      const m = /^(\.[369]?f|[369]f|[:#]z)/.exec(p.slice(i));
      if (m) {
        d = m[1];
        i += d.length - 1;
      }
      const dir = DIRECTIVES[d];
      if (!dir) throw refuse(`"%${d}" is not one of them`);
      if (dir.field in at) throw refuse(`it sets the ${dir.field} twice`);
      at[dir.field] = { group: groups + 1, directive: d };
      groups += dir.groups ?? 1;
      re += dir.re;
    }
  };
  walk(pattern);
  re += "$";
  const has = (f: string) => f in at;
  if (!(has("year") || has("year2")) || !(has("month") || has("monthName")) || !has("day")) {
    throw refuse("it needs a year, a month and a day");
  }
  if (has("hour") && has("ampm") || has("hour12") !== has("ampm")) {
    throw refuse("%I goes with %p, %H without it");
  }
  if ((has("hour") || has("hour12")) !== has("minute") || has("second") && !has("minute")) {
    throw refuse("it needs an hour and a minute, or neither");
  }
  const g = (f: string, k = 0) => `REGEXP_EXTRACT(${t}, ${str(re)}, ${at[f].group + k})`;
  const n = (f: string, k = 0) => `CAST(${g(f, k)} AS INT)`;
  const year = has("year") ? n("year") : `IF(${n("year2")} < 70, 2000, 1900) + ${n("year2")}`;
  const month = has("month")
    ? n("month")
    : `(INSTR(${str(MONTHS.join(""))}, LOWER(SUBSTR(${g("monthName")}, 1, 3))) + 2) DIV 3`;
  const hour = has("hour12")
    ? `IF(${n("hour12")} BETWEEN 1 AND 12, ${n("hour12")} % 12 + IF(LOWER(${g("ampm")}) = 'pm', 12, 0), NULL)`
    : has("hour")
    ? `IF(${n("hour")} <= 23, ${n("hour")}, NULL)`
    : "0";
  const minute = has("minute") ? `IF(${n("minute")} <= 59, ${n("minute")}, NULL)` : "0";
  const second = has("second") ? `IF(${n("second")} <= 60, ${n("second")}, NULL)` : "0"; // 60: a leap second
  const ms = has("nanos")
    ? `${n("nanos")} DIV 1000000`
    : has("fraction")
    ? `COALESCE(CAST(RPAD(SUBSTR(${g("fraction")}, 1, 3), 3, '0') AS INT), 0)`
    : "0";
  let offset = "0"; // minutes east of UTC
  if (has("offset")) {
    const k = at.offset.directive === "#z" ? 1 : 0; // %#z has Z/z as its first group, and minutes are optional
    const sign = `IF(${g("offset", k)} = '+', 1, -1)`, hh = n("offset", k + 1);
    const mm = k ? `COALESCE(CAST(NULLIF(${g("offset", k + 2)}, '') AS INT), 0)` : n("offset", k + 2);
    offset = `IF(${mm} <= 59 AND ${hh} * 60 + ${mm} < 1440, ${sign} * (${hh} * 60 + ${mm}), NULL)`;
    if (k) offset = `IF(${g("offset")} <> '', 0, ${offset})`;
  }
  // MAKE_DATE is NULL for a day the month does not have (ANSI mode is off)
  const time = `CAST(UNIX_DATE(MAKE_DATE(${year}, ${month}, ${
    n("day")
  })) AS BIGINT) * ${DAY} + ((${hour} * 60 + ${minute} - ${offset}) * 60 + ${second}) * 1000 + ${ms}`;
  return `IF(${t} RLIKE ${str(re)}, ${zonedSql(time, pattern, zone)}, NULL)`;
}

/**
 * Regexes over a line's text that tell how csv.ts's scanRecord reads it (Q and D: the quote and delimiter as
 * regex pieces; possessive quantifiers, so no backtracking on long lines):
 * - wellQuoted: a quoted field, closed and followed by a delimiter or the end (removed, the rest holds no quote);
 * - leftOpen: read from a record's start, the line ends inside a quoted field (a quoted line break follows);
 * - wellFormed: from a record's start, the well-formed fields and the next one up to where it breaks (a quote that
 *   cannot be there, or a quoted field left open);
 * - closes / staysOpen: read from inside a quoted field (the line after a quoted line break), the field closes
 *   and the record ends with the line / the line ends inside a quoted field again. Neither: a quoting error.
 * E: the spec's escape as a regex piece, or "" (a quote inside a quoted field is doubled).
 */
function quoting(Q: string, D: string, E: string) {
  // a quoted field's content: a character class repeated, not an alternation (Java's regex recurses on each
  // repetition of a group, and a long line overflows its stack). With an escape, it and the quote or escape after
  // it are one step (possessive: an escaped quote is never a closing one); an escape before anything else is text
  const inside = E ? `[^${Q}${E}]*+(?:${E}[${Q}${E}]?+[^${Q}${E}]*+)*+` : `[^${Q}]*+(?:${Q}${Q}[^${Q}]*+)*+`;
  const field = `(?:${Q}${inside}${Q}(?=${D}|$)|[^${Q}${D}]*+(?=${D}|$))`; // a whole field, closed in the line
  const upTo = `(?:${Q}${inside}${Q}|[^${Q}${D}]*+)`; // a field up to its end, or to where it breaks
  return {
    wellQuoted: `(^|${D})${Q}${inside}${Q}(?=${D}|$)`,
    leftOpen: `^(?:${upTo}${D})*+${Q}${inside}$`,
    wellFormed: `^(?:${upTo}${D})*+${upTo}`,
    closes: `^${inside}${Q}(?:${D}${field})*+$`,
    staysOpen: `^${inside}(?:${Q}(?:${D}${field})*+${D}${Q}${inside})?$`,
  };
}

/**
 * etl.ts's message for a record with a quoting error: "unterminated or stray quote at byte N", N the byte (from the
 * record's start) where csv.ts's scanRecord stopped, or LEFT_OPEN when it stopped past the record's line (a quote
 * left open reads on into the next lines; the record is then cut back to its first line). Such a record is always
 * one line here (__text). scanRecord stops at the first of: a stray quote, or a byte after a closing quote that is
 * not a delimiter (the end of the longest run of well-formed fields); the end of the input inside a quote (the
 * file's last line without a line break: __last); and the first byte past MAX_RECORD_BYTES inside a quoted field,
 * which only a line that long can reach (UTF-8 lines, counted on its bytes; not counted for GBK and GB18030, whose
 * lines that long are not read byte by byte here).
 */
function quoteErrorSql(spec: ResolvedSpec, Q: string, D: string, E: string): string {
  const charset = str(JAVA_CHARSET[spec.encoding]), re = quoting(Q, D, E), qc = str(spec.quote);
  const bytes = (e: string) => `OCTET_LENGTH(ENCODE(${e}, ${charset}))`;
  const open = `__text RLIKE ${str(re.leftOpen)}`, len = bytes("__text");
  const run = `LENGTH(REGEXP_EXTRACT(__text, ${str(re.wellFormed)}, 0))`;
  const stray = `IF(NOT ${open} AND ${run} < LENGTH(__text), ${bytes(`SUBSTRING(__text, 1, ${run})`)}, NULL)`;
  const end = `IF(${open} AND __last, ${len}, NULL)`;
  let past = "NULL";
  if (spec.encoding === "utf-8" && !E) {
    // on the line's bytes (one character each; j counts from 0). Inside a quoted field scanRecord steps over a
    // doubled quote without checking the length, then checks after a quote (which closes the field) or a character
    // (a lead byte and its continuation bytes): from a step's start j, the check comes after the run of quotes there
    // if it is odd, else after the character that follows it
    const B = "DECODE(ENCODE(__text, 'UTF-8'), 'ISO-8859-1')", M = MAX_RECORD_BYTES;
    const quotes = (j: string) => `LENGTH(REGEXP_EXTRACT(SUBSTRING(${B}, ${j} + 1), ${str(`^${Q}*+`)}, 0))`;
    const cont = (j: string) =>
      `LENGTH(REGEXP_EXTRACT(SUBSTRING(${B}, ${j} + 1, 3), ${str("^[\\x{80}-\\x{BF}]*+")}, 0))`;
    const checked = (j: string) =>
      `IF(${quotes(j)} % 2 = 1, ${j} + ${quotes(j)}, ${j} + ${quotes(j)} + 1 + ${
        cont(`${j} + ${quotes(j)} + 1`)
      })`;
    const inside = (n: number) => `SUBSTRING(${B}, 1, ${n}) RLIKE ${str(re.leftOpen)}`;
    const p0 = `(${M} + INSTR(SUBSTRING(${B}, ${M + 1}), ${qc}) - 1)`; // the first quote from byte M on
    past = `IF(${len} <= ${M}, NULL, CASE WHEN ${inside(M)} THEN ${checked(`${M}`)}
      WHEN ${inside(M - 1)} AND ${quotes(`${M - 1}`)} >= 2 THEN ${checked(`${M - 1}`)}
      WHEN INSTR(SUBSTRING(${B}, ${M + 1}), ${qc}) > 0 AND SUBSTRING(${B}, ${p0}, 1) = ${str(spec.delimiter)}
        AND ${p0} + 1 < ${len} THEN ${checked(`${p0} + 1`)} END)`;
  }
  const at = `LEAST(${stray}, ${end}, ${past})`;
  return `IF(${at} IS NULL OR ${at} > ${len}, ${
    str(LEFT_OPEN)
  }, CONCAT('unterminated or stray quote at byte ', ${at}))`;
}

/**
 * etl.ts's message for a record whose bytes do not decode: where the first bad UTF-8 byte is (its first U+FFFD: one
 * the log itself holds before it would move it), or the record's start.
 */
function encodingErrorSql(spec: ResolvedSpec): string {
  if (spec.encoding !== "utf-8") {
    return `CONCAT(${str(`not valid ${spec.encoding} (record at byte `)}, __byte, ' of the file)')`;
  }
  const before = `OCTET_LENGTH(ENCODE(SUBSTRING(__text, 1, INSTR(__text, ${str("\uFFFD")}) - 1), 'UTF-8'))`;
  return `CONCAT('invalid utf-8 at byte ', __byte + ${before}, ' of the file')`;
}

/** The first line of a text file that holds a record: the one after the header, or the first when there is none. */
const firstRecordLine = (spec: ResolvedSpec) => spec.columns ? 1 : 2;

/**
 * The steps that turn the numbered lines into records as csv.ts reads them, quoted line breaks included:
 * - decoded: each line after the header (every line when the spec names the columns), decoded, with __open (it
 *   leaves a quoted field open, so the record may go on) and __qend (the byte after its last quote; csv.ts gives
 *   up on a quoted field open past MAX_RECORD_BYTES);
 * - edges: the candidates and the lines that stop them, per bucket of GAP_BUCKET lines;
 * - multi: the records that span lines (__file, __line where they start, __end where they end, __covered: the
 *   lines continuing the file's records before it).
 *
 * A line that leaves a quote open (a candidate) starts a record that ends on the next line that closes it, or
 * fails (a quoting error, the end of the file, or past MAX_RECORD_BYTES) and is then that first line alone, read
 * again from the next line on. Lines between a candidate and the line that stops its chain stay open from inside
 * a quote, so they hold an even number of quotes and are never candidates: chains meet only where one ends on a
 * line that starts the next one. In a run of such links, records start at the first, third, fifth… candidate
 * (the rest are ends of the record before them). So a candidate needs only the next line that holds a quote and
 * does not stay open (its stop), and only in files where a line is left open: found within its bucket of lines, or
 * else the first of a later bucket, so no task orders a whole file's lines. The runs of links are then found over
 * the candidates of each file.
 */
function lineSteps(spec: ResolvedSpec, Q: string, D: string, E: string): SparkStep[] {
  const charset = str(JAVA_CHARSET[spec.encoding]);
  // bytes that do not decode: a U+FFFD that was not in the text (UTF-8 text is its bytes again only when valid; in
  // GBK and GB18030 a U+FFFD is taken as one that was not)
  const fffd = `INSTR(__text, ${str("\uFFFD")}) > 0`;
  const bad = spec.encoding === "utf-8" ? `(${fffd} AND ENCODE(__text, 'UTF-8') <> __bytes)` : fffd;
  // the lines that hold records, decoded
  const decode = `SELECT __file, __line, __byte, __cr, __last, __bytes, DECODE(__bytes, ${charset}) AS __text
  FROM lines WHERE __line >= ${firstRecordLine(spec)}`;
  if (!spec.quote) { // nothing is quoted: every line is a record
    return [{
      view: "decoded",
      cache: "disk",
      sql:
        `SELECT __file, __line, __byte, __cr, __last, __text, ${bad} AS __bad, FALSE AS __open, 0 AS __qend,
  FALSE AS __quoted FROM (${decode})`,
    }, {
      view: "multi",
      sql: "SELECT __file, __line, __line AS __end, CAST(0 AS BIGINT) AS __covered FROM decoded WHERE FALSE",
    }];
  }
  const qc = str(spec.quote), re = quoting(Q, D, E);
  // the quotes that open or close a field: escaped ones (and escaped escapes) left out
  const structural = E ? `REGEXP_REPLACE(__text, ${str(`${E}[${Q}${E}]`)}, '')` : "__text";
  // the byte after the line's last quote: in the bytes read one character per byte where no other character holds
  // the quote's byte (UTF-8; GB's later bytes are 0x30 and up), else the text up to the last quote encoded again (a
  // byte that did not decode then counts as U+FFFD's)
  const latin1 = "DECODE(__bytes, 'ISO-8859-1')";
  const qend = spec.encoding === "utf-8" || spec.quote.charCodeAt(0) < 0x30
    ? `LENGTH(${latin1}) - LOCATE(${qc}, REVERSE(${latin1})) + 1`
    : `OCTET_LENGTH(ENCODE(SUBSTRING(__text, 1, LENGTH(__text) - LOCATE(${qc}, REVERSE(__text)) + 1), ${charset}))`;
  return [{
    view: "decoded",
    cache: "disk", // every line's text
    // only a line with an odd number of quotes can leave one open, or close one; __qend is wanted there, and where
    // the line alone is longer than MAX_RECORD_BYTES (elsewhere 0: the record is too short to be cut)
    sql: `SELECT __file, __line, __byte, __cr, __last, __text, ${bad} AS __bad, __odd AND __text RLIKE ${
      str(re.leftOpen)
    } AS __open,
  IF(__odd OR OCTET_LENGTH(__bytes) > ${MAX_RECORD_BYTES}, ${qend}, 0)
  AS __qend, __quotes > 0 AS __quoted
FROM (SELECT *, __quotes % 2 = 1 AS __odd FROM (SELECT *, LENGTH(${structural}) - LENGTH(REPLACE(${structural}, ${qc}, '')) AS __quotes
  FROM (${decode})))`,
  }, {
    view: "edges",
    cache: true,
    // per bucket of GAP_BUCKET lines (the window runs per bucket, in parallel): each candidate with the next stop
    // after it in its bucket (__stop), and each bucket's first stop (__first), on the quoted lines of files where a
    // line is left open (a line without a quote stays inside one). A stop: a line that does not stay open
    sql: `SELECT __file, __line, __byte, __open, __bucket, __stop, __first FROM (
  SELECT *, MIN(__s) OVER (PARTITION BY __file, __bucket ORDER BY __line DESC
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS __stop,
    MIN(__s) OVER (PARTITION BY __file, __bucket ORDER BY __line DESC
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS __first
  FROM (SELECT __file, __line, __byte, __open, __line DIV ${GAP_BUCKET} AS __bucket, CASE WHEN __text RLIKE ${
      str(re.closes)
    } THEN NAMED_STRUCT('line', __line, 'q', 'E', 'qend', __byte + __qend) WHEN NOT __text RLIKE ${
      str(re.staysOpen)
    } THEN NAMED_STRUCT('line', __line, 'q', 'X', 'qend', __byte + __qend) END AS __s
    FROM decoded d LEFT SEMI JOIN (SELECT DISTINCT __file FROM decoded WHERE __open) o ON o.__file = d.__file
    WHERE __quoted))
WHERE __open OR __s.line = __first.line`,
  }, {
    view: "multi",
    cache: true,
    // a candidate's stop: the next in its bucket, else the first of a later bucket (a window over the candidates
    // and one row per bucket, per file). __covered: the lines that continued the file's records before this one
    sql: `SELECT __file, __line, __end, COALESCE(SUM(__end - __line) OVER (PARTITION BY __file ORDER BY __line
  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS __covered FROM (SELECT __file, __line, __end FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY __file, __run ORDER BY __line) AS __k FROM (
    SELECT *, SUM(IF(__linked, 0, 1)) OVER (PARTITION BY __file ORDER BY __line ROWS UNBOUNDED PRECEDING) AS __run
    FROM (SELECT *, COALESCE(LAG(__ok) OVER w AND LAG(__end) OVER w = __line, FALSE) AS __linked FROM (
      SELECT __file, __line, __stop.line AS __end,
        COALESCE(__stop.q = 'E' AND __stop.qend - __byte <= ${MAX_RECORD_BYTES}, FALSE) AS __ok
      FROM (SELECT __file, __line, __byte, __open, COALESCE(__stop, MIN(__first) OVER (PARTITION BY __file
          ORDER BY __bucket RANGE BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)) AS __stop FROM edges)
      WHERE __open)
    WINDOW w AS (PARTITION BY __file ORDER BY __line)))
) WHERE __k % 2 = 1 AND __ok)`,
  }];
}

export interface SparkEtlOptions extends EtlOptions {
  /** Spark master URL: local[N], spark://host:port, … (default: local with every core). */
  master?: string;
  /** Further Spark settings (spark.sql.files.maxPartitionBytes, …). */
  sparkConf?: Record<string, string>;
  /** A running driver to use instead of starting one on `master` (its settings hold; sparkConf takes spark.sql.*). */
  driver?: SparkDriver;
}

/** Run the ETL on Spark; writes and returns the same report as runEtl. */
export async function runEtlSpark(opts: SparkEtlOptions): Promise<EtlReport & { spark: SparkResult }> {
  return timed("data", async () => {
    const t0 = performance.now();
    const spec = await specFor(opts.input, opts.spec);
    const files = await listInputFiles(opts.input, spec.files);
    const headers: string[][] = [], fromPaths: [string, string][][] = [];
    const parquet = new Map<number, ParquetField[]>(); // the Parquet files (by index) and the columns read
    for (const [k, path] of files.entries()) {
      const { columns: h, lines } = await readHeaderRecord(path, spec);
      const fromPath = pathColumns(opts.input, path, h, spec);
      checkHeader(path, [...h, ...fromPath.map(([c]) => c)], spec);
      headers.push(h);
      fromPaths.push(fromPath);
      if (isParquetInput(path, spec)) {
        parquet.set(k, parquetFields(path, spec));
        continue;
      }
      if (lines > 1) {
        throw new Error(
          `${path}: the header record spans more than one line (a quoted line break in a column name); the Spark ETL reads the header from the first line`,
        );
      }
      const byName = path.endsWith(".gz") ? "gzip" : path.endsWith(".deflate") ? "deflate" : null;
      if (compressionOf(path) !== byName) {
        throw new Error(
          `${path}: Spark recognises compression by the name (.gz, .deflate), and this file's name and content disagree`,
        );
      }
    }
    const names = files.map((p) => inputName(opts.input, p));
    await prepareOutput(opts.output);
    const fixedScenes = opts.scenes
      ? [...opts.scenes]
      : spec.scene?.values
      ? [...spec.scene.values]
      : spec.scene
      ? null
      : ["all"];
    const out = opts.output;
    const { inputs, steps } = etlSteps(spec, files, headers, fromPaths, parquet, names, fixedScenes, out);
    const spark = await runSparkPlan({
      app: "ctrlab etl",
      inputs,
      steps,
      conf: {
        "spark.sql.ansi.enabled": "false", // a value that does not parse is NULL (then quarantined), not an error
        "spark.sql.legacy.parquet.nanosAsLong": "true", // nanosecond timestamps as numbers (parquet.ts reads them)
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MILLIS",
        // a shuffle partition per 64 MiB of logs (on disk: a .gz file holds more)
        "spark.sql.shuffle.partitions": shufflePartitions(
          files.reduce((n, p) => n + pathBytes(p), 0),
          64 << 20,
        ),
        "spark.sql.legacy.javaCharsets": "true", // DECODE knows GB18030
        "spark.sql.legacy.codingErrorAction": "true", // bytes that do not decode become U+FFFD (then quarantined)
        ...opts.sparkConf,
      },
    }, opts.driver ?? opts.master);
    const got = spark.collected;
    const scenes = fixedScenes ?? (got.scenes as { v: string }[]).map((r) => r.v);
    // the quarantine as ctrlab writes it, from Spark's Parquet (row id order), in slices
    const quarantine = new QuarantineWriter(`${out}/${QUARANTINE_FILE}`);
    const qdir = `${out}/_spark_quarantine`;
    for (const part of partFiles(qdir)) {
      const df = pl.readParquet(part);
      for (let off = 0; off < df.height; off += 100_000) {
        for (const r of df.slice(off, 100_000).toRecords() as Record<string, string | number>[]) {
          quarantine.add(
            String(r.file),
            Number(r.line),
            r.byte === null ? null : Number(r.byte),
            Number(r.row_id),
            String(r.reason),
            String(r.column ?? ""),
            String(r.value ?? ""),
            String(r.raw ?? ""),
          );
        }
      }
    }
    quarantine.close();
    await Deno.remove(qdir, { recursive: true });
    const perFile = (got.files as { file: number; read: number; quarantined: number }[]).sort((a, b) =>
      a.file - b.file
    );
    const used = new Set(requiredColumns(spec));
    const report: EtlReport = {
      input: opts.input,
      output: out,
      spec: spec.name,
      files: names.map((file, k) => {
        const f = perFile.find((p) => p.file === k) ?? { read: 0, quarantined: 0 };
        const ignored = headers[k].filter((h) => !used.has(h));
        return {
          file,
          rowsRead: Number(f.read),
          rowsWritten: Number(f.read) - Number(f.quarantined),
          rowsQuarantined: Number(f.quarantined),
          ...(ignored.length ? { ignoredColumns: ignored } : {}),
        };
      }),
      rowsRead: 0,
      rowsWritten: 0,
      rowsQuarantined: 0,
      byReason: [...quarantine.counts.values()].sort((a, b) => b.rows - a.rows),
      partitions: (got.partitions as { date: string; scene: number; rows: number; clicks: number }[]).map((
        p,
      ) => ({
        date: p.date,
        scene: Number(p.scene),
        rows: Number(p.rows),
        clicks: Number(p.clicks),
      })).sort((a, b) => a.date.localeCompare(b.date) || a.scene - b.scene),
      scenes,
      quarantineFile: QUARANTINE_FILE,
      seconds: 0,
    };
    for (const f of report.files) {
      report.rowsRead += f.rowsRead;
      report.rowsWritten += f.rowsWritten;
      report.rowsQuarantined += f.rowsQuarantined;
    }
    const written = report.partitions.reduce((a, p) => a + p.rows, 0);
    if (
      written !== report.rowsWritten ||
      report.rowsQuarantined !== [...quarantine.counts.values()].reduce((a, c) => a + c.rows, 0)
    ) {
      throw new Error(
        `ETL reconciliation failed: ${written} rows in partitions, ${report.rowsWritten} read − quarantined; quarantine file and counts disagree`,
      );
    }
    report.seconds = (performance.now() - t0) / 1000;
    const schema: CleanSchema = { spec, scenes };
    await Deno.writeTextFile(`${out}/${SCHEMA_FILE}`, JSON.stringify(schema, null, 2));
    await Deno.writeTextFile(`${out}/${REPORT_FILE}`, JSON.stringify(report, null, 2));
    return { ...report, spark };
  });
}

/** The plan's inputs and SQL: records, their checks in etl.ts's order, the cleaned partitions and the quarantine. */
function etlSteps(
  spec: ResolvedSpec,
  files: string[],
  headers: string[][],
  fromPaths: [string, string][][],
  parquet: Map<number, ParquetField[]>,
  names: string[],
  fixedScenes: string[] | null,
  out: string,
): Pick<SparkPlan, "inputs" | "steps"> {
  // ctrlab's own columns start with "__" from the records on, so a log's columns (text, line, file…) cannot clash
  const d = spec.delimiter, qc = spec.quote;
  const inputs: SparkPlan["inputs"] = [];
  const steps: SparkStep[] = [];
  const csv = files.flatMap((path, file) => parquet.has(file) ? [] : [{ path, file }]);
  // the columns files take from their paths (etl.ts pathColumns): one value per file
  const pathNames = (file: number) => fromPaths[file].map(([c]) => c);
  const fromPath = (ks: number[], c: string) =>
    `CASE __file ${
      ks.map((k) => `WHEN ${k} THEN ${str(fromPaths[k].find(([n]) => n === c)![1])}`).join(" ")
    } END`;
  // Parquet files read together when the columns read have the same types
  const pqGroups = new Map<string, number[]>();
  for (const [k, fields] of parquet) {
    const key = JSON.stringify([fields.map(({ type: _t, ...f }) => f), pathNames(k)]);
    pqGroups.set(key, [...(pqGroups.get(key) ?? []), k]);
  }
  const counts: string[] = [];
  const [Q, D, E] = [literalRegex(qc), literalRegex(d), spec.escape ? literalRegex(spec.escape) : ""];
  if (csv.length) {
    inputs.push({ view: "lines", lines: csv });
    steps.push(...lineSteps(spec, Q, D, E));
    // records per file: its lines after the header, less those continuing a record
    counts.push(
      `SELECT __file AS file, SUM(n) AS n FROM (SELECT __file, COUNT(*) AS n FROM decoded GROUP BY __file
  UNION ALL SELECT __file, -SUM(__end - __line) FROM multi GROUP BY __file) GROUP BY __file`,
    );
  }
  [...pqGroups.values()].forEach((ks, g) => {
    inputs.push({
      view: `parquet${g}`,
      parquet: ks.map((file) => ({ path: files[file], file })),
      columns: parquet.get(ks[0])!.map((f) => f.name),
    });
    counts.push(`SELECT __file AS file, COUNT(*) AS n FROM parquet${g} GROUP BY __file`);
  });
  // row ids: record ordinals over the files in order
  steps.push({
    view: "bases",
    cache: true,
    sql:
      `SELECT file, COALESCE(SUM(n) OVER (ORDER BY file ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
  AS base FROM (${counts.join(" UNION ALL ")})`,
  });
  if (csv.length) {
    // a record per line, but for the multi-line records: their lines grouped and joined back. A record's row id
    // counts the lines before it, less those that continued earlier records (__covered). In a file with multi-line
    // records, the stretches of one-line records between them (gaps) are found per bucket of GAP_BUCKET lines, so a
    // line finds its stretch by a join on its file and bucket, wherever it is read, and is not moved. __qspan:
    // bytes from the record's start to the end of its last quote
    const S = GAP_BUCKET, first = firstRecordLine(spec);
    steps.push({
      view: "records",
      sql:
        `SELECT d.__file, d.__line, d.__byte, d.__text, d.__qend AS __qspan, b.base + d.__line - ${first} AS __row_id,
  d.__last, d.__bad
FROM decoded d LEFT ANTI JOIN multi m ON m.__file = d.__file JOIN bases b ON b.file = d.__file
UNION ALL
SELECT d.__file, d.__line, d.__byte, d.__text, d.__qend, b.base + d.__line - ${first} - g.__covered, d.__last, d.__bad
FROM decoded d JOIN (
  SELECT __file, EXPLODE(SEQUENCE(__from DIV ${S}, __to DIV ${S})) AS __bucket, __from, __to, __covered FROM (
    SELECT __file, __end + 1 AS __from, COALESCE(LEAD(__line) OVER (PARTITION BY __file ORDER BY __line) - 1, l.__final)
      AS __to, __covered + __end - __line AS __covered
    FROM multi JOIN (SELECT __file, MAX(__line) AS __final FROM decoded GROUP BY __file) l USING (__file)
    UNION ALL SELECT __file, ${first}, MIN(__line) - 1, 0 FROM multi GROUP BY __file)
  WHERE __from <= __to) g
  ON g.__file = d.__file AND g.__bucket = d.__line DIV ${S} AND d.__line BETWEEN g.__from AND g.__to
JOIN bases b ON b.file = d.__file
UNION ALL
SELECT r.__file, r.__line, r.__byte, r.__text, r.__qspan, b.base + r.__line - ${first} - r.__covered, r.__last, r.__bad
FROM (SELECT c.__file, c.__start AS __line, FIRST(c.__covered) AS __covered, MAX(d.__last) AS __last, MAX(d.__bad) AS __bad,
    MIN(d.__byte) AS __byte,
    MAX(d.__byte + d.__qend) - MIN(d.__byte) AS __qspan,
    ARRAY_JOIN(TRANSFORM(ARRAY_SORT(COLLECT_LIST(NAMED_STRUCT('at', d.__line, 'text', d.__text,
      'sep', IF(d.__line < c.__end, IF(d.__cr, '\\r\\n', '\\n'), '')))), l -> CONCAT(l.text, l.sep)), '') AS __text
  FROM decoded d JOIN (SELECT __file, EXPLODE(SEQUENCE(__line, __end)) AS __at, __line AS __start, __end, __covered
    FROM multi) c ON c.__file = d.__file AND c.__at = d.__line
  GROUP BY c.__file, c.__start) r JOIN bases b ON b.file = r.__file`,
    });
  }
  const keep = [...new Set(requiredColumns(spec))];
  // the spec's missing-value markers read as empty fields (etl.ts does the same per chunk)
  const markers = spec.missing ?? [];
  const orMissing = (e: string) =>
    markers.length
      ? `CASE WHEN LOWER(${trim(e)}) IN (${markers.map(str).join(", ")}) THEN '' ELSE ${e} END`
      : e;
  // CSV: one SELECT per distinct header, fields by position under that header, then by role
  const groups = new Map<string, number[]>();
  for (const { file } of csv) {
    const key = JSON.stringify([headers[file], pathNames(file)]);
    groups.set(key, [...(groups.get(key) ?? []), file]);
  }
  const { wellQuoted } = quoting(Q, D, E);
  const selects = [...groups].map(([key, ks]) => {
    const [header, named]: [string[], string[]] = JSON.parse(key);
    const schema = header.map((_, i) => `c${i} STRING`).join(", ");
    const stripped = spec.quote ? `REGEXP_REPLACE(__text, ${str(wellQuoted)}, '$1')` : "__text";
    const fields = `SIZE(SPLIT(${stripped}, ${str(D)}, -1))`;
    const options = `MAP('sep', ${str(d)}, 'quote', ${str(qc)}, 'escape', ${
      str(spec.escape ?? qc)
    }, 'mode', 'PERMISSIVE')`;
    const col = (c: string) => named.includes(c) ? fromPath(ks, c) : `f.c${header.indexOf(c)}`;
    // a quote left in the text once the well-quoted fields are gone, or a record cut past MAX_RECORD_BYTES
    const broken = `INSTR(${stripped}, ${str(qc)}) > 0 OR __qspan > ${MAX_RECORD_BYTES}`;
    return `SELECT __row_id, __file, __line, __byte, __text, __last, __fields, CASE
    WHEN ${qc ? broken : "FALSE"} THEN 'broken_quoting'
    WHEN __text = '' THEN 'empty_line'
    WHEN __bad THEN 'bad_encoding'
    WHEN __fields <> ${header.length} THEN 'wrong_column_count' END AS __record_reason, ${header.length} AS __width,
  ${keep.map((c) => `${orMissing(col(c))} AS ${q(c)}`).join(", ")},
  CONCAT_WS(${str(d)}, ${[...header, ...named].map((c) => csvField(col(c))).join(", ")}) AS __raw
FROM (SELECT *, ${fields} AS __fields, FROM_CSV(__text, ${str(schema)}, ${options}) AS f FROM records
  WHERE __file IN (${ks.join(", ")}))`;
  });
  // Parquet: a row is a well-formed record (line: its number in the file, no byte offset) of the columns read
  [...pqGroups.values()].forEach((ks, g) => {
    const fields = parquet.get(ks[0])!, named = pathNames(ks[0]), width = fields.length + named.length;
    const col = (c: string) => named.includes(c) ? fromPath(ks, c) : `p.${q(c)}`;
    selects.push(
      `SELECT b.base + p.__row AS __row_id, p.__file, p.__row + 1 AS __line, CAST(NULL AS BIGINT) AS __byte,
  '' AS __text, FALSE AS __last, ${width} AS __fields, CAST(NULL AS STRING) AS __record_reason, ${width} AS __width,
  ${keep.map((c) => `${orMissing(col(c))} AS ${q(c)}`).join(", ")},
  CONCAT_WS(${str(d)}, ${[...fields.map((f) => f.name), ...named].map((c) => csvField(col(c))).join(", ")})
  AS __raw
FROM (SELECT __file, __row, ${fields.map((f) => `${parquetTextSql(f, q(f.name))} AS ${q(f.name)}`).join(", ")}
  FROM parquet${g}) p JOIN bases b ON b.file = p.__file`,
    );
  });
  // the scene list: fixed by the spec, or values in order of first appearance among well-formed records
  const sceneCol = spec.scene ? q(spec.scene.column) : null;
  const dynamic = !!sceneCol && !fixedScenes;
  // materialised where the scene list reads it too; else it is read once, by judged
  steps.push({ view: "parsed", cache: dynamic && "disk", sql: selects.join("\nUNION ALL\n") });
  if (dynamic) {
    steps.push({
      view: "scenes",
      cache: true,
      sql: `SELECT v, CAST(ROW_NUMBER() OVER (ORDER BY first) - 1 AS INT) AS idx FROM
  (SELECT ${trim(sceneCol)} AS v, MIN(__row_id) AS first FROM parsed WHERE __record_reason IS NULL
   AND NOT ${blank(sceneCol)} GROUP BY ${trim(sceneCol)})`,
    });
    steps.push({ collect: "scenes", sql: "SELECT v FROM scenes ORDER BY idx" });
  }
  const sceneIdx = !sceneCol
    ? "0"
    : dynamic
    ? "s.idx"
    : `CASE ${trim(`p.${sceneCol}`)} ${fixedScenes!.map((v, i) => `WHEN ${str(v)} THEN ${i}`).join(" ")} END`;
  const labels = [...spec.label.positive, ...spec.label.negative].map((v) => str(v.toLowerCase())).join(", ");
  const label = `LOWER(${trim(q(spec.label.column))})`;
  steps.push({
    view: "checked", // read once, by judged (cached): not materialised itself
    sql: `SELECT *, CAST(FLOOR(__ms / ${DAY}) AS INT) AS __day FROM (SELECT p.*, ${
      timeSql(`p.${q(spec.time.column)}`, spec.time.format, spec.time)
    } AS __ms, ${sceneIdx} AS __scene_idx${
      spec.numeric.map((n, k) => `, CAST(${trim(`p.${q(n.column)}`)} AS DOUBLE) AS __num${k}`).join("")
    }
FROM parsed p${dynamic ? ` LEFT JOIN scenes s ON s.v = ${trim(`p.${sceneCol}`)}` : ""})`,
  });
  // value checks in role order (etl.ts valueChecks): the first failing one names reason and column
  const checks: { column: string; missing: string; bad: string }[] = [
    { column: spec.user, missing: blank(q(spec.user)), bad: "FALSE" },
    { column: spec.item, missing: blank(q(spec.item)), bad: "FALSE" },
    ...(sceneCol
      ? [{ column: spec.scene!.column, missing: blank(sceneCol), bad: "__scene_idx IS NULL" }]
      : []),
    { column: spec.time.column, missing: blank(q(spec.time.column)), bad: "__ms IS NULL" },
    { column: spec.label.column, missing: blank(q(spec.label.column)), bad: `NOT (${label} IN (${labels}))` },
    ...spec.numeric.map((n, k) => ({
      column: n.column,
      missing: "FALSE",
      bad: `(__num${k} IS NULL AND ${q(n.column)} IS NOT NULL AND ${q(n.column)} <> '')`,
    })),
  ];
  const when = (pick: "reason" | "column") =>
    checks.flatMap((c) =>
      [[c.missing, "missing_value"], [c.bad, "bad_value"]].map(([cond, reason]) =>
        `WHEN ${cond} THEN ${str(pick === "reason" ? reason : c.column)}`
      )
    ).join(" ");
  const valueCol = `CASE ${
    checks.flatMap((c) => [c.missing, c.bad].map((cond) => `WHEN ${cond} THEN ${q(c.column)}`)).join(" ")
  } END`;
  steps.push({
    view: "judged",
    cache: "disk", // every record's text and fields
    sql: `SELECT *,
  COALESCE(__record_reason, CASE ${when("reason")} END) AS __reason,
  IF(__record_reason IS NULL, CASE ${when("column")} END, '') AS __reason_column,
  CASE WHEN __record_reason IN ('wrong_column_count', 'empty_line')
    THEN CONCAT(__fields, ' fields, expected ', __width)
    ${spec.quote ? `WHEN __record_reason = 'broken_quoting' THEN ${quoteErrorSql(spec, Q, D, E)}` : ""}
    WHEN __record_reason = 'bad_encoding' THEN ${encodingErrorSql(spec)}
    ELSE ${valueCol} END AS __reason_value
FROM checked`,
  });
  const positive = spec.label.positive.map((v) => str(v.toLowerCase())).join(", ");
  const textCols = spec.text.map((t) => t.column), cats = spec.categorical.map((c) => c.column);
  steps.push({
    write: { path: out, compression: "snappy", partitionBy: ["date", "scene"] },
    // rows gathered by partition (REBALANCE: a few part files per partition, not one per task that holds its
    // rows; AQE splits a large one), each file in row order
    sql: `SELECT /*+ REBALANCE(date, scene) */ __row_id AS row_id, ${trim(q(spec.user))} AS user_id, ${
      trim(q(spec.item))
    } AS item_id,
  CAST(TIMESTAMP_MILLIS(__ms) AS TIMESTAMP_NTZ) AS log_time, CAST(${label} IN (${positive}) AS INT) AS label${
      textCols.map((c) => `, COALESCE(${q(c)}, '') AS ${q(c)}`).join("")
    }${spec.numeric.map((n, k) => `, __num${k} AS ${q(n.column)}`).join("")}${
      cats.map((c) => `, ${trim(q(c))} AS ${q(c)}`).join("")
    }, CAST(DATE_FROM_UNIX_DATE(__day) AS STRING) AS date, CAST(__scene_idx AS INT) AS scene
FROM judged WHERE __reason IS NULL SORT BY date, scene, row_id`,
  });
  steps.push({
    write: { path: `${out}/_spark_quarantine`, compression: "snappy" },
    sql: `SELECT /*+ REPARTITION(1) */ CASE __file ${
      names.map((n, k) => `WHEN ${k} THEN ${str(n)}`).join(" ")
    } END AS file,
  __line AS line, __byte AS byte, __row_id AS row_id, __reason AS reason, __reason_column AS column,
  COALESCE(__reason_value, '') AS value, IF(__record_reason IS NULL, __raw, __text) AS raw
FROM judged WHERE __reason IS NOT NULL SORT BY __row_id`,
  });
  steps.push({
    collect: "files",
    sql:
      "SELECT __file AS file, COUNT(*) AS read, SUM(IF(__reason IS NULL, 0, 1)) AS quarantined FROM judged GROUP BY __file",
  });
  steps.push({
    collect: "partitions",
    sql: `SELECT CAST(DATE_FROM_UNIX_DATE(__day) AS STRING) AS date, __scene_idx AS scene, COUNT(*) AS rows,
  SUM(CAST(${label} IN (${positive}) AS INT)) AS clicks FROM judged WHERE __reason IS NULL GROUP BY 1, 2`,
  });
  return { inputs, steps };
}

/**
 * The ETL on the run's engine: ctrlab's own streaming reader (polars), or Spark on `master`. A run that writes
 * no record stops here, naming the input and where its quarantined records are: nothing later can use it.
 */
export async function runEtlOn(
  engine: "polars" | "spark",
  opts: SparkEtlOptions,
): Promise<EtlReport> {
  const r = await (engine === "spark" ? runEtlSpark(opts) : runEtl(opts));
  if (r.rowsWritten === 0) {
    throw new Error(
      `${opts.input}: no valid records (read ${r.rowsRead}, quarantined ${r.rowsQuarantined}${
        r.rowsQuarantined ? `; each with its file, line and reason in ${opts.output}/${QUARANTINE_FILE}` : ""
      }): nothing to build features from`,
    );
  }
  return r;
}
