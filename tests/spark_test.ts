/**
 * The Spark engine against polars: the same cleaned data through both builds of the training table must give
 * the same rows in the same order, splits, vocabularies, priors, standardisation and feature values (floats
 * to 1e-6), in Spark's local mode and on a standalone cluster (a master and two workers on loopback).
 */
import pl from "nodejs-polars";
import { REPO_ROOT } from "../lib/config.ts";
import { localCluster, runSparkPlan, SparkDriver } from "../lib/data/spark.ts";
import {
  LEFT_OPEN,
  QUARANTINE_FILE,
  readCleanSchema,
  readEtlReport,
  runEtl,
  scanClean,
} from "../lib/data/etl.ts";
import { patternMs, type Zone, zonedMs } from "../lib/data/times.ts";
import { GAP_BUCKET, patternSql, runEtlSpark, timeSql } from "../lib/data/etl_spark.ts";
import { MAX_RECORD_BYTES, parseLogTime } from "../lib/data/csv.ts";
import { parquetText, parquetTextSql } from "../lib/data/parquet.ts";
import {
  ANTM2C_TIME_FORMATS,
  BUILTIN_SPECS,
  type DatasetSpec,
  isInstantFormat,
  loadSpec,
  resolveSpec,
} from "../lib/data/spec.ts";
import { generateLogs } from "../lib/data/synth.ts";
import { RAW_COLUMNS } from "../lib/data/schema.ts";
import {
  buildTable,
  buildTableSpark,
  loadEvents,
  type Manifest,
  readManifest,
  readSplitRaw,
  SPLITS,
  writeTable,
} from "../lib/features/table.ts";
import { assert, assertEquals, assertRejects, tempDir } from "./assert.ts";
import {
  ctrlabCli,
  OTHER_SPEC,
  toGbk,
  treeHashes,
  writeHeaderlessLogs,
  writeHiveLogs,
  writeMarkerLogs,
  writeOtherLogs,
  writeParquetLogs,
  writeReleaseLogs,
  writeSparkCsvLogs,
  writeTimeLogs,
  writeUnquotedLogs,
  writeZoneLogs,
} from "./own_logs.ts";

/**
 * One Spark driver for this file's tests (local mode, two cores), started by the first test that needs it: later
 * plans run warm (a cold driver spends seconds starting, and more while Java compiles Spark's code). It stops when
 * the test process ends, so tests leave its process and pipes open, which Deno's sanitizers would count.
 */
let shared: Promise<SparkDriver> | undefined;
const driver = () => shared ??= SparkDriver.start("local[2]");
const sparkTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });

sparkTest(
  "a Spark driver runs plans one after another, each from a clean session; a failed plan reports Spark's message and the driver goes on; a lost session says why",
  async () => {
    const spark = await driver();
    const setting = (name: string) => ({ collect: name, sql: "SET spark.sql.shuffle.partitions" });
    const [a, b] = await Promise.all([ // given together, run one after the other
      spark.run({
        app: "first",
        inputs: [],
        steps: [
          { view: "v", cache: true, sql: "SELECT 7 AS x" },
          { collect: "v", sql: "SELECT x FROM v" },
          setting("n"),
        ],
        conf: { "spark.sql.shuffle.partitions": "3" },
      }),
      spark.run({ app: "second", inputs: [], steps: [setting("n")] }),
    ]);
    assertEquals(a.collected.v, [{ x: 7 }]);
    assertEquals([a.collected.n[0].value, b.collected.n[0].value], ["3", "200"]); // the plan's setting, then Spark's
    await assertRejects(
      () => spark.run({ app: "third", inputs: [], steps: [{ collect: "v", sql: "SELECT x FROM v" }] }),
      Error,
      'Spark plan "third" failed on local[2]:\n[TABLE_OR_VIEW_NOT_FOUND] The table or view `v` cannot be found',
    );
    assertEquals(
      (await spark.run({ app: "fourth", inputs: [], steps: [setting("n")] })).collected.n[0].value,
      "200",
    );
    // a driver closed stops its process and removes its folder; it takes no more plans
    const own = await SparkDriver.start("local[1]");
    assertEquals(
      (await own.run({ app: "one", inputs: [], steps: [setting("n")] })).collected.n[0].value,
      "200",
    );
    await own.close();
    assertEquals(await Deno.stat(own.dir).then(() => "there", () => "gone"), "gone");
    await assertRejects(
      () => own.run({ app: "late", inputs: [], steps: [] }),
      Error,
      "the driver on local[1] is closed",
    );
    // a plan that takes the JVM down (out of memory) says why, from Spark's log; later plans are refused plainly
    const small = await SparkDriver.start("local[1]", { "spark.driver.memory": "512m" });
    try {
      await assertRejects(
        () =>
          small.run({
            app: "too big",
            inputs: [],
            steps: [{
              collect: "x",
              sql: "SELECT SIZE(COLLECT_LIST(REPEAT('x', 1000000))) AS n FROM RANGE(2000)",
            }],
          }),
        Error,
        "java.lang.OutOfMemoryError",
      );
      await assertRejects(
        () => small.run({ app: "after", inputs: [], steps: [setting("n")] }),
        Error,
        'lost its session (Spark plan "too big" failed on local[1])',
      );
    } finally {
      await small.close();
    }
    // a driver that cannot start says why, from Spark's log
    await assertRejects(
      () => SparkDriver.start("nowhere[2]"),
      Error,
      "Could not parse Master URL: 'nowhere[2]'",
    );
  },
);

sparkTest(
  "ctrlab etl --engine spark from inside the log folder: --spark-conf reaches the driver, nothing is written where it runs; Spark's options are refused without Spark",
  async () => {
    const dir = await tempDir("spark-cli");
    const { logs, spec } = await writeOtherLogs(dir, 1_000, 3);
    const before = await treeHashes(logs);
    const ctrlab = async (...args: string[]) => {
      const out = await ctrlabCli(args, { cwd: logs }); // where a user reading their logs may well be
      return { code: out.code, text: out.stdout + out.stderr };
    };
    const etl = ["etl", "--input", ".", "--output", `${dir}/clean`, "--spec", spec];
    // a setting Spark refuses: its message, so the setting reached the driver
    const bad = await ctrlab(...etl, "--engine", "spark", "--spark-conf", "spark.sql.shuffle.partitions=0");
    assertEquals(bad.code, 1, bad.text);
    assert(bad.text.includes("'0' in spark.sql.shuffle.partitions is invalid"), bad.text);
    const ok = await ctrlab(
      ...etl,
      "--engine",
      "spark",
      "--master",
      "local[1]",
      "--spark-conf",
      "spark.sql.shuffle.partitions=3",
      "--spark-conf",
      "spark.driver.extraJavaOptions=-Dctrlab.note=a=b",
    );
    assertEquals(ok.code, 0, ok.text);
    assertEquals(readEtlReport(`${dir}/clean`).rowsRead, 1_000);
    // Spark's SQL warehouse folder, among the rest, is made in the driver's own folder, not where it runs
    assertEquals(await treeHashes(logs), before, "the log folder is as it was");
    // the settings reach a notebook's kernel through the run's environment (ctrlab env, as lab.sh exports it)
    const lab = await new Deno.Command("bash", {
      args: [
        "-c",
        `eval "$("$0" run -A cli/ctrlab.ts env --engine spark --spark-conf spark.executor.memory=3g \
          --spark-conf "spark.driver.extraJavaOptions=-Da='b c' -Dd=e")" && "$0" eval \
          'import { runConfig } from "./lib/config.ts"; console.log(JSON.stringify(runConfig().sparkConf))'`,
        Deno.execPath(),
      ],
      cwd: REPO_ROOT,
      stdout: "piped",
    }).output();
    assertEquals(JSON.parse(new TextDecoder().decode(lab.stdout)), {
      "spark.executor.memory": "3g",
      "spark.driver.extraJavaOptions": "-Da='b c' -Dd=e",
    });
    // Spark's options without Spark, and a setting that is not KEY=VALUE, are refused before anything runs
    const refusals = [
      [[...etl, "--spark-conf", "spark.x=1"], "etl: --spark-conf is for --engine spark"],
      [["main", "--spark-conf", "spark.x=1"], "main: --spark-conf is for --engine spark"],
      [["main", "--master", "local[1]", "--engine", "polars"], "main: --master is for --engine spark"],
      [[...etl, "--engine", "spark", "--spark-conf", "shuffle=3"], 'got "shuffle=3"'],
      [
        ["etl", "--input", "hdfs://nn:8020/logs", "--output", `${dir}/x`],
        "--input hdfs://nn:8020/logs: ctrlab",
      ],
      [["main", "--data", "s3a://bucket/logs"], "mount that storage here"],
    ] as const;
    await Promise.all(refusals.map(async ([args, message]) => {
      const r = await ctrlab(...args);
      assertEquals(r.code, 1, r.text);
      assert(r.text.includes(message), `${args.join(" ")}: ${r.text}`);
    }));
  },
);

/** Patterns in Spark's subset, each tried on every field of TIME_FIELDS. */
// deno-fmt-ignore
const TIME_PATTERNS = [
  "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%z",
  "%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.3f%#z", "%Y-%m-%d %H:%M:%S%.6f", "%Y-%m-%d %H:%M:%S.%3f", "%F %T",
  "%FT%R", "%Y-%m-%d", "%Y%m%d%H%M%S", "%Y%m%d", "%d/%m/%Y %H:%M", "%-m/%-d/%Y %-I:%M %p", "%D %T", "%y-%m-%d %H:%M",
  "%e %b %Y %H:%M", "%d %B %Y", "%Y-%m-%d %I:%M:%S %P", "%Y-%m-%d %H:%M:%S %9f", "%Y-%m-%d %H:%M:%S %f",
  "%Y.%m.%d %H.%M.%S", "%H:%M:%S %Y-%m-%d", "%Y-%m-%d %H:%M:%S %%", "%Y年%m月%d日 %H时%M分",
];
/** Fields (already trimmed, as the ETL trims them): layouts, and every way one can fail or be read leniently. */
// deno-fmt-ignore
const TIME_FIELDS = [
  "2023-11-25 12:34:56", "2023-11-25 1:2:3", "2023-1-5 12:34:56", "2023-11-25  12:34:56", "2023-11-25 \t  12:34:56",
  "2023-11-2512:34:56", "2023-11- 5 12:34:56", "+2023-11-25 12:34:56", "+02023-11-25 12:34:56",
  "-0001-11-25 12:34:56", "0000-01-01 00:00:00", "123-11-25 12:34:56", "2023-11-25\t12:34:56", "2023-11-25 23:59:60",
  "2023-12-31 23:59:60", "2023-11-25 12:60:00", "2023-11-25 12:34:61", "2023-11-25 24:00:00", "2024-02-29 00:00:00",
  "2023-02-29 00:00:00", "2023-04-31 00:00:00", "2023-13-01 00:00:00", "2023-00-10 00:00:00", "2023-011-25 12:34:56",
  "2023/11/25 12:34", "2023/1/5 2:03", "2023-11-25T12:34:56", "2023-11-25t12:34:56", "2023-11-25T12:34:56Z",
  "2023-11-25T12:34:56z", "2023-11-25T12:34:56.5", "2023-11-25T12:34:56.", "2023-11-25T12:34:56.123",
  "2023-11-25T12:34:56.123456789", "2023-11-25T12:34:56.1234567891", "2023-11-25T12:34:56+08:00",
  "2023-11-25T12:34:56+0800", "2023-11-25T12:34:56+08", "2023-11-25T12:34:56-05:30", "2023-11-25T12:34:56 +08:00",
  "2023-11-25T12:34:56+08 00", "2023-11-25T12:34:56\u221208:00", "2023-11-25T12:34:56+24:00",
  "2023-11-25T12:34:56+23:59", "2023-11-25T12:34:56+08:60", "2023-11-25T12:34:56+8:00",
  "2023-11-25T12:34:56+08:00:00", "2023-11-25T12:34:56.789+05:30", "2023-11-25T12:34:56.789Z",
  "2023-11-25T12:34:56.789 Z", "2023-11-25 12:34:56.123456", "2023-11-25 12:34:56.123", "2023-11-25 12:34:56.1234",
  "2023-11-25 12:34", "2023-11-25", "2023-11-25 00:00:00", "20231125123456", "2023112512345", "202311251234567",
  "20231125", "2023115", "202311", "20231", "25/11/2023 12:34", "5/1/2023 2:03", "25/11/23 12:34", "11/25/2023 01:34 PM",
  "11/25/2023 12:34 am", "11/25/2023 13:34 PM", "11/25/2023 0:34 AM", "11/25/2023 12:30AM", "11/25/23 12:34:56",
  "23-11-25 12:34", "69-01-01 00:00", "70-01-01 00:00", "25 Nov 2023 12:34", "5 nov 2023 12:34", "5 NOV 2023 2:03",
  "25 November 2023", "25 Sept 2023", "25 Sep 2023", "25 june 2023", "25 Junee 2023", "25 Novem 2023",
  "2023-11-25 12:00:00 AM", "2023-11-25 12:00:00 pm", "2023-11-25 12:34:56 123456789", "2023-11-25 12:34:56 1",
  "2023-11-25 12:34:56 1234567890", "2023.11.25 12.34.56", "12:34:56 2023-11-25", "2023-11-25 12:34:56 %",
  "2023年11月25日 12时34分", "2023-11-25T12:34", "not a time", "", "1700915696", "+99999-01-01 00:00:00",
  "0023-07-10 08:05:31", "0001-01-01 00:00:00", "0004-02-29 00:00:00", "0100-02-29 00:00:00", "0099/12/31 23:59",
  "0000/1/1 0:00", "9999-12-31 23:59:59",
];

/** The patterns that read instants, each in a named zone and at a fixed offset. */
const ZONED: [string, Zone][] = [
  ...TIME_PATTERNS.filter(isInstantFormat).flatMap((p): [string, Zone][] => [
    [p, { zone: "Asia/Kolkata" }],
    [p, { zone: "-03:30" }],
  ]),
  // times without an offset, written in UTC or at a fixed offset
  ["%Y-%m-%d %H:%M:%S", { zone: "Asia/Kolkata", naive: "UTC" }],
  ["%-m/%-d/%Y %-I:%M %p", { zone: "Europe/London", naive: "+05:30" }],
];
/** AntM2C's layouts read in a zone, from times written at a fixed offset. */
const ANTM2C_ZONE: Zone = { zone: "America/New_York", naive: "-02:00" };

const close = (a: number, b: number, tol = 1e-6) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(a));

/** Every difference between two written tables, as readable lines (empty: they match). */
function tableDiffs(a: string, b: string): string[] {
  const out: string[] = [];
  const [ma, mb] = [readManifest(a), readManifest(b)];
  const same = (what: string, x: unknown, y: unknown) =>
    JSON.stringify(x) !== JSON.stringify(y) &&
    out.push(`${what}: ${JSON.stringify(x)} ≠ ${JSON.stringify(y)}`);
  for (const k of ["rows", "split", "vocabs", "scenes", "sceneNames", "categorical"] as (keyof Manifest)[]) {
    same(`manifest.${k}`, ma[k], mb[k]);
  }
  for (const e of ["user", "item"] as const) {
    for (const p of ["alpha", "beta"] as const) {
      if (!close(ma.priors[e][p], mb.priors[e][p], 1e-9)) {
        out.push(`prior ${e}.${p}: ${ma.priors[e][p]} ≠ ${mb.priors[e][p]}`);
      }
    }
  }
  same("feature list", ma.features.map((f) => f.name), mb.features.map((f) => f.name));
  for (const [i, f] of ma.features.entries()) {
    const g = mb.features[i];
    for (const k of ["mean", "std", "fill", "missingShare"] as const) {
      if (
        (f[k] === undefined) !== (g?.[k] === undefined) || (f[k] !== undefined && !close(f[k]!, g[k]!, 1e-9))
      ) {
        out.push(`${f.name}.${k}: ${f[k]} ≠ ${g?.[k]}`);
      }
    }
  }
  for (const c of Object.keys(ma.vocabs)) {
    const [va, vb] = [pl.readParquet(`${a}/vocab_${c}.parquet`), pl.readParquet(`${b}/vocab_${c}.parquet`)];
    same(`vocab_${c} columns`, va.columns, vb.columns);
    for (const col of va.columns) {
      same(
        `vocab_${c}.${col}`,
        va.getColumn(col).toArray().map(String),
        vb.getColumn(col).toArray().map(String),
      );
    }
  }
  for (const sp of SPLITS) {
    const [ta, tb] = [readSplitRaw(a, sp), readSplitRaw(b, sp)];
    same(`${sp} columns`, ta.columns, tb.columns);
    same(`${sp} types`, ta.dtypes.map(String), tb.dtypes.map(String));
    if (ta.height !== tb.height) {
      out.push(`${sp}: ${ta.height} ≠ ${tb.height} rows`);
      continue;
    }
    for (const col of ta.columns.filter((c) => tb.columns.includes(c))) {
      const [x, y] = [ta.getColumn(col).toArray(), tb.getColumn(col).toArray()];
      const bad = x.findIndex((v, i) =>
        typeof v === "number" && typeof y[i] === "number"
          ? !(close(v, y[i] as number) || (Number.isNaN(v) && Number.isNaN(y[i])))
          : String(v) !== String(y[i])
      );
      if (bad >= 0) {
        out.push(
          `${sp}.${col} row ${bad} (row_id ${ta.getColumn("row_id").get(bad)}): ${x[bad]} ≠ ${y[bad]}`,
        );
      }
    }
  }
  return out;
}

/** An ETL output's quarantine as written (record order), every field as text. */
function readQuarantine(clean: string): pl.DataFrame {
  return pl.readCSV(Deno.readTextFileSync(`${clean}/${QUARANTINE_FILE}`), { inferSchemaLength: 0 } as never);
}

/** Every difference between two ETL outputs: the report's accounting, the cleaned rows and the quarantine, record by record. */
async function etlDiffs(a: string, b: string): Promise<string[]> {
  const out: string[] = [];
  const [ra, rb] = [readEtlReport(a), readEtlReport(b)];
  const same = (what: string, x: unknown, y: unknown) =>
    JSON.stringify(x) !== JSON.stringify(y) &&
    out.push(`${what}: ${JSON.stringify(x)} ≠ ${JSON.stringify(y)}`);
  for (const k of ["rowsRead", "rowsWritten", "rowsQuarantined", "files", "partitions", "scenes"] as const) {
    same(`report.${k}`, ra[k], rb[k]);
  }
  const reasons = (r: typeof ra) =>
    [...r.byReason].sort((x, y) => `${x.reason}${x.column}`.localeCompare(`${y.reason}${y.column}`));
  same("report.byReason", reasons(ra), reasons(rb));
  same("_dataset.json", readCleanSchema(a), readCleanSchema(b));
  const clean = (dir: string) =>
    scanClean(dir).collectSync().sort("row_id").withColumns(
      pl.col("log_time").cast(pl.Datetime("ms")).cast(pl.Int64),
      pl.col("date").cast(pl.Utf8),
    );
  const [ca, cb] = [clean(a), clean(b)];
  same("clean columns", ca.columns, cb.columns);
  if (ca.height !== cb.height) out.push(`clean: ${ca.height} ≠ ${cb.height} rows`);
  else {
    for (const col of ca.columns.filter((c) => cb.columns.includes(c))) {
      const [x, y] = [ca.getColumn(col).toArray(), cb.getColumn(col).toArray()];
      const bad = x.findIndex((v, i) => String(v) !== String(y[i]));
      if (bad >= 0) out.push(`clean.${col} row ${bad}: ${x[bad]} ≠ ${y[bad]}`);
    }
  }
  // the quarantine by row id, every field compared
  const [qa, qb] = [readQuarantine(a).sort("row_id"), readQuarantine(b).sort("row_id")];
  if (qa.height !== qb.height) out.push(`quarantine: ${qa.height} ≠ ${qb.height} records`);
  else {
    const [xa, xb] = [qa.toRecords(), qb.toRecords()] as Record<string, string>[][];
    for (const [i, r] of xa.entries()) {
      const keys = [
        "file",
        "line",
        "byte",
        "row_id",
        "reason",
        "column",
        "raw",
        "value",
      ];
      const diff = keys.filter((k) => String(r[k] ?? "") !== String(xb[i][k] ?? ""));
      if (diff.length) {
        out.push(
          `quarantine row_id ${r.row_id}: ${diff.map((k) => `${k} ${r[k]} ≠ ${xb[i][k]}`).join("; ")}`,
        );
      }
      if (out.length > 30) break;
    }
  }
  return out;
}

/** The ETL of `logs` under `spec` on both engines (Spark on the shared driver), into `<dir>/clean-polars` and `<dir>/clean-spark`: their differences. */
async function etlOnBoth(dir: string, logs: string, spec: DatasetSpec): Promise<string[]> {
  await runEtl({ input: logs, output: `${dir}/clean-polars`, spec: resolveSpec(spec) });
  await runEtlSpark({
    input: logs,
    output: `${dir}/clean-spark`,
    spec: resolveSpec(spec),
    driver: await driver(),
  });
  return etlDiffs(`${dir}/clean-polars`, `${dir}/clean-spark`);
}

/** Build the table of `clean` with polars into `<dir>/polars` and with Spark (a driver, or a master) into `<dir>/spark`. */
async function bothEngines(
  clean: string,
  dir: string,
  on: { driver: SparkDriver } | { master: string },
  includeCurrentDay = false,
) {
  const schema = readCleanSchema(clean);
  await writeTable(
    `${dir}/polars`,
    await buildTable(loadEvents(clean), { schema, includeCurrentDay }),
    clean,
  );
  const { spark } = await buildTableSpark(clean, `${dir}/spark`, { schema, ...on, includeCurrentDay });
  return { polars: `${dir}/polars`, spark: `${dir}/spark`, result: spark };
}

sparkTest(
  "01–03 on Spark (local mode) equal 01–03 on the default engine: ETL accounting, cleaned rows, quarantine, training table",
  async () => {
    const dir = await tempDir("spark-etl");
    await generateLogs({ rows: 20_000, seed: 3, corruptRate: 0.01, outDir: `${dir}/gen` });
    const before = await treeHashes(`${dir}/gen/raw`);
    await runEtl({ input: `${dir}/gen/raw`, output: `${dir}/clean-polars` });
    // splits of 32 kB: a file's lines are numbered across its splits, several splits to a task
    const r = await runEtlSpark({
      input: `${dir}/gen/raw`,
      output: `${dir}/clean-spark`,
      driver: await driver(),
      sparkConf: { "spark.sql.files.maxPartitionBytes": "32768" },
    });
    assertEquals(await etlDiffs(`${dir}/clean-polars`, `${dir}/clean-spark`), []);
    assertEquals(r.rowsWritten + r.rowsQuarantined, r.rowsRead);
    assert(
      new Set(r.byReason.map((x) => x.reason)).size >= 4,
      `the corruptions reached the checks: ${JSON.stringify(r.byReason)}`,
    );
    assertEquals(await treeHashes(`${dir}/gen/raw`), before, "the input is only read");
    const schema = readCleanSchema(`${dir}/clean-polars`);
    await writeTable(
      `${dir}/polars`,
      await buildTable(loadEvents(`${dir}/clean-polars`), { schema }),
      `${dir}/clean-polars`,
    );
    await buildTableSpark(`${dir}/clean-spark`, `${dir}/spark`, { driver: await driver() });
    assertEquals(
      tableDiffs(`${dir}/polars`, `${dir}/spark`).filter((d) => !d.startsWith("manifest.source")),
      [],
    );
    // the edge cases the comparison covered: a user's first day after the log starts, the same pair twice in
    // a day, items arriving after the training days, and every cleaned row in exactly one split
    const all = pl.concat(SPLITS.map((s) => readSplitRaw(`${dir}/spark`, s)));
    const firstDay = all.getColumn("day").min() as number;
    assert(
      all.filter(pl.col("u_days_seen").eq(0).and(pl.col("day").gt(firstDay))).height > 0,
      "late first days",
    );
    const pairDays = all.groupBy(["user_id", "item_id", "day"]).agg(pl.len().alias("n"));
    assert(pairDays.filter(pl.col("n").gt(1)).height > 0, "same-day repeats of a pair");
    assert(all.filter(pl.col("item_idx").eq(0)).height > 0, "items first seen after the training days");
    assertEquals([all.height, all.getColumn("row_id").nUnique()], [r.rowsWritten, r.rowsWritten]);
  },
);

sparkTest(
  "the Spark ETL on the public release's layout (37 columns, numeric deep features, scenes discovered) equals the default engine's, and on a GBK log",
  async () => {
    const dir = await tempDir("spark-release");
    const logs = await writeReleaseLogs(dir, 5_000);
    // scenes left to discovery (in order of first appearance), not listed by the spec
    const spec = resolveSpec({ ...BUILTIN_SPECS.antm2c, scene: { column: "scene" } });
    await runEtl({ input: logs, output: `${dir}/clean-polars`, spec });
    await runEtlSpark({ input: logs, output: `${dir}/clean-spark`, spec, driver: await driver() });
    assertEquals(await etlDiffs(`${dir}/clean-polars`, `${dir}/clean-spark`), []);
    assertEquals(readCleanSchema(`${dir}/clean-spark`).spec.numeric.length, 27);
    // discovery takes every value in order of appearance (the corrupt rows' "s2", "-1", … among them), as polars does
    assert(readCleanSchema(`${dir}/clean-spark`).scenes.length > 5);
    // another company's log, GBK (one file gzipped), with records appended: one ending CR LF, one holding a
    // four-byte GB18030 character (which the WHATWG gbk decoder reads), one whose bytes are not GBK, one whose quoted
    // title holds a CR LF, one at the end of the file without a line break
    const other = await writeOtherLogs(`${dir}/other`, 300, 1);
    const partB = `${other.logs}/part-b.csv`, bytes = Deno.readFileSync(partB);
    const ts = new TextDecoder("gbk").decode(bytes).split("\n")[1].split(",")[2];
    const utf8 = (s: string) => [...new TextEncoder().encode(s)];
    const record = (title: number[], end: string) => [
      ...utf8(`u_appended,00000001,${ts},1.0,home,`),
      ...title,
      ...utf8(`,"q1,q2",1.5,c1${end}`),
    ];
    const [good, emoji, bad] = [[...await toGbk("标题")], [0x94, 0x39, 0xfc, 0x36], [0xbb, 0xb5, 0xff]];
    const twoLines = [0x22, ...await toGbk("标"), 0x0d, 0x0a, ...await toGbk("题"), 0x22];
    Deno.writeFileSync(
      partB,
      new Uint8Array([
        ...bytes,
        ...record(good, "\r\n"),
        ...record(emoji, "\n"),
        ...record(bad, "\n"),
        ...record(twoLines, "\n"),
        ...record(good, ""),
      ]),
    );
    const otherSpec = resolveSpec(OTHER_SPEC), before = await treeHashes(other.logs);
    await runEtl({ input: other.logs, output: `${dir}/other-polars`, spec: otherSpec });
    await runEtlSpark({
      input: other.logs,
      output: `${dir}/other-spark`,
      spec: otherSpec,
      driver: await driver(),
      sparkConf: { "spark.sql.files.maxPartitionBytes": "8192" }, // part-b.csv in several splits
    });
    assertEquals(await etlDiffs(`${dir}/other-polars`, `${dir}/other-spark`), []);
    assertEquals(await treeHashes(other.logs), before, "the input is only read");
    const got = readEtlReport(`${dir}/other-spark`);
    assertEquals([got.rowsRead, got.byReason], [other.rows + 5, [{
      reason: "bad_encoding",
      column: "",
      rows: 1,
    }]]);
    const titles = scanClean(`${dir}/other-spark`).filter(pl.col("user_id").eq(pl.lit("u_appended"))).sort(
      "row_id",
    )
      .collectSync().getColumn("title").toArray();
    assertEquals(titles, ["标题", "\u{1F600}", "标\r\n题", "标题"]);
  },
);

sparkTest(
  "missing-value markers: the Spark ETL reads them as empty fields, as the default engine does",
  async () => {
    const dir = await tempDir("spark-markers");
    const { logs, spec } = await writeMarkerLogs(dir);
    assertEquals(await etlOnBoth(dir, logs, spec), []);
    assertEquals(readEtlReport(`${dir}/clean-spark`).rowsQuarantined, 4);
  },
);

sparkTest(
  "quoted line breaks: Spark reads a record across lines as the default engine does (CR LF inside, empty lines, records that end on a line that opens the next, quotes never closed, records past MAX_RECORD_BYTES)",
  async () => {
    const dir = await tempDir("spark-linebreak");
    await Deno.mkdir(`${dir}/logs`);
    const at = (id: number) => `2023-07-1${id % 3} ${String(id % 24).padStart(2, "0")}:05:31`;
    const rec = (id: number, title = `t${id}`, names = '"a,b"', last = "") =>
      `${id},${10 + id},2,${at(id)},${id % 2},${title},${names},x,,${last}`;
    const long = "x".repeat(600_000); // two of these in a record pass MAX_RECORD_BYTES, one does not
    // a two-line record whose last quote ends `over` bytes past MAX_RECORD_BYTES (0: still read)
    const edge = (id: number, over: number) => {
      const fill = MAX_RECORD_BYTES + over - rec(id, '"').indexOf('"') - 3; // the quotes and the line break
      return rec(id, `"${"y".repeat(fill >> 1)}\n${"y".repeat(fill - (fill >> 1))}"`, "ab");
    };
    const lines = [
      RAW_COLUMNS.join(","),
      rec(1),
      rec(2, '"two\nlines"'),
      rec(3, '"cr lf\r\ninside"') + "\r",
      rec(4, '"three\n\nlines, one empty"'),
      rec(5, '"x\ny"', '"p\nq"'), // a middle line closes one field and opens the next
      rec(6, 'a"b'), // a stray quote: the line alone
      rec(7, '"never closed', "ab"), // the next line (a quote after the field closes) stops it: the line alone
      rec(8),
      rec(9, '"say ""\nhi"""'), // a doubled quote at the end of a line
      rec(10, "t10", '"a,b"', '"z\n"'), // ends on a line that opens a quote …
      rec(11, "t11", "ab"), // … (no quote here) …
      '",12,x', // … closed here, a record of its own that opens again …
      rec(13, "t13", "ab", '"'), // … closed here, and this line opens a quote too
      rec(14),
      rec(15, `"${long}\n${long}"`), // 1.2 MB: past MAX_RECORD_BYTES, so its first line alone
      rec(16, `"${long}\n"`), // 0.6 MB: one record
      rec(17, `"${long}${long}"`), // one line, past MAX_RECORD_BYTES
      edge(18, 0),
      edge(19, 1),
      rec(20, '"open at the end', "ab"),
    ];
    const text = lines.join("\n");
    await Deno.writeTextFile(`${dir}/logs/part-00000.csv`, text);
    // a record left open at the end of a file that ends with a line break
    await Deno.writeTextFile(
      `${dir}/logs/part-00001.csv`,
      [lines[0], lines[2], lines.at(-1)].join("\n") + "\n",
    );
    await Deno.writeTextFile(
      `${dir}/logs/part-00002.csv`,
      [RAW_COLUMNS.join(","), rec(21, "\uFFFD written as such"), rec(22)].join("\n"), // valid UTF-8: read
    );
    // a longer file: stretches of one-line records over several buckets of GAP_BUCKET lines, multi-line records
    // side by side and across a bucket's edge, the last record of the file one of them
    const spans: [number, number][] = []; // the multi-line records' first and last lines
    const many = [RAW_COLUMNS.join(",")];
    for (let k = 0; k < 4 * GAP_BUCKET; k++) {
      const line = many.length + 1, edge = line % GAP_BUCKET === GAP_BUCKET - 1 && line > 2 * GAP_BUCKET;
      const breaks = line < 2 * GAP_BUCKET ? 0 : k === 3 * GAP_BUCKET + 10
        ? GAP_BUCKET + 200 // across a whole bucket of lines that stay inside its quote
        : k % 500 === 0 || edge
        ? 3
        : k % 97 < 2 || k === 4 * GAP_BUCKET - 1
        ? 1
        : 0;
      if (breaks) spans.push([line, line + breaks]);
      many.push(
        ...rec(
          100 + k,
          `"${
            Array.from({ length: breaks + 1 }, (_, j) => j % 3 === 1 ? `say ""t${j}""` : `t${j}`).join("\n")
          }"`,
        ).split("\n"),
      );
    }
    await Deno.writeTextFile(`${dir}/logs/part-00003.csv`, many.join("\n") + "\n");
    const edges = spans.filter(([a, b]) => Math.floor(a / GAP_BUCKET) < Math.floor(b / GAP_BUCKET));
    assert(edges.length > 0 && spans.some(([, b], k) => spans[k + 1]?.[0] === b + 1), "the cases are there");
    assert(spans[0][0] > 2 * GAP_BUCKET && spans.at(-1)![1] === many.length, "the cases are there");
    assert(spans.some(([a, b]) => b - a > GAP_BUCKET), "the cases are there");
    // one line each, past MAX_RECORD_BYTES, and where scanRecord stops: a three-byte character across byte M (M:
    // MAX_RECORD_BYTES, from 0), a doubled quote across it and one starting on it, and a quoted field that opens
    // after it (its first step a three-byte character)
    const M = MAX_RECORD_BYTES, head = rec(30, "@").indexOf("@"), fill = (n: number) => "y".repeat(n);
    const far: [string, number][] = [
      [rec(30, `"${fill(M - 2 - head)}标${fill(99)}"`), M + 2],
      [rec(31, `"${fill(M - 2 - head)}""${fill(99)}"`), M + 2], // a doubled quote is not checked: the next step is
      [rec(32, `"${fill(M - 1 - head)}""${fill(99)}"`), M + 3],
      [rec(33, fill(M + 10 - head), '"标,b"'), M + 10 + 1 + 1 + 3],
    ];
    await Deno.writeTextFile(
      `${dir}/logs/part-00004.csv`,
      [RAW_COLUMNS.join(","), ...far.map(([line]) => line)].join("\n") + "\n",
    );
    await runEtl({ input: `${dir}/logs`, output: `${dir}/clean-polars` });
    const spark = await runEtlSpark({
      input: `${dir}/logs`,
      output: `${dir}/clean-spark`,
      driver: await driver(),
      sparkConf: { "spark.sql.files.maxPartitionBytes": "262144" }, // the long records across splits
    });
    assertEquals(await etlDiffs(`${dir}/clean-polars`, `${dir}/clean-spark`), []);
    // 21 records from the 20 above: 15 and 19 fall apart in two, 12 and 13 are one; 18, its last quote ending on the
    // last byte allowed, is read
    assertEquals(spark.files.map((f) => f.rowsRead), [21, 2, 2, 4 * GAP_BUCKET, far.length]);
    const clean = scanClean(`${dir}/clean-spark`).collectSync().sort("row_id");
    assert(clean.getColumn("item_id").toArray().map(String).includes("28"));
    assert(clean.getColumn("item_title").toArray().includes("\uFFFD written as such"));
    const quarantined = readQuarantine(`${dir}/clean-spark`);
    const q = quarantined.filter(pl.col("file").eq(pl.lit("part-00000.csv")));
    assertEquals(clean.getColumn("item_title").toArray().slice(0, 5), [
      "t1",
      "two\nlines",
      "cr lf\r\ninside",
      "three\n\nlines, one empty",
      "x\ny",
    ]);
    const opened = q.filter(pl.col("value").eq(pl.lit(LEFT_OPEN))).getColumn("line").toArray().map(Number);
    const lineOf = (k: number) => lines.slice(0, k).join("\n").split("\n").length + 1;
    assertEquals(opened, [lineOf(7), lineOf(15), lineOf(19)]);
    // 20, open at the end of a file without a final line break: read to the end of the input, which is its line's
    const unterminated = (k: number) =>
      q.filter(pl.col("line").eq(pl.lit(String(lineOf(k))))).getColumn("value");
    assertEquals(unterminated(20).toArray(), [`unterminated or stray quote at byte ${lines[20].length}`]);
    // lines past MAX_RECORD_BYTES: scanRecord stops at the first step inside a quoted field that ends past it
    const farValues = quarantined.filter(pl.col("file").eq(pl.lit("part-00004.csv"))).getColumn("value")
      .toArray();
    assertEquals(farValues, far.map(([, stop]) => `unterminated or stray quote at byte ${stop}`));
    // a header across lines (an ignored column named with a line break): the default engine reads it, Spark refuses
    await Deno.mkdir(`${dir}/header`);
    await Deno.writeTextFile(
      `${dir}/header/a.csv`,
      [`${RAW_COLUMNS.join(",")},"two\nlines"`, `${rec(1)},y`].join("\n"),
    );
    const spec = resolveSpec(BUILTIN_SPECS["antm2c-10"]);
    assertEquals(
      (await runEtl({ input: `${dir}/header`, output: `${dir}/header-polars`, spec })).rowsWritten,
      1,
    );
    await assertRejects(
      () => runEtlSpark({ input: `${dir}/header`, output: `${dir}/header-spark`, spec, master: "local[1]" }),
      Error,
      "header record spans more than one line",
    );
  },
);

sparkTest(
  "time patterns: Spark reads every strptime pattern it accepts as polars does (each pattern on every field), and AntM2C's layouts as the hand parser does",
  async () => {
    const dir = await tempDir("spark-times");
    const fields = [
      ...TIME_FIELDS,
      ...TIME_FIELDS.map((f) => f.replace("2023", "1999").replace("11", "2").replace("25", "29")), // 1999-02-29
    ];
    await Deno.writeTextFile(`${dir}/times.txt`, fields.join("\n") + "\n");
    const { collected } = await runSparkPlan({
      app: "ctrlab time patterns",
      inputs: [{ view: "lines", lines: [{ path: `${dir}/times.txt`, file: 0 }] }],
      steps: [{
        collect: "ms",
        sql: `SELECT line, ${TIME_PATTERNS.map((p, k) => `${patternSql("text", p)} AS p${k}`).join(", ")}, ${
          ZONED.map(([p, zone], k) => `${patternSql("text", p, zone)} AS z${k}`).join(", ")
        }, ${timeSql("text", ANTM2C_TIME_FORMATS)} AS antm2c, ${
          timeSql("text", ANTM2C_TIME_FORMATS, ANTM2C_ZONE)
        } AS antm2c_zoned FROM (SELECT __line AS line, DECODE(__bytes, 'UTF-8') AS text FROM lines)`,
      }],
      conf: { "spark.sql.ansi.enabled": "false" }, // as in the ETL: a value that does not parse is NULL
    }, await driver());
    const rows = collected.ms.sort((a, b) => Number(a.line) - Number(b.line));
    assertEquals(rows.length, fields.length);
    const df = pl.DataFrame({ t: fields });
    const diffs: string[] = [];
    let parsed = 0;
    TIME_PATTERNS.forEach((p, k) => {
      const want = df.select(patternMs(pl.col("t"), p).cast(pl.Float64).alias("ms")).getColumn("ms")
        .toArray();
      let hits = 0;
      fields.forEach((f, i) => {
        const got = rows[i][`p${k}`] === null ? null : Number(rows[i][`p${k}`]);
        if (got !== want[i]) diffs.push(`"${p}" on "${f}": Spark ${got}, polars ${want[i]}`);
        if (want[i] !== null) hits++;
      });
      assert(hits > 0, `no field parses under "${p}"`); // every pattern is exercised
      parsed += hits;
    });
    ZONED.forEach(([p, zone], k) => { // instants as a zone's wall clock
      const want = df.select(patternMs(pl.col("t"), p, zone).cast(pl.Float64).alias("ms")).getColumn("ms")
        .toArray();
      fields.forEach((f, i) => {
        const got = rows[i][`z${k}`] === null ? null : Number(rows[i][`z${k}`]);
        if (got !== want[i]) {
          diffs.push(`"${p}" in ${JSON.stringify(zone)} on "${f}": Spark ${got}, polars ${want[i]}`);
        }
      });
      assert(want.some((ms) => ms !== null), `no field parses under "${p}"`);
    });
    // csv.ts's parseLogTimeBytes, which the default engine runs on these layouts, and then times.ts's zonedMs
    const hand = fields.map((f) => parseLogTime(f));
    const zoned = pl.DataFrame({ ms: hand.map((ms) => Number.isNaN(ms) ? null : ms) }).select(
      zonedMs(pl.col("ms").cast(pl.Int64), ANTM2C_TIME_FORMATS[0], ANTM2C_ZONE).cast(pl.Float64).alias("ms"),
    ).getColumn("ms").toArray();
    fields.forEach((f, i) => {
      const [got, want] = [rows[i].antm2c === null ? NaN : Number(rows[i].antm2c), hand[i]];
      if (!Object.is(got, want)) diffs.push(`AntM2C layouts on "${f}": Spark ${got}, hand parser ${want}`);
      const z = rows[i].antm2c_zoned === null ? null : Number(rows[i].antm2c_zoned);
      if (z !== zoned[i]) {
        diffs.push(`AntM2C layouts in ${ANTM2C_ZONE.zone} on "${f}": Spark ${z}, polars ${zoned[i]}`);
      }
    });
    assert(zoned.filter((ms) => ms !== null).length > 10, "AntM2C times read in a zone");
    assertEquals(diffs, []);
    assert(parsed >= 60, `${parsed} parses`);
    assertEquals(parseLogTime("0023-07-10 08:05:31"), Date.parse("0023-07-10T08:05:31Z")); // not 1923
  },
);

sparkTest(
  "the Spark ETL reads ISO 8601, offsets and Apache's layout as the default engine does; what it cannot read, it refuses plainly",
  async () => {
    const dir = await tempDir("spark-time-etl");
    const { logs, spec, times } = await writeTimeLogs(dir);
    assertEquals(await etlOnBoth(dir, logs, spec), []);
    assertEquals(readEtlReport(`${dir}/clean-spark`).rowsWritten, times.length);
    for (
      const [format, why] of [
        ["%j/%Y", /"%j" is not one of them; the Spark ETL reads %Y .* \(the default engine reads any\)/],
        ["%Y-%m", /needs a year, a month and a day/],
        ["%Y-%m-%d %I:%M", /%I goes with %p/],
        ["%Y-%m-%d %H", /an hour and a minute, or neither/],
        ["%Y-%m-%d %H:%M %Y", /sets the year twice/],
      ] as const
    ) {
      await assertRejects(
        () =>
          runEtlSpark({
            input: logs,
            output: `${dir}/refused`,
            spec: resolveSpec({ ...spec, time: { column: "ts", format } }),
          }),
        why,
      );
    }
  },
);

sparkTest(
  "time.zone: the Spark ETL turns epoch times into a zone's wall clock and days as the default engine does, across clock changes",
  async () => {
    const dir = await tempDir("spark-zone");
    const { logs, spec, wallClock, bad } = await writeZoneLogs(dir);
    assertEquals(await etlOnBoth(dir, logs, spec), []);
    assertEquals(readEtlReport(`${dir}/clean-spark`).rowsWritten, wallClock.length);
    assertEquals(readEtlReport(`${dir}/clean-spark`).rowsQuarantined, bad);
  },
);

sparkTest(
  "Spark (local mode): named scenes, numeric and categorical columns, in the seed's leaky variant",
  async () => {
    const dir = await tempDir("spark-other");
    const { logs } = await writeOtherLogs(dir, 6_000, 5);
    await runEtl({ input: logs, output: `${dir}/clean`, spec: resolveSpec(OTHER_SPEC) });
    const leaky = await bothEngines(`${dir}/clean`, `${dir}/leaky`, { driver: await driver() }, true);
    assertEquals(tableDiffs(leaky.polars, leaky.spark), []);
    assertEquals(readManifest(leaky.spark).categorical, ["city"]);
    // the variant does differ from the fair table: the comparison would see a window one day off
    const schema = readCleanSchema(`${dir}/clean`);
    await writeTable(`${dir}/fair`, await buildTable(loadEvents(`${dir}/clean`), { schema }), `${dir}/clean`);
    assert(tableDiffs(`${dir}/fair`, leaky.spark).some((d) => d.startsWith("train.u_clk_cum")));
  },
);

sparkTest(
  "Spark standalone cluster (a master and two workers on loopback) builds the same table",
  async () => {
    const dir = await tempDir("spark-cluster");
    await generateLogs({ rows: 8_000, seed: 5, corruptRate: 0, outDir: `${dir}/gen` });
    await runEtl({ input: `${dir}/gen/raw`, output: `${dir}/clean`, spec: await loadSpec("antm2c-10") });
    const cluster = await localCluster(2, 1, "1g");
    try {
      const { polars, spark, result } = await bothEngines(`${dir}/clean`, dir, { master: cluster.master });
      assertEquals(result.master, cluster.master);
      assertEquals(tableDiffs(polars, spark), []);
    } finally {
      await cluster.stop();
    }
  },
);

sparkTest(
  "Parquet on Spark: typed columns reach the same records as on the default engine (float ids, timestamps with and without a zone, nanoseconds, entity lists, decimals), beside a CSV file, names with glob characters; Hive's layout and its text export (no header, no quotes); Spark's CSV (backslash escapes); floats print as polars prints them",
  async () => {
    const dir = await tempDir("spark-parquet");
    const { logs, spec } = await writeParquetLogs(dir);
    // file names that Hadoop would read as glob patterns are read as they are
    await Deno.rename(`${logs}/b.parquet`, `${logs}/b[1].parquet`);
    await Deno.rename(`${logs}/c.csv`, `${logs}/c {v1}*?.csv`);
    const before = await treeHashes(logs);
    assertEquals(await etlOnBoth(dir, logs, spec), []);
    assertEquals(readEtlReport(`${dir}/clean-spark`).files.map((f) => f.file), [
      "a.parquet",
      "b[1].parquet",
      "c {v1}*?.csv",
    ]);
    assertEquals(readEtlReport(`${dir}/clean-spark`).rowsQuarantined, 4);
    assertEquals(await treeHashes(logs), before, "the input is only read");
    // Hive's layout: columns from the folders' names, beside a text file with a column of its own
    const hive = await writeHiveLogs(`${dir}/hive`);
    assertEquals(await etlOnBoth(`${dir}/hive`, hive.logs, hive.spec), []);
    assertEquals(readEtlReport(`${dir}/hive/clean-spark`).scenes, ["feed", "home/page", "home"]);
    // Hive's text export: no header (the spec names the columns), Ctrl-A, \N, a byte order mark, records over
    // lines at a file's start
    const text = await writeHeaderlessLogs(`${dir}/text`);
    assertEquals(await etlOnBoth(`${dir}/text`, text.logs, text.spec), []);
    assertEquals(readEtlReport(`${dir}/text/clean-spark`).rowsQuarantined, 4);
    // a file with a header after a byte order mark: Spark's offsets count its 3 bytes too. Its records are the
    // file above, mark and all, as `cat` joins files: a mark mid-file is text, kept in the raw line
    const { columns, ...headed } = text.spec;
    for await (const f of Deno.readDir(`${text.logs}/dt=2024-03-02`)) {
      const body = await Deno.readTextFile(`${text.logs}/dt=2024-03-02/${f.name}`);
      await Deno.mkdir(`${dir}/headed/logs`, { recursive: true });
      await Deno.writeTextFile(
        `${dir}/headed/logs/${f.name}`,
        `\uFEFF${columns!.join(headed.delimiter)}\n${body}`,
      );
    }
    assertEquals(await etlOnBoth(`${dir}/headed`, `${dir}/headed/logs`, headed), []);
    assertEquals(readEtlReport(`${dir}/headed/clean-spark`).rowsQuarantined, 2);
    // Hive's text quotes nothing ("quote": null): a quote anywhere is text
    const unquoted = await writeUnquotedLogs(`${dir}/unquoted`);
    assertEquals(await etlOnBoth(`${dir}/unquoted`, unquoted.logs, unquoted.spec), []);
    assertEquals(readEtlReport(`${dir}/unquoted/clean-spark`).rowsWritten, unquoted.titles.length);
    // Spark's own CSV, a backslash before a quote inside quotes ("escape")
    const escaped = await writeSparkCsvLogs(`${dir}/escaped`);
    assertEquals(await etlOnBoth(`${dir}/escaped`, escaped.logs, escaped.spec), []);
    assertEquals(readEtlReport(`${dir}/escaped/clean-spark`).rowsWritten, escaped.titles.length);
    // floats of every magnitude, Java 17's non-shortest cases among them (1e23, 8.41e21, 5e-324)
    let seed = 11;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const values = [0, -0, 1e23, 8.41e21, 5e-324, 1e-5, 9.9e-6, 1e16, 1e6, -1.5e-7, 0.1, NaN, -Infinity];
    for (let i = 0; i < 3000; i++) {
      const x = rnd() * 10 ** (Math.floor(rnd() * 60) - 30) * (rnd() < 0.5 ? -1 : 1);
      values.push(i % 3 ? x : Number(x.toPrecision(1 + (i % 17))));
    }
    pl.DataFrame({ x: values }).writeParquet(`${dir}/floats.parquet`);
    const field = { name: "x", type: "Float64", kind: "float" as const };
    const want = pl.readParquet(`${dir}/floats.parquet`).select(parquetText(field)).getColumn("x").toArray();
    const { collected } = await runSparkPlan({
      app: "ctrlab floats",
      inputs: [{ view: "f", parquet: [{ path: `${dir}/floats.parquet`, file: 0 }], columns: ["x"] }],
      steps: [{ collect: "x", sql: `SELECT __row AS row, ${parquetTextSql(field, "x")} AS x FROM f` }],
      conf: { "spark.sql.ansi.enabled": "false" }, // as in the ETL
    }, await driver());
    const got = collected.x.sort((a, b) => Number(a.row) - Number(b.row)).map((r) => r.x);
    const diffs = values.flatMap((v, i) =>
      got[i] === want[i] ? [] : [`${v}: Spark ${got[i]}, polars ${want[i]}`]
    );
    assertEquals(diffs, []);
    assert(
      want.includes("1e+23") && want.includes("5e-324") && want.includes("1000000"),
      want.slice(0, 13).join(),
    );
  },
);
