/**
 * lib/text: BERT-whitening gives identity covariance on training vectors; the TF-IDF embedder is row-independent
 * and survives save/load; the cache embeds each distinct text once per embedder; text joins to rows by row_id
 * (a shuffled frame still gets each row's own text); the shipped tiny BERT loads through transformers.js from a
 * local directory, is reproducible from its maker, and what transformers.js returns equals the float64
 * interpreter's mean pooling of the same graph. A log with text on one side only gets zero vectors on the other.
 */
import pl from "nodejs-polars";
import { EXECUTION_DEFAULTS, REPO_ROOT } from "../lib/config.ts";
import { ensureDataset } from "../lib/data/dataset.ts";
import { readCleanSchema, runEtl, scanClean } from "../lib/data/etl.ts";
import { resolveSpec } from "../lib/data/spec.ts";
import { buildTable, loadEvents, writeTable } from "../lib/features/table.ts";
import { l2Rows } from "../lib/embed/fuse.ts";
import type { Item2Vec } from "../lib/embed/item2vec.ts";
import { buildItemEmbeddings } from "../lib/embed/items.ts";
import { arr, evaluate } from "../lib/graph/interp.ts";
import { ModelBuilder } from "../lib/graph/nn.ts";
import { embedCached, type Embedder, NO_TEXT } from "../lib/text/embedder.ts";
import {
  buildTextFeatures,
  embedTexts,
  joinTextIndex,
  loadTextFeatures,
  textColumns,
  textExpr,
} from "../lib/text/features.ts";
import { meanCovariance } from "../lib/util/linalg.ts";
import { charNgrams, TfidfSvdEmbedder } from "../lib/text/tfidf.ts";
import { makeTinyBert, tinyBert } from "../lib/text/tiny_bert.ts";
import { meanPool, TransformersEmbedder } from "../lib/text/transformers.ts";
import { applyWhitening, fitWhitening, truncateWhitening } from "../lib/text/whiten.ts";
import { Rng } from "../lib/util/rng.ts";
import { assert, assertClose, assertEquals, tempDir } from "./assert.ts";
import { OTHER_SPEC, writeOtherLogs } from "./own_logs.ts";

const CORPUS = [
  "惠民火锅优惠券,火锅,奶茶",
  "安心基金定投,基金,股票",
  "外卖,快餐,早餐",
  "余额宝,理财产品,收益",
  "打车,地铁,公交卡",
  "火锅,外卖",
  "基金,余额宝",
];

Deno.test("BERT-whitening: training vectors come out with identity covariance; low rank caps k", () => {
  const rng = new Rng(3), n = 2000, d = 12;
  const mix = Float64Array.from({ length: d * d }, () => rng.normal());
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: d }, (_, j) => rng.normal() * (j + 1));
    for (let j = 0; j < d; j++) x[i * d + j] = 3 + z.reduce((a, v, k) => a + v * mix[k * d + j], 0);
  }
  const wh = fitWhitening(x, d, 8);
  assertEquals(wh.k, 8);
  const { mean, cov } = meanCovariance(applyWhitening(wh, x), n, 8);
  for (let a = 0; a < 8; a++) {
    assertClose(mean[a], 0, 1e-4, `mean ${a}`);
    for (let b = 0; b < 8; b++) assertClose(cov[a * 8 + b], a === b ? 1 : 0, 1e-3, `cov[${a}][${b}]`);
  }
  // a rank-3 cloud in 12 dimensions keeps 3 directions, however many are asked for
  const low = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const z = [rng.normal(), rng.normal(), rng.normal()];
    for (let j = 0; j < d; j++) low[i * d + j] = z[j % 3] * (1 + j);
  }
  assertEquals(fitWhitening(low, d, 8).k, 3);
  const t = truncateWhitening(wh, 5);
  assertEquals(
    Array.from(applyWhitening(t, x.subarray(0, d))),
    Array.from(applyWhitening(wh, x.subarray(0, d)).subarray(0, 5)),
  );
});

Deno.test("TF-IDF + SVD embedder: character n-grams, row-independent vectors, identical after save/load", async () => {
  assertEquals(charNgrams("火锅,KT", [1, 2]), ["火", "锅", "火锅", "k", "t", "kt"]);
  const e = TfidfSvdEmbedder.fit(CORPUS, { minDf: 1, dim: 4 });
  const all = await e.embed(CORPUS);
  for (let i = 0; i < CORPUS.length; i++) {
    assertEquals(
      Array.from(await e.embed([CORPUS[i]])),
      Array.from(all.subarray(i * 4, i * 4 + 4)),
      `row ${i} alone`,
    );
  }
  const dir = await tempDir("tfidf");
  await e.save(dir);
  const back = await TfidfSvdEmbedder.load(dir);
  assertEquals(back.fingerprint, e.fingerprint);
  assertEquals(Array.from(await back.embed(CORPUS)), Array.from(all));
  assert(
    TfidfSvdEmbedder.fit(CORPUS.slice(1), { minDf: 1, dim: 4 }).fingerprint !== e.fingerprint,
    "a refit changes the fingerprint",
  );
});

Deno.test("the embedding cache computes each distinct text once per embedder", async () => {
  let calls = 0;
  const fake = (fingerprint: string): Embedder => ({
    name: "fake",
    fingerprint,
    dim: 2,
    embed: (texts) => {
      calls += texts.length;
      return Promise.resolve(Float32Array.from(texts.flatMap((t) => [t.length, fingerprint.length])));
    },
  });
  const dir = await tempDir("cache");
  const texts = ["a", "bb", "a", "ccc"];
  const first = await embedCached(fake("f1"), texts, dir);
  assertEquals([first.computed, calls], [3, 3]);
  assertEquals(Array.from(first.vectors), [1, 2, 2, 2, 1, 2, 3, 2]);
  const again = await embedCached(fake("f1"), ["ccc", "a", "dddd"], dir);
  assertEquals([again.computed, calls], [1, 4]);
  assertEquals(Array.from(again.vectors), [3, 2, 1, 2, 4, 2]);
  assertEquals(
    (await embedCached(fake("other"), ["a"], dir)).computed,
    1,
    "another embedder never reuses these vectors",
  );
});

Deno.test("text joins to rows by row_id: a shuffled split still gets each row's own user and item text", async () => {
  const dir = await tempDir("textjoin");
  await ensureDataset({
    ...EXECUTION_DEFAULTS,
    rows: 10_000,
    seed: 5,
    corruptRate: 0,
    dataDir: dir,
    runDir: `${dir}/run`,
  }, () => {});
  await runEtl({ input: `${dir}/raw`, output: `${dir}/clean` });
  const built = await buildTable(loadEvents(`${dir}/clean`));
  await writeTable(`${dir}/table`, built, `${dir}/clean`);
  const tf = await buildTextFeatures(dir, built.manifest.split.days.train, `${dir}/text`, {
    k: 16,
    tfidf: { dim: 24 },
  });
  assertEquals(tf.k, 16);
  const test = pl.readParquet(`${dir}/table/split=test/part-00000.parquet`).select("row_id");
  const order = new Rng(1).shuffle(Uint32Array.from({ length: test.height }, (_, i) => i));
  const shuffled = pl.DataFrame({ row_id: Array.from(order, (i) => test.getColumn("row_id").get(i)) })
    .withColumns(pl.col("row_id").cast(pl.Int64));
  const joined = joinTextIndex(shuffled, tf);
  const cols = textColumns(`${dir}/clean`);
  const truth = scanClean(`${dir}/clean`).select(
    "row_id",
    textExpr("user", cols.user),
    textExpr("item", cols.item),
  ).collectSync();
  const want = shuffled.join(truth, { on: "row_id", how: "left" });
  const [ui, ii] = [
    joined.getColumn("user_text_idx").toArray() as number[],
    joined.getColumn("item_text_idx").toArray() as number[],
  ];
  const [ut, it] = [
    want.getColumn("user_text").toArray() as string[],
    want.getColumn("item_text").toArray() as string[],
  ];
  assertEquals(joined.getColumn("row_id").toArray(), want.getColumn("row_id").toArray());
  for (let r = 0; r < joined.height; r++) {
    assertEquals(tf.texts.user[ui[r]], ut[r], `row ${r}: user text`);
    assertEquals(tf.texts.item[ii[r]], it[r], `row ${r}: item text`);
  }
  assert(ui.some((i) => i === 0), "some users have no text (index 0)");
});

Deno.test("the shipped tiny BERT: reproducible from its maker, loads through transformers.js from a local directory, mean-pools like the interpreter", async () => {
  const shipped = `${REPO_ROOT}/assets/tiny-zh-bert`;
  const dir = await tempDir("tinybert");
  const { config, params } = await makeTinyBert(dir);
  for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx"]) {
    const [made, ship] = [await Deno.readFile(`${dir}/${f}`), await Deno.readFile(`${shipped}/${f}`)];
    // byte by byte, naming the first difference (a diff of a megabyte array would take all the memory)
    const at = made.findIndex((b, i) => b !== ship[i]);
    assert(
      made.length === ship.length && at < 0,
      `${f} differs from \`ctrlab make-text-model\`'s output (${made.length} vs ${ship.length} bytes, first difference at byte ${at}): rebuild it with that command`,
    );
  }
  const e = await TransformersEmbedder.load(shipped);
  assertEquals(e.dim, config.hidden);
  const texts = ["火锅,奶茶", "基金", "外卖,快餐,早餐,自助餐"];
  const batch = await e.embed(texts);
  // padding must not change a text's vector: alone vs in a batch with longer texts
  for (let i = 0; i < texts.length; i++) {
    const alone = await e.embed([texts[i]]);
    for (let j = 0; j < e.dim; j++) assertClose(alone[j], batch[i * e.dim + j], 1e-5, `text ${i} dim ${j}`);
  }
  // the interpreter evaluates the same graph in float64 on the same token ids
  const m = new ModelBuilder();
  const out = tinyBert(config)(m);
  const vocab = JSON.parse(await Deno.readTextFile(`${shipped}/tokenizer.json`)).model.vocab as Record<
    string,
    number
  >;
  const ids = [vocab["[CLS]"], ...[..."外卖,快餐"].map((c) => vocab[c]), vocab["[SEP]"]];
  const S = ids.length;
  const feeds = {
    input_ids: arr([1, S], ids),
    attention_mask: arr([1, S], ids.map(() => 1)),
    token_type_ids: arr([1, S], ids.map(() => 0)),
    ...Object.fromEntries([...m.params].map(([n, p]) => [n, arr(p.shape, params.get(n)!)])),
  };
  const [h] = evaluate([out.last_hidden_state], feeds);
  const want = meanPool(Float32Array.from(h.data), ids.map(() => 1), [1, S, config.hidden]);
  const got = await e.embed(["外卖,快餐"]);
  for (let j = 0; j < config.hidden; j++) assertClose(got[j], want[j], 1e-4, `pooled dim ${j}`);
  // averaging the last 4 layers reads the hidden_states.<i> outputs the model exports
  const last4 = await TransformersEmbedder.load(shipped, { lastLayers: 4 });
  assert(last4.fingerprint !== e.fingerprint);
  assertEquals((await last4.embed(texts)).length, texts.length * config.hidden);
});

Deno.test("text on one side only: that side is fitted and whitened, the other is zero at the same width; text too uniform to fit is none", async () => {
  const dir = await tempDir("one-side-text");
  const spec = resolveSpec({ ...OTHER_SPEC, name: "item-text", text: [{ column: "title", side: "item" }] });
  const { logs } = await writeOtherLogs(dir, 4_000, 3, { spec });
  await runEtl({ input: logs, output: `${dir}/clean`, spec });
  const built = await buildTable(loadEvents(`${dir}/clean`), { schema: readCleanSchema(`${dir}/clean`) });
  await writeTable(`${dir}/table`, built, `${dir}/clean`);
  const tf = await buildTextFeatures(dir, built.manifest.split.days.train, `${dir}/text`, {
    k: 16,
    tfidf: { dim: 24 },
  });
  assert(tf.texts.item.length > 2 && tf.texts.user.length === 1, "item texts, no user text");
  assert(tf.whitening.item.spectrum.length === 24 && tf.whitening.user.spectrum.length === 0);
  assertEquals([tf.k, tf.whitening.user.k], [Math.min(16, tf.whitening.item.k), tf.k]);
  assert(tf.tables.item.some((v) => v !== 0), "item vectors carry the titles");
  assertEquals([tf.tables.user.length, tf.tables.user.every((v) => v === 0)], [tf.k, true]);
  // texts too uniform to fit TF-IDF (here: no term in enough texts) embed as NO_TEXT: one zero per side
  const none = await buildTextFeatures(dir, built.manifest.split.days.train, `${dir}/text-none`, {
    tfidf: { minDf: 1_000_000 },
  });
  assert(none.embedder === NO_TEXT && none.k === 1);
  assert([none.tables.user, none.tables.item].every((t) => t.every((v) => v === 0)));
  assertEquals((await loadTextFeatures(`${dir}/text-none`)).embedder, NO_TEXT, "and loads back as NO_TEXT");
});

Deno.test("an item's text is its first record's, whatever order clean/'s files are read in (Spark writes other part files)", async () => {
  const dir = await tempDir("itemtext");
  const words = ["red running shoes", "blue rain coat", "green tea set", "old oak table", "soft wool scarf"];
  const lines = ["uid,ad,ts,clicked,title"];
  for (let i = 0; i < 600; i++) { // each item alternates between two titles
    lines.push(
      `u${i % 7},a${i % 4},${1_700_000_000 + i * 720},${i % 2},${words[(i % 4 + (i >> 2) % 2) % 5]} ${i % 4}`,
    );
  }
  await Deno.mkdir(`${dir}/raw`, { recursive: true });
  await Deno.writeTextFile(`${dir}/raw/a.csv`, lines.join("\n") + "\n");
  const spec = resolveSpec({
    name: "itemtext",
    user: "uid",
    item: "ad",
    time: { column: "ts", format: "epoch_s" },
    label: { column: "clicked" },
    text: [{ column: "title", side: "item" }],
  });
  await runEtl({ input: `${dir}/raw`, output: `${dir}/clean`, spec });
  const events = loadEvents(`${dir}/clean`);
  const days = [...new Set(events.getColumn("date").cast(pl.Utf8).toArray() as string[])].sort();
  const tf = await buildTextFeatures(dir, days, `${dir}/text`, { k: 4, tfidf: { dim: 6, minDf: 1 } });
  const itemVocab = pl.DataFrame({ item_id: ["a0", "a1", "a2", "a3"], idx: [1, 2, 3, 4] });
  const item2vec = {
    vectors: new Float32Array(10),
    dim: 2,
    counts: new Float64Array(5),
  } as unknown as Item2Vec;
  const build = (e: pl.DataFrame) =>
    buildItemEmbeddings({ dataDir: dir, events: e, itemVocab, text: tf, item2vec, k: 4 });
  const order = new Rng(3).shuffle(Uint32Array.from({ length: events.height }, (_, i) => i));
  const shuffled = events.withColumns(pl.Series("o", Array.from(order))).sort("o").drop("o");
  const [inOrder, outOfOrder] = [await build(events), await build(shuffled)];
  assertEquals(Array.from(outOfOrder.text.vectors), Array.from(inOrder.text.vectors));
  const first = await embedTexts(tf, "item", ["red running shoes 0"]); // a0's first record
  const want = l2Rows(first, tf.k);
  inOrder.text.vectors.subarray(0, tf.k).forEach((v, j) => assertClose(v, want[j], 1e-6));
});
