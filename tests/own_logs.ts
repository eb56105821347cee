/**
 * Test helpers: click logs as users bring them. `writeReleaseLogs` writes the public AntM2C release's exact
 * layout (three files without an extension, 37 columns); `writeOtherLogs` turns generated logs into a log that
 * is not AntM2C at all — other column names, string ids, epoch-second times, 3 named scenes, a numeric and a
 * categorical column, GBK text, one file gzipped — plus the dataset spec that describes it.
 */
import pl from "nodejs-polars";
import { EXECUTION_DEFAULTS, REPO_ROOT, type RunConfig } from "../lib/config.ts";
import { ownDataDir } from "../lib/data/dataset.ts";
import { runEtl, scanClean } from "../lib/data/etl.ts";
import type { DatasetSpec } from "../lib/data/spec.ts";
import { generateLogs } from "../lib/data/synth.ts";

/** The release layout under `<dir>/logs` (only the three part files; the oracle stays in `<dir>/gen`, never given to ctrlab). */
export async function writeReleaseLogs(
  dir: string,
  rows: number,
  seed = 7,
  corruptRate = 0.01,
): Promise<string> {
  await generateLogs({ rows, seed, corruptRate, outDir: `${dir}/gen`, layout: "release" });
  await Deno.rename(`${dir}/gen/raw`, `${dir}/logs`);
  return `${dir}/logs`;
}

export const OTHER_SPEC: DatasetSpec = {
  name: "other-log",
  files: ["*.csv", "*.csv.gz"],
  encoding: "gbk",
  user: "uid",
  item: "ad",
  time: { column: "ts", format: "epoch_s" },
  label: { column: "clicked", positive: ["1.0", "1"], negative: ["0.0", "0"] },
  scene: { column: "surface", values: ["home", "feed", "search"] },
  text: [{ column: "title", side: "item" }, { column: "query", side: "user", entities: "," }],
  numeric: [{ column: "price", transform: "log1p" }],
  categorical: ["city"],
};

/** AntM2C scenes 0–4 folded into three named surfaces. */
const SURFACE = ["home", "home", "feed", "search", "search"];

/** Encode UTF-8 text as GBK with the system's iconv. */
export async function toGbk(text: string): Promise<Uint8Array> {
  const p = new Deno.Command("iconv", {
    args: ["-f", "UTF-8", "-t", "GBK"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const out = await p.output();
  if (!out.success) throw new Error(`iconv: ${new TextDecoder().decode(out.stderr)}`);
  return out.stdout;
}

/** Bytes compressed as gzip, or as zlib (`deflate`: the format of Hadoop's DefaultCodec, `.deflate` files). */
export async function compress(bytes: Uint8Array, format: "gzip" | "deflate" = "gzip"): Promise<Uint8Array> {
  return new Uint8Array(
    await new Response(new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream(format)))
      .arrayBuffer(),
  );
}

/**
 * Another company's click log under `<dir>/logs`: days before the midpoint in `part-a.csv.gz` (GBK, gzipped),
 * the rest in `part-b.csv` (GBK); `cut: "record"` splits at the middle record instead, inside a day. Returns the
 * folder and the spec file's path (written beside, not inside, the logs; `spec` replaces OTHER_SPEC).
 */
export async function writeOtherLogs(
  dir: string,
  rows: number,
  seed = 7,
  o: { cut?: "day" | "record"; spec?: DatasetSpec } = {},
): Promise<{ logs: string; spec: string; rows: number }> {
  await generateLogs({ rows, seed, corruptRate: 0, outDir: `${dir}/gen` });
  await runEtl({ input: `${dir}/gen/raw`, output: `${dir}/gen/clean` });
  const clean = scanClean(`${dir}/gen/clean`).sort("row_id").collectSync();
  const hex = (id: string) => (Math.imul(Number(id), 2654435761) >>> 0).toString(16).padStart(8, "0");
  const scene = clean.getColumn("scene").toArray() as number[];
  const users = clean.getColumn("user_id").toArray() as string[],
    items = clean.getColumn("item_id").toArray() as string[];
  const other = pl.DataFrame({
    uid: users.map((u) => `u_${u}`),
    ad: items.map(hex),
    ts: (clean.getColumn("log_time").toArray() as unknown as Date[]).map((d) => String(d.getTime() / 1000)),
    clicked: (clean.getColumn("label").toArray() as number[]).map((l) => l ? "1.0" : "0.0"),
    surface: scene.map((s) => SURFACE[s]),
    title: clean.getColumn("item_title").toArray() as string[],
    query: clean.getColumn("query_entity_seq").toArray() as string[],
    price: items.map((i, k) => k % 50 === 7 ? "" : String((Number(i) % 97) + 0.5)),
    city: users.map((u) => `c${Number(u) % 7}`),
    date: clean.getColumn("date").cast(pl.Utf8),
  });
  const days = [...new Set(other.getColumn("date").toArray() as string[])].sort();
  const mid = days[Math.floor(days.length / 2)];
  const [a, b] = o.cut === "record"
    ? [other.head(other.height >> 1), other.tail(other.height - (other.height >> 1))]
    : [other.filter(pl.col("date").lt(pl.lit(mid))), other.filter(pl.col("date").gtEq(pl.lit(mid)))];
  const csv = (df: pl.DataFrame) =>
    new TextDecoder().decode(df.drop("date").writeCSV() as unknown as Uint8Array);
  await Deno.mkdir(`${dir}/logs`, { recursive: true });
  await Deno.writeFile(`${dir}/logs/part-a.csv.gz`, await compress(await toGbk(csv(a))));
  await Deno.writeFile(`${dir}/logs/part-b.csv`, await toGbk(csv(b)));
  await Deno.writeTextFile(`${dir}/other-log.json`, JSON.stringify(o.spec ?? OTHER_SPEC, null, 2));
  return { logs: `${dir}/logs`, spec: `${dir}/other-log.json`, rows: other.height };
}

/** sha256 of every file under `dir` (relative path → hash), and each entry's mode: the input tree's fingerprint. */
export async function treeHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`, r = rel ? `${rel}/${e.name}` : e.name;
      const st = await Deno.lstat(p);
      if (e.isDirectory) {
        out[r + "/"] = `dir ${st.mode}`;
        await walk(p, r);
      } else {
        const h = await crypto.subtle.digest("SHA-256", await Deno.readFile(p));
        out[r] = `${st.mode} ${st.mtime?.getTime()} ${
          [...new Uint8Array(h)].map((b) => b.toString(16).padStart(2, "0")).join("")
        }`;
      }
    }
  };
  await walk(dir, "");
  return out;
}

/** A test run's configuration on the logs at `logs` (`spec`: a spec file; none: recognised from the header). */
export function ownRunConfig(dir: string, logs: string, spec?: string): RunConfig {
  return {
    ...EXECUTION_DEFAULTS,
    rows: 0,
    seed: 7,
    corruptRate: 0,
    input: logs,
    ...(spec ? { spec } : {}),
    dataDir: ownDataDir(logs, spec, `${dir}/work`),
    runDir: `${dir}/run`,
  };
}

/**
 * A log whose times come in three layouts (ISO 8601 with a fraction and an offset or Z, naive, Apache's
 * 15/Nov/2023:09:00:00 +0000), and fields that only look like one: each is read whole or quarantined. `times`:
 * the UTC instants of the written records, in row order (naive ones read as UTC); `instant`: which of them carry
 * an offset or Z; `bad`: the rows quarantined.
 */
export async function writeTimeLogs(
  dir: string,
): Promise<{ logs: string; spec: DatasetSpec; times: number[]; instant: boolean[]; bad: number }> {
  const rows: [string, number | null][] = [
    ["2023-11-15T06:23:20+08:00", Date.UTC(2023, 10, 14, 22, 23, 20)],
    ["2023-11-15 06:13:20", Date.UTC(2023, 10, 15, 6, 13, 20)],
    ["2023-11-15T01:00:00-05:00", Date.UTC(2023, 10, 15, 6, 0, 0)],
    ["2023-11-15 06:13:20+08:00", null], // an offset no naive pattern reads: not silently dropped
    ["2023-11-15T07:00:00.25Z", Date.UTC(2023, 10, 15, 7, 0, 0, 250)],
    ["15/Nov/2023:09:00:00 +0100", Date.UTC(2023, 10, 15, 8, 0, 0)],
    ["2023-11-15 06:13:20 UTC", null],
    ["2023-02-30T00:00:00Z", null],
    ["  2023-11-16 00:00:01 ", Date.UTC(2023, 10, 16, 0, 0, 1)],
  ];
  const log = await writeTimeLog(dir, "times", rows, {
    column: "ts",
    format: ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S", "%d/%b/%Y:%H:%M:%S %z"],
  });
  const instant = rows.filter(([, t]) => t !== null).map(([f]) => /(Z|[+-]\d{2}:?\d{2})$/.test(f));
  return { logs: log.logs, spec: log.spec, times: log.want, instant, bad: log.bad };
}

/**
 * A log of epoch seconds around London's clock changes, read in "Europe/London": `wallClock` is each written
 * record's local time (GMT, or BST an hour ahead from 26 March to 29 October 2023), in row order; one record
 * holds milliseconds where seconds belong (a time in the year 55,840) and is quarantined.
 */
export async function writeZoneLogs(
  dir: string,
): Promise<{ logs: string; spec: DatasetSpec; wallClock: number[]; bad: number }> {
  const H = 3_600_000;
  const rows: [string, number | null][] = [
    [String(Date.UTC(2023, 2, 26, 0, 30) / 1000), Date.UTC(2023, 2, 26, 0, 30)], // 00:30 GMT
    [String(Date.UTC(2023, 2, 26, 1, 30) / 1000), Date.UTC(2023, 2, 26, 1, 30) + H], // 02:30 BST
    [String(Date.UTC(2023, 5, 30, 23, 30) / 1000), Date.UTC(2023, 5, 30, 23, 30) + H], // 1 July, 00:30 BST
    [String(Date.UTC(2023, 9, 29, 0, 30) / 1000), Date.UTC(2023, 9, 29, 0, 30) + H], // 01:30 BST
    [String(Date.UTC(2023, 9, 29, 1, 30) / 1000), Date.UTC(2023, 9, 29, 1, 30)], // 01:30 GMT again
    [String(Date.UTC(2023, 10, 14, 22, 13, 20)), null], // milliseconds under epoch_s
    [`${Date.UTC(2023, 10, 14, 23) / 1000}.5`, Date.UTC(2023, 10, 14, 23) + 500],
  ];
  const log = await writeTimeLog(dir, "london", rows, {
    column: "ts",
    format: "epoch_s",
    zone: "Europe/London",
  });
  return { logs: log.logs, spec: log.spec, wallClock: log.want, bad: log.bad };
}

/**
 * `<dir>/logs/a.csv`, four columns (uid, ad, ts, clicked) with `rows`' time fields, and the spec that reads them
 * by `time`. `want`: the epoch ms of each row that is written (its second element), in row order; `bad`: how many
 * rows have none and are quarantined.
 */
async function writeTimeLog(
  dir: string,
  name: string,
  rows: [string, number | null][],
  time: DatasetSpec["time"],
) {
  await Deno.mkdir(`${dir}/logs`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/logs/a.csv`,
    ["uid,ad,ts,clicked", ...rows.map(([t], i) => `u${i},a${i % 3},${t},${i % 2}`)].join("\n") + "\n",
  );
  const spec: DatasetSpec = { name, user: "uid", item: "ad", time, label: { column: "clicked" } };
  const want = rows.filter(([, t]) => t !== null).map(([, t]) => t!);
  return { logs: `${dir}/logs`, spec, want, bad: rows.length - want.length };
}

/**
 * A small log (60 records) whose fields use missing-value markers ("NULL", "\N", " na ") in every kind of column,
 * under `<dir>/logs`, and the spec that names them. Markers land in the user id of records 0, 29 and 58 and in
 * the time of record 31 (those four are quarantined), in every 4th title, 5th price and 6th city.
 */
/** The roles most fixtures here share: `uid` × `ad`, a `clicked` label, the item's `title`. */
const ROLES = {
  user: "uid",
  item: "ad",
  label: { column: "clicked" },
  text: [{ column: "title", side: "item" as const }],
};

export async function writeMarkerLogs(dir: string): Promise<{ logs: string; spec: DatasetSpec }> {
  const lines = ["uid,ad,ts,clicked,surface,title,price,city"];
  for (let i = 0; i < 60; i++) {
    const or = (every: number, v: string) => i % every === 0 ? ["NULL", "\\N", " na "][i % 3] : v;
    lines.push([
      or(29, `u${i % 7}`),
      `a${i % 5}`,
      or(31, String(1_700_000_000 + i * 3600)),
      String(i % 2),
      ["home", "feed"][i % 2],
      or(4, `"t ${i % 6}, x"`),
      or(5, String(i + 0.5)),
      or(6, `c${i % 3}`),
    ].join(","));
  }
  await Deno.mkdir(`${dir}/logs`, { recursive: true });
  await Deno.writeTextFile(`${dir}/logs/a.csv`, lines.join("\n") + "\n");
  return {
    logs: `${dir}/logs`,
    spec: {
      name: "markers",
      ...ROLES,
      time: { column: "ts", format: "epoch_s" },
      scene: { column: "surface", values: ["home", "feed"] },
      numeric: ["price"],
      categorical: ["city"],
      missing: ["NULL", "\\N", "NA"],
    },
  };
}

/**
 * A log in Parquet as warehouses export it, under `<dir>/logs`, with the spec that reads it:
 * - `a.parquet` (60 rows): float user ids (as pandas writes integer ids with gaps), a naive millisecond timestamp,
 *   a boolean label, a categorical, a list of entity names with null elements, a 32-bit and a 64-bit number, and
 *   two columns the spec does not read (a struct and a list of floats);
 * - `b.parquet` (30 rows): other types for the same columns — integer ids, a nanosecond timestamp with a time
 *   zone (UTC+8), integer entity lists, a decimal price;
 * - `c.csv` (10 rows): the same columns as text, times in the wall-clock layout.
 * The spec reads times as typed ("timestamp") in Asia/Shanghai. Rows a:7 (no user), a:11 (no label), a:13 (an
 * unknown scene) and b:5 (no time) are quarantined.
 */
export async function writeParquetLogs(dir: string): Promise<{ logs: string; spec: DatasetSpec }> {
  const logs = `${dir}/logs`;
  await Deno.mkdir(logs, { recursive: true });
  const day = Date.UTC(2024, 2, 1, 9, 30, 0, 250), H = 3_600_000;
  const n = 60;
  const idx = Array.from({ length: n }, (_, i) => i);
  pl.DataFrame({
    uid: idx.map((i) => i === 7 ? null : 1_000_000 + (i % 9) * 1.0),
    ad: idx.map((i) => `ad-${i % 6}`),
    ts: idx.map((i) => new Date(day + i * 5 * H)),
    clicked: idx.map((i) => i === 11 ? null : i % 3 === 0),
    surface: idx.map((i) => i === 13 ? "other" : ["home", "feed"][i % 2]),
    title: idx.map((i) => [`title ${i % 4}`, 'a "quoted", title', "two\nlines", "", null][i % 5]),
    tags: idx.map((i) => i % 7 === 3 ? null : [`e${i % 4}`, null, `e${(i + 1) % 5}`].slice(0, 1 + (i % 3))),
    price: idx.map((i) => [0.1, 2.5, 1e-7, 123456789.25, 1e21, -0.3][i % 6]),
    weight: idx.map((i) => [0.5, 1.25, 3][i % 3]),
    city: idx.map((i) => ["sh", "bj", "gz"][i % 3]),
    unused_scores: idx.map((i) => [i * 0.5, 1]),
  }).withColumns(
    pl.col("weight").cast(pl.Float32),
    pl.col("city").cast(pl.Categorical),
    pl.struct([pl.col("ad"), pl.col("price")]).alias("unused_struct"),
  ).writeParquet(`${logs}/a.parquet`);
  const m = 30;
  const jdx = Array.from({ length: m }, (_, i) => i);
  pl.DataFrame({
    uid: jdx.map((i) => 1_000_000 + (i % 5)),
    ad: jdx.map((i) => `ad-${i % 4}`),
    ts: jdx.map((i) => i === 5 ? null : new Date(day + (n + i) * 5 * H + 17)),
    clicked: jdx.map((i) => i % 4 === 0),
    surface: jdx.map((i) => ["feed", "home"][i % 2]),
    title: jdx.map((i) => `b title ${i % 3}`),
    tags: jdx.map((i) => [i % 3, 10 + (i % 2)]),
    price: jdx.map((i) => [1.5, 20, 0.125][i % 3]),
    weight: jdx.map((i) => i % 2),
    city: jdx.map((i) => ["sz", "sh"][i % 2]),
  }).withColumns(
    pl.col("uid").cast(pl.Int64),
    pl.col("ts").cast(pl.Datetime("ns")).dt.replaceTimeZone("UTC").dt.convertTimeZone("Asia/Shanghai"),
    pl.col("tags").cast(pl.List(pl.Int64)),
    pl.col("price").cast(pl.Decimal(12, 3)),
    pl.col("weight").cast(pl.Int32),
  ).writeParquet(`${logs}/b.parquet`);
  const csv = ["uid,ad,ts,clicked,surface,title,price,weight,city,tags"];
  for (let i = 0; i < 10; i++) {
    const t = new Date(day + (n + m + i) * 5 * H).toISOString().replace("T", " ").replace("Z", "");
    csv.push(`u${i % 3},ad-${i % 2},${t},${i % 2},home,c title,${i + 0.5},1,gz,"x,y"`);
  }
  await Deno.writeTextFile(`${logs}/c.csv`, csv.join("\n") + "\n");
  return {
    logs,
    spec: {
      name: "warehouse",
      files: ["*.parquet", "*.csv"],
      user: "uid",
      item: "ad",
      time: { column: "ts", format: "timestamp", zone: "Asia/Shanghai" },
      label: { column: "clicked" },
      scene: { column: "surface", values: ["home", "feed"] },
      text: [{ column: "title", side: "item" }, { column: "tags", side: "user", entities: "," }],
      numeric: ["price", "weight"],
      categorical: ["city"],
    },
  };
}

/**
 * A table in Hive's layout under `<dir>/logs`, as Spark and Hive write one: the hour and the scene are only in the
 * folder names (`hour=2024-03-01 10%3A00%3A00/scene=feed/`, Hive's escapes), in Parquet part files and one text
 * file without an extension (`000000_0`) that has a scene column of its own, which wins over its folder's. The
 * folder `scene=__HIVE_DEFAULT_PARTITION__` (Hive's null) holds 5 records, quarantined for their missing scene.
 */
export async function writeHiveLogs(dir: string): Promise<{ logs: string; spec: DatasetSpec }> {
  const logs = `${dir}/logs`;
  const part = async (folder: string, rows: number, seed: number) => {
    await Deno.mkdir(`${logs}/${folder}`, { recursive: true });
    const k = Array.from({ length: rows }, (_, i) => i + seed);
    pl.DataFrame({
      uid: k.map((i) => `u${i % 7}`),
      ad: k.map((i) => `a${i % 5}`),
      clicked: k.map((i) => i % 3 === 0 ? 1 : 0),
      text: k.map((i) => `t ${i % 4}`), // a name the Spark ETL's own columns once clashed with
    }).writeParquet(`${logs}/${folder}/part-00000.parquet`);
  };
  await part("hour=2024-03-01 10%3A00%3A00/scene=feed", 20, 0);
  await part("hour=2024-03-01 11%3A00%3A00/scene=home%2Fpage", 20, 20);
  await part("hour=2024-03-02 09%3A00%3A00/scene=__HIVE_DEFAULT_PARTITION__", 5, 40);
  const text = `${logs}/hour=2024-03-02 10%3A00%3A00/scene=feed`;
  await Deno.mkdir(text, { recursive: true });
  const lines = ["uid,ad,clicked,scene,text"];
  for (let i = 0; i < 10; i++) lines.push(`u${i % 3},a${i % 2},${i % 2},home,"t, ${i}"`);
  await Deno.writeTextFile(`${text}/000000_0`, lines.join("\n") + "\n");
  return {
    logs,
    spec: {
      name: "hive",
      files: "**/*",
      user: "uid",
      item: "ad",
      time: { column: "hour", format: "%Y-%m-%d %H:%M:%S" },
      label: { column: "clicked" },
      scene: { column: "scene" },
      text: [{ column: "text", side: "item" }],
    },
  };
}

/**
 * A table exported as text without a header, as Hive writes one (`INSERT OVERWRITE DIRECTORY`: Ctrl-A between
 * fields, `\N` for a missing value, files `000000_0` in `dt=…` folders), under `<dir>/logs`, with the spec that
 * names its columns. 48 records, 4 of them quarantined:
 * - `dt=2024-03-01/000000_0`, 20 records: line 6 has no user (`\N`), line 10 a field too few;
 * - `dt=2024-03-02/000000_0`, 17 records: a UTF-8 byte order mark, then a record with a field too many (line 1,
 *   byte 3), a record over lines 2–3 (a quoted line break), 15 more (line 12 a field too few);
 * - `dt=2024-03-03/000001_0.deflate`, 11 records, zlib-compressed (Hadoop's DefaultCodec, as Hive compresses): the
 *   first over lines 1–2;
 * - `dt=2024-03-03/000002_0`, empty (a reducer that had no rows).
 */
export async function writeHeaderlessLogs(dir: string): Promise<{ logs: string; spec: DatasetSpec }> {
  const logs = `${dir}/logs`, A = "\u0001";
  const record = (day: number, i: number) => [
    i === 5 && day === 1 ? "\\N" : `u${i % 7}`,
    `a${i % 5}`,
    `2024-03-0${day} ${10 + (i % 10)}:${String(i * 2).padStart(2, "0")}:00`,
    i % 3 === 0 ? 1 : 0,
    ["home", "feed"][i % 2],
    i % 3 === 1 ? "\\N" : `t ${i % 4}`,
    i % 4 === 2 ? "\\N" : i + 0.5,
  ];
  const write = async (day: number, file: string, lines: string[], bom = "") => {
    await Deno.mkdir(`${logs}/dt=2024-03-0${day}`, { recursive: true });
    const text = new TextEncoder().encode(bom + lines.join("\n") + "\n");
    const deflate = file.endsWith(".deflate");
    await Deno.writeFile(
      `${logs}/dt=2024-03-0${day}/${file}`,
      deflate ? await compress(text, "deflate") : text,
    );
  };
  await write(
    1,
    "000000_0",
    Array.from({ length: 20 }, (_, i) => record(1, i).slice(0, i === 9 ? 6 : 7).join(A)),
  );
  const two = Array.from({ length: 17 }, (_, i) => record(2, i).slice(0, i === 10 ? 6 : 7));
  two[1][5] = '"two\nlines"';
  await write(2, "000000_0", [[...two[0], "extra"].join(A), ...two.slice(1).map((r) => r.join(A))], "\uFEFF");
  const three = Array.from({ length: 11 }, (_, i) => record(3, i));
  three[0][5] = '"first\nrecord"';
  await write(3, "000001_0.deflate", three.map((r) => r.join(A)));
  await Deno.writeFile(`${logs}/dt=2024-03-03/000002_0`, new Uint8Array(0));
  return {
    logs,
    spec: {
      name: "hive-text",
      columns: ["uid", "ad", "ts", "clicked", "surface", "title", "price"],
      delimiter: A,
      ...ROLES,
      time: { column: "ts", format: "%Y-%m-%d %H:%M:%S" },
      scene: { column: "surface", values: ["home", "feed"] },
      numeric: ["price"],
      missing: ["\\N"],
    },
  };
}

/**
 * Hive's text files quote nothing, so a `"` anywhere in a field is text. Under `<dir>/logs`: `000000_0` (no
 * header, Ctrl-A, 12 records whose titles hold quotes at the start, inside, alone and unbalanced; line 12 has a
 * field too few) and `part-1.parquet` (4 rows, titles holding the delimiter, a line break and quotes). Its spec
 * says `"quote": null`; `titles` are the 15 titles written, in record order.
 */
export async function writeUnquotedLogs(
  dir: string,
): Promise<{ logs: string; spec: DatasetSpec; titles: string[] }> {
  const logs = `${dir}/logs`, A = "\u0001";
  await Deno.mkdir(logs, { recursive: true });
  const quoted = ['7" tablet', '"quoted" start', 'ends with "', '"', '""', 'a "b" c', "plain"];
  const title = (i: number) => quoted[i % quoted.length];
  const lines = Array.from(
    { length: 12 },
    (_, i) =>
      [`u${i % 4}`, `a${i % 3}`, `2024-03-0${1 + (i % 3)} 10:00:00`, i % 2, title(i)].slice(
        0,
        i === 11 ? 4 : 5,
      )
        .join(A),
  );
  await Deno.writeTextFile(`${logs}/000000_0`, lines.join("\n") + "\n");
  const parquet = [`x${A}y`, "two\nlines", '"q"', 'a"b'];
  pl.DataFrame({
    uid: ["u1", "u2", "u3", "u4"],
    ad: ["a1", "a2", "a1", "a2"],
    ts: ["2024-03-01 11:00:00", "2024-03-02 11:00:00", "2024-03-03 11:00:00", "2024-03-03 12:00:00"],
    clicked: [1, 0, 0, 1],
    title: parquet,
  }).writeParquet(`${logs}/part-1.parquet`);
  return {
    logs,
    spec: {
      name: "unquoted",
      columns: ["uid", "ad", "ts", "clicked", "title"],
      delimiter: A,
      quote: null,
      ...ROLES,
      time: { column: "ts", format: "%Y-%m-%d %H:%M:%S" },
      scene: null,
    },
    titles: [...Array.from({ length: 11 }, (_, i) => title(i)), ...parquet],
  };
}

/**
 * A log as Spark's `df.write.csv` writes it by default, under `<dir>/logs/part-00000.csv`: no header, a quote inside
 * a quoted field escaped with a backslash (and a backslash there doubled), a lone backslash elsewhere as it is. The
 * first 12 titles' lines are Spark 4.0's own output for `titles` (checked once with pyspark), two more span lines
 * around escaped quotes, and a last record, `"a""b"` (RFC 4180's doubling, which this dialect does not read), is
 * quarantined.
 */
export async function writeSparkCsvLogs(
  dir: string,
): Promise<{ logs: string; spec: DatasetSpec; titles: string[] }> {
  const titles = [
    "plain",
    'a "quoted" word',
    '7" tablet',
    "C:\\dir",
    'C:\\dir "x"',
    "ends \\",
    'ends \\"',
    "two\nlines",
  ];
  titles.push("com,ma", '"', '\\"', "", 'multi "q"\nline \\ end', 'end "\nnext');
  const written = [
    "plain",
    '"a \\"quoted\\" word"',
    '"7\\" tablet"',
    "C:\\dir",
    '"C:\\\\dir \\"x\\""',
    "ends \\",
    '"ends \\\\\\""',
    '"two\nlines"',
    '"com,ma"',
    '"\\""',
    '"\\\\\\""',
    '""',
    '"multi \\"q\\"\nline \\\\ end"',
    '"end \\"\nnext"',
    '"a""b"',
  ];
  const lines = written.map((t, i) =>
    `u${i % 3},a${i % 4},2024-03-0${1 + (i % 3)} 10:00:0${i % 10},${i % 2},${t}`
  );
  await Deno.mkdir(`${dir}/logs`, { recursive: true });
  await Deno.writeTextFile(`${dir}/logs/part-00000.csv`, lines.join("\n") + "\n");
  return {
    logs: `${dir}/logs`,
    spec: {
      name: "spark-csv",
      columns: ["uid", "ad", "ts", "clicked", "title"],
      escape: "\\",
      ...ROLES,
      time: { column: "ts", format: "%Y-%m-%d %H:%M:%S" },
      scene: null,
    },
    titles,
  };
}

/** `ctrlab ARGS` in a child process, from `cwd` (the repo's root unless given): its exit code and output as text. */
export async function ctrlabCli(
  args: string[],
  o: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", `${REPO_ROOT}/deno.json`, `${REPO_ROOT}/cli/ctrlab.ts`, ...args],
    cwd: o.cwd ?? REPO_ROOT,
    env: o.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}
