/**
 * ETL: raw AntM2C CSV logs → validated, Hive-partitioned Parquet (`date=YYYY-MM-DD/scene=N/part-*.parquet`).
 *
 * Two passes per chunk. A byte-level pass (lib/data/csv.ts) checks each line's quoting and field count and
 * tags valid lines with their row id and line number; polars then parses the chunk and validates values
 * (ids, scene 0–4, both timestamp layouts, label 0/1). Every row read is either written or quarantined with
 * its file, line, column, value and reason: written + quarantined = read, per file and in total.
 * A schema error (missing or unexpected header column) stops the run with the file and column named.
 */
import pl from "nodejs-polars";
import { Buffer } from "node:buffer";
import { ByteBuilder, forEachLine, lineShape, parseHeader, parseLogTimeBytes } from "./csv.ts";
import { CLEAN_FILE_COLUMNS, RAW_COLUMNS, SCENES } from "./schema.ts";
import { csvField } from "./synth.ts";

export class EtlSchemaError extends Error {
  constructor(readonly file: string, readonly column: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = "EtlSchemaError";
  }
}

export interface EtlOptions {
  /** A CSV file, or a directory searched recursively for *.csv (e.g. date=*&#47;part-*.csv), in sorted order. */
  input: string;
  /** Output directory; replaced if it holds an earlier ETL output, refused if it holds anything else. */
  output: string;
  /** Flush a chunk to polars/Parquet once this many bytes of valid lines are buffered. */
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
  files: { file: string; rowsRead: number; rowsWritten: number; rowsQuarantined: number }[];
  rowsRead: number;
  rowsWritten: number;
  rowsQuarantined: number;
  byReason: QuarantineReason[];
  partitions: { date: string; scene: number; rows: number; clicks: number }[];
  quarantineFile: string;
  seconds: number;
}

export const REPORT_FILE = "_etl_report.json";
export const QUARANTINE_FILE = "_quarantine.csv";
const QUARANTINE_HEADER = "file,line,row_id,reason,column,value,raw\n";

/** Raw CSV files under `input`, sorted (the order that defines row ids). */
export async function listInputFiles(input: string): Promise<string[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(input);
  } catch {
    throw new Error(`ETL input not found: ${input}`);
  }
  if (info.isFile) return [input];
  const out: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile && e.name.endsWith(".csv")) out.push(p);
    }
  };
  await walk(input);
  if (out.length === 0) throw new Error(`ETL input ${input} holds no .csv files`);
  return out.sort();
}

function checkHeader(file: string, names: string[]): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new EtlSchemaError(file, n, `duplicate column "${n}" in header`);
    seen.add(n);
    if (!(RAW_COLUMNS as readonly string[]).includes(n)) {
      throw new EtlSchemaError(file, n, `unexpected column "${n}" in header (expected ${RAW_COLUMNS.join(",")})`);
    }
  }
  for (const c of RAW_COLUMNS) {
    if (!seen.has(c)) throw new EtlSchemaError(file, c, `missing column "${c}" in header (found ${names.join(",")})`);
  }
}

async function readHeader(path: string): Promise<string[]> {
  using f = await Deno.open(path);
  const buf = new Uint8Array(64 << 10);
  const n = await f.read(buf) ?? 0;
  const text = new TextDecoder().decode(buf.subarray(0, n));
  const nl = text.indexOf("\n");
  if (n === 0 || (nl < 0 && n === buf.length)) throw new EtlSchemaError(path, "", n === 0 ? "empty file: no header line" : "no header line in the first 64 KiB");
  const header = parseHeader(nl < 0 ? text : text.slice(0, nl));
  checkHeader(path, header);
  return header;
}

async function prepareOutput(output: string): Promise<void> {
  try {
    const entries = [...Deno.readDirSync(output)];
    // an earlier (possibly interrupted) ETL output starts with the quarantine file
    const isOurs = entries.length === 0 || entries.some((e) => e.name === REPORT_FILE || e.name === QUARANTINE_FILE);
    if (!isOurs) throw new Error(`ETL output ${output} is not empty and holds no ${REPORT_FILE}; refusing to overwrite it`);
    await Deno.remove(output, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(output, { recursive: true });
}

/** Value checks in column order: the first failing one names the row's reason. */
function valueChecks(): { column: string; missing: pl.Expr; bad: pl.Expr }[] {
  const isInt = (c: string) => pl.col(c).cast(pl.Int64, false).isNull();
  return [
    { column: "user_id", missing: pl.col("user_id").isNull(), bad: isInt("user_id") },
    { column: "item_id", missing: pl.col("item_id").isNull(), bad: isInt("item_id") },
    { column: "scene", missing: pl.col("scene").isNull(), bad: pl.col("scene").isIn(SCENES.map(String)).not() },
    { column: "log_time", missing: pl.col("log_time").isNull(), bad: pl.col("_ms").isNull() },
    { column: "label", missing: pl.col("label").isNull(), bad: pl.col("label").isIn(["0", "1"]).not() },
  ];
}

function firstFailure(pick: "reason" | "column"): pl.Expr {
  // deno-lint-ignore no-explicit-any
  let chain: any = null;
  for (const c of valueChecks()) {
    for (const [cond, reason] of [[c.missing, "missing_value"], [c.bad, "bad_value"]] as const) {
      const value = pl.lit(pick === "reason" ? reason : c.column);
      chain = chain === null ? pl.when(cond).then(value) : chain.when(cond).then(value);
    }
  }
  return chain.otherwise(pl.lit(null)).alias(`_${pick}`);
}

class QuarantineWriter {
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
  add(file: string, line: number, rowId: number, reason: string, column: string, value: string, raw: string) {
    const key = `${reason}\u0000${column}`;
    const c = this.counts.get(key) ?? { reason, column, rows: 0 };
    c.rows++;
    this.counts.set(key, c);
    this.#write([file, line, rowId, reason, column, value, raw].map((x) => csvField(String(x))).join(",") + "\n");
  }
  close() {
    this.#file.close();
  }
}

/** Run the ETL; returns (and writes) the reconciliation report. */
export async function runEtl(opts: EtlOptions): Promise<EtlReport> {
  const t0 = performance.now();
  const files = await listInputFiles(opts.input);
  // every header is checked before anything is written: a schema error leaves no partial output
  const headers = new Map<string, string[]>();
  for (const path of files) headers.set(path, await readHeader(path));
  await prepareOutput(opts.output);
  const quarantine = new QuarantineWriter(`${opts.output}/${QUARANTINE_FILE}`);
  const chunkBytes = opts.chunkBytes ?? 96 << 20;
  const decoder = new TextDecoder();
  const partitions = new Map<string, { date: string; scene: number; rows: number; clicks: number; parts: number }>();
  const perFile: EtlReport["files"] = [];
  let rowId = 0;
  const chunk = new ByteBuilder(16 << 20);
  const range = new Int32Array(2);
  const dates = new Map<number, string>();
  const dateOf = (ms: number) => {
    const day = Math.floor(ms / 86_400_000);
    let d = dates.get(day);
    if (d === undefined) dates.set(day, d = new Date(day * 86_400_000).toISOString().slice(0, 10));
    return d;
  };

  const flush = (file: string, header: string[], stats: { written: number; quarantined: number }) => {
    if (chunk.length === 0) return;
    const raw = pl.readCSV(Buffer.from(chunk.buf.buffer, chunk.buf.byteOffset, chunk.length), {
      hasHeader: false, inferSchemaLength: 0, quoteChar: '"',
    });
    chunk.clear();
    const names = ["_row_id", "_line", "_ms", "date", ...header];
    const df = raw.rename(Object.fromEntries(raw.columns.map((c, k) => [c, names[k]])));
    const checked = df.withColumns(firstFailure("reason"), firstFailure("column"));
    const bad = checked.filter(pl.col("_reason").isNotNull());
    if (bad.height > 0) {
      for (const r of bad.toRecords() as Record<string, string | null>[]) {
        const column = r._column as string;
        const rawLine = header.map((h) => csvField(r[h] ?? "")).join(",");
        quarantine.add(file, Number(r._line), Number(r._row_id), r._reason as string, column, r[column] ?? "", rawLine);
        stats.quarantined++;
      }
    }
    const good = checked.filter(pl.col("_reason").isNull()).select(
      pl.col("_row_id").cast(pl.Int64).alias("row_id"),
      pl.col("user_id").cast(pl.Int64),
      pl.col("item_id").cast(pl.Int64),
      pl.col("_ms").cast(pl.Int64).cast(pl.Datetime("ms")).alias("log_time"),
      pl.col("label").cast(pl.Int32),
      ...["item_title", "item_entity_names", "query_entity_seq", "service_entity_seq", "bill_entity_seq"].map((c) => pl.col(c).fillNull("")),
      pl.col("scene").cast(pl.Int32),
      pl.col("date"),
    );
    stats.written += good.height;
    for (const part of good.partitionBy(["date", "scene"], false, true)) {
      const date = part.getColumn("date").get(0) as string;
      const scene = part.getColumn("scene").get(0) as number;
      const key = `${date}/${scene}`;
      const p = partitions.get(key) ?? { date, scene, rows: 0, clicks: 0, parts: 0 };
      const dir = `${opts.output}/date=${date}/scene=${scene}`;
      Deno.mkdirSync(dir, { recursive: true });
      part.select(...CLEAN_FILE_COLUMNS).writeParquet(`${dir}/part-${String(p.parts).padStart(5, "0")}.parquet`, { compression: "zstd" });
      p.parts++;
      p.rows += part.height;
      p.clicks += part.getColumn("label").sum() as number;
      partitions.set(key, p);
    }
  };

  for (const path of files) {
    const file = path.startsWith(opts.input + "/") ? path.slice(opts.input.length + 1) : path.split("/").pop()!;
    const stats = { read: 0, written: 0, quarantined: 0 };
    const header = headers.get(path)!;
    const timeField = header.indexOf("log_time");
    await forEachLine(path, (bytes, start, end, lineNo) => {
      if (lineNo === 1) return; // the header, checked above
      stats.read++;
      const id = rowId++;
      const shape = lineShape(bytes, start, end, timeField, range);
      if (!shape.ok || shape.fields !== RAW_COLUMNS.length || end === start) {
        const raw = decoder.decode(bytes.subarray(start, end));
        if (!shape.ok) quarantine.add(file, lineNo, id, "broken_quoting", "", `unterminated or stray quote at byte ${shape.at}`, raw);
        else quarantine.add(file, lineNo, id, end === start ? "empty_line" : "wrong_column_count", "", `${shape.fields} fields, expected ${RAW_COLUMNS.length}`, raw);
        stats.quarantined++;
        return;
      }
      const ms = parseLogTimeBytes(bytes, range[0], range[1]);
      chunk.field(String(id));
      chunk.field(String(lineNo));
      chunk.field(Number.isNaN(ms) ? "" : String(ms));
      chunk.field(Number.isNaN(ms) ? "" : dateOf(ms));
      chunk.bytes(bytes, start, end);
      chunk.byte(0x0a);
      if (chunk.length >= chunkBytes) flush(file, header, stats);
      if (stats.read % 500_000 === 0) opts.onProgress?.(rowId, file);
    });
    flush(file, header, stats);
    perFile.push({ file, rowsRead: stats.read, rowsWritten: stats.written, rowsQuarantined: stats.quarantined });
    opts.onProgress?.(rowId, file);
  }
  quarantine.close();

  const sum = (k: "rowsRead" | "rowsWritten" | "rowsQuarantined") => perFile.reduce((a, f) => a + f[k], 0);
  const report: EtlReport = {
    input: opts.input,
    output: opts.output,
    files: perFile,
    rowsRead: sum("rowsRead"),
    rowsWritten: sum("rowsWritten"),
    rowsQuarantined: sum("rowsQuarantined"),
    byReason: [...quarantine.counts.values()].sort((a, b) => b.rows - a.rows),
    partitions: [...partitions.values()].map(({ parts: _p, ...rest }) => rest).sort((a, b) => a.date.localeCompare(b.date) || a.scene - b.scene),
    quarantineFile: QUARANTINE_FILE,
    seconds: (performance.now() - t0) / 1000,
  };
  if (report.rowsWritten + report.rowsQuarantined !== report.rowsRead) {
    throw new Error(`ETL reconciliation failed: written ${report.rowsWritten} + quarantined ${report.rowsQuarantined} != read ${report.rowsRead}`);
  }
  await Deno.writeTextFile(`${opts.output}/${REPORT_FILE}`, JSON.stringify(report, null, 2));
  return report;
}

/** Read the cleaned table back (all partitions, or some dates), with `date` and `scene` restored from paths. */
export function scanClean(dir: string): pl.LazyDataFrame {
  return pl.scanParquet(`${dir}/date=*/scene=*/*.parquet`, { hivePartitioning: true } as never);
}

/** The reconciliation report an ETL run left in `dir`. */
export function readEtlReport(dir: string): EtlReport {
  return JSON.parse(Deno.readTextFileSync(`${dir}/${REPORT_FILE}`));
}
