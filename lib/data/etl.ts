/**
 * ETL: raw click logs → validated, Hive-partitioned Parquet (`date=YYYY-MM-DD/scene=N/part-*.parquet`).
 *
 * The dataset spec (lib/data/spec.ts) says what the files are and what each column means. Two passes per
 * chunk: a byte-level pass (lib/data/csv.ts) finds each RFC 4180 record (quoted line breaks included), counts
 * its fields, checks or converts its encoding and parses its time; polars then parses the chunk and validates
 * values (ids present, scene known, label spelled as the spec allows, numbers parse). Every record read is
 * written or quarantined with its file, line, byte offset, column, value and reason: written + quarantined =
 * read, per file and in total. A schema error (a column the spec needs is missing) stops the run before
 * anything is written, naming the file and the column. The input is only ever read.
 *
 * The cleaned layout is the same for every dataset: row_id, user_id and item_id (strings), log_time, label,
 * the spec's text, numeric and categorical columns under their own names, and the partitions date and scene
 * (the scene's index in the spec's scene list; 0 when there is none). `_dataset.json` beside it records the
 * resolved spec and the scene names, which every later stage reads.
 */
import pl from "nodejs-polars";
import { Buffer } from "node:buffer";
import {
  ByteBuilder,
  csvField,
  type Dialect,
  fileBytes,
  forEachRecord,
  headLines,
  isParquet,
  parseHeader,
  type RecordScan,
  scanRecord,
  unescapeRecord,
  unreadFormat,
} from "./csv.ts";
import {
  BUILTIN_SPECS,
  detectSpec,
  globRegExp,
  instantOffsetMs,
  requiredColumns,
  type ResolvedSpec,
  resolveSpec,
} from "./spec.ts";
import { guessedFrom, type Sniffed, sniffSpec, timeHint } from "./sniff.ts";
import { type ParquetField, parquetFields, parquetImage, scanParquetFile } from "./parquet.ts";
import { patternsMs, timeParser, zonedMs } from "./times.ts";
import { DAY_MS, dayName } from "../util/time.ts";
import { timed } from "../util/profile.ts";

export class EtlSchemaError extends Error {
  constructor(readonly file: string, readonly column: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = "EtlSchemaError";
  }
}

export interface EtlOptions {
  /** A file, or a directory whose files matching the spec's globs are read, in sorted order. Never written to. */
  input: string;
  /** Output directory; replaced if it holds an earlier ETL output, refused if it holds anything else. */
  output: string;
  /** The dataset spec; default: recognised from the first file's header (the two AntM2C layouts). */
  spec?: ResolvedSpec;
  /** Scene names fixed by an earlier ETL (scoring new logs with a trained package): unknown values are quarantined. */
  scenes?: string[];
  /** Flush a chunk to polars/Parquet once this many bytes of valid records are buffered. */
  chunkBytes?: number;
  onProgress?: (rowsRead: number, file: string) => void;
}

export interface QuarantineReason {
  reason: string;
  column: string;
  rows: number;
}

export interface EtlReport {
  input: string;
  output: string;
  spec: string;
  /** Counts are records (a quoted field may span lines), not physical lines. */
  files: {
    file: string;
    rowsRead: number;
    rowsWritten: number;
    rowsQuarantined: number;
    ignoredColumns?: string[];
  }[];
  rowsRead: number;
  rowsWritten: number;
  rowsQuarantined: number;
  byReason: QuarantineReason[];
  partitions: { date: string; scene: number; rows: number; clicks: number }[];
  scenes: string[];
  quarantineFile: string;
  seconds: number;
}

/** What the cleaned data holds, for every later stage: the resolved spec and the scene names (index = partition). */
export interface CleanSchema {
  spec: ResolvedSpec;
  scenes: string[];
}

export const REPORT_FILE = "_etl_report.json";
export const QUARANTINE_FILE = "_quarantine.csv";
export const SCHEMA_FILE = "_dataset.json";
/** The quarantine's word for a record whose quoted field a line break left open, and that never closed. */
export const LEFT_OPEN = "quoted field left open past the end of the line";
const QUARANTINE_HEADER = "file,line,byte,row_id,reason,column,value,raw\n";

/** Input files under `input` that the spec's globs match (hidden and `_`-prefixed names skipped), sorted: the order that defines row ids. */
export async function listInputFiles(input: string, globs: string[] = ["**/*"]): Promise<string[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(input);
  } catch {
    throw new Error(`ETL input not found: ${input}`);
  }
  if (info.isFile) return [input];
  const res = globs.map(globRegExp);
  const out: string[] = [], seen: string[] = [];
  const walk = async (dir: string, rel: string) => {
    for await (const e of Deno.readDir(dir)) {
      if (e.name.startsWith(".") || e.name.startsWith("_")) continue;
      const p = `${dir}/${e.name}`, r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(p, r);
      else if (e.isFile) {
        seen.push(r);
        if (res.some((re) => re.test(r))) out.push(p);
      }
    }
  };
  await walk(input, "");
  if (out.length === 0) {
    throw new Error(
      `ETL input ${input} holds no files matching ${globs.join(", ")}${
        seen.length
          ? ` (found ${seen.slice(0, 5).join(", ")}${seen.length > 5 ? ", …" : ""})`
          : " (it is empty)"
      }`,
    );
  }
  return out.sort();
}

/** How reports and the quarantine name an input file: its path under `input`, or its name when `input` is the file. */
export function inputName(input: string, path: string): string {
  return path.startsWith(input + "/") ? path.slice(input.length + 1) : path.split("/").pop()!;
}

/**
 * A file's bytes as CSV: the file itself (gunzipped if compressed), or, for a Parquet file (`fields`: the
 * columns the spec reads, parquetFields), those columns written as CSV text by parquet.ts's rules, then the
 * columns it takes from its path (`header`).
 */
function csvSource(
  path: string,
  spec: ResolvedSpec,
  fields: ParquetField[] | null,
  fromPath: [string, string][],
): { bytes: AsyncIterable<Uint8Array>; parquet: boolean; header?: string[] } {
  if (!fields) return { bytes: fileBytes(path), parquet: false };
  return {
    parquet: true,
    header: [...fields.map((f) => f.name), ...fromPath.map(([c]) => c)],
    bytes: (async function* () {
      const image = parquetImage(path, fields, fromPath);
      const total = scanParquetFile(path).select(pl.len().alias("n")).collectSync().getColumn("n").get(
        0,
      ) as number;
      const step = 500_000;
      for (let off = 0; off === 0 || off < total; off += step) {
        yield new Uint8Array(asCsv(image.slice(off, step).collectSync(), spec, off === 0));
        if (total === 0) break;
      }
    })(),
  };
}

/** The quote of a Parquet file's CSV image: the spec's, or `"` when it quotes nothing (a value may hold the delimiter). */
const imageQuote = (spec: ResolvedSpec) => spec.quote || '"';

/** Rows as CSV (UTF-8) with the spec's delimiter and the image's quote. */
const asCsv = (df: pl.DataFrame, spec: ResolvedSpec, header: boolean) =>
  df.writeCSV({
    includeHeader: header,
    separator: spec.delimiter,
    quoteChar: imageQuote(spec),
  }) as unknown as Buffer;

/**
 * A file's first `n` lines as the ETL reads them: a text file's lines as they are on disk, or a Parquet file's
 * columns the spec reads, as the text the ETL makes of them (parquet.ts), header first.
 */
export async function firstLines(
  path: string,
  spec: ResolvedSpec,
  n: number,
): Promise<{ lines: string[]; parquet: boolean }> {
  if (!isParquetInput(path, spec)) return { lines: await headLines(path, n, spec.encoding), parquet: false };
  const rows = parquetImage(path, parquetFields(path, spec)).head(n - 1).collectSync();
  return { lines: String(asCsv(rows, spec, true)).split("\n").slice(0, n), parquet: true };
}

/** Whether `path` is read as Parquet: the spec says so, or it says nothing and the file is Parquet. */
export const isParquetInput = (path: string, spec: ResolvedSpec) =>
  spec.format === "parquet" || (spec.format === undefined && isParquet(path));

/** A record's text in the file's encoding (invalid bytes replaced, a byte order mark kept), for the quarantine. */
function recordText(bytes: Uint8Array, start: number, end: number, encoding: string): string {
  return new TextDecoder(encoding, { ignoreBOM: true }).decode(bytes.subarray(start, end));
}

/** How csv.ts scans a spec's records: its delimiter and quote (none: -1), its encoding's bytes (`utf8`: check UTF-8). */
const specDialect = (spec: ResolvedSpec, utf8: boolean): Dialect => ({
  delimiter: spec.delimiter.charCodeAt(0),
  quote: spec.quote ? spec.quote.charCodeAt(0) : -1,
  escape: spec.escape ? spec.escape.charCodeAt(0) : -1,
  utf8,
  gb: spec.encoding !== "utf-8",
});

/** The header record of a file: its column names (decoded, BOM dropped; `unique`: a name twice is an error). */
export async function readHeader(path: string, spec: ResolvedSpec, unique = true): Promise<string[]> {
  return (await readHeaderRecord(path, spec, unique)).columns;
}

/**
 * The header record of a file: its column names, and the physical lines it spans (a quoted line break in a name).
 * A text file without a header (the spec names its `columns`) has none: its columns are the spec's, in 0 lines.
 */
export async function readHeaderRecord(
  path: string,
  spec: ResolvedSpec,
  unique = true,
): Promise<{ columns: string[]; lines: number }> {
  if (isParquetInput(path, spec)) {
    return { columns: scanParquetFile(path).columns, lines: 1 }; // from the schema, no rows read
  }
  const unread = unreadFormat(path);
  if (unread) throw new EtlSchemaError(path, "", `the file is ${unread}`);
  const first = await firstRecord(path, spec);
  if (spec.columns) {
    // a file with a header after all would send it to the quarantine as a record: refused, naming the fix
    if (first?.fields.join("\u0000") === spec.columns.join("\u0000")) {
      throw new EtlSchemaError(
        path,
        "",
        `its first line names the spec's columns: the file has a header, so the spec should not name them (drop "columns")`,
      );
    }
    return { columns: spec.columns, lines: 0 };
  }
  if (!first) throw new EtlSchemaError(path, "", "empty file: no header line");
  const seen = new Set<string>();
  for (const h of unique ? first.fields : []) {
    if (seen.has(h)) throw new EtlSchemaError(path, h, `duplicate column "${h}" in header`);
    seen.add(h);
  }
  return { columns: first.fields, lines: first.lines };
}

/** A text file's first record split into trimmed fields (a BOM dropped), and the lines it spans; null when empty. */
async function firstRecord(
  path: string,
  spec: ResolvedSpec,
): Promise<{ fields: string[]; lines: number } | null> {
  const d = specDialect(spec, false);
  const it = fileBytes(path)[Symbol.asyncIterator]();
  let buf = new Uint8Array(0);
  const r: RecordScan = { end: 0, next: 0, fields: 0, lines: 0, quoteError: -1, badUtf8: -1 };
  try {
    for (;;) {
      const n = await it.next();
      if (!n.done) {
        const b = new Uint8Array(buf.length + n.value.length);
        b.set(buf);
        b.set(n.value, buf.length);
        buf = b;
      }
      if (scanRecord(buf, 0, buf.length, !!n.done, d, r) || buf.length > (1 << 20)) {
        if (buf.length === 0) return null;
        const text = recordText(buf, 0, Math.min(r.end || buf.length, buf.length), spec.encoding);
        return { fields: parseHeader(text, spec.delimiter, spec.quote, spec.escape), lines: r.lines };
      }
    }
  } finally {
    await it.return?.(undefined);
  }
}

/**
 * The spec for `input`: the given one, or the built-in whose layout the first file's header matches. An unknown
 * header stops with the columns found and a spec to start from.
 */
export async function specFor(input: string, spec?: ResolvedSpec): Promise<ResolvedSpec> {
  if (spec) return spec;
  const guess = await inputSpec(input);
  if ("builtin" in guess) return resolveSpec(BUILTIN_SPECS[guess.builtin]);
  throw new EtlSchemaError(
    guess.file,
    "",
    (guess.headerless
      ? `the first line looks like a record, not a header, so the logs need a dataset spec (--spec FILE) that ` +
        `names their columns.\nColumns found (${guess.header.length}), named by position: `
      : `the header is not one of the AntM2C layouts ctrlab knows, so it needs a dataset spec (--spec FILE).\n` +
        `Columns found (${guess.header.length}): `) +
      `${guess.header.join(", ")}\n` +
      `A spec to start from, guessed from ${guessedFrom(guess)} ` +
      `(\`ctrlab spec --data ${input} > my-logs.json\` saves it; check every role, then pass --spec ` +
      `my-logs.json):\n${JSON.stringify(guess.spec, null, 2)}\n${timeHint(guess.spec)}`,
  );
}

/** What the logs at `input` are: a built-in layout their header matches, or a spec guessed from their records. */
export async function inputSpec(input: string): Promise<{ builtin: string } | Sniffed> {
  // the first file a built-in layout would read (so a README beside the logs is not taken for them)
  const builtinGlobs = [...new Set(Object.values(BUILTIN_SPECS).flatMap((s) => [s.files ?? []].flat()))];
  const first = (await listInputFiles(input, builtinGlobs).catch(() => listInputFiles(input)))[0];
  // names twice are no layout ctrlab knows (and a first line that is a record may repeat a value)
  const name = detectSpec(await readHeader(first, resolveSpec(BUILTIN_SPECS.antm2c), false));
  return name
    ? { builtin: name }
    : await sniffSpec(first, await listInputFiles(input), [...hiveFolders(input, first)]);
}

/**
 * The columns a file takes from its path. Hive's layout (as Spark and Hive write tables) names folders
 * `column=value` (`dt=2024-03-01/scene=feed/part-0.parquet`): a column the spec reads that the file itself lacks
 * is taken from there, the same value for every record of the file (Hive's `%XX` escapes decoded, its
 * `__HIVE_DEFAULT_PARTITION__` read as a missing value). Columns the spec does not read are left alone.
 */
export function pathColumns(
  input: string,
  path: string,
  header: string[],
  spec: ResolvedSpec,
): [string, string][] {
  const found = hiveFolders(input, path);
  const taken: [string, string][] = [...new Set(requiredColumns(spec))]
    .filter((c) => !header.includes(c) && found.has(c)).map((c) => [c, found.get(c)!]);
  for (const [c, v] of spec.quote ? [] : taken) {
    if ([spec.delimiter, "\n", "\r"].some((x) => v.includes(x))) { // a field a record without quotes cannot hold
      throw new EtlSchemaError(
        path,
        c,
        `its folder's value for "${c}" holds the delimiter or a line break, and the spec quotes nothing`,
      );
    }
  }
  return taken;
}

/** The `column=value` folders above a file under `input`, by column (the last one wins), escapes decoded. */
export function hiveFolders(input: string, path: string): Map<string, string> {
  const unescape = (x: string) =>
    x.replace(/%([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  const found = new Map<string, string>();
  for (const dir of inputName(input, path).split("/").slice(0, -1)) {
    const m = /^([^=]+)=(.*)$/.exec(dir);
    if (m) found.set(unescape(m[1]), m[2] === "__HIVE_DEFAULT_PARTITION__" ? "" : unescape(m[2]));
  }
  return found;
}

/**
 * A field as the spec's dialect writes it: quoted when it holds the delimiter, the quote or a line break (without a
 * quote, as it is: pathColumns refuses a value that would need one).
 */
export function dialectField(v: string, spec: ResolvedSpec): string {
  return spec.quote && [spec.delimiter, spec.quote, "\n", "\r"].some((c) => v.includes(c))
    ? spec.quote + v.replaceAll(spec.quote, spec.quote + spec.quote) + spec.quote
    : v;
}

/** Every column the spec reads is in `header` (the file's columns, then those its folders give), else a schema error. */
export function checkHeader(file: string, header: string[], spec: ResolvedSpec): void {
  for (const c of requiredColumns(spec)) {
    if (!header.includes(c)) {
      throw new EtlSchemaError(
        file,
        c,
        spec.columns && !isParquetInput(file, spec)
          ? `missing column "${c}": the spec's columns (the file has no header) and the file's folders hold ${
            header.join(",")
          }`
          : `missing column "${c}" in header (spec "${spec.name}"; found ${header.join(",")})`,
      );
    }
  }
}

export async function prepareOutput(output: string): Promise<void> {
  try {
    const entries = [...Deno.readDirSync(output)];
    // an earlier (possibly interrupted) ETL output starts with the quarantine file
    const isOurs = entries.length === 0 ||
      entries.some((e) => e.name === REPORT_FILE || e.name === QUARANTINE_FILE);
    if (!isOurs) {
      throw new Error(
        `ETL output ${output} is not empty and holds no ${REPORT_FILE}; refusing to overwrite it`,
      );
    }
    await Deno.remove(output, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(output, { recursive: true });
}

const trimmed = (c: string) => pl.col(c).cast(pl.Utf8).str.strip();
const isBlank = (c: string) => pl.col(c).isNull().or(trimmed(c).eq(pl.lit("")));

/** A numeric column parsed once per chunk (null where empty or not a number). */
const numericCol = (k: number) => `__num${k}`;

/**
 * Value checks in role order: the first failing one names the record's reason and column. Expects the chunk's
 * `__scene`, `__ms`, `__label` (trimmed, lower case) and numeric `__num<k>` columns.
 */
function valueChecks(spec: ResolvedSpec): { column: string; missing: pl.Expr; bad: pl.Expr }[] {
  const never = pl.lit(false);
  const labels = [...spec.label.positive, ...spec.label.negative].map((v) => v.toLowerCase());
  return [
    { column: spec.user, missing: isBlank(spec.user), bad: never },
    { column: spec.item, missing: isBlank(spec.item), bad: never },
    ...(spec.scene
      ? [{ column: spec.scene.column, missing: isBlank(spec.scene.column), bad: pl.col("__scene").isNull() }]
      : []),
    { column: spec.time.column, missing: isBlank(spec.time.column), bad: pl.col("__ms").isNull() },
    {
      column: spec.label.column,
      missing: isBlank(spec.label.column),
      bad: pl.col("__label").isIn(labels).not(),
    },
    ...spec.numeric.map((n, k) => ({
      column: n.column,
      missing: never,
      bad: pl.col(numericCol(k)).isNull().and(pl.col(n.column).isNotNull()).and(
        pl.col(n.column).neq(pl.lit("")),
      ),
    })),
  ];
}

function firstFailure(checks: ReturnType<typeof valueChecks>, pick: "reason" | "column"): pl.Expr {
  // deno-lint-ignore no-explicit-any
  let chain: any = null;
  for (const c of checks) {
    for (const [cond, reason] of [[c.missing, "missing_value"], [c.bad, "bad_value"]] as const) {
      const value = pl.lit(pick === "reason" ? reason : c.column);
      chain = chain === null ? pl.when(cond).then(value) : chain.when(cond).then(value);
    }
  }
  return chain.otherwise(pl.lit(null)).alias(`__${pick}`);
}

export class QuarantineWriter {
  #file: Deno.FsFile;
  #enc = new TextEncoder();
  counts = new Map<string, QuarantineReason>();
  constructor(readonly path: string) {
    this.#file = Deno.openSync(path, { write: true, create: true, truncate: true });
    this.#write(QUARANTINE_HEADER);
  }
  #write(s: string) {
    const b = this.#enc.encode(s);
    for (let off = 0; off < b.length;) off += this.#file.writeSync(b.subarray(off));
  }
  add(
    file: string,
    line: number,
    byte: number | null,
    rowId: number,
    reason: string,
    column: string,
    value: string,
    raw: string,
  ) {
    const key = `${reason}\u0000${column}`;
    const c = this.counts.get(key) ?? { reason, column, rows: 0 };
    c.rows++;
    this.counts.set(key, c);
    this.#write(
      [file, line, byte ?? "", rowId, reason, column, value, raw].map((x) => csvField(String(x))).join(",") +
        "\n",
    );
  }
  close() {
    this.#file.close();
  }
}

/** Run the ETL; returns (and writes) the reconciliation report. */
export async function runEtl(opts: EtlOptions): Promise<EtlReport> {
  return timed("data", async () => {
    const t0 = performance.now();
    const spec = await specFor(opts.input, opts.spec);
    const files = await listInputFiles(opts.input, spec.files);
    // every header is checked before anything is written: a schema error leaves no partial output
    const headers = new Map<string, string[]>(), fromPaths = new Map<string, [string, string][]>();
    const parquet = new Map<string, ParquetField[] | null>(); // a Parquet file's columns read, types checked
    for (const path of files) {
      const h = await readHeader(path, spec);
      const fromPath = pathColumns(opts.input, path, h, spec);
      checkHeader(path, [...h, ...fromPath.map(([c]) => c)], spec);
      parquet.set(path, isParquetInput(path, spec) ? parquetFields(path, spec) : null);
      headers.set(path, h);
      fromPaths.set(path, fromPath);
    }
    const fastTime = timeParser(spec);
    await prepareOutput(opts.output);
    const quarantine = new QuarantineWriter(`${opts.output}/${QUARANTINE_FILE}`);
    const chunkBytes = opts.chunkBytes ?? 96 << 20;
    const sep = spec.delimiter.charCodeAt(0);
    const dialect = specDialect(spec, spec.encoding === "utf-8");
    const recode = spec.encoding === "utf-8"
      ? null
      : { decoder: new TextDecoder(spec.encoding, { fatal: true }), encoder: new TextEncoder() };
    // UTF-8 in RFC 4180's quoting: a record decoded from GBK or unescaped, and a Parquet file's image
    const utf8Dialect: Dialect = { ...dialect, utf8: true, gb: false, escape: -1 };
    // how a source's bytes are read: a text file in the spec's dialect and encoding; a Parquet file's CSV image is
    // UTF-8 (polars writes it) with its own quote (imageQuote)
    type Read = { dialect: Dialect; quote: string; encoding: string; recode: typeof recode };
    const textRead: Read = { dialect, quote: spec.quote, encoding: spec.encoding, recode };
    const imageRead: Read = {
      dialect: { ...utf8Dialect, quote: imageQuote(spec).charCodeAt(0) },
      quote: imageQuote(spec),
      encoding: "utf-8",
      recode: null,
    };
    const partitions = new Map<
      string,
      { date: string; scene: number; rows: number; clicks: number; parts: number }
    >();
    // scene names: fixed by the spec (or an earlier ETL), else discovered in order of appearance
    const scenes: string[] = opts.scenes
      ? [...opts.scenes]
      : spec.scene?.values
      ? [...spec.scene.values]
      : spec.scene
      ? []
      : ["all"];
    const discover = !opts.scenes && !!spec.scene && !spec.scene.values;
    let rowId = 0;
    const chunk = new ByteBuilder(16 << 20);
    const range = new Int32Array(2), range2 = new Int32Array(2);
    const scan2: RecordScan = { end: 0, next: 0, fields: 0, lines: 0, quoteError: -1, badUtf8: -1 };
    const dates = new Map<number, string>();
    const dateOf = (ms: number) => {
      const day = Math.floor(ms / DAY_MS);
      let d = dates.get(day);
      if (d === undefined) dates.set(day, d = dayName(day));
      return d;
    };
    const text = spec.text.map((t) => t.column),
      numeric = spec.numeric.map((n) => n.column),
      categorical = spec.categorical.map((c) => c.column);
    const positive = spec.label.positive.map((v) => v.toLowerCase());
    const markers = spec.missing ?? [], roles = [...new Set(requiredColumns(spec))];
    // a role column's field as read, before its missing-value markers became empty (kept for the raw line)
    const original = (k: number) => `__orig${k}`;
    const asRead = new Map(markers.length ? roles.map((c, k) => [c, original(k)]) : []);

    // A chunk holds records of consecutive files with the same header (a log of many small files makes a few
    // large part files, not a few per input file). Where each record came from (file, line, byte offset), by row
    // id − chunkStart: only quarantined records need it, so it stays in JavaScript instead of travelling through
    // polars. The chunk's quarantined records wait in `held` and are written at its flush in row id order.
    type FileStats = { file: string; read: number; quarantined: number; ignored: string[] };
    const fileStats: FileStats[] = [];
    let chunkStart = 0, chunkHeader: string[] = [], chunkQuote = spec.quote, written = 0;
    const fileOf: number[] = [], lineOf: number[] = [], byteOf: (number | null)[] = [];
    type Quarantined = Parameters<QuarantineWriter["add"]>; // [file, line, byte, rowId, …]
    const held: Quarantined[] = [];
    const hold = (...row: Quarantined) => {
      held.push(row);
      fileStats[fileOf[row[3] - chunkStart]].quarantined++;
    };
    const flush = () => {
      if (chunk.length) writeChunk(chunkHeader, chunkStart);
      for (const row of held.sort((a, b) => a[3] - b[3])) quarantine.add(...row);
      for (const a of [held, fileOf, lineOf, byteOf]) a.length = 0;
      chunkStart = rowId;
    };
    const writeChunk = (header: string[], start: number) => {
      const raw = pl.readCSV(Buffer.from(chunk.buf.buffer, chunk.buf.byteOffset, chunk.length), {
        hasHeader: false,
        inferSchemaLength: 0,
        quoteChar: chunkQuote,
        sep: spec.delimiter,
      });
      chunk.clear();
      const names = ["__row_id", "__ms", "__date", ...header]; // internal names cannot clash with a log's own columns
      let df = raw.rename(Object.fromEntries(raw.columns.map((c, k) => [c, names[k]])));
      if (markers.length) { // the spec's missing-value markers read as empty fields, in every column with a role
        df = df.withColumns(...roles.map((c, k) => pl.col(c).alias(original(k)))).withColumns( // the raw line keeps them
          ...roles.map((c) =>
            pl.when(trimmed(c).str.toLowerCase().isIn(markers)).then(pl.lit("")).otherwise(pl.col(c)).alias(c)
          ),
        );
      }
      // epoch ms as the wall clock of the spec's zone: instants (epoch numbers, times with an offset) moved to it
      const parsed = !fastTime
        ? patternsMs(trimmed(spec.time.column), spec.time.format, spec.time) // polars, pattern by pattern
        : instantOffsetMs(spec.time.format[0], spec.time) !== null // parsed by hand above, then moved
        ? zonedMs(pl.col("__ms").cast(pl.Int64), spec.time.format[0], spec.time)
        : null;
      if (parsed !== null) {
        df = df.withColumns(parsed.cast(pl.Utf8).alias("__ms")).withColumns(
          pl.col("__ms").cast(pl.Int64).cast(pl.Datetime("ms")).dt.strftime("%Y-%m-%d").alias("__date"),
        );
      }
      if (spec.scene) {
        const col = spec.scene.column;
        if (discover) {
          const vals = df.select(trimmed(col).alias("v")).filter(
            pl.col("v").isNotNull().and(pl.col("v").neq(pl.lit(""))),
          ).getColumn("v").unique({ maintainOrder: true } as never).toArray() as string[];
          for (const v of vals) if (!scenes.includes(v)) scenes.push(v);
        }
        const lookup = pl.DataFrame({ __scene_value: scenes, __scene: scenes.map((_, i) => i) }).withColumns(
          pl.col("__scene").cast(pl.Int32),
        );
        df = df.withColumns(trimmed(col).alias("__scene_value")).join(lookup, {
          on: "__scene_value",
          how: "left",
        });
      } else df = df.withColumns(pl.lit(0).cast(pl.Int32).alias("__scene"));
      // one pass flags the failing records; only those get the ordered checks that name reason and column
      df = df.withColumns(
        ...numeric.map((c, k) => trimmed(c).cast(pl.Float64, false).alias(numericCol(k))),
        trimmed(spec.label.column).str.toLowerCase().alias("__label"),
      );
      const checks = valueChecks(spec);
      const flagged = df.withColumns(
        checks.map((c) => c.missing.or(c.bad)).reduce((a, b) => a.or(b)).alias("__bad"),
      );
      const bad = flagged.filter(pl.col("__bad")).withColumns(
        firstFailure(checks, "reason"),
        firstFailure(checks, "column"),
      );
      if (bad.height > 0) {
        for (const r of bad.toRecords() as Record<string, string | null>[]) {
          const column = r.__column as string;
          const rawLine = header.map((h) => csvField(r[asRead.get(h) ?? h] ?? "")).join(spec.delimiter);
          const id = Number(r.__row_id), k = id - start;
          hold(
            fileStats[fileOf[k]].file,
            lineOf[k],
            byteOf[k],
            id,
            r.__reason as string,
            column,
            r[column] ?? "",
            rawLine,
          );
        }
      }
      const good = flagged.filter(pl.col("__bad").not()).select(
        pl.col("__row_id").cast(pl.Int64).alias("row_id"),
        trimmed(spec.user).alias("user_id"),
        trimmed(spec.item).alias("item_id"),
        pl.col("__ms").cast(pl.Int64).cast(pl.Datetime("ms")).alias("log_time"),
        pl.col("__label").isIn(positive).cast(pl.Int32).alias("label"),
        ...text.map((c) => pl.col(c).fillNull("")),
        ...numeric.map((c, k) => pl.col(numericCol(k)).alias(c)),
        ...categorical.map((c) => trimmed(c).alias(c)),
        pl.col("__scene").cast(pl.Int32).alias("scene"),
        pl.col("__date").alias("date"),
      );
      written += good.height;
      const columns = good.columns.filter((c) => c !== "scene" && c !== "date");
      for (const part of good.partitionBy(["date", "scene"], false, true)) {
        const date = part.getColumn("date").get(0) as string;
        const scene = part.getColumn("scene").get(0) as number;
        const key = `${date}/${scene}`;
        const p = partitions.get(key) ?? { date, scene, rows: 0, clicks: 0, parts: 0 };
        const dir = `${opts.output}/date=${date}/scene=${scene}`;
        Deno.mkdirSync(dir, { recursive: true });
        part.select(...columns).writeParquet(`${dir}/part-${String(p.parts).padStart(5, "0")}.parquet`, {
          compression: "snappy",
        }); // Spark's default codec, faster to write than zstd
        p.parts++;
        p.rows += part.height;
        p.clicks += part.getColumn("label").sum() as number;
        partitions.set(key, p);
      }
    };

    const used = new Set(requiredColumns(spec));
    for (const path of files) {
      const file = inputName(opts.input, path);
      const stats: FileStats = {
        file,
        read: 0,
        quarantined: 0,
        ignored: headers.get(path)!.filter((h) => !used.has(h)),
      };
      const fileIndex = fileStats.push(stats) - 1;
      const fromPath = fromPaths.get(path)!;
      const source = csvSource(path, spec, parquet.get(path)!, fromPath);
      // the fields a scanned record holds (Parquet: its image, the path's columns in it); a CSV record gets the
      // path's columns appended
      const scanned = source.header ?? headers.get(path)!, width = scanned.length;
      const appended = source.parquet ? [] : fromPath;
      const header = [...scanned, ...appended.map(([c]) => c)];
      const read = source.parquet ? imageRead : textRead;
      // a chunk holds records of one header, read with one quote
      if (header.join("\u0000") !== chunkHeader.join("\u0000") || read.quote !== chunkQuote) flush();
      chunkHeader = header;
      chunkQuote = read.quote;
      const suffix = new TextEncoder().encode(
        appended.map(([, v]) => spec.delimiter + dialectField(v, spec)).join(""),
      );
      const timeField = scanned.indexOf(spec.time.column);
      // a time from the path (not among the scanned fields): the same for every record of the file
      const pathTime = new TextEncoder().encode(fromPath.find(([c]) => c === spec.time.column)?.[1] ?? "");
      const pathMs = fastTime && timeField < 0 ? fastTime(pathTime, 0, pathTime.length) : NaN;
      // Parquet: the row's number in the file (its CSV image's lines do not count rows), and no byte offset
      const where = (lineNo: number) => source.parquet ? stats.read : lineNo;
      let first = source.parquet || !spec.columns; // a header record to skip
      await forEachRecord(
        source.bytes,
        read.dialect,
        (bytes, r, start, lineNo, offset) => {
          if (first) {
            first = false;
            return;
          } // the header, checked above
          stats.read++;
          const id = rowId++;
          fileOf.push(fileIndex);
          lineOf.push(where(lineNo));
          byteOf.push(source.parquet ? null : offset);
          const fail = (reason: string, value: string) => {
            hold(
              file,
              where(lineNo),
              source.parquet ? null : offset,
              id,
              reason,
              "",
              value,
              recordText(bytes, start, r.end, read.encoding),
            );
            if (held.length >= 100_000) flush(); // a log of broken records is not held in memory
          };
          if (r.quoteError >= 0) {
            return fail(
              "broken_quoting",
              r.quoteError <= r.end - start
                ? `unterminated or stray quote at byte ${r.quoteError}`
                : LEFT_OPEN,
            );
          }
          if (r.end === start) return fail("empty_line", `${r.fields} fields, expected ${width}`);
          if (r.badUtf8 >= 0) {
            return fail("bad_encoding", `invalid utf-8 at byte ${offset + r.badUtf8} of the file`);
          }
          let b = bytes, s = start, e = r.end, tr = range;
          if (read.recode) { // decode the record from its encoding and re-encode it as UTF-8
            let text: string;
            try {
              text = read.recode.decoder.decode(bytes.subarray(start, r.end));
            } catch {
              return fail(
                "bad_encoding",
                `not valid ${spec.encoding} (record at byte ${offset} of the file)`,
              );
            }
            b = read.recode.encoder.encode(text);
            s = 0;
            e = b.length;
          }
          if (r.fields !== width) {
            return fail("wrong_column_count", `${r.fields} fields, expected ${width}`);
          }
          const E = read.dialect.escape!;
          if (E >= 0 && b.subarray(s, e).includes(E)) { // escapes in RFC 4180's doubled quotes, which polars reads
            b = unescapeRecord(b, s, e, read.dialect);
            s = 0;
            e = b.length;
          }
          if (b !== bytes) { // find the time field again
            scanRecord(b, 0, e, true, utf8Dialect, scan2, timeField, range2);
            tr = range2;
          }
          const ms = fastTime && tr[0] >= 0 ? fastTime(b, tr[0], tr[1]) : pathMs;
          chunk.field(String(id), sep);
          chunk.field(Number.isNaN(ms) ? "" : String(ms), sep);
          chunk.field(Number.isNaN(ms) ? "" : dateOf(ms), sep);
          chunk.bytes(b, s, e);
          if (suffix.length) chunk.bytes(suffix, 0, suffix.length);
          chunk.byte(0x0a);
          if (chunk.length >= chunkBytes) flush();
          if (stats.read % 500_000 === 0) opts.onProgress?.(rowId, file);
        },
        timeField,
        range,
      );
      opts.onProgress?.(rowId, file);
    }
    flush();
    quarantine.close();
    const perFile: EtlReport["files"] = fileStats.map((f) => ({
      file: f.file,
      rowsRead: f.read,
      rowsWritten: f.read - f.quarantined,
      rowsQuarantined: f.quarantined,
      ...(f.ignored.length ? { ignoredColumns: f.ignored } : {}),
    }));

    const sum = (k: "rowsRead" | "rowsWritten" | "rowsQuarantined") => perFile.reduce((a, f) => a + f[k], 0);
    const report: EtlReport = {
      input: opts.input,
      output: opts.output,
      spec: spec.name,
      files: perFile,
      rowsRead: sum("rowsRead"),
      rowsWritten: sum("rowsWritten"),
      rowsQuarantined: sum("rowsQuarantined"),
      byReason: [...quarantine.counts.values()].sort((a, b) => b.rows - a.rows),
      partitions: [...partitions.values()].map(({ parts: _p, ...rest }) => rest).sort((a, b) =>
        a.date.localeCompare(b.date) || a.scene - b.scene
      ),
      scenes,
      quarantineFile: QUARANTINE_FILE,
      seconds: (performance.now() - t0) / 1000,
    };
    // per file, written is read − quarantined; the rows that reached Parquet and the quarantine's lines must agree
    const inPartitions = report.partitions.reduce((a, p) => a + p.rows, 0);
    const inQuarantine = [...quarantine.counts.values()].reduce((a, c) => a + c.rows, 0);
    if (
      written !== report.rowsWritten || inPartitions !== written || inQuarantine !== report.rowsQuarantined
    ) {
      throw new Error(
        `ETL reconciliation failed: read ${report.rowsRead} − quarantined ${report.rowsQuarantined} ≠ ${written} rows written (${inPartitions} in partitions, ${inQuarantine} quarantine lines)`,
      );
    }
    const schema: CleanSchema = { spec, scenes };
    await Deno.writeTextFile(`${opts.output}/${SCHEMA_FILE}`, JSON.stringify(schema, null, 2));
    await Deno.writeTextFile(`${opts.output}/${REPORT_FILE}`, JSON.stringify(report, null, 2));
    return report;
  });
}

/** The generator's layout as a cleaned schema. */
export function generatorSchema(): CleanSchema {
  return { spec: resolveSpec(BUILTIN_SPECS["antm2c-10"]), scenes: BUILTIN_SPECS["antm2c-10"].scene!.values! };
}

/** What a cleaned folder holds (written by the ETL); folders cleaned before specs existed hold the generator's layout. */
export function readCleanSchema(cleanDir: string): CleanSchema {
  try {
    return JSON.parse(Deno.readTextFileSync(`${cleanDir}/${SCHEMA_FILE}`));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    return generatorSchema();
  }
}

/** Read the cleaned table back (all partitions, or some dates), with `date` and `scene` restored from paths. */
export function scanClean(dir: string): pl.LazyDataFrame {
  return pl.scanParquet(`${dir}/date=*/scene=*/*.parquet`, { hivePartitioning: true } as never);
}

/** The reconciliation report an ETL run left in `dir`. */
export function readEtlReport(dir: string): EtlReport {
  return JSON.parse(Deno.readTextFileSync(`${dir}/${REPORT_FILE}`));
}

/**
 * The input file to replay for some row ids, with the row id of its first record: the last file if it holds any
 * of them (a log split by date keeps its newest days there), else the file that holds most of them.
 */
export function fileHolding(report: EtlReport, rowIds: Iterable<number>): { file: string; offset: number } {
  const starts = report.files.map((_, k) => report.files.slice(0, k).reduce((a, f) => a + f.rowsRead, 0));
  const counts = starts.map(() => 0);
  for (const id of rowIds) {
    const k = starts.findLastIndex((s) => s <= id);
    if (k >= 0 && id < starts[k] + report.files[k].rowsRead) counts[k]++;
  }
  const most = Math.max(...counts), last = counts.length - 1;
  const k = counts[last] > 0 || most === 0 ? last : counts.indexOf(most);
  return { file: report.files[k].file, offset: starts[k] };
}
