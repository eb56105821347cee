/**
 * The dataset spec: one JSON or YAML file that says how a click log is laid out — its files, CSV dialect and
 * encoding, and each column's role (FuxiCTR's dataset_config in spirit). The ETL maps any log it describes to
 * the one cleaned layout every later stage reads; the scene list, text sides, numeric and categorical inputs
 * downstream all come from it (through the cleaned data's `_dataset.json`), never from constants.
 *
 * Two specs are built in: `antm2c` (the public release as it ships: 37 columns, deep_features_* as numeric
 * inputs, files without an extension) and `antm2c-10` (the ten-column layout ctrlab's generator writes).
 * `detectSpec` recognises both from a header; an unknown header gets an error listing its columns and a spec
 * to start from.
 */
import { parse as parseYaml } from "yaml";

export type TextSide = "user" | "item";

export interface TextColumn {
  column: string;
  /** Whose text it is: the user's (queries, services, bills) or the item's (title, entity names). */
  side: TextSide;
  /** The field is a list of entities split by this separator (they get an entity vocabulary). */
  entities?: string;
}

export interface NumericColumn {
  column: string;
  /** Transform before standardisation (fitted on training days): "none" (default) or "log1p" (counts, prices). */
  transform?: "none" | "log1p";
  /** A missing value: the training mean ("mean", the default) or this raw value. */
  fill?: "mean" | number;
}

export interface CategoricalColumn {
  column: string;
  /** Values seen fewer times on training days map to the out-of-vocabulary index 0 (default 1). */
  minCount?: number;
}

export interface DatasetSpec {
  name: string;
  /** Input files under the data path: glob(s) relative to it (`*`, `**`, `?`); default every non-hidden file. */
  files?: string | string[];
  /** "csv" (plain or gzip-compressed, recognised by content) or "parquet"; default: by each file's content. */
  format?: "csv" | "parquet";
  /**
   * Text files without a header row (Hive's and Spark's text output, `hadoop fs -getmerge`): their columns, in
   * order. The first line is then a record. Parquet files name their own columns.
   */
  columns?: string[];
  delimiter?: string;
  /**
   * The quote character (default `"`), or null for none: Hive's text files quote nothing, so a `"` is text, every
   * delimiter splits and every line break ends a record.
   */
  quote?: string | null;
  /**
   * Inside a quoted field, this character before the quote or before itself stands for that character (Spark's
   * CSV writer's default, a backslash: `"a \"b\" c"`); elsewhere it is text. Default: none, a quote is doubled
   * (RFC 4180).
   */
  escape?: string;
  /** "utf-8" (default), "gbk" or "gb18030". */
  encoding?: string;
  user: string;
  item: string;
  /**
   * Time column; format: strptime patterns (tried in order), "epoch_s" or "epoch_ms", or "timestamp" for a Parquet
   * timestamp or date column (read as typed: with a time zone it is an instant, without one wall-clock time). zone: where the log's days
   * begin, a time zone name ("Asia/Shanghai") or a fixed offset ("+08:00"): instants (epoch numbers, times with
   * an offset such as %z) become that zone's wall-clock time, and times without an offset are read as its wall
   * clock already — unless `naive` gives the offset they are written in ("UTC" or "+hh:mm", as servers often
   * log), which makes them instants too. Without a zone, instants are read in UTC.
   */
  time: { column: string; format: string | string[]; zone?: string; naive?: string };
  /** Label column and its accepted spellings (compared trimmed, case-insensitively). */
  label: { column: string; positive?: string[]; negative?: string[] };
  /** The scene (task) column and its values in task order; values omitted: discovered in order of appearance. No scene: one task. */
  scene?: { column: string; values?: string[] } | null;
  text?: TextColumn[];
  /** Dense inputs: missing values are imputed (the training mean, or a given value), then standardised on training days. */
  numeric?: (string | NumericColumn)[];
  /** Further categorical inputs, embedded like the ids (vocabulary on training days, 0 = unseen or missing). */
  categorical?: (string | CategoricalColumn)[];
  /** The temporal split: the last `testDays` days test, the `valDays` before them validate (default 3 and 3). */
  split?: { valDays?: number; testDays?: number };
  /**
   * Field values that mean "no value", like an empty field (compared trimmed, case-insensitively): e.g. "NULL",
   * "\\N" (Hive's), "NA". Default: only the empty field.
   */
  missing?: string[];
}

/** A spec with every default filled in and column lists normalised. */
export interface ResolvedSpec extends
  Required<
    Omit<
      DatasetSpec,
      | "scene"
      | "numeric"
      | "categorical"
      | "files"
      | "format"
      | "columns"
      | "quote"
      | "escape"
      | "time"
      | "label"
      | "split"
      | "missing"
    >
  > {
  files: string[];
  /** The quote character, or "" for none. */
  quote: string;
  /** The escape character inside quoted fields; absent: a quote is doubled. */
  escape?: string;
  /** Text files have no header: these are their columns. */
  columns?: string[];
  time: TimeSpec;
  label: { column: string; positive: string[]; negative: string[] };
  format?: "csv" | "parquet";
  scene: { column: string; values?: string[] } | null;
  numeric: NumericColumn[];
  categorical: CategoricalColumn[];
  split?: { valDays?: number; testDays?: number };
  /** The spec's missing-value markers, trimmed and lower-cased (absent: only the empty field). */
  missing?: string[];
}

export const DEFAULT_POSITIVE = ["1", "1.0", "true"];
export const DEFAULT_NEGATIVE = ["0", "0.0", "false"];
export const ENCODINGS = ["utf-8", "gbk", "gb18030"];
/** The two log_time layouts seen in AntM2C dumps. */
export const ANTM2C_TIME_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"];
/**
 * `time.format: "timestamp"`: a Parquet timestamp or date column, read as typed. Its values reach the records as
 * text in one of two layouts (lib/data/parquet.ts), read back by these patterns: wall-clock time (a timestamp
 * without a time zone, or a date) and an instant in UTC (a timestamp with one).
 */
export const TIMESTAMP_FORMATS = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f%#z"];
/** The times a strptime pattern may give, [0001-01-01, 10000-01-01) in epoch ms: both engines quarantine the rest. */
export const TIME_RANGE_MS = [-62_135_596_800_000, 253_402_300_800_000] as const;
/** The spec's time formats as a reader says them: `timestamp` for TIMESTAMP_FORMATS, else the formats joined. */
export const timeFormatText = (formats: string[]) =>
  formats.join() === TIMESTAMP_FORMATS.join() ? "timestamp (Parquet, read as typed)" : formats.join(" or ");
/** Whether a time format reads an instant (an epoch number, or a pattern with an offset or %s), not a wall-clock time. */
export function isInstantFormat(format: string): boolean {
  return format === "epoch_s" || format === "epoch_ms" ||
    /%[-_0]?(?:(?::{1,3}|#)?z|s|\+)/.test(format.replaceAll("%%", ""));
}

/** A resolved spec's time column: its formats, and where its days begin (`zone`, `naive`: see DatasetSpec). */
export interface TimeSpec {
  column: string;
  format: string[];
  zone?: string;
  naive?: string;
}

/**
 * How times read by `format` reach the spec's zone: null when they are kept as read (no zone, or wall-clock
 * times of the zone already), else the offset (ms east of UTC) they were written in, which makes them instants
 * (0 for epoch times and times with their own offset).
 */
export function instantOffsetMs(format: string, time: Omit<TimeSpec, "column" | "format">): number | null {
  if (!time.zone) return null;
  if (isInstantFormat(format)) return 0;
  return time.naive === undefined ? null : time.naive === "UTC" ? 0 : zoneOffsetMs(time.naive);
}

/** A fixed-offset zone ("+08:00", "-05:30") in ms east of UTC; null for a named zone. */
export function zoneOffsetMs(zone: string): number | null {
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(zone);
  return m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000 : null;
}

/** Whether `x` is a fixed offset such as "+08:00" that exists: minutes below 60, within ±18:00. */
const validOffset = (x: unknown) => {
  const ms = typeof x === "string" ? zoneOffsetMs(x) : null;
  return ms !== null && Math.abs(ms) <= 18 * 3_600_000 && Number((x as string).slice(4)) <= 59;
};

/** The spec's time.zone checked: a fixed offset within ±18:00 or a time zone name, spelled as the tz database does. */
function checkZone(where: string, zone: unknown, formats: string[], naive: unknown): void {
  if (typeof zone === "string" && zoneOffsetMs(zone) !== null) {
    if (!validOffset(zone)) {
      throw new SpecError(where, `time.zone "${zone}": an offset is within -18:00 … +18:00`);
    }
  } else {
    let known: string | undefined;
    try {
      if (typeof zone === "string" && /^[A-Za-z]/.test(zone)) {
        known = new Intl.DateTimeFormat("en", { timeZone: zone }).resolvedOptions().timeZone;
      }
    } catch { /* not a zone */ }
    if (known === undefined) {
      throw new SpecError(
        where,
        `time.zone ${
          JSON.stringify(zone)
        } is neither a time zone name such as "Asia/Shanghai" nor an offset such as "+08:00"`,
      );
    }
    if (known !== zone && known.toLowerCase() === (zone as string).toLowerCase()) {
      throw new SpecError(where, `time.zone "${zone}": write "${known}" (zone names are case-sensitive)`);
    }
  }
  if (naive !== undefined) {
    if (naive !== "UTC" && !validOffset(naive)) {
      throw new SpecError(
        where,
        `time.naive ${
          JSON.stringify(naive)
        } is the offset times without one are written in: "UTC" or one such as "+08:00" (a zone with clock changes would make some of them ambiguous)`,
      );
    }
  } else if (!formats.some(isInstantFormat)) {
    throw new SpecError(
      where,
      `time.zone "${zone}" changes nothing here: it turns instants (epoch_s, epoch_ms, patterns with an offset such as %z) into its wall-clock time, and ${
        formats.map((f) => `"${f}"`).join(", ")
      } read wall-clock times without an offset, which are taken as they are (if they are UTC, say so with "naive": "UTC")`,
    );
  }
}

/** Names the cleaned layout uses for its own columns; no other role may take them. */
export const RESERVED = [
  "row_id",
  "user_id",
  "item_id",
  "log_time",
  "label",
  "scene",
  "date",
  "split",
  "day",
];

const ANTM2C_TEXT: TextColumn[] = [
  { column: "item_title", side: "item" },
  { column: "item_entity_names", side: "item", entities: "," },
  { column: "query_entity_seq", side: "user", entities: "," },
  { column: "service_entity_seq", side: "user", entities: "," },
  { column: "bill_entity_seq", side: "user", entities: "," },
];
const antm2cBase = {
  user: "user_id",
  item: "item_id",
  time: { column: "log_time", format: ANTM2C_TIME_FORMATS },
  label: { column: "label" },
  scene: { column: "scene", values: ["0", "1", "2", "3", "4"] },
  text: ANTM2C_TEXT,
};
export const DEEP_FEATURES = Array.from({ length: 27 }, (_, k) => `deep_features_${k}`);

export const BUILTIN_SPECS: Record<string, DatasetSpec> = {
  /** The public AntM2C release: antm2c_10m_part0..2, no extension, 37 columns. */
  antm2c: {
    name: "antm2c",
    files: ["**/antm2c_*", "**/*.csv", "**/*.csv.gz"],
    ...antm2cBase,
    numeric: DEEP_FEATURES,
  },
  /** The ten-column layout of ctrlab's generator (and earlier AntM2C dumps). */
  "antm2c-10": { name: "antm2c-10", files: ["**/*.csv", "**/*.csv.gz"], ...antm2cBase },
};

/** Header columns of each built-in layout, in the order the files carry them. */
export const BUILTIN_HEADERS: Record<string, string[]> = {
  antm2c: [
    "user_id",
    "item_id",
    "log_time",
    "label",
    "bill_entity_seq",
    "service_entity_seq",
    "query_entity_seq",
    "item_entity_names",
    "item_title",
    "scene",
    ...DEEP_FEATURES,
  ],
  "antm2c-10": [
    "user_id",
    "item_id",
    "scene",
    "log_time",
    "label",
    "item_title",
    "item_entity_names",
    "query_entity_seq",
    "service_entity_seq",
    "bill_entity_seq",
  ],
};

export class SpecError extends Error {
  constructor(where: string, detail: string) {
    super(`${where}: ${detail}`);
    this.name = "SpecError";
  }
}

const asList = <T>(x: T | T[] | undefined): T[] => x === undefined ? [] : Array.isArray(x) ? x : [x];

/** Fill defaults, normalise lists, and check the spec for mistakes a user can make (named by `where`). */
export function resolveSpec(s: DatasetSpec, where = s.name ?? "dataset spec"): ResolvedSpec {
  const need = (v: unknown, what: string) => {
    if (typeof v !== "string" || v === "") throw new SpecError(where, `${what} must name a column`);
  };
  need(s.user, "user");
  need(s.item, "item");
  need(s.time?.column, "time.column");
  need(s.label?.column, "label.column");
  const formats = asList(s.time.format).flatMap((f) => f === "timestamp" ? TIMESTAMP_FORMATS : [f]);
  if (formats.length === 0) {
    throw new SpecError(
      where,
      `time.format is required: strptime patterns such as "%Y-%m-%d %H:%M:%S", "epoch_s" / "epoch_ms", or "timestamp" for a Parquet timestamp column`,
    );
  }
  for (const f of formats) {
    if (f.includes(".%f")) { // Python's %f is microseconds; chrono's (polars') counts nanoseconds
      throw new SpecError(
        where,
        `time.format "${f}": ".%f" reads the digits after the dot as nanoseconds (".123" would be 123 ns); write "%.f" for a fraction of a second of any length`,
      );
    }
  }
  if (s.time.zone !== undefined) checkZone(where, s.time.zone, formats, s.time.naive);
  else if (s.time.naive !== undefined) {
    throw new SpecError(where, `time.naive needs time.zone: the zone the log's days begin in`);
  }
  const encoding = (s.encoding ?? "utf-8").toLowerCase().replace(/^utf8$/, "utf-8");
  if (!ENCODINGS.includes(encoding)) {
    throw new SpecError(where, `encoding "${s.encoding}" is not supported (use ${ENCODINGS.join(", ")})`);
  }
  const delimiter = s.delimiter ?? ",", quote = s.quote === undefined ? '"' : s.quote ?? "";
  for (const [k, v] of [["delimiter", delimiter], ["quote", quote]]) {
    if (k === "quote" && v === "") continue; // none
    if (typeof v !== "string" || v.length !== 1 || v.charCodeAt(0) > 0x7f || v === "\n" || v === "\r") {
      throw new SpecError(
        where,
        `${k} must be one ASCII character other than a line break, got ${JSON.stringify(v)}`,
      );
    }
  }
  if (delimiter === quote) throw new SpecError(where, "delimiter and quote must differ");
  if (s.escape !== undefined) {
    const e = s.escape;
    if (typeof e !== "string" || e.length !== 1 || e.charCodeAt(0) > 0x7f || e === "\n" || e === "\r") {
      throw new SpecError(
        where,
        `escape must be one ASCII character other than a line break, got ${JSON.stringify(e)}`,
      );
    }
    if (!quote) throw new SpecError(where, `escape is for quoted fields, and quote is null`);
    if (e === quote || e === delimiter) {
      throw new SpecError(
        where,
        `escape must differ from the ${
          e === quote ? "quote (that is RFC 4180's doubling, the default)" : "delimiter"
        }`,
      );
    }
  }
  if (s.format && s.format !== "csv" && s.format !== "parquet") {
    throw new SpecError(where, `format "${s.format}" is not csv or parquet`);
  }
  if (s.columns !== undefined) {
    if (!Array.isArray(s.columns) || s.columns.length === 0) {
      throw new SpecError(where, `columns must be a list of the files' column names, in order`);
    }
    const seen = new Set<string>();
    for (const c of s.columns) {
      need(c, "each of columns");
      if (seen.has(c)) throw new SpecError(where, `columns names "${c}" twice`);
      seen.add(c);
    }
    if (s.format === "parquet") {
      throw new SpecError(where, `columns is for text files without a header; Parquet files name their own`);
    }
  }
  const text = (s.text ?? []).map((t) => {
    need(t.column, "text[].column");
    if (t.side !== "user" && t.side !== "item") {
      throw new SpecError(where, `text column "${t.column}": side must be "user" or "item"`);
    }
    return t;
  });
  const numeric = (s.numeric ?? []).map((n) => typeof n === "string" ? { column: n } : n);
  for (const n of numeric) {
    if (n.transform && n.transform !== "none" && n.transform !== "log1p") {
      throw new SpecError(where, `numeric column "${n.column}": transform must be none or log1p`);
    }
    if (n.fill !== undefined && n.fill !== "mean" && typeof n.fill !== "number") {
      throw new SpecError(where, `numeric column "${n.column}": fill must be "mean" or a number`);
    }
  }
  const categorical = (s.categorical ?? []).map((c) => typeof c === "string" ? { column: c } : c);
  for (const [k, v] of Object.entries(s.split ?? {})) {
    if (!["valDays", "testDays"].includes(k) || !Number.isInteger(v) || (v as number) < 1) {
      throw new SpecError(
        where,
        `split.${k} must be valDays or testDays, a whole number of days ≥ 1, got ${v}`,
      );
    }
  }
  if (
    s.missing !== undefined && (!Array.isArray(s.missing) || s.missing.some((v) => typeof v !== "string"))
  ) {
    throw new SpecError(where, `missing must be a list of strings (field values that mean no value)`);
  }
  const spec: ResolvedSpec = {
    name: s.name ?? "dataset",
    files: asList(s.files ?? "**/*"),
    format: s.format,
    ...(s.columns ? { columns: [...s.columns] } : {}),
    ...(s.escape !== undefined ? { escape: s.escape } : {}),
    delimiter,
    quote,
    encoding,
    user: s.user,
    item: s.item,
    time: {
      column: s.time.column,
      format: formats,
      ...(s.time.zone !== undefined ? { zone: s.time.zone } : {}),
      ...(s.time.naive !== undefined ? { naive: s.time.naive } : {}),
    },
    label: {
      column: s.label.column,
      positive: (s.label.positive ?? DEFAULT_POSITIVE).map(String),
      negative: (s.label.negative ?? DEFAULT_NEGATIVE).map(String),
    },
    scene: s.scene
      ? { column: s.scene.column, ...(s.scene.values ? { values: s.scene.values.map(String) } : {}) }
      : null,
    text,
    numeric,
    categorical,
    ...(s.split ? { split: { ...s.split } } : {}),
    ...(s.missing?.length ? { missing: s.missing.map((v) => v.trim().toLowerCase()) } : {}),
  };
  // every column has one role; roles other than the five keys keep their own names in the cleaned layout
  const roles = new Map<string, string>();
  const claim = (col: string, role: string) => {
    const had = roles.get(col);
    if (had) throw new SpecError(where, `column "${col}" is given two roles: ${had} and ${role}`);
    roles.set(col, role);
  };
  claim(spec.user, "user");
  claim(spec.item, "item");
  claim(spec.time.column, "time");
  claim(spec.label.column, "label");
  if (spec.scene) claim(spec.scene.column, "scene");
  for (const t of text) claim(t.column, "text");
  for (const n of numeric) claim(n.column, "numeric");
  for (const c of categorical) claim(c.column, "categorical");
  for (const [col, role] of roles) {
    if (!["user", "item", "time", "label", "scene"].includes(role) && RESERVED.includes(col)) {
      throw new SpecError(
        where,
        `the ${role} column "${col}" has a name the cleaned layout reserves (${RESERVED.join(", ")})`,
      );
    }
  }
  const pos = spec.label.positive.map((v) => v.toLowerCase()),
    neg = spec.label.negative.map((v) => v.toLowerCase());
  const both = pos.find((v) => neg.includes(v));
  if (both !== undefined) {
    throw new SpecError(where, `label spelling "${both}" is both positive and negative`);
  }
  return spec;
}

/** The columns a file must carry for `spec` (in role order). */
export function requiredColumns(spec: ResolvedSpec): string[] {
  return [
    spec.user,
    spec.item,
    spec.time.column,
    spec.label.column,
    ...(spec.scene ? [spec.scene.column] : []),
    ...spec.text.map((t) => t.column),
    ...spec.numeric.map((n) => n.column),
    ...spec.categorical.map((c) => c.column),
  ];
}

/** A built-in spec by name, or a JSON / YAML file. */
export async function loadSpec(nameOrFile: string): Promise<ResolvedSpec> {
  if (BUILTIN_SPECS[nameOrFile]) return resolveSpec(BUILTIN_SPECS[nameOrFile]);
  let text: string;
  try {
    text = await Deno.readTextFile(nameOrFile);
  } catch {
    throw new SpecError(
      nameOrFile,
      `no such spec file, and not a built-in spec (${Object.keys(BUILTIN_SPECS).join(", ")})`,
    );
  }
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(nameOrFile) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new SpecError(
      nameOrFile,
      `not valid ${/\.ya?ml$/i.test(nameOrFile) ? "YAML" : "JSON"}: ${(e as Error).message}`,
    );
  }
  if (!raw || typeof raw !== "object") {
    throw new SpecError(nameOrFile, "a spec is an object with user, item, time, label, ...");
  }
  const spec = raw as DatasetSpec;
  return resolveSpec({
    ...spec,
    name: spec.name ?? nameOrFile.split("/").pop()!.replace(/\.(json|ya?ml)$/i, ""),
  }, nameOrFile);
}

/** The built-in spec whose layout has exactly these header columns (in any order), or null. */
export function detectSpec(header: string[]): string | null {
  const have = [...header].sort().join(",");
  for (const [name, cols] of Object.entries(BUILTIN_HEADERS)) {
    if ([...cols].sort().join(",") === have) return name;
  }
  return null;
}

/** Glob (`*`, `**`, `?`) → RegExp over '/'-separated relative paths. */
export function globRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      re += glob[i + 2] === "/" ? "(?:.*/)?" : ".*";
      i += glob[i + 2] === "/" ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
