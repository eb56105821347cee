/** Point-in-time features: hand-checked values, the leakage audit, splits and vocabularies. */
import pl from "nodejs-polars";
import { runEtl } from "../lib/data/etl.ts";
import { generateLogs } from "../lib/data/synth.ts";
import { featureDefs } from "../lib/features/defs.ts";

const FEATURE_DEFS = featureDefs(5); // the generated data has five scenes
import { joinHistory } from "../lib/features/history.ts";
import { buildTable, loadEvents, readSplit, writeTable } from "../lib/features/table.ts";
import { unitHash } from "../lib/util/frame.ts";
import { Rng } from "../lib/util/rng.ts";
import { D0, eventLog as log } from "./events.ts";
import { assert, assertClose, assertEquals, tempDir } from "./assert.ts";

Deno.test("feature values on a hand-checked log (windows, pivots, pairs)", async () => {
  const events = log([
    [1, 10, 2, 0, 1], // r0 day 0
    [1, 11, 2, 0, 0], // r1 day 0
    [1, 10, 0, 1, 1], // r2 day 1
    [1, 10, 2, 3, 0], // r3 day 3
    [1, 12, 4, 9, 1], // r4 day 9: 7-day window is days 2..8 → only day 3
    [1, 10, 2, 10, 0], // r5 day 10: window days 3..9 → days 3 and 9
    [2, 10, 1, 1, 1], // r6 another user
  ]);
  const f = (await joinHistory(events)).sort("row_id");
  const col = (c: string) => f.getColumn(c).toArray() as number[];
  assertEquals(col("u_imp_cum"), [0, 0, 2, 3, 4, 5, 0]);
  assertEquals(col("u_clk_cum"), [0, 0, 1, 2, 2, 3, 0]);
  assertEquals(col("u_imp_1d"), [0, 0, 2, 0, 0, 1, 0]);
  assertEquals(col("u_clk_1d"), [0, 0, 1, 0, 0, 1, 0]);
  assertEquals(col("u_imp_7d"), [0, 0, 2, 3, 1, 2, 0]);
  assertEquals(col("u_clk_7d"), [0, 0, 1, 2, 0, 1, 0]);
  assertEquals(col("u_ctr_7d"), [0, 0, 0.5, 2 / 3, 0, 0.5, 0].map(Math.fround)); // features are float32
  assertEquals(col("u_imp_s2"), [0, 0, 2, 2, 3, 3, 0]);
  assertEquals(col("u_clk_s2"), [0, 0, 1, 1, 1, 1, 0]);
  assertEquals(col("u_imp_s0"), [0, 0, 0, 1, 1, 1, 0]);
  assertEquals(col("u_clk_s4"), [0, 0, 0, 0, 0, 1, 0]);
  assertEquals(col("u_days_seen"), [0, 0, 1, 3, 9, 10, 0]);
  assertEquals(col("i_imp_cum"), [0, 0, 1, 3, 0, 4, 1]); // item 10: r0 (day 0); r2,r6 (day 1); r3 (day 3)
  assertEquals(col("ui_imp_cum"), [0, 0, 1, 2, 0, 3, 0]);
  assertEquals(col("ui_clk_cum"), [0, 0, 1, 2, 0, 2, 0]);
  // the seed's leaky variant counts the row's own day, own click included
  const leaky = (await joinHistory(events, { includeCurrentDay: true })).sort("row_id");
  assertEquals(leaky.getColumn("u_clk_cum").toArray(), [1, 1, 2, 2, 3, 3, 1]);
});

Deno.test("timestamp mode: cumulative statistics stop strictly before the impression's time", async () => {
  const t = (d: number, h: number) => new Date((D0 + d) * 86_400_000 + h * 3_600_000);
  const events = log([[1, 10, 2, 0, 1], [1, 11, 2, 0, 0], [1, 10, 2, 0, 1], [1, 10, 0, 1, 0]])
    .withColumns(pl.Series("log_time", [t(0, 8), t(0, 9), t(0, 9), t(1, 7)]));
  const f = (await joinHistory(events, { asOf: "timestamp" })).sort("row_id");
  assertEquals(f.getColumn("u_imp_cum").toArray(), [0, 1, 1, 3]); // rows 1 and 2 share a timestamp: neither sees the other
  assertEquals(f.getColumn("u_clk_cum").toArray(), [0, 1, 1, 2]);
  assertEquals(f.getColumn("ui_imp_cum").toArray(), [0, 0, 1, 2]);
  assertEquals(f.getColumn("u_imp_1d").toArray(), [0, 0, 0, 3]); // windows stay day-based
});

async function smallClean(rows: number, seed: number): Promise<string> {
  const dir = await tempDir("feat");
  await generateLogs({ rows, outDir: dir, seed });
  await runEtl({ input: `${dir}/raw`, output: `${dir}/clean` });
  return `${dir}/clean`;
}

const featureNames = FEATURE_DEFS.map((d) => d.name);

function permuteDayLabels(events: pl.DataFrame, day: number, seed: number): pl.DataFrame {
  const labels = events.getColumn("label").toArray() as number[];
  const days = events.getColumn("day").toArray() as number[];
  const idx = days.map((d, i) => (d === day ? i : -1)).filter((i) => i >= 0);
  const shuffled = new Rng(seed).shuffle(idx.map((i) => labels[i]));
  const out = [...labels];
  idx.forEach((i, k) => out[i] = 1 - shuffled[k]); // permute and flip: every row's label may change
  return events.withColumns(pl.Series("label", out).cast(pl.Int32));
}

Deno.test("leakage audit: relabelling day D leaves day D's features unchanged and changes day D+1's", async () => {
  const events = loadEvents(await smallClean(20_000, 3));
  const day = D0 + 10;
  const priors = { user: { alpha: 1, beta: 2 }, item: { alpha: 2, beta: 3 } };
  const base = (await joinHistory(events, { priors })).sort("row_id");
  const perm = (await joinHistory(permuteDayLabels(events, day, 1), { priors })).sort("row_id");
  const rowsOf = (df: pl.DataFrame, d: number) =>
    df.filter(pl.col("day").eq(pl.lit(d))).select(...featureNames);
  assert(rowsOf(base, day).frameEqual(rowsOf(perm, day)), "day D features must not see day D labels");
  assert(!rowsOf(base, day + 1).frameEqual(rowsOf(perm, day + 1)), "day D+1 features must see day D labels");
  // the audit can fail: the leaky variant does see day D's labels on day D
  const leakyBase = (await joinHistory(events, { priors, includeCurrentDay: true })).sort("row_id");
  const leakyPerm = (await joinHistory(permuteDayLabels(events, day, 1), { priors, includeCurrentDay: true }))
    .sort("row_id");
  assert(
    !rowsOf(leakyBase, day).frameEqual(rowsOf(leakyPerm, day)),
    "the leaky variant should fail the audit",
  );
});

Deno.test("a user's or item's first day has no history: counts zero, smoothed CTR at the prior", async () => {
  const events = loadEvents(await smallClean(15_000, 4));
  const { table, manifest } = await buildTable(events);
  for (const [p, entity] of [["u", "user"], ["i", "item"]] as const) {
    const first = table.filter(pl.col(`${p}_days_seen`).eq(pl.lit(0)));
    assert(first.height > 0);
    for (const d of FEATURE_DEFS.filter((f) => f.name.startsWith(`${p}_`) && f.stat !== "sctr")) {
      assertEquals(first.getColumn(d.name).max(), 0, `${d.name} on first days`);
    }
    const prior = manifest.priors[entity];
    const sctr = first.getColumn(`${p}_sctr_cum`).toArray() as number[];
    assert(sctr.every((v) => v === Math.fround(prior.alpha / (prior.alpha + prior.beta))));
  }
});

Deno.test("temporal split, training-only vocabularies, and every row in exactly one split", async () => {
  const clean = await smallClean(15_000, 5);
  const events = loadEvents(clean);
  const built = await buildTable(events, { split: { valDays: 3, testDays: 3 } });
  const out = await tempDir("table");
  const m = await writeTable(out, built, clean);
  assertEquals(m.rows.train + m.rows.val + m.rows.test, events.height);
  assertEquals([m.split.days.train.length, m.split.days.val.length, m.split.days.test.length], [24, 3, 3]);
  assert(m.split.days.train.at(-1)! < m.split.days.val[0] && m.split.days.val.at(-1)! < m.split.days.test[0]);
  const [train, test] = [readSplit(out, "train"), readSplit(out, "test")];
  const ids = new Set(train.getColumn("row_id").toArray().map(Number));
  assert(test.getColumn("row_id").toArray().every((r) => !ids.has(Number(r))));
  // users first seen in the test days are out of vocabulary (index 0); every training user has an index
  const trainUsers = new Set(train.getColumn("user_id").toArray().map(Number));
  const newInTest = test.filter(pl.col("user_idx").eq(pl.lit(0)));
  assert(newInTest.height > 0, "the generator's late users should appear as OOV in test");
  assert(newInTest.getColumn("user_id").toArray().every((u) => !trainUsers.has(Number(u))));
  assertEquals(train.getColumn("user_idx").min(), 1);
  assertEquals(m.vocabs.user_id.size, trainUsers.size + 1);
  // entity tokens: a training-day vocabulary too
  const ents = pl.readParquet(`${out}/vocab_entity.parquet`);
  assertEquals(m.vocabs.entity.size, ents.height + 1);
  assert(
    ents.height > 50 &&
      (ents.getColumn("entity").toArray() as string[]).every((t) => t.length > 0 && !t.includes(",")),
  );
  // normalisation statistics come from the training split
  const z = train.getColumn("n_u_imp_cum");
  assert(
    Math.abs(z.mean()) < 1e-5 &&
      Math.abs((train.select(pl.col("n_u_imp_cum").std()).getColumn("n_u_imp_cum").get(0) as number) - 1) <
        1e-3,
  );
  // a random split mixes all days into every split (labelled leaky in the notebook)
  const rnd = await buildTable(events, { split: { mode: "random" } });
  const testDays = rnd.table.filter(pl.col("split").eq(pl.lit("test"))).getColumn("day").nUnique();
  assertEquals(testDays, 30);
});

Deno.test("unitHash gives every row a stable coin in [0, 1) (no overflow to negative values)", () => {
  const df = pl.DataFrame({ row_id: Array.from({ length: 2_000_000 }, (_, i) => i) }).withColumns(
    pl.col("row_id").cast(pl.Int64),
  );
  const u = df.select(unitHash("row_id", 7).alias("u"), unitHash("row_id", 8).alias("v"));
  const r = u.select(
    pl.col("u").min().alias("lo"),
    pl.col("u").max().alias("hi"),
    pl.col("u").lt(0.1).mean().alias("share"),
    pl.col("u").eq(pl.col("v")).mean().alias("same"),
  ).toRecords()[0] as Record<string, number>;
  assert(r.lo >= 0 && r.hi < 1, `range [${r.lo}, ${r.hi}]`);
  assertClose(r.share, 0.1, 0.002, "share below 0.1");
  assert(r.same < 1e-4, "another seed gives other coins");
});
