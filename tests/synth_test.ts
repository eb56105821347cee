import pl from "nodejs-polars";
import { BASE_SCENE_SHARES, generateLogs } from "../lib/data/synth.ts";
import { RAW_COLUMNS } from "../lib/data/schema.ts";
import { assert, assertBetween, assertEquals, tempDir } from "./assert.ts";

async function readAll(dir: string, files: string[]): Promise<string> {
  return (await Promise.all(files.map((f) => Deno.readTextFile(`${dir}/raw/${f}`)))).join("");
}

Deno.test("generator is deterministic for a seed and differs across seeds", async () => {
  const [a, b, c] = [await tempDir("synth"), await tempDir("synth"), await tempDir("synth")];
  const ma = await generateLogs({ rows: 5000, outDir: a, seed: 3 });
  const mb = await generateLogs({ rows: 5000, outDir: b, seed: 3 });
  const mc = await generateLogs({ rows: 5000, outDir: c, seed: 4 });
  assertEquals(await readAll(a, ma.files), await readAll(b, mb.files));
  assert(await readAll(a, ma.files) !== await readAll(c, mc.files));
});

Deno.test("generated logs match AntM2C's columns and public marginals", async () => {
  const dir = await tempDir("synth");
  const m = await generateLogs({ rows: 60_000, outDir: dir, seed: 11 });
  assertEquals(m.files.length, 30);
  assert(m.files.every((f) => /^date=\d{4}-\d{2}-\d{2}\/part-00000\.csv$/.test(f)));
  assertEquals(m.files[0], "date=2023-07-10/part-00000.csv");
  const df = pl.concat(m.files.map((f) => pl.readCSV(`${dir}/raw/${f}`, { inferSchemaLength: 0 })));
  assertEquals(df.columns, [...RAW_COLUMNS]);
  assertEquals(df.height, 60_000);
  const ctr = m.clicks / 60_000;
  assertBetween(ctr, 0.32, 0.38, "click rate");
  m.sceneRows.forEach((n, s) =>
    assertBetween(n / 60_000, BASE_SCENE_SHARES[s] - 0.03, BASE_SCENE_SHARES[s] + 0.03, `scene ${s} share`)
  );
  // both timestamp layouts occur
  const times = df.getColumn("log_time").toArray() as string[];
  assert(times.some((t) => /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(t)));
  assert(times.some((t) => /^\d{4}\/\d{1,2}\/\d{1,2} \d{1,2}:\d{2}$/.test(t)));
  // the true probability never appears in the logs; it sits in the oracle, one row per log row
  const oracle = pl.readParquet(`${dir}/oracle.parquet`);
  assertEquals(oracle.height, 60_000);
  assertEquals(oracle.columns, ["row_id", "p_true"]);
  // cold start: some users and items only appear in the last week
  const firstDay = (col: string) =>
    df.select(pl.col(col), pl.col("log_time").str.slice(0, 10).alias("d"))
      .groupBy(col).agg(pl.col("d").min().alias("first"));
  const lateUsers = firstDay("user_id").filter(pl.col("first").gt(pl.lit("2023-08-01"))).height;
  const lateItems = firstDay("item_id").filter(pl.col("first").gt(pl.lit("2023-08-01"))).height;
  assert(lateUsers > 10, `late users: ${lateUsers}`);
  assert(lateItems > 10, `late items: ${lateItems}`);
  // Chinese text from topic vocabularies
  assert(/[\u4e00-\u9fff]/.test(df.getColumn("item_title").get(0) as string));
});

Deno.test("scene shares drift over the window", async () => {
  const dir = await tempDir("synth");
  const m = await generateLogs({ rows: 40_000, outDir: dir, seed: 5 });
  const share = (file: string, scene: number) => {
    const d = pl.readCSV(`${dir}/raw/${file}`, { inferSchemaLength: 0 });
    return d.filter(pl.col("scene").eq(pl.lit(String(scene)))).height / d.height;
  };
  const [first, last] = [m.files[0], m.files[m.files.length - 1]];
  assert(share(last, 0) > share(first, 0), "scene 0 grows");
  assert(share(last, 2) < share(first, 2), "scene 2 shrinks");
});

Deno.test("single-file layout writes one CSV with every row", async () => {
  const dir = await tempDir("synth");
  const m = await generateLogs({ rows: 3000, outDir: dir, layout: "single" });
  assertEquals(m.files, ["logs.csv"]);
  const lines = (await Deno.readTextFile(`${dir}/raw/logs.csv`)).trimEnd().split("\n");
  assertEquals(lines.length, 3001);
});

Deno.test("title breaks: a share of items' titles hold a quoted line break; every other draw is unchanged", async () => {
  const [a, b] = [await tempDir("synth"), await tempDir("synth")];
  const plain = await generateLogs({ rows: 3000, outDir: a, layout: "single" });
  const broken = await generateLogs({ rows: 3000, outDir: b, layout: "single", titleBreaks: 0.2 });
  assert(!("titleBreaks" in plain.options), "the default manifest is as it was");
  const [x, y] = [await Deno.readTextFile(`${a}/raw/logs.csv`), await Deno.readTextFile(`${b}/raw/logs.csv`)];
  const records = y.trimEnd().split(/\n(?=\d+,\d+,\d,)/); // a record starts with its ids and scene
  assertEquals(records.length, 3001);
  const spanning = records.filter((r) => r.includes("\n"));
  assertBetween(spanning.length / 3000, 0.1, 0.3, "records with a line break in their title");
  // without its line break (and the quotes it needs), each record is the plain log's, and the oracle is the same
  assertEquals(records.map((r) => r.replace(/"([^",\n]*)\n([^",]*)"/, "$1$2")), x.trimEnd().split("\n"));
  assertEquals(
    pl.readParquet(`${b}/oracle.parquet`).getColumn("p_true").toArray(),
    pl.readParquet(`${a}/oracle.parquet`).getColumn("p_true").toArray(),
  );
  assertEquals([broken.clicks, broken.sceneRows], [plain.clicks, plain.sceneRows]);
});
