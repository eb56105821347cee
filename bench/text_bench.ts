/**
 * Text-embedding throughput (texts/s) of both embedders on synthetic AntM2C-style texts: the weights-free
 * TF-IDF + SVD embedder (fit time printed separately) and the transformers.js path on the shipped tiny BERT
 * (a real hub model such as bge-small-zh is ~50× larger per token; this measures the pipeline's overhead, not
 * a production encoder). Ratios are printed, never asserted.
 *
 *   deno task bench:text [--texts 20000] [--batch 64]
 */
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../lib/config.ts";
import { TITLE_PREFIXES, TITLE_SUFFIXES, TOPICS } from "../lib/data/vocab.ts";
import { TfidfSvdEmbedder } from "../lib/text/tfidf.ts";
import { TransformersEmbedder } from "../lib/text/transformers.ts";
import { Rng } from "../lib/util/rng.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { texts: { type: "string" }, batch: { type: "string" } },
});
const n = Number(values.texts ?? 20_000), batchSize = Number(values.batch ?? 64);
const rng = new Rng(11);
const texts = Array.from({ length: n }, () => {
  const t = rng.pick(TOPICS), words = Array.from({ length: 2 + rng.int(4) }, () => rng.pick(t.entities));
  return `${rng.pick(TITLE_PREFIXES)}${words[0]}${rng.pick(TITLE_SUFFIXES)},${words.join(",")}`;
});
const avgChars = texts.reduce((a, t) => a + [...t].length, 0) / n;
console.log(`${n} texts, ${avgChars.toFixed(1)} characters on average`);

const time = async (f: () => Promise<unknown>) => {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
};
let tfidf!: TfidfSvdEmbedder;
const fit = await time(() => Promise.resolve(tfidf = TfidfSvdEmbedder.fit(texts, { dim: 256 })));
const tEmbed = await time(() => tfidf.embed(texts));
const tiny = await TransformersEmbedder.load(`${REPO_ROOT}/assets/tiny-zh-bert`);
const m = Math.min(n, 5000);
const tTiny = await time(() => tiny.embed(texts.slice(0, m), { batchSize }));
const rows = [
  { embedder: tfidf.name, "fit s": fit.toFixed(1), "texts/s": Math.round(n / tEmbed) },
  { embedder: `${tiny.name} (batch ${batchSize})`, "fit s": "-", "texts/s": Math.round(m / tTiny) },
];
console.table(rows);
console.log(`ratio TF-IDF / tiny BERT: ${((n / tEmbed) / (m / tTiny)).toFixed(1)}×`);
