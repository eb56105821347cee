/**
 * A dataset spec guessed from a log ctrlab does not know: the encoding, the delimiter, each column's role (by its
 * name, then by its values), the time format that reads the sampled times, and the label's spellings. It is a
 * start for the user to check, printed when a header matches no built-in layout; nothing here runs the ETL.
 */
import pl from "nodejs-polars";
import { headBytes, isParquet, splitLine } from "./csv.ts";
import { isTypedTime, parquetField, parquetImage, parquetSchema } from "./parquet.ts";
import { ANTM2C_TIME_FORMATS, type DatasetSpec, isInstantFormat, type TextColumn } from "./spec.ts";
import { patternMs } from "./times.ts";
import { literalRegex } from "./spark.ts";

/** What the guess was read from: the sampled file and how many of its records. */
export interface Sniffed {
  spec: DatasetSpec;
  file: string;
  /** The file's column names, or (`headerless`) the names the guess gives its columns: `_c0`, `_c1`, … as Spark does. */
  header: string[];
  /** The first line is a record, not a header (Hive's and Spark's text output). */
  headerless: boolean;
  records: number;
}

/** Hive's default delimiter for text tables, Ctrl-A: its text files quote nothing. */
const HIVE = "\u0001";
/** Comma, tab, semicolon, bar and Ctrl-A. */
const DELIMITERS = [",", "\t", ";", "|", HIVE];
/** The quote a delimiter's files are guessed to use: `"`, or none for Hive's. */
const quoteFor = (delimiter: string) => delimiter === HIVE ? "" : '"';
/**
 * Whether sampled lines escape quotes with a backslash, as Spark's CSV writer does: more lines hold `\"` than double
 * a quote inside a field (an empty field, `""`, aside).
 */
export function backslashEscaped(lines: string[], delimiter: string): boolean {
  const D = literalRegex(delimiter);
  const doubled = new RegExp(`(?<!^|${D})""|""(?!$|${D})`);
  const count = (test: (l: string) => boolean) => lines.filter(test).length;
  return count((l) => l.includes('\\"')) > count((l) => doubled.test(l));
}
/** Hive's and MySQL's text for a missing value: read as one when the sample holds it. */
const NULL_TEXT = "\\N";
/** Time layouts tried on a column's values, in order of preference where several read them all. */
const TIME_FORMATS = [
  ...ANTM2C_TIME_FORMATS,
  "%Y-%m-%d %H:%M:%S%.f",
  "%Y-%m-%dT%H:%M:%S%.f",
  "%Y-%m-%dT%H:%M:%S%.f%#z",
  "%Y-%m-%d %H:%M:%S%.f%#z",
  "%Y/%m/%d %H:%M:%S",
  "%d/%b/%Y:%H:%M:%S %z",
  "%Y-%m-%d %H:%M",
  "%Y%m%d%H%M%S",
  "%Y-%m-%d",
  "%Y%m%d",
  "%m/%d/%Y %H:%M:%S",
  "%d/%m/%Y %H:%M:%S",
  "%m/%d/%Y %H:%M",
  "%d/%m/%Y %H:%M",
  "%d.%m.%Y %H:%M:%S",
];
const POSITIVE = ["1", "1.0", "true", "yes", "y", "t", "click", "clicked", "positive", "pos"];
const NEGATIVE = ["0", "0.0", "false", "no", "n", "f", "-1", "noclick", "negative", "neg"];
const NAMES = {
  user: /user|uid|member|customer|visitor/i,
  item: /item|iid|ad_?id|^ad$|product|doc|video|goods|sku/i,
  time: /time|date|^ts$|_ts$|timestamp|^when$|^t$/i,
  label: /label|click|clk|target|^y$/i,
  scene: /scene|scenario|domain|surface|channel|page|slot/i,
  userText: /query|search|bill|service/i,
};
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const [EPOCH_FROM, EPOCH_TO] = [Date.UTC(2000, 0, 1), Date.UTC(2100, 0, 1)];

/** The time format(s) that read a column's sampled values (most of them: 90 %), or null. */
export function sniffTimeFormat(values: string[], epochToo: boolean): string[] | null {
  const v = values.map((x) => x.trim()).filter((x) => x !== "");
  if (v.length === 0) return null;
  if (epochToo && v.every((x) => /^\d+(\.\d+)?$/.test(x))) { // seconds or milliseconds since 1970, 2000–2100
    for (const [format, unit] of [["epoch_s", 1000], ["epoch_ms", 1]] as const) {
      if (v.every((x) => Number(x) * unit >= EPOCH_FROM && Number(x) * unit < EPOCH_TO)) return [format];
    }
  } // not epoch times: digits may still be a layout such as %Y%m%d
  const df = pl.DataFrame({ t: v });
  const reads = TIME_FORMATS.map((f) =>
    df.select(patternMs(pl.col("t"), f).isNotNull().alias("ok")).getColumn("ok").toArray() as boolean[]
  );
  // greedily: the format that reads most of what is left, until none reads more
  const chosen: string[] = [];
  let left = v.map((_, i) => i);
  for (;;) {
    const gain = reads.map((r) => left.filter((i) => r[i]).length);
    const best = gain.indexOf(Math.max(...gain));
    if (gain[best] === 0) break;
    chosen.push(TIME_FORMATS[best]);
    left = left.filter((i) => !reads[best][i]);
  }
  return chosen.length && left.length <= 0.1 * v.length ? chosen : null;
}

/** The sample's text: the file's first MiB decoded (UTF-8, or GBK when that is not valid UTF-8), whole lines only. */
async function sampleText(path: string): Promise<{ text: string; encoding: string }> {
  const max = 1 << 20, head = await headBytes(path, max);
  const bytes = head.length === max ? head.subarray(0, head.lastIndexOf(0x0a) + 1) : head; // a cut may split a character
  for (const encoding of ["utf-8", "gbk"]) {
    try {
      return { text: new TextDecoder(encoding, { fatal: true }).decode(bytes), encoding };
    } catch { /* the next */ }
  }
  return { text: new TextDecoder().decode(bytes), encoding: "utf-8" };
}

/**
 * Whether a text file's first row names its columns rather than holding values like the rows below it: a column
 * whose values are all numbers votes for a header when its first field is not one, and for a record when it is;
 * so does any other column when its first field is among its values. Empty or repeated names make it a record.
 */
export function looksLikeHeader(first: string[], rest: string[][]): boolean {
  const names = first.map((x) => x.trim());
  if (names.some((x) => x === "") || new Set(names).size < names.length) return false;
  let header = 0, record = 0;
  names.forEach((name, k) => {
    const v = rest.map((r) => r[k].trim()).filter((x) => x !== "" && x !== NULL_TEXT);
    if (v.length === 0) return;
    if (v.every((x) => NUMBER.test(x))) NUMBER.test(name) ? record++ : header++;
    else if (v.includes(name)) record++;
  });
  return header >= record;
}

/** Header and sampled rows (as text) of a CSV or Parquet file, with the dialect that splits them most evenly. */
async function sample(path: string, rows: number) {
  if (isParquet(path)) {
    // the columns ctrlab can read, as the ETL turns them to text (lists joined by commas); typed times apart
    const fields = parquetSchema(path).map(([name, dtype]) => parquetField(name, dtype, ","))
      .filter((f) => typeof f !== "string");
    const df = parquetImage(path, fields).head(rows).collectSync();
    const records = df.rows().map((r) => r.map((x) => x === null ? "" : String(x)));
    const typedTimes = new Map(fields.filter(isTypedTime).map((f) => [f.name, f.kind === "instant"]));
    return {
      header: df.columns,
      records,
      encoding: "utf-8",
      delimiter: ",",
      parquet: true,
      escape: "",
      headerless: false,
      typedTimes,
    };
  }
  const { text, encoding } = await sampleText(path);
  const lines = text.replace(/^\uFEFF/, "").split("\n").map((l) => l.replace(/\r$/, "")).slice(0, rows + 1);
  let best = { delimiter: ",", score: -1 };
  for (const d of DELIMITERS) {
    const n = splitLine(lines[0], d, quoteFor(d)).length;
    const even = lines.slice(1).filter((l) => l !== "" && splitLine(l, d, quoteFor(d)).length === n).length;
    const score = n < 2 ? -1 : even * 1000 + n;
    if (score > best.score) best = { delimiter: d, score };
  }
  const escape = quoteFor(best.delimiter) && backslashEscaped(lines, best.delimiter) ? "\\" : "";
  const split = (l: string) => splitLine(l, best.delimiter, quoteFor(best.delimiter), escape);
  const first = split(lines[0]);
  const rest = lines.slice(1).map(split).filter((r) => r.length === first.length);
  const headerless = !looksLikeHeader(first, rest);
  return {
    header: headerless ? first.map((_, k) => `_c${k}`) : first.map((h) => h.trim()),
    records: headerless ? [first, ...rest] : rest,
    encoding,
    delimiter: best.delimiter,
    escape,
    parquet: false,
    headerless,
    typedTimes: new Map(),
  };
}

/** The files' common ending (".csv", ".csv.gz", ".tsv", …) as a glob, or every file. */
function filesGlob(files: string[]): string {
  const ends = new Set(files.map((f) => /(\.[A-Za-z0-9]+(\.gz)?)$/.exec(f.split("/").pop()!)?.[1] ?? ""));
  const [end] = [...ends];
  return ends.size === 1 && end ? `**/*${end}` : "**/*";
}

/**
 * A spec guessed from `path` (the first of `files`, the input's files): names first, then values — a column
 * whose values a time format reads is the time, two label-like spellings are the label, all-numeric columns
 * are numeric, long or spaced text is text, other columns with repeats are categorical. `fromPath`: the
 * `column=value` folders above the file (etl.ts hiveFolders), columns it takes when it lacks them.
 */
export async function sniffSpec(
  path: string,
  files: string[],
  fromPath: [string, string][] = [],
  rows = 200,
): Promise<Sniffed> {
  const s = await sample(path, rows);
  const own = [...s.header]; // the file's columns (a file without a header: named by position)
  // columns the file lacks that its folders name (Hive's column=value), as the ETL reads them
  for (const [c, v] of fromPath.filter(([c]) => !s.header.includes(c))) {
    s.header.push(c);
    for (const r of s.records) r.push(v);
  }
  // Hive's \N for a missing value, when the sample holds it, is read as an empty field
  const missing = s.records.some((r) => r.some((x) => x.trim() === NULL_TEXT)) ? [NULL_TEXT] : [];
  // each column's sampled values (trimmed) and its distinct non-empty ones, computed once
  const column = new Map(s.header.map((c, k) => {
    const v = s.records.map((r) => r[k].trim()).map((x) => missing.includes(x) ? "" : x);
    return [c, { values: v, distinct: [...new Set(v)].filter((x) => x !== "") }];
  }));
  const values = (c: string) => column.get(c)!.values;
  const spellings = (c: string) => column.get(c)!.distinct;
  const byName = (re: RegExp, not: (string | undefined)[] = []) =>
    s.header.find((h) => re.test(h) && !not.includes(h));
  let user = byName(NAMES.user);
  let item = byName(NAMES.item, [user]);
  // the time: a time-like name whose values a format reads (epoch numbers only there, or in a file without
  // names), else any column's times
  let time: { column: string; format: string[] } | undefined;
  for (const c of [...s.header.filter((h) => NAMES.time.test(h)), ...s.header]) {
    if (c === user || c === item) continue;
    // a Parquet timestamp is read as typed ("timestamp"); one with a time zone holds instants
    const typed = s.typedTimes.get(c);
    const format = typed === undefined
      ? sniffTimeFormat(values(c), NAMES.time.test(c) || s.headerless)
      : ["timestamp"];
    if (format) {
      time = { column: c, format };
      break;
    }
  }
  const labelLike = (c: string) =>
    spellings(c).length === 2 &&
    spellings(c).every((v) => [...POSITIVE, ...NEGATIVE].includes(v.toLowerCase()));
  const taken = [user, item, time?.column];
  const label = byName(NAMES.label, taken) ?? s.header.find((h) => !taken.includes(h) && labelLike(h));
  if (s.headerless) { // no names to go by: the first two columns of ids (short ASCII words, not fractions or lists)
    const id = (v: string) => /^[\x21-\x7e]{1,64}$/.test(v) && !/[,;|#]|^[+-]?\d*\.\d/.test(v);
    [user, item] = s.header.filter((c) =>
      c !== time?.column && c !== label && spellings(c).length > 2 && spellings(c).every(id)
    );
    taken.splice(0, 2, user, item);
  }
  const scene = byName(NAMES.scene, [...taken, label]);
  const used = new Set([user, item, time?.column, label, scene]);
  const rest = s.header.filter((h) => !used.has(h));
  const isNumeric = (c: string) => spellings(c).length > 0 && spellings(c).every((v) => NUMBER.test(v));
  const share = (v: string[], re: RegExp) => v.filter((x) => re.test(x)).length / v.length;
  // text: spaced words, long values, or titles in a script without spaces (CJK); entity lists split by a sign
  const textOf = (c: string): TextColumn | null => {
    const v = spellings(c);
    if (v.length === 0 || isNumeric(c)) return null;
    const side = NAMES.userText.test(c) ? "user" as const : "item" as const;
    const sep = [",", "|", ";", "#"].find((d) =>
      // a list of short names, not prose that holds the sign
      share(v, new RegExp(`\\${d}`)) >= 0.3 &&
      share(v.flatMap((x) => x.split(d).map((e) => e.trim())), /\s/) < 0.1
    );
    if (sep) return { column: c, side, entities: sep };
    const long = v.reduce((a, x) => a + x.length, 0) / v.length;
    return share(v, /\s/) >= 0.3 || long >= 16 || (share(v, /\P{ASCII}/u) >= 0.5 && long >= 6)
      ? { column: c, side }
      : null;
  };
  const text = rest.map(textOf).filter((t) => t !== null);
  const numeric = rest.filter((c) => isNumeric(c) && !/id$/i.test(c));
  // categorical: what is left and repeats in the sample (a value per record, like a request id, is left out)
  const categorical = rest.filter((c) =>
    !text.some((t) => t.column === c) && !numeric.includes(c) &&
    spellings(c).length < Math.max(2, 0.9 * values(c).length)
  );
  const seen = label ? spellings(label) : [];
  const spelt = (words: string[], otherwise: string) => {
    const v = seen.filter((x) => words.includes(x.toLowerCase()));
    return v.length ? v : [otherwise];
  };
  const format = time?.format ?? ["%Y-%m-%d %H:%M:%S"];
  const spec: DatasetSpec = {
    name: "my-logs",
    files: filesGlob(files),
    // Parquet is recognised by content, file by file (a Hive table may hold text files beside it)
    ...(s.parquet ? {} : { delimiter: s.delimiter, encoding: s.encoding }),
    ...(!s.parquet && !quoteFor(s.delimiter) ? { quote: null } : {}),
    ...(s.escape ? { escape: s.escape } : {}),
    ...(s.headerless ? { columns: own } : {}),
    user: user ?? "USER_ID_COLUMN",
    item: item ?? "ITEM_ID_COLUMN",
    time: {
      column: time?.column ?? "TIME_COLUMN",
      format: format.length === 1 ? format[0] : format,
      // instants: the zone the days begin in
      ...(format.some(isInstantFormat) || time && s.typedTimes.get(time.column) ? { zone: "UTC" } : {}),
    },
    label: {
      column: label ?? "LABEL_COLUMN",
      positive: spelt(POSITIVE, "1"),
      negative: spelt(NEGATIVE, "0"),
    },
    scene: scene ? { column: scene } : null,
    text,
    numeric,
    categorical,
    ...(missing.length ? { missing } : {}),
  };
  return { spec, file: path, header: s.header, headerless: s.headerless, records: s.records.length };
}

/** What a guess was read from, for its message: the column names, or (no header) the values alone. */
export const guessedFrom = (g: Sniffed) =>
  g.headerless
    ? `the values of the first ${g.records} records (the first line is a record, not a header: "columns" names ` +
      `the columns by position; give them your names)`
    : `the column names and the first ${g.records} records`;

/** What a guessed spec cannot know about its times: where the log's days begin, and how to say so. */
export function timeHint(spec: DatasetSpec): string {
  return spec.time.zone
    ? `Its times are instants: set time.zone to where the log's days begin, e.g. "Asia/Shanghai" or "+08:00".`
    : `Its times carry no offset: they are taken as the wall clock where the log's days begin. If they are ` +
      `written in UTC, add "zone" (where the days begin, e.g. "Asia/Shanghai") and "naive": "UTC" to time.`;
}
