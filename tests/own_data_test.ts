/**
 * Your own logs through the ETL: the AntM2C release as it ships, a log described by a dataset spec, and each
 * defect a real file brings (quoted line breaks, GBK, gzip, CRLF and BOM, other label spellings, string ids,
 * Parquet) — with exact accounting in records, and the input never written.
 */
import pl from "nodejs-polars";
import { existsSync } from "node:fs";
import {
  firstLines,
  hiveFolders,
  inputSpec,
  readCleanSchema,
  readHeader,
  runEtl,
  scanClean,
  specFor,
} from "../lib/data/etl.ts";
import { runEtlOn } from "../lib/data/etl_spark.ts";
import { sniffSpec, sniffTimeFormat } from "../lib/data/sniff.ts";
import { unreadFormat } from "../lib/data/csv.ts";
import { assertOutside, ensureDataset } from "../lib/data/dataset.ts";
import { ANTM2C_TIME_FORMATS, type DatasetSpec, loadSpec, resolveSpec, SpecError } from "../lib/data/spec.ts";
import { assertGeneratorFolder, generateLogs } from "../lib/data/synth.ts";
import { RAW_COLUMNS } from "../lib/data/schema.ts";
import { buildTable, loadEvents, normalizedFeatures, sceneLabels, SPLITS } from "../lib/features/table.ts";
import { vocabSizes } from "../lib/train/tables.ts";
import { assert, assertEquals, assertRejects, assertThrows, tempDir } from "./assert.ts";
import {
  compress,
  ctrlabCli,
  OTHER_SPEC,
  ownRunConfig,
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

const HEADER = RAW_COLUMNS.join(",");
const GOOD = '1,10,2,2023-07-10 08:05:31,1,惠民奶茶优惠券,"奶茶,咖啡",外卖,,';

async function quarantine(dir: string): Promise<Record<string, string>[]> {
  return pl.readCSV(`${dir}/_quarantine.csv`, { inferSchemaLength: 0 }).toRecords() as Record<
    string,
    string
  >[];
}

Deno.test("the AntM2C release as it ships: three files without an extension, 37 columns, recognised from the header", async () => {
  const dir = await tempDir("release");
  const logs = await writeReleaseLogs(dir, 6_000, 3, 0.02);
  const m = JSON.parse(await Deno.readTextFile(`${dir}/gen/manifest.json`));
  await Deno.writeTextFile(`${logs}/README.md`, "# AntM2C\nnot a log\n"); // what a download may hold beside the parts
  await Deno.writeTextFile(`${logs}/_SUCCESS`, "");
  const r = await runEtl({ input: logs, output: `${dir}/clean` });
  assertEquals(r.spec, "antm2c");
  assertEquals(r.files.map((f) => f.file), ["antm2c_10m_part0", "antm2c_10m_part1", "antm2c_10m_part2"]);
  assertEquals(r.rowsRead, 6_000);
  assertEquals(
    r.rowsQuarantined,
    Object.values(m.corrupt as Record<string, number>).reduce((a, b) => a + b, 0),
    "exactly the injected defects",
  );
  assertEquals(r.rowsWritten + r.rowsQuarantined, r.rowsRead);
  const clean = scanClean(`${dir}/clean`).collectSync();
  assert(clean.columns.includes("deep_features_0") && clean.columns.includes("deep_features_26"));
  assert(String(clean.getColumn("deep_features_3").dtype).includes("Float64"));
  assert(
    clean.getColumn("deep_features_3").nullCount() > 0,
    "empty deep features are missing values, not errors",
  );
  assert(/String|Utf8/.test(String(clean.getColumn("user_id").dtype)), "ids are strings to the ETL");
  assertEquals(readCleanSchema(`${dir}/clean`).scenes, ["0", "1", "2", "3", "4"]);
});

Deno.test("a quoted field holding a line break is one record: counted once, written whole", async () => {
  const dir = await tempDir("multiline");
  await Deno.mkdir(`${dir}/raw`);
  const multi = GOOD.replace("惠民奶茶优惠券", '"惠民奶茶\n优惠券 ""新"""');
  await Deno.writeTextFile(
    `${dir}/raw/a.csv`,
    [HEADER, GOOD, multi, GOOD.replace("1,10,", "2,11,")].join("\n") + "\n",
  );
  const r = await runEtl({ input: `${dir}/raw`, output: `${dir}/clean` });
  assertEquals([r.rowsRead, r.rowsWritten, r.rowsQuarantined], [3, 3, 0]);
  const titles = scanClean(`${dir}/clean`).sort("row_id").collectSync().getColumn("item_title").toArray();
  assertEquals(titles[1], '惠民奶茶\n优惠券 "新"');
  // a broken quote still costs only its line: the following records keep their numbers
  await Deno.writeTextFile(
    `${dir}/raw/a.csv`,
    [HEADER, GOOD.replace('"奶茶,咖啡"', '"奶茶,咖啡'), GOOD, GOOD].join("\n") + "\n",
  );
  const r2 = await runEtl({ input: `${dir}/raw`, output: `${dir}/clean` });
  assertEquals([r2.rowsRead, r2.rowsWritten, r2.rowsQuarantined], [3, 2, 1]);
  const q = await quarantine(`${dir}/clean`);
  assertEquals([q[0].line, q[0].byte, q[0].reason], ["2", String(HEADER.length + 1), "broken_quoting"]);
});

Deno.test("encodings: GBK read through the spec; undecodable records quarantined with file, line and byte, the run goes on", async () => {
  const dir = await tempDir("gbk");
  await Deno.mkdir(`${dir}/raw`);
  const text = [HEADER, GOOD, GOOD.replace("惠民奶茶优惠券", "火锅团购")].join("\n") + "\n";
  const gbk = await toGbk(text);
  await Deno.writeFile(`${dir}/raw/gbk.csv`, gbk);
  // read as UTF-8 (no spec): both records are quarantined as bad_encoding, naming the byte; nothing aborts
  const r = await runEtl({ input: `${dir}/raw`, output: `${dir}/clean` });
  assertEquals([r.rowsRead, r.rowsWritten, r.rowsQuarantined], [2, 0, 2]);
  const q = await quarantine(`${dir}/clean`);
  assertEquals(q.map((x) => [x.file, x.line, x.reason]), [["gbk.csv", "2", "bad_encoding"], [
    "gbk.csv",
    "3",
    "bad_encoding",
  ]]);
  assert(/invalid utf-8 at byte \d+ of the file/.test(q[0].value), q[0].value);
  // with the spec's encoding: decoded, and one damaged record (a lone lead byte) quarantined by itself
  const spec = resolveSpec({ ...(await loadSpec("antm2c-10")), name: "gbk-logs", encoding: "gbk" });
  const damaged = new Uint8Array([
    ...gbk,
    ...new TextEncoder().encode("3,12,2,2023-07-10 09:00:00,0,"),
    0x81,
    ...new TextEncoder().encode(",x,,,,\n"),
  ]);
  await Deno.writeFile(`${dir}/raw/gbk.csv`, damaged);
  const r2 = await runEtl({ input: `${dir}/raw`, output: `${dir}/clean`, spec });
  assertEquals([r2.rowsRead, r2.rowsWritten, r2.rowsQuarantined], [3, 2, 1]);
  const titles = scanClean(`${dir}/clean`).sort("row_id").collectSync().getColumn("item_title").toArray();
  assertEquals(titles, ["惠民奶茶优惠券", "火锅团购"]);
  const q2 = await quarantine(`${dir}/clean`);
  assertEquals([q2[0].line, q2[0].reason, q2[0].byte], ["4", "bad_encoding", String(gbk.length)]);
});

Deno.test("GBK with a delimiter and a quote among second bytes (| and ~): a character's second byte is neither", async () => {
  const dir = await tempDir("gbk-pipe");
  await Deno.mkdir(`${dir}/raw`);
  const ascii = (t: string) => [...new TextEncoder().encode(t)];
  // characters whose second byte is "|" (0x7C) or "~" (0x7E), and one four-byte GB18030 character
  const chars = [[0x81, 0x7c], [0xb4, 0x7c], [0xd5, 0x7e], [0x95, 0x7e], [0x94, 0x39, 0xfc, 0x36]];
  const title = (
    k: number,
  ) => [...ascii("~"), ...chars[k], ...ascii("|"), ...chars[(k + 1) % chars.length], 0x7e];
  const bytes = [...ascii(`${RAW_COLUMNS.join("|")}\n`)];
  for (const k of chars.keys()) {
    bytes.push(...ascii(`${k}|1${k}|2|2023-07-10 09:00:0${k}|1|`), ...title(k), ...ascii("|~a|b~|x||\n"));
  }
  await Deno.writeFile(`${dir}/raw/pipe.csv`, new Uint8Array(bytes));
  const spec = resolveSpec({
    ...(await loadSpec("antm2c-10")),
    name: "gbk-pipe",
    encoding: "gbk",
    delimiter: "|",
    quote: "~",
  });
  const r = await runEtl({ input: `${dir}/raw`, output: `${dir}/clean`, spec });
  assertEquals([r.rowsRead, r.rowsWritten, r.rowsQuarantined], [5, 5, 0]);
  const gbk = new TextDecoder("gbk"), clean = scanClean(`${dir}/clean`).sort("row_id").collectSync();
  assertEquals(
    clean.getColumn("item_title").toArray(),
    [...chars.keys()].map((k) => gbk.decode(new Uint8Array(title(k).slice(1, -1)))),
  );
  assertEquals(clean.getColumn("item_entity_names").toArray(), Array(5).fill("a|b"));
});

Deno.test("other layouts through a spec: column names, string ids, epoch times, label spellings, gzip without a .csv name, CRLF and BOM, Parquet", async () => {
  const dir = await tempDir("spec");
  await Deno.mkdir(`${dir}/logs/sub`, { recursive: true });
  const rows = [
    "\uFEFFuid,ad,ts,clicked,surface,title,query,price,city,date", // an unused column named like one of ctrlab's own
    'u_1000,9f3a0c1e,1690876800,1.0,home,奶茶,"奶茶,咖啡",12.5,c1,x',
    "u_1001,0000beef,1690880400,0.0,search,火锅,,,,x", // empty numeric and categorical: missing, not errors
    "u_1000,9f3a0c1e,1690963200,maybe,feed,奶茶,,3,c2,x", // label spelled otherwise: quarantined
    "u_1002,0000beef,1690963260,1,moon,火锅,,3,c2,x", // a scene the spec does not list
    "u_1003,0000beef,1690963261,0,feed,火锅,,cheap,c2,x", // a non-numeric number
  ];
  await Deno.writeFile(
    `${dir}/logs/sub/day1`,
    await compress(new TextEncoder().encode(rows.join("\r\n") + "\r\n")),
  );
  const spec = resolveSpec({ ...OTHER_SPEC, encoding: "utf-8", files: "**/*" });
  const r = await runEtl({ input: `${dir}/logs`, output: `${dir}/clean`, spec });
  assertEquals([r.rowsRead, r.rowsWritten, r.rowsQuarantined], [5, 2, 3]);
  assertEquals(r.byReason.map((x) => `${x.reason}:${x.column}`).sort(), [
    "bad_value:clicked",
    "bad_value:price",
    "bad_value:surface",
  ]);
  const clean = scanClean(`${dir}/clean`).sort("row_id").collectSync();
  assertEquals(clean.getColumn("user_id").toArray(), ["u_1000", "u_1001"]);
  assertEquals(clean.getColumn("item_id").toArray(), ["9f3a0c1e", "0000beef"]);
  assertEquals(clean.getColumn("label").toArray().map(Number), [1, 0]);
  assertEquals(clean.getColumn("scene").toArray().map(Number), [0, 2]);
  assertEquals((clean.getColumn("log_time").toArray() as unknown as Date[]).map((d) => d.toISOString()), [
    "2023-08-01T08:00:00.000Z",
    "2023-08-01T09:00:00.000Z",
  ]);
  assertEquals(clean.getColumn("price").toArray(), [12.5, null]);
  assertEquals(clean.getColumn("city").toArray(), ["c1", null]);
  assertEquals(readCleanSchema(`${dir}/clean`).scenes, ["home", "feed", "search"]);
  assertEquals(r.files[0].ignoredColumns, ["date"]);
  // the same records as Parquet (a spec may say so; here it is recognised by content)
  const asParquet = pl.DataFrame({
    uid: ["u_1", "u_2"],
    ad: ["a", "b"],
    ts: ["1690876800", "x"],
    clicked: ["1", "0"],
    surface: ["home", "feed"],
    title: ["t", "t"],
    query: ["", ""],
    price: ["1", "2"],
    city: ["c", "d"],
  });
  await Deno.remove(`${dir}/logs/sub/day1`);
  asParquet.writeParquet(`${dir}/logs/sub/day1.parquet`);
  const rp = await runEtl({ input: `${dir}/logs`, output: `${dir}/clean`, spec });
  assertEquals([rp.rowsRead, rp.rowsWritten, rp.rowsQuarantined], [2, 1, 1]);
  const qp = await quarantine(`${dir}/clean`);
  assertEquals([qp[0].line, qp[0].reason, qp[0].column], ["2", "bad_value", "ts"]);
  // a Parquet timestamp column (not text) is read as the time it holds, when the spec says "timestamp"
  pl.DataFrame({
    ...asParquet.drop("ts").toObject(),
    ts: [new Date(Date.UTC(2023, 7, 1, 8)), new Date(Date.UTC(2023, 7, 2, 9, 30))],
  }).writeParquet(`${dir}/logs/sub/day1.parquet`);
  await assertRejects(
    () => runEtl({ input: `${dir}/logs`, output: `${dir}/clean-refused`, spec }),
    /day1\.parquet: column "ts" is Datetime\(ms,\) in Parquet: write "format": "timestamp"/,
  );
  assert(!existsSync(`${dir}/clean-refused`), "refused before anything is written");
  const typed = resolveSpec({
    ...OTHER_SPEC,
    encoding: "utf-8",
    files: "**/*",
    time: { column: "ts", format: "timestamp" },
  });
  const rt = await runEtl({ input: `${dir}/logs`, output: `${dir}/clean`, spec: typed });
  assertEquals([rt.rowsRead, rt.rowsWritten], [2, 2]);
  assertEquals(
    (scanClean(`${dir}/clean`).sort("row_id").collectSync().getColumn("log_time")
      .toArray() as unknown as Date[]).map((d) => d.toISOString()),
    ["2023-08-01T08:00:00.000Z", "2023-08-02T09:30:00.000Z"],
  );
  // a scene list discovered from the data when the spec gives no values
  const discovered = resolveSpec({ ...typed, scene: { column: "surface" } });
  const rd = await runEtl({ input: `${dir}/logs`, output: `${dir}/clean`, spec: discovered });
  assertEquals(rd.scenes, ["home", "feed"]);
});

Deno.test("specs are checked: mistakes are named, YAML and JSON both load", async () => {
  assertThrows(
    () => resolveSpec({ ...OTHER_SPEC, encoding: "latin9" }),
    /encoding "latin9" is not supported/,
  );
  assertThrows(
    () => resolveSpec({ ...OTHER_SPEC, numeric: ["title"] }),
    /column "title" is given two roles: text and numeric/,
  );
  assertThrows(() => resolveSpec({ ...OTHER_SPEC, categorical: ["date"] }), /reserves/);
  assertThrows(
    () => resolveSpec({ ...OTHER_SPEC, label: { column: "clicked", positive: ["1"], negative: ["1"] } }),
    /both positive and negative/,
  );
  assertThrows(() => resolveSpec({ ...OTHER_SPEC, time: { column: "ts", format: [] } }), SpecError);
  const dir = await tempDir("specfile");
  await Deno.writeTextFile(
    `${dir}/s.yaml`,
    "name: y\nuser: uid\nitem: ad\ntime: { column: ts, format: epoch_ms }\nlabel: { column: clicked }\nscene: null\n",
  );
  const y = await loadSpec(`${dir}/s.yaml`);
  assertEquals([y.name, y.time.format, y.scene, y.label.positive], ["y", ["epoch_ms"], null, [
    "1",
    "1.0",
    "true",
  ]]);
  await Deno.writeTextFile(`${dir}/bad.json`, "{ user: ");
  await assertRejects(loadSpec(`${dir}/bad.json`), /bad\.json: not valid JSON/);
  await assertRejects(loadSpec(`${dir}/none.json`), /no such spec file, and not a built-in spec/);
});

Deno.test("the user's folder is never written: work folders outside it, the generator refuses it, inputs unchanged", async () => {
  const dir = await tempDir("safety");
  const { logs, spec } = await writeOtherLogs(dir, 3_000, 4);
  const before = await treeHashes(logs);
  // the generator never replaces a folder it did not write (issue: CTRLAB_DATA_DIR at a folder holding raw/)
  await assertRejects(assertGeneratorFolder(dir), /not written by ctrlab's generator/);
  await assertRejects(generateLogs({ rows: 100, outDir: dir }), /refusing to write there/);
  const cfg = ownRunConfig(dir, logs, spec);
  await ensureDataset(cfg, () => {});
  assert(cfg.dataDir.startsWith(`${dir}/work/own-logs-`), cfg.dataDir);
  // a work or run folder inside the input, or an input inside the work folder, is refused
  assertThrows(() => assertOutside(logs, `${logs}/clean`, "work folder"), /lies inside the input/);
  assertThrows(
    () => assertOutside(`${cfg.dataDir}/clean`, cfg.dataDir, "work folder"),
    /lies inside the work folder/,
  );
  await assertRejects(
    ensureDataset({ ...cfg, runDir: `${logs}/run` }, () => {}),
    /run folder .* lies inside the input/,
  );
  const r = await runEtl({ input: logs, output: `${cfg.dataDir}/clean`, spec: await loadSpec(spec) });
  assertEquals(r.rowsWritten + r.rowsQuarantined, r.rowsRead);
  assertEquals(await treeHashes(logs), before, "the input tree is byte-for-byte, mode and mtime unchanged");
  // a changed input clears the derived data of its work folder on the next run
  await Deno.writeTextFile(`${cfg.dataDir}/marker`, "derived");
  await Deno.copyFile(`${logs}/part-b.csv`, `${dir}/part-b.bak`);
  await Deno.writeFile(`${logs}/part-b.csv`, (await Deno.readFile(`${dir}/part-b.bak`)).slice(0, -200));
  await ensureDataset(cfg, () => {});
  await assertRejects(Deno.stat(`${cfg.dataDir}/marker`), Deno.errors.NotFound);
});

Deno.test("ctrlab main --data on an unknown layout stops before any notebook, listing the columns and a spec to start from; env exports the run", async () => {
  const dir = await tempDir("cli");
  await Deno.mkdir(`${dir}/logs`);
  await Deno.writeTextFile(
    `${dir}/logs/x.csv`,
    "member,video,when,clicked,page\nm1,v1,2023-08-01 08:00:00,1,home\n",
  );
  const run = (args: string[]) => ctrlabCli(args, { env: { CTRLAB_WORK_ROOT: `${dir}/work` } });
  const bad = await run(["main", "--data", `${dir}/logs`]);
  const err = bad.stderr;
  assertEquals(bad.code, 1);
  assert(err.includes("x.csv") && err.includes("Columns found (5): member, video, when, clicked, page"), err);
  assert(
    err.includes('"user": "member"') && err.includes('"item": "video"') && err.includes('"column": "page"'),
    err,
  );
  // `ctrlab spec` writes the same guess as JSON on stdout, ready to save and pass back
  const guessed = await run(["spec", "--data", `${dir}/logs`]);
  const guess = JSON.parse(guessed.stdout);
  assertEquals([guess.user, guess.item, guess.time, guess.scene], [
    "member",
    "video",
    { column: "when", format: "%Y-%m-%d %H:%M:%S" },
    { column: "page" },
  ]);
  assert(guessed.stderr.includes('"naive": "UTC"'), "the hint on times");
  assert(err.includes(`ctrlab spec --data ${dir}/logs > my-logs.json`), err);
  await Deno.writeTextFile(
    `${dir}/spec.json`,
    JSON.stringify({
      user: "member",
      item: "video",
      time: { column: "when", format: "%Y-%m-%d %H:%M:%S" },
      label: { column: "clicked" },
      scene: { column: "page" },
    }),
  );
  const ok = await run(["env", "--data", `${dir}/logs`, "--spec", `${dir}/spec.json`]);
  const out = ok.stdout;
  assertEquals(ok.code, 0, ok.stderr);
  assert(
    out.includes(`export CTRLAB_INPUT='${Deno.realPathSync(`${dir}/logs`)}'`) &&
      out.includes(`export CTRLAB_SPEC='${Deno.realPathSync(`${dir}/spec.json`)}'`),
    out,
  );
  assert(out.includes(`export CTRLAB_DATA_DIR='${Deno.realPathSync(dir)}/work/own-logs-`), out);
  assertEquals(
    [...Deno.readDirSync(`${dir}/logs`)].map((e) => e.name),
    ["x.csv"],
    "the input folder holds only what it held",
  );
});

Deno.test("a spec guessed from an unknown log reads it: encoding, delimiter, roles, time format and label spellings", async () => {
  const dir = await tempDir("sniff");
  const etl = async (name: string, logs: string, files: string[]) => {
    const { spec } = await sniffSpec(files[0], files);
    const r = await runEtl({ input: logs, output: `${dir}/${name}-clean`, spec: resolveSpec(spec) });
    return { spec, written: r.rowsWritten, quarantined: r.rowsQuarantined };
  };
  // another company's log: GBK, one part gzipped, epoch seconds, labels spelt 1.0/0.0
  const other = await writeOtherLogs(`${dir}/other`, 3_000);
  const o = await etl("other", other.logs, [`${other.logs}/part-a.csv.gz`, `${other.logs}/part-b.csv`]);
  assertEquals([o.written, o.quarantined], [other.rows, 0]);
  assertEquals(o.spec.encoding, "gbk");
  assertEquals(
    [o.spec.user, o.spec.item, o.spec.time, o.spec.label, o.spec.scene],
    [
      "uid",
      "ad",
      { column: "ts", format: "epoch_s", zone: "UTC" },
      { column: "clicked", positive: ["1.0"], negative: ["0.0"] },
      { column: "surface" },
    ],
  );
  assertEquals([o.spec.numeric, o.spec.categorical], [["price"], ["city"]]);
  assertEquals(o.spec.text, [
    { column: "title", side: "item" }, // Chinese titles: no spaces, 8 characters or so
    { column: "query", side: "user", entities: "," },
  ]);
  // tab-separated, epoch milliseconds, yes/no; semicolons, ISO 8601 with and without a fraction, true/false
  const t0 = Date.UTC(2023, 10, 15, 6, 13, 20);
  /** `<dir>/<name>/<file>`: a header and 60 records of `record(i)` joined by `sep`, read through its guessed spec. */
  const guessed = async (
    name: string,
    file: string,
    sep: string,
    record: (i: number) => (string | number)[],
  ) => {
    await Deno.mkdir(`${dir}/${name}`);
    const records = Array.from({ length: 60 }, (_, i) => record(i).join(sep));
    await Deno.writeTextFile(`${dir}/${name}/${file}`, records.join("\n") + "\n");
    return await etl(name, `${dir}/${name}`, [`${dir}/${name}/${file}`]);
  };
  const t = await guessed(
    "tsv",
    "log.tsv",
    "\t",
    (i) =>
      i === 0 ? ["visitor_id", "sku", "event_time", "is_click", "slot", "price", "device"] : [
        `v${i % 9}`,
        `s${i % 13}`,
        t0 + i * 61_000,
        i % 3 ? "no" : "Yes",
        ["top", "feed"][i % 2],
        (i * 1.5).toFixed(1),
        ["ios", "android", "web"][i % 3],
      ],
  );
  assertEquals([t.written, t.quarantined], [59, 0]);
  assertEquals(
    [t.spec.files, t.spec.delimiter, t.spec.user, t.spec.item, t.spec.time, t.spec.label, t.spec.scene],
    [
      "**/*.tsv",
      "\t",
      "visitor_id",
      "sku",
      { column: "event_time", format: "epoch_ms", zone: "UTC" },
      { column: "is_click", positive: ["Yes"], negative: ["no"] },
      { column: "slot" },
    ],
  );
  assertEquals([t.spec.numeric, t.spec.categorical], [["price"], ["device"]]);
  // day-first where a day is above 12, month-first otherwise; AntM2C's two layouts together
  assertEquals(sniffTimeFormat(["25/11/2023 12:34:56", "01/12/2023 00:00:00"], false), ["%d/%m/%Y %H:%M:%S"]);
  assertEquals(sniffTimeFormat(["11/25/2023 12:34:56", "01/12/2023 00:00:00"], false), ["%m/%d/%Y %H:%M:%S"]);
  assertEquals(sniffTimeFormat(["2023-11-15 06:13:20", "2023/11/15 6:13"], false), ANTM2C_TIME_FORMATS);
  assertEquals(sniffTimeFormat(["1700000000123", "1700000000456"], true), ["epoch_ms"]);
  assertEquals(sniffTimeFormat(["20231115", "20231116"], true), ["%Y%m%d"]); // digits, but not epoch times
  assertEquals(sniffTimeFormat(["soon", "later"], true), null);
  const m = await guessed(
    "semi",
    "log.txt",
    ";",
    (i) =>
      i === 0 ? ["member", "video", "when", "clicked", "page", "note"] : [
        `m${i % 7}`,
        `x${i % 11}`,
        new Date(t0 + i * 61_250).toISOString().replace(/\.\d+Z$/, i % 2 ? "Z" : "$&"),
        i % 4 ? "false" : "true",
        "home",
        `"seen on ${["tv", "phone"][i % 2]}; again"`,
      ],
  );
  assertEquals([m.written, m.quarantined], [59, 0]);
  assertEquals(
    [m.spec.delimiter, m.spec.time, m.spec.label.positive, m.spec.text],
    [
      ";",
      { column: "when", format: "%Y-%m-%dT%H:%M:%S%.f%#z", zone: "UTC" },
      ["true"],
      [{ column: "note", side: "item" }],
    ],
  );
});

Deno.test("no scene column is one task; a numeric fill value and categorical vocabularies reach the training table", async () => {
  const dir = await tempDir("onetask");
  const { logs } = await writeOtherLogs(dir, 4_000, 5);
  const spec = resolveSpec({
    ...OTHER_SPEC,
    scene: null,
    numeric: [{ column: "price", transform: "log1p", fill: 0 }],
  });
  const r = await runEtl({ input: logs, output: `${dir}/clean`, spec });
  assertEquals(r.scenes, ["all"]);
  assert(r.partitions.every((p) => p.scene === 0));
  const schema = readCleanSchema(`${dir}/clean`);
  const { table, manifest } = await buildTable(loadEvents(`${dir}/clean`), { schema });
  assertEquals([manifest.scenes, sceneLabels(manifest)], [1, ["all scenes"]]);
  assert(!manifest.features.some((f) => /_s\d$/.test(f.name)), "no per-scene counts with one scene");
  const price = manifest.features.find((f) => f.name === "price")!;
  assertEquals(price.fill, (Math.log1p(0) - price.mean) / price.std);
  const z = table.withColumns(...normalizedFeatures(manifest)).filter(pl.col("price").isNull()).getColumn(
    "n_price",
  ).toArray() as number[];
  assert(
    z.length > 0 && z.every((v) => Math.abs(v - price.fill!) < 1e-6),
    "missing prices take the fill value",
  );
  assertEquals(manifest.categorical, ["city"]);
  assert(
    manifest.vocabs.city.size === 8 && table.columns.includes("city_idx"),
    `city vocabulary of 7 values + OOV: ${manifest.vocabs.city.size}`,
  );
  assertEquals(vocabSizes(manifest).fields, [8]);
});

Deno.test("an input with no valid record stops at the ETL, naming the input and where its records were quarantined", async () => {
  const dir = await tempDir("no-records");
  const spec = resolveSpec(OTHER_SPEC);
  const header = "uid,ad,ts,clicked,surface,title,query,price,city\n";
  await Deno.mkdir(`${dir}/empty`);
  await Deno.writeTextFile(`${dir}/empty/a.csv`, header);
  await assertRejects(
    () => runEtlOn("polars", { input: `${dir}/empty`, output: `${dir}/clean1`, spec }),
    (e: Error) => e.message.includes(`${dir}/empty: no valid records (read 0, quarantined 0)`),
  );
  await Deno.mkdir(`${dir}/bad`);
  await Deno.writeTextFile(`${dir}/bad/a.csv`, header + "u_1,ab,yesterday,1,home,t,q,1,c1\n");
  await assertRejects(
    () => runEtlOn("polars", { input: `${dir}/bad`, output: `${dir}/clean2`, spec }),
    (e: Error) =>
      e.message.includes(
        `read 1, quarantined 1; each with its file, line and reason in ${dir}/clean2/_quarantine.csv`,
      ),
  );
  assert((await Deno.readTextFile(`${dir}/clean2/_quarantine.csv`)).includes("yesterday"));
});

Deno.test("a short log sets its temporal split in the spec; without it the split error says how", async () => {
  const dir = await tempDir("short-split");
  const spec = resolveSpec({ ...OTHER_SPEC, split: { valDays: 1, testDays: 2 } });
  const { logs } = await writeOtherLogs(dir, 4_000, 9, { spec });
  await runEtl({ input: logs, output: `${dir}/clean`, spec });
  const schema = readCleanSchema(`${dir}/clean`);
  assertEquals(schema.spec.split, { valDays: 1, testDays: 2 });
  const events = loadEvents(`${dir}/clean`);
  const days = [...new Set(events.getColumn("day").toArray() as number[])].sort((a, b) => a - b);
  const short = events.filter(pl.col("day").lt(pl.lit(days[5]))); // five days
  const { manifest } = await buildTable(short, { schema });
  assertEquals(SPLITS.map((s) => manifest.split.days[s].length), [2, 1, 2]);
  await assertRejects(
    () => buildTable(short, { schema: { ...schema, spec: { ...schema.spec, split: undefined } } }),
    /5 days cannot hold 3 validation \+ 3 test days .*set the dataset spec's "split"/,
  );
  for (const split of [{ valDays: 0 }, { testDays: 1.5 }, { days: 2 }]) {
    assertThrows(
      () => resolveSpec({ ...OTHER_SPEC, split } as never),
      SpecError,
      `split ${JSON.stringify(split)} is refused`,
    );
  }
});

Deno.test("times: an offset (%z, Z) gives the UTC instant, a pattern without one reads UTC, and a pattern reads the whole field", async () => {
  const dir = await tempDir("tz");
  const { logs, spec, times, bad } = await writeTimeLogs(dir);
  const r = await runEtl({ input: logs, output: `${dir}/clean`, spec: resolveSpec(spec) });
  assertEquals([r.rowsWritten, r.rowsQuarantined], [times.length, bad]);
  const t = scanClean(`${dir}/clean`).sort("row_id").select(pl.col("log_time").cast(pl.Int64)).collectSync();
  assertEquals(t.getColumn("log_time").toArray().map(Number), times);
  const q = await quarantine(`${dir}/clean`);
  assertEquals(q.map((x) => [x.reason, x.column, x.value]), [
    ["bad_value", "ts", "2023-11-15 06:13:20+08:00"],
    ["bad_value", "ts", "2023-11-15 06:13:20 UTC"],
    ["bad_value", "ts", "2023-02-30T00:00:00Z"],
  ]);
  // Python's "%S.%f" (microseconds) means nanoseconds to polars: the spec refuses it and names the fix
  assertThrows(
    () => resolveSpec({ ...spec, time: { column: "ts", format: "%Y-%m-%d %H:%M:%S.%f" } }),
    /".%f" reads the digits after the dot as nanoseconds .* write "%.f"/,
  );
  // a pattern polars itself refuses stops the ETL before it writes anything, naming the spec and the pattern
  await assertRejects(
    () =>
      runEtl({
        input: logs,
        output: `${dir}/hour-only`,
        spec: resolveSpec({ ...spec, name: "my-logs", time: { column: "ts", format: ["%F %T", "%F %H"] } }),
      }),
    /^SpecError: my-logs: time.format "%F %H" is not a pattern polars can read: .*hour and minute/,
  );
  assert(!existsSync(`${dir}/hour-only`), "nothing written");
});

Deno.test("time.zone: instants become the zone's wall clock (its clock changes included) and its days; naive times stay; the spec's zone is checked", async () => {
  const dir = await tempDir("zone");
  const wall = async (clean: string) => {
    const t = scanClean(clean).sort("row_id").select(
      pl.col("log_time").cast(pl.Int64).alias("ms"),
      pl.col("date").cast(pl.Utf8),
    ).collectSync();
    return { ms: t.getColumn("ms").toArray().map(Number), date: t.getColumn("date").toArray() };
  };
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  // epoch seconds in Europe/London, across both of 2023's clock changes; milliseconds under epoch_s are no time
  const z = await writeZoneLogs(`${dir}/london`);
  const r = await runEtl({ input: z.logs, output: `${dir}/london/clean`, spec: resolveSpec(z.spec) });
  assertEquals([r.rowsWritten, r.rowsQuarantined], [z.wallClock.length, z.bad]);
  assertEquals(await wall(`${dir}/london/clean`), { ms: z.wallClock, date: z.wallClock.map(day) });
  assert(
    (await wall(`${dir}/london/clean`)).date.includes("2023-07-01"),
    "23:30 UTC on 30 June is 1 July in London",
  );
  assertEquals((await quarantine(`${dir}/london/clean`)).map((x) => [x.reason, x.column]), [[
    "bad_value",
    "ts",
  ]]);
  // patterns: those with an offset or Z move to +05:30, naive ones are that wall clock already
  const t = await writeTimeLogs(`${dir}/patterns`);
  const spec = resolveSpec({ ...t.spec, time: { ...t.spec.time, zone: "+05:30" } });
  await runEtl({ input: t.logs, output: `${dir}/patterns/clean`, spec });
  const H = 3_600_000, want = t.times.map((ms, i) => t.instant[i] ? ms + 5.5 * H : ms);
  assertEquals((await wall(`${dir}/patterns/clean`)).ms, want);
  assert(t.instant.some((x) => x) && t.instant.some((x) => !x), "both kinds of time");
  // naive times written at +01:00 are instants too: 4.5 hours to +05:30
  const naive = resolveSpec({ ...t.spec, time: { ...t.spec.time, zone: "+05:30", naive: "+01:00" } });
  await runEtl({ input: t.logs, output: `${dir}/patterns/naive`, spec: naive });
  assertEquals(
    (await wall(`${dir}/patterns/naive`)).ms,
    t.times.map((ms, i) => ms + (t.instant[i] ? 5.5 : 4.5) * H),
  );
  // AntM2C's layout, read by hand, written in UTC, its days in Shanghai
  const a = await writeTimeLogs(`${dir}/antm2c`);
  const utc = resolveSpec({
    ...a.spec,
    time: { column: "ts", format: "%Y-%m-%d %H:%M:%S", zone: "Asia/Shanghai", naive: "UTC" },
  });
  await runEtl({ input: a.logs, output: `${dir}/antm2c/clean`, spec: utc });
  // the log's one field in that layout exactly (AntM2C's hand parser takes no surrounding spaces)
  assertEquals((await wall(`${dir}/antm2c/clean`)).ms, [Date.UTC(2023, 10, 15, 6 + 8, 13, 20)]);
  // the zone is checked with the spec, before anything is read
  const withZone = (zone: string, format: string | string[] = "epoch_s") =>
    resolveSpec({ ...z.spec, time: { column: "ts", format, zone } });
  assertThrows(() => withZone("europe/london"), /london: time.zone "europe\/london": write "Europe\/London"/);
  assertThrows(
    () => withZone("UTC+8"),
    /"UTC\+8" is neither a time zone name such as "Asia\/Shanghai" nor an offset/,
  );
  assertThrows(() => withZone("+19:00"), /an offset is within -18:00 … \+18:00/);
  assertThrows(
    () => withZone("Asia/Shanghai", ["%Y-%m-%d %H:%M:%S"]),
    /time.zone "Asia\/Shanghai" changes nothing here: .* "%Y-%m-%d %H:%M:%S" read wall-clock times without an offset/,
  );
  assertEquals(withZone("Asia/Kolkata").time.zone, "Asia/Kolkata");
  const naiveIn = (naive: string, zone?: string) =>
    resolveSpec({ ...z.spec, time: { column: "ts", format: "%F %T", zone, naive } });
  assertEquals(naiveIn("UTC", "Asia/Shanghai").time, {
    column: "ts",
    format: ["%F %T"],
    zone: "Asia/Shanghai",
    naive: "UTC",
  });
  assertThrows(() => naiveIn("UTC"), /time.naive needs time.zone/);
  assertThrows(
    () => naiveIn("Asia/Shanghai", "UTC"),
    /time.naive "Asia\/Shanghai" is the offset .* "UTC" or one such as "\+08:00"/,
  );
  assertThrows(() => withZone("UTC", ["%F %T"]), /if they are UTC, say so with "naive": "UTC"/);
});

Deno.test("missing-value markers in the spec read as empty fields in every column; the raw line keeps them", async () => {
  const dir = await tempDir("markers");
  const { logs, spec } = await writeMarkerLogs(dir);
  const r = await runEtl({ input: logs, output: `${dir}/clean`, spec: resolveSpec(spec) });
  assertEquals([r.rowsRead, r.rowsWritten, r.rowsQuarantined], [60, 56, 4]);
  const q = pl.readCSV(
    await Deno.readTextFile(`${dir}/clean/_quarantine.csv`),
    { inferSchemaLength: 0 } as never,
  );
  assertEquals(q.getColumn("row_id").toArray().map(Number), [0, 29, 31, 58]);
  assertEquals(q.getColumn("reason").toArray(), Array(4).fill("missing_value"));
  assertEquals(q.getColumn("column").toArray(), ["uid", "uid", "ts", "uid"]);
  assert((q.getColumn("raw").toArray() as string[])[1].startsWith(" na ,a4,"), "the raw line as read");
  const clean = scanClean(`${dir}/clean`).collectSync();
  const count = (e: pl.Expr) => clean.select(e.sum().alias("n")).getColumn("n").toArray()[0];
  assertEquals(
    [
      count(pl.col("price").isNull()),
      count(pl.col("city").eq(pl.lit(""))),
      count(pl.col("title").eq(pl.lit(""))),
    ],
    [11, 9, 14],
  );
  // without the markers they are values: a number column refuses them, the others keep them as text
  const plain = await runEtl({
    input: logs,
    output: `${dir}/clean2`,
    spec: resolveSpec({ ...spec, missing: [] }),
  });
  assert(plain.rowsQuarantined > 4);
  assertThrows(() => resolveSpec({ ...spec, missing: "NULL" } as never), SpecError);
});

Deno.test("Parquet as warehouses export it: typed columns read as typed (float ids, timestamps with and without a zone, entity lists, decimals), unread columns of any type ignored, unreadable ones refused up front", async () => {
  const dir = await tempDir("parquet-typed");
  const { logs, spec } = await writeParquetLogs(dir);
  const before = await treeHashes(logs);
  const r = await runEtl({ input: logs, output: `${dir}/clean`, spec: resolveSpec(spec) });
  assertEquals(r.files.map((f) => [f.file, f.rowsRead, f.rowsWritten, f.ignoredColumns ?? []]), [
    ["a.parquet", 60, 57, ["unused_scores", "unused_struct"]],
    ["b.parquet", 30, 29, []],
    ["c.csv", 10, 10, []],
  ]);
  // a row's number in its file (a title with a line break before it does not shift it), and no byte offset (empty)
  assertEquals(
    (await quarantine(`${dir}/clean`)).map((q) => [q.file, q.line, q.byte, q.reason, q.column]),
    [
      ["a.parquet", "8", null, "missing_value", "uid"],
      ["a.parquet", "12", null, "missing_value", "clicked"],
      ["a.parquet", "14", null, "bad_value", "surface"],
      ["b.parquet", "6", null, "missing_value", "ts"],
    ],
  );
  const clean = scanClean(`${dir}/clean`).sort("row_id").collectSync();
  // the spec's delimiter is its text files': Parquet files read the same under a tab (they once read as one field)
  const tsv = { ...spec, files: ["*.parquet"], delimiter: "\t" };
  const t = await runEtl({ input: logs, output: `${dir}/clean-tsv`, spec: resolveSpec(tsv) });
  assertEquals([t.rowsRead, t.rowsWritten], [90, 86]);
  assertEquals(
    scanClean(`${dir}/clean-tsv`).sort("row_id").collectSync().toRecords(),
    clean.filter(pl.col("row_id").lt(90)).toRecords(),
  );
  // …and so is its encoding: under a GBK spec, Parquet's strings are read as they are (they were decoded as GBK)
  await Deno.mkdir(`${dir}/zh`);
  pl.DataFrame({
    uid: ["用户"],
    ad: ["广告"],
    ts: [new Date(Date.UTC(2024, 2, 1))],
    clicked: [true],
    surface: ["home"],
    title: ["奶茶优惠券"],
    tags: [["咖啡", "外卖"]],
    price: [1.5],
    weight: [1],
    city: ["上海"],
  }).writeParquet(`${dir}/zh/z.parquet`);
  const zh = await runEtl({
    input: `${dir}/zh`,
    output: `${dir}/clean-zh`,
    spec: resolveSpec({ ...tsv, encoding: "gbk" }),
  });
  assertEquals(zh.rowsWritten, 1);
  assertEquals(
    scanClean(`${dir}/clean-zh`).select("user_id", "item_id", "title", "tags", "city").collectSync().row(0),
    ["用户", "广告", "奶茶优惠券", "咖啡,外卖", "上海"],
  );
  const at = (row: number) => clean.filter(pl.col("row_id").eq(row)).toRecords()[0];
  const iso = (v: unknown) => (v as Date).toISOString();
  // a's naive timestamp is Shanghai's wall clock already; b's (UTC+8 in the file, nanoseconds) moves to it
  assertEquals(iso(at(0).log_time), "2024-03-01T09:30:00.250Z");
  assertEquals(
    iso(at(60).log_time),
    new Date(Date.UTC(2024, 2, 1, 9, 30, 0, 250) + 300 * 3_600_000 + 8 * 3_600_000 + 17).toISOString(),
  );
  assertEquals(iso(at(90).log_time), "2024-03-20T03:30:00.250Z"); // c.csv's text in the same layout
  // float ids that hold whole numbers are the ids b stores as integers
  assertEquals([at(0).user_id, at(60).user_id], ["1000000", "1000000"]);
  // entity lists joined by the spec's separator, null elements dropped; integers too
  assertEquals([0, 1, 2, 3, 60, 90].map((k) => at(k).tags), ["e0", "e1", "e2,e3", "", "0,10", "x,y"]);
  assertEquals([0, 1, 2, 3, 4, 5].map((k) => at(k).price), [0.1, 2.5, 1e-7, 123456789.25, 1e21, -0.3]);
  assertEquals([0, 1, 60, 61].map((k) => at(k).weight), [0.5, 1.25, 0, 1]);
  assertEquals([at(2).title, at(4).title, at(61).price], ["two\nlines", "", 20]);
  assertEquals(await treeHashes(logs), before, "the input is only read");
  // what cannot be read as asked stops before anything is written, naming the file, the column and the type
  const refusals: [Partial<DatasetSpec>, RegExp][] = [
    [
      { time: { column: "ts", format: "%Y-%m-%d %H:%M:%S" } },
      /a\.parquet: column "ts" is Datetime\(ms,\) in Parquet: write "format": "timestamp"/,
    ],
    [
      { time: { column: "uid", format: "timestamp" }, user: "ad", item: "surface", scene: null },
      /column "uid" is Float64 in Parquet: "timestamp" reads timestamps and dates/,
    ],
    [{ categorical: ["unused_struct"] }, /column "unused_struct" is Struct.* ctrlab reads strings, numbers/],
    [
      { text: [{ column: "tags", side: "user" }] },
      /column "tags" is List\(String\) in Parquet: a list is read only as a text column's entity list/,
    ],
  ];
  for (const [change, message] of refusals) {
    await assertRejects(
      () => runEtl({ input: logs, output: `${dir}/refused`, spec: resolveSpec({ ...spec, ...change }) }),
      message,
    );
    assert(!existsSync(`${dir}/refused`), `${message}: nothing written`);
  }
  // what 01 shows of a Parquet file: the columns read, as the ETL's text
  assertEquals((await firstLines(`${logs}/a.parquet`, resolveSpec(spec), 3)).lines, [
    "uid,ad,ts,clicked,surface,title,tags,price,weight,city",
    "1000000,ad-0,2024-03-01 09:30:00.250,true,home,title 0,e0,0.1,0.5,sh",
    '1000001,ad-1,2024-03-01 14:30:00.250,false,feed,"a ""quoted"", title",e1,2.5,1.25,bj',
  ]);
  // a guessed spec reads the typed time as typed and the list as entities, and leaves out what it cannot read
  const guess = await sniffSpec(`${logs}/a.parquet`, [`${logs}/a.parquet`]);
  assertEquals([guess.spec.time, guess.spec.format], [{ column: "ts", format: "timestamp" }, undefined]);
  assert(!guess.header.includes("unused_struct"), guess.header.join());
  assertEquals(guess.spec.text?.find((t) => t.column === "tags")?.entities, ",");
});

Deno.test("Hive's layout: columns the files lack are taken from their folders (column=value, Hive's escapes and null), a file's own column first", async () => {
  const dir = await tempDir("hive");
  const { logs, spec } = await writeHiveLogs(dir);
  const before = await treeHashes(logs);
  const r = await runEtl({ input: logs, output: `${dir}/clean`, spec: resolveSpec(spec) });
  assertEquals([r.rowsRead, r.rowsWritten, r.rowsQuarantined], [55, 50, 5]);
  assertEquals(r.scenes, ["feed", "home/page", "home"]);
  assertEquals(r.byReason, [{ reason: "missing_value", column: "scene", rows: 5 }]);
  const clean = scanClean(`${dir}/clean`).sort("row_id").collectSync();
  const times = (clean.getColumn("log_time").toArray() as unknown as Date[]).map((d) => d.toISOString());
  assertEquals([times[0], times[20], times[40]], [
    "2024-03-01T10:00:00.000Z",
    "2024-03-01T11:00:00.000Z",
    "2024-03-02T10:00:00.000Z",
  ]);
  assertEquals([0, 20, 40].map((k) => clean.getColumn("scene").get(k)), [0, 1, 2]); // the text file's own "home"
  assertEquals(clean.getColumn("text").get(41), "t, 1");
  // a quarantined record shows the values its path gave it
  const q = (await quarantine(`${dir}/clean`))[0];
  assertEquals([q.line, q.raw], ["1", "u5,a0,0,t 0,2024-03-02 09:00:00,"]);
  assertEquals(await treeHashes(logs), before, "the input is only read");
  // a guessed spec sees the folders' columns too
  const { spec: guess } = await sniffSpec(
    `${logs}/hour=2024-03-01 10%3A00%3A00/scene=feed/part-00000.parquet`,
    [],
    [
      ...hiveFolders(logs, `${logs}/hour=2024-03-01 10%3A00%3A00/scene=feed/part-00000.parquet`),
    ],
  );
  assertEquals([guess.time, guess.scene], [{ column: "hour", format: "%Y-%m-%d %H:%M:%S" }, {
    column: "scene",
  }]);
});

Deno.test("text files without a header (Hive's export: Ctrl-A, \\N, 000000_0): the spec names the columns, the first line is a record, a byte order mark is not part of it; a guessed spec sees it", async () => {
  const dir = await tempDir("headerless");
  const { logs, spec } = await writeHeaderlessLogs(dir);
  const before = await treeHashes(logs);
  const r = await runEtl({ input: logs, output: `${dir}/clean`, spec: resolveSpec(spec) });
  assertEquals(r.files.map((f) => [f.file, f.rowsRead, f.rowsQuarantined]), [
    ["dt=2024-03-01/000000_0", 20, 2],
    ["dt=2024-03-02/000000_0", 17, 2],
    ["dt=2024-03-03/000001_0.deflate", 11, 0],
    ["dt=2024-03-03/000002_0", 0, 0],
  ]);
  // where a line starts in a file, in bytes (the second file's first line: after its byte order mark)
  const lineByte = async (file: string, line: number) => {
    const bytes = await Deno.readFile(`${logs}/${file}`);
    let at = 0;
    for (let k = 1; k < line; k++) at = bytes.indexOf(0x0a, at) + 1;
    return String(at);
  };
  assertEquals(
    (await quarantine(`${dir}/clean`)).map((q) => [q.file, q.line, q.byte, q.reason, q.column ?? ""]),
    [
      ["dt=2024-03-01/000000_0", "6", await lineByte("dt=2024-03-01/000000_0", 6), "missing_value", "uid"],
      [
        "dt=2024-03-01/000000_0",
        "10",
        await lineByte("dt=2024-03-01/000000_0", 10),
        "wrong_column_count",
        "",
      ],
      ["dt=2024-03-02/000000_0", "1", "3", "wrong_column_count", ""],
      [
        "dt=2024-03-02/000000_0",
        "12",
        await lineByte("dt=2024-03-02/000000_0", 12),
        "wrong_column_count",
        "",
      ],
    ],
  );
  const clean = scanClean(`${dir}/clean`).sort("row_id").collectSync();
  // the first line of each file is a record: u0's first click at 10:00 each day; the BOM file's first kept record
  // is its second, over two lines
  const first = (day: string) => clean.filter(pl.col("log_time").dt.strftime("%F").eq(pl.lit(day))).row(0);
  const cols = clean.columns;
  const at = (row: unknown[], c: string) => row[cols.indexOf(c)];
  assertEquals(at(first("2024-03-01"), "user_id"), "u0");
  assertEquals([at(first("2024-03-02"), "user_id"), at(first("2024-03-02"), "title")], ["u1", "two\nlines"]);
  assertEquals([at(first("2024-03-03"), "user_id"), at(first("2024-03-03"), "title")], [
    "u0",
    "first\nrecord",
  ]);
  assertEquals(clean.filter(pl.col("title").eq(pl.lit(""))).height, 7 + 4 + 4, "\\N titles are empty");
  assertEquals(clean.getColumn("row_id").toArray().slice(0, 3), [0, 1, 2]);
  assertEquals(await treeHashes(logs), before, "the input is only read");
  // the spec's columns are checked: a name twice, Parquet, a role outside them
  assertThrows(() => resolveSpec({ ...spec, columns: ["uid", "ad", "uid"] }), SpecError, 'names "uid" twice');
  assertThrows(() => resolveSpec({ ...spec, format: "parquet" }), SpecError, "Parquet files name their own");
  await assertRejects(
    () => runEtl({ input: logs, output: `${dir}/x`, spec: resolveSpec({ ...spec, numeric: ["cost"] }) }),
    Error,
    `missing column "cost": the spec's columns (the file has no header) and the file's folders hold uid,ad,ts,clicked,surface,title,price,dt`,
  );
  // a file that has a header after all is refused, not read with its header as a record
  await Deno.mkdir(`${dir}/headed`);
  await Deno.writeTextFile(`${dir}/headed/000000_0`, `${spec.columns!.join("\u0001")}\nu0\u0001a0\n`);
  await assertRejects(
    () => runEtl({ input: `${dir}/headed`, output: `${dir}/y`, spec: resolveSpec(spec) }),
    Error,
    `its first line names the spec's columns: the file has a header, so the spec should not name them`,
  );
  // without a spec: the first line is taken for a record, the columns named by position, roles guessed by values
  await assertRejects(() => specFor(logs), Error, "the first line looks like a record, not a header");
  const guess = await inputSpec(logs); // as `ctrlab spec --data` guesses: the folders' columns too
  assert("headerless" in guess && guess.headerless);
  const g = guess.spec;
  assertEquals(
    [
      g.delimiter,
      g.quote,
      g.columns,
      g.missing,
      g.user,
      g.item,
      g.time,
      g.label,
      g.text,
      g.numeric,
      g.categorical,
    ],
    [
      "\u0001",
      null, // Hive's text quotes nothing
      ["_c0", "_c1", "_c2", "_c3", "_c4", "_c5", "_c6"],
      ["\\N"],
      "_c0",
      "_c1",
      { column: "_c2", format: "%Y-%m-%d %H:%M:%S" },
      { column: "_c3", positive: ["1"], negative: ["0"] },
      [{ column: "_c5", side: "item" }],
      ["_c6"],
      ["_c4", "dt"], // a column the files lack, from their folders
    ],
  );
  // it reads the file it was guessed from as the spec does (the others quote line breaks, which Hive would not;
  // read alone, the file has no folder to give dt)
  const day1 = `${logs}/dt=2024-03-01/000000_0`;
  const alone = { ...g, categorical: ["_c4"] };
  const g2 = await runEtl({ input: day1, output: `${dir}/guessed`, spec: resolveSpec(alone) });
  const s2 = await runEtl({ input: day1, output: `${dir}/specified`, spec: resolveSpec(spec) });
  assertEquals([g2.rowsRead, g2.rowsWritten], [20, 18]);
  assertEquals([s2.rowsRead, s2.rowsWritten], [20, 18]);
});

Deno.test('"quote": null reads text that quotes nothing, as Hive\'s does: a " anywhere is text, every delimiter splits; Parquet values beside it keep theirs', async () => {
  const dir = await tempDir("unquoted");
  const { logs, spec, titles } = await writeUnquotedLogs(dir);
  const r = await runEtl({ input: logs, output: `${dir}/clean`, spec: resolveSpec(spec) });
  assertEquals([r.rowsRead, r.rowsWritten, r.byReason], [16, 15, [{
    reason: "wrong_column_count",
    column: "",
    rows: 1,
  }]]);
  assertEquals(scanClean(`${dir}/clean`).sort("row_id").collectSync().getColumn("title").toArray(), titles);
  // the same log read with quotes: most of those titles are broken quoting
  const quoting = await runEtl({
    input: logs,
    output: `${dir}/quoting`,
    spec: resolveSpec({ ...spec, quote: undefined }),
  });
  assert(quoting.byReason.some((b) => b.reason === "broken_quoting" && b.rows >= 4), JSON.stringify(quoting));
  // a value from a folder that such a record could not hold is refused up front
  await Deno.mkdir(`${dir}/folders/scene=a%01b`, { recursive: true });
  await Deno.copyFile(`${logs}/000000_0`, `${dir}/folders/scene=a%01b/000000_0`);
  await assertRejects(
    () =>
      runEtl({
        input: `${dir}/folders`,
        output: `${dir}/x`,
        spec: resolveSpec({ ...spec, scene: { column: "scene" } }),
      }),
    Error,
    `its folder's value for "scene" holds the delimiter or a line break, and the spec quotes nothing`,
  );
  assert(!existsSync(`${dir}/x`), "nothing written");
  // a guess for it quotes nothing too, and reads every title
  const { spec: guess } = await sniffSpec(`${logs}/000000_0`, [`${logs}/000000_0`]);
  assertEquals([guess.quote, guess.columns?.length, guess.text], [null, 5, [{
    column: "_c4",
    side: "item",
  }]]);
  const g = await runEtl({ input: `${logs}/000000_0`, output: `${dir}/guessed`, spec: resolveSpec(guess) });
  assertEquals([g.rowsRead, g.rowsWritten], [12, 11]);
});

Deno.test("a file in a format ctrlab does not read (ORC, Avro, bzip2, zstd, …) is refused before anything is written, by name; text that merely starts like one is read", async () => {
  const dir = await tempDir("formats");
  const spec = resolveSpec({ ...OTHER_SPEC, encoding: "utf-8", files: "**/*" });
  const bytes = (...parts: (string | number[])[]) =>
    new Uint8Array(parts.flatMap((p) => typeof p === "string" ? [...new TextEncoder().encode(p)] : p));
  const files: [string, Uint8Array, RegExp][] = [
    [
      "part-0.orc",
      bytes("ORC", [0x0a, 0x13, 0x08], "stripes…", "ORC", [0x17]),
      /is ORC, which ctrlab does not read .*Parquet or as text/,
    ],
    ["part-0.avro", bytes("Obj", [0x01, 0x04, 0x16], "avro.schema{…}"), /is Avro/],
    ["000000_0", bytes("SEQ", [0x06], "org.apache.hadoop.io.Text"), /is a Hadoop SequenceFile/],
    [
      "log.csv.bz2",
      bytes("BZh9", [0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0x00]),
      /is bzip2, .*compress it with gzip instead/,
    ],
    ["log.csv.zst", bytes([0x28, 0xb5, 0x2f, 0xfd, 0x00]), /is zstd/],
    ["log.zip", bytes([0x50, 0x4b, 0x03, 0x04, 0x00]), /is zip, .*unzip it/],
  ];
  for (const [name, content, why] of files) {
    await Deno.mkdir(`${dir}/${name}-in`);
    await Deno.writeFile(`${dir}/${name}-in/${name}`, content);
    const e = await runEtl({ input: `${dir}/${name}-in`, output: `${dir}/${name}-out`, spec }).then(
      () => null,
      (x) => x as Error,
    );
    assert(e && why.test(e.message) && e.message.includes(name), String(e?.message));
    assert(!existsSync(`${dir}/${name}-out`), `${name}: nothing written`);
  }
  // a header that starts with "ORC" or "BZh" is text
  await Deno.writeTextFile(`${dir}/a.csv`, "ORCHARD,BZh9x\no1,b1\n");
  assertEquals(unreadFormat(`${dir}/a.csv`), null);
  assertEquals(await readHeader(`${dir}/a.csv`, spec), ["ORCHARD", "BZh9x"]);
});

Deno.test('"escape": Spark\'s CSV as it writes it by default (a backslash before a quote inside quotes) reads back every value; a doubled quote is then broken', async () => {
  const dir = await tempDir("escape");
  const { logs, spec, titles } = await writeSparkCsvLogs(dir);
  const r = await runEtl({ input: logs, output: `${dir}/clean`, spec: resolveSpec(spec) });
  assertEquals([r.rowsRead, r.rowsWritten, r.byReason.map((b) => [b.reason, b.rows])], [15, 14, [[
    "broken_quoting",
    1,
  ]]]);
  const q = (await quarantine(`${dir}/clean`))[0];
  assertEquals([q.line, q.value], ["18", "unterminated or stray quote at byte 31"]);
  assertEquals(scanClean(`${dir}/clean`).sort("row_id").collectSync().getColumn("title").toArray(), titles);
  // the spec's escape is checked
  assertThrows(() => resolveSpec({ ...spec, escape: '"' }), SpecError, "RFC 4180's doubling");
  assertThrows(() => resolveSpec({ ...spec, quote: null }), SpecError, "escape is for quoted fields");
  assertThrows(() => resolveSpec({ ...spec, escape: "\\\\" }), SpecError, "one ASCII character");
  // a guess sees the escapes (and no header), and reads the log as the spec does
  const { spec: guess } = await sniffSpec(`${logs}/part-00000.csv`, [`${logs}/part-00000.csv`]);
  assertEquals([guess.escape, guess.columns?.length, guess.text], ["\\", 5, [{
    column: "_c4",
    side: "item",
  }]]);
  const g = await runEtl({ input: logs, output: `${dir}/guessed`, spec: resolveSpec(guess) });
  assertEquals([g.rowsRead, g.rowsWritten], [15, 14]);
});
