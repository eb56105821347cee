import pl from "nodejs-polars";
import { loadSpec } from "../lib/data/spec.ts";
import { CORRUPTIONS, generateLogs } from "../lib/data/synth.ts";
import {
  type EtlReport,
  EtlSchemaError,
  fileHolding,
  QUARANTINE_FILE,
  REPORT_FILE,
  runEtl,
  scanClean,
} from "../lib/data/etl.ts";
import { RAW_COLUMNS } from "../lib/data/schema.ts";
import { reconciliation } from "../lib/data/summary.ts";
import { assert, assertEquals, assertRejects, tempDir } from "./assert.ts";

Deno.test("ETL on a corrupted sample reconciles exactly, reason by reason", async () => {
  const dir = await tempDir("etl");
  const m = await generateLogs({ rows: 30_000, outDir: dir, seed: 2, corruptRate: 0.02 });
  const injected = Object.values(m.corrupt).reduce((a, b) => a + b, 0);
  assert(injected > 300, `expected hundreds of corrupt rows, got ${injected}`);
  const r = await runEtl({ input: `${dir}/raw`, output: `${dir}/clean`, chunkBytes: 200_000 }); // small chunks: many flushes
  assertEquals(r.rowsRead, 30_000);
  assertEquals(r.rowsQuarantined, injected);
  assertEquals(r.rowsWritten, 30_000 - injected);
  assert(r.files.every((f) => f.rowsRead === f.rowsWritten + f.rowsQuarantined));
  assertEquals(reconciliation(r).at(-1)?.balanced, "yes");
  // every injected defect is found under the reason and column it should produce
  const expected = new Map<string, number>();
  for (const [kind, n] of Object.entries(m.corrupt)) {
    const { reason, column } = CORRUPTIONS[kind as keyof typeof CORRUPTIONS];
    expected.set(`${reason}/${column}`, (expected.get(`${reason}/${column}`) ?? 0) + n);
  }
  const got = new Map(r.byReason.map((q) => [`${q.reason}/${q.column}`, q.rows]));
  assertEquals(got, new Map([...expected].filter(([, n]) => n > 0)));
  // the quarantine file holds one line per quarantined row, naming file and line
  const q = pl.readCSV(`${dir}/clean/${QUARANTINE_FILE}`, { inferSchemaLength: 0 });
  assertEquals(q.height, injected);
  const qIds = (q.getColumn("row_id").toArray() as string[]).map(Number);
  assert(qIds.every((id, i) => i === 0 || id > qIds[i - 1]), "the quarantine is in record order");
  assert(
    (q.getColumn("file").toArray() as string[]).every((f) =>
      /^date=2023-\d\d-\d\d\/part-00000\.csv$/.test(f)
    ),
  );
  // written rows: unique row ids, no overlap with quarantined ones, labels and scenes in range, the true
  // probabilities join by row_id
  const clean = scanClean(`${dir}/clean`).collectSync();
  assertEquals(clean.height, r.rowsWritten);
  assertEquals(clean.getColumn("row_id").nUnique(), clean.height);
  const ids = new Set((clean.getColumn("row_id").toArray() as bigint[]).map(Number));
  for (const id of q.getColumn("row_id").toArray() as string[]) {
    assert(!ids.has(Number(id)), `row ${id} both written and quarantined`);
  }
  assertEquals([...new Set(clean.getColumn("label").toArray())].sort(), [0, 1]);
  assertEquals(r.partitions.reduce((a, p) => a + p.rows, 0), r.rowsWritten);
  assert(JSON.parse(await Deno.readTextFile(`${dir}/clean/${REPORT_FILE}`)).rowsRead === 30_000);
});

Deno.test("a log of many small files: one part file per partition, not a few per input file; the same rows and quarantine as the log in a few files", async () => {
  const dir = await tempDir("etl-many");
  await generateLogs({ rows: 6_000, outDir: `${dir}/gen`, seed: 4, corruptRate: 0.02 });
  // each day's file cut into files of 40 records, named so that they sort in the same order
  await Deno.mkdir(`${dir}/many`);
  const days = [...Deno.readDirSync(`${dir}/gen/raw`)].map((e) => e.name).sort();
  const lineCounts: number[] = [];
  for (const [d, day] of days.entries()) {
    const [header, ...records] = Deno.readTextFileSync(`${dir}/gen/raw/${day}/part-00000.csv`).trimEnd()
      .split(
        "\n",
      );
    for (let k = 0; k * 40 < records.length; k++) {
      const part = records.slice(k * 40, (k + 1) * 40);
      const name = `${String(d).padStart(3, "0")}-${String(k).padStart(3, "0")}.csv`;
      Deno.writeTextFileSync(`${dir}/many/${name}`, [header, ...part, ""].join("\n"));
      lineCounts.push(part.length);
    }
  }
  const few = await runEtl({ input: `${dir}/gen/raw`, output: `${dir}/clean-few` });
  const many = await runEtl({ input: `${dir}/many`, output: `${dir}/clean-many` });
  assert(many.files.length > 150, `${many.files.length} files`);
  assertEquals(many.files.map((f) => f.rowsRead), lineCounts);
  assertEquals(reconciliation(many).at(-1)?.balanced, "yes");
  assertEquals([many.rowsRead, many.rowsQuarantined, many.partitions], [
    few.rowsRead,
    few.rowsQuarantined,
    few.partitions,
  ]);
  const parts = [...Deno.readDirSync(`${dir}/clean-many`)].filter((e) => e.name.startsWith("date="))
    .flatMap((d) => [...Deno.readDirSync(`${dir}/clean-many/${d.name}`)].map((s) => `${d.name}/${s.name}`))
    .flatMap((p) =>
      [...Deno.readDirSync(`${dir}/clean-many/${p}`)].filter((f) => f.name.endsWith(".parquet"))
    );
  assertEquals(parts.length, many.partitions.length);
  const rows = (d: string) => scanClean(d).sort("row_id").collectSync();
  assert(rows(`${dir}/clean-many`).frameEqual(rows(`${dir}/clean-few`)), "the same cleaned rows");
  // the same quarantine but for where the records are: each names its own small file, per-file counts agree
  const quarantine = (d: string) => pl.readCSV(`${d}/${QUARANTINE_FILE}`, { inferSchemaLength: 0 });
  const [qm, qf] = [quarantine(`${dir}/clean-many`), quarantine(`${dir}/clean-few`)];
  const what = ["row_id", "reason", "column", "value", "raw"];
  assert(qm.select(...what).frameEqual(qf.select(...what)), "the same quarantined records, in record order");
  const perFile = new Map<string, number>();
  for (const f of qm.getColumn("file").toArray() as string[]) perFile.set(f, (perFile.get(f) ?? 0) + 1);
  assertEquals(many.files.filter((f) => f.rowsQuarantined).map((f) => [f.file, f.rowsQuarantined]), [
    ...perFile,
  ]);
});

const HEADER = RAW_COLUMNS.join(",");
const GOOD = '1,10,2,2023-07-10 08:05:31,1,惠民奶茶优惠券,"奶茶,咖啡",外卖,,';

Deno.test("ETL names file, line, column and value of each bad row", async () => {
  const dir = await tempDir("etl");
  await Deno.mkdir(`${dir}/raw`);
  const lines = [
    HEADER,
    GOOD, // line 2
    GOOD.replace("2023-07-10 08:05:31", "2023/7/11 9:15"), // 3: other layout, valid
    GOOD.replace(",1,惠民", ",7,惠民"), // 4: label 7
    GOOD.replace("1,10,2,", "1,10,9,"), // 5: scene 9
    GOOD.replace("08:05:31", "28:05:31"), // 6: bad time
    GOOD.replace(",1,惠民", ",,惠民"), // 7: missing label
    GOOD.replace("1,10,", ",10,"), // 8: missing user id
    GOOD + ",extra", // 9: 11 fields
    GOOD.replace('"奶茶,咖啡"', '"奶茶,咖啡'), // 10: broken quote
    "", // 11: empty line
    GOOD, // 12
  ];
  await Deno.writeTextFile(`${dir}/raw/logs.csv`, lines.join("\n") + "\n");
  const r = await runEtl({ input: `${dir}/raw`, output: `${dir}/clean` });
  assertEquals([r.rowsRead, r.rowsWritten, r.rowsQuarantined], [11, 3, 8]);
  assertEquals(r.spec, "antm2c-10", "the generator's layout is recognised from the header");
  const q = pl.readCSV(`${dir}/clean/${QUARANTINE_FILE}`, { inferSchemaLength: 0 }).withColumns(
    pl.col("line").cast(pl.Int32),
  ).sort("line").select("file", "line", "reason", "column", "value").toRecords();
  assertEquals(q.map((x) => [String(x.line), x.reason, x.column ?? "", x.value ?? ""]), [
    ["4", "bad_value", "label", "7"],
    ["5", "bad_value", "scene", "9"],
    ["6", "bad_value", "log_time", "2023-07-10 28:05:31"],
    ["7", "missing_value", "label", ""],
    ["8", "missing_value", "user_id", ""],
    ["9", "wrong_column_count", "", "11 fields, expected 10"],
    ["10", "broken_quoting", "", q[6].value],
    ["11", "empty_line", "", "1 fields, expected 10"],
  ]);
  assert(q.every((x) => x.file === "logs.csv"));
  const clean = scanClean(`${dir}/clean`).sort("row_id").collectSync();
  assertEquals(clean.getColumn("row_id").toArray().map(Number), [0, 1, 10]);
  assertEquals(
    (clean.getColumn("date").toArray() as unknown as Date[]).map((d) => d.toISOString().slice(0, 10)),
    ["2023-07-10", "2023-07-11", "2023-07-10"],
  );
  assertEquals(clean.getColumn("scene").toArray().map(Number), [2, 2, 2]);
  // the partition layout Spark/DuckDB/pandas expect, partition columns only in the path
  const part = pl.readParquet(`${dir}/clean/date=2023-07-11/scene=2/part-00000.parquet`);
  assertEquals(part.height, 1);
  assert(!part.columns.includes("scene") && !part.columns.includes("date"));
});

Deno.test("ETL stops on a schema error naming the file and the column", async () => {
  const dir = await tempDir("etl");
  await Deno.mkdir(`${dir}/raw`);
  await Deno.writeTextFile(`${dir}/raw/a.csv`, HEADER.replace(",label", "") + "\n");
  // with the layout's spec named, the missing column is named
  await assertRejects(
    runEtl({ input: `${dir}/raw`, output: `${dir}/clean`, spec: await loadSpec("antm2c-10") }),
    (e: unknown) => {
      assert(e instanceof EtlSchemaError);
      assertEquals(e.column, "label");
      assert(e.message.includes("a.csv") && e.message.includes('missing column "label"'), e.message);
      return true;
    },
  );
  // without a spec, an unknown header lists its columns and shows a spec to start from
  await Deno.writeTextFile(`${dir}/raw/a.csv`, HEADER.replace("label", "clicked") + "\n");
  await assertRejects(runEtl({ input: `${dir}/raw`, output: `${dir}/clean` }), (e: unknown) => {
    const m = (e as Error).message;
    assert(
      m.includes("a.csv") && m.includes("needs a dataset spec") &&
        m.includes("Columns found (10): user_id, item_id, scene, log_time, clicked"),
      m,
    );
    assert(
      m.includes('"label": {') && m.includes('"column": "clicked"'),
      `a starter spec guessing the label column: ${m}`,
    );
    return true;
  });
  assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["raw"], "nothing written on a schema error");
});

Deno.test("ETL refuses to overwrite a directory it did not write", async () => {
  const dir = await tempDir("etl");
  await Deno.mkdir(`${dir}/raw`);
  await Deno.writeTextFile(`${dir}/raw/a.csv`, HEADER + "\n" + GOOD + "\n");
  await Deno.mkdir(`${dir}/precious`);
  await Deno.writeTextFile(`${dir}/precious/keep.txt`, "x");
  await assertRejects(runEtl({ input: `${dir}/raw`, output: `${dir}/precious` }), /refusing to overwrite/);
  await assertRejects(runEtl({ input: `${dir}/nope`, output: `${dir}/clean` }), /ETL input not found/);
});

Deno.test("fileHolding: the last file when it holds any of the rows, else the one holding most, with its first row id", () => {
  const files = [["nov.csv", 10], ["dec.csv", 5], ["oct.csv", 7]].map(([file, rowsRead]) => ({
    file: file as string,
    rowsRead: rowsRead as number,
    rowsWritten: rowsRead as number,
    rowsQuarantined: 0,
  }));
  const report = { files } as unknown as EtlReport;
  assertEquals(fileHolding(report, [3, 16, 17]), { file: "oct.csv", offset: 15 });
  assertEquals(fileHolding(report, [10, 11, 12, 3]), { file: "dec.csv", offset: 10 }); // not sorted by time
  assertEquals(fileHolding(report, [0, 1, 12]), { file: "nov.csv", offset: 0 });
  assertEquals(fileHolding(report, []), { file: "oct.csv", offset: 15 });
});
