/** The behaviour sequence feature: hand-checked values, padding, vocabulary mapping, and the leakage audit. */
import pl from "nodejs-polars";
import { runEtl } from "../lib/data/etl.ts";
import { generateLogs } from "../lib/data/synth.ts";
import { behaviourSequences, withSequenceIndex } from "../lib/features/sequence.ts";
import { buildVocab, loadEvents } from "../lib/features/table.ts";
import { Rng } from "../lib/util/rng.ts";
import { D0, eventLog as log } from "./events.ts";
import { assert, assertEquals, tempDir } from "./assert.ts";

/** Row r's sequence: [item index, scene] of its real clicks, most recent first. */
function seqOf(df: pl.DataFrame, seq: ReturnType<typeof behaviourSequences>, r: number): [number, number][] {
  const k = df.getColumn("seq_idx").get(r) as number, L = seq.length;
  const out: [number, number][] = [];
  for (let j = 0; j < L; j++) {
    if (seq.mask[k * L + j]) out.push([Number(seq.items[k * L + j]), Number(seq.scenes[k * L + j])]);
  }
  for (let j = out.length; j < L; j++) {
    assert(seq.items[k * L + j] === 0n && seq.mask[k * L + j] === 0, "padding is id 0, mask 0");
  }
  return out;
}

Deno.test("behaviour sequences: last N clicks strictly before the day, most recent first, padded", () => {
  const events = log([
    [1, 10, 2, 0, 1], // r0
    [1, 11, 1, 0, 0], // r1 not a click
    [1, 12, 3, 0, 1], // r2 same day as r0: neither sees the other
    [1, 13, 0, 1, 1], // r3 day 1 sees r0, r2
    [1, 99, 4, 2, 1], // r4 day 2 sees r3, r2 (N = 2); item 99 is not in the vocabulary
    [1, 10, 2, 3, 0], // r5 day 3 sees r4 (OOV → 0), r3
    [2, 10, 1, 3, 0], // r6 another user: nothing
  ]);
  const vocab = buildVocab(events.filter(pl.col("item_id").neq(pl.lit(99))), "item_id"); // 10→1, 11→2, 12→3, 13→4
  const seq = behaviourSequences(events, vocab, { length: 2 });
  const df = withSequenceIndex(events, seq).sort("row_id");
  const all = Array.from({ length: 7 }, (_, r) => seqOf(df, seq, r));
  assertEquals(all, [[], [], [], [[3, 3], [1, 2]], [[4, 0], [3, 3]], [[0, 4], [4, 0]], []]);
  assertEquals(df.getColumn("seq_len").toArray(), [0, 0, 0, 2, 2, 2, 0]);
  // impressions of one user on one day share one stored sequence
  assertEquals(seq.keys.height, 5);
});

Deno.test("leakage audit: relabelling day D leaves day D's sequences unchanged and changes day D+1's", async () => {
  const dir = await tempDir("seq");
  await generateLogs({ rows: 20_000, outDir: dir, seed: 3 });
  await runEtl({ input: `${dir}/raw`, output: `${dir}/clean` });
  const events = loadEvents(`${dir}/clean`);
  const vocab = buildVocab(events, "item_id");
  const day = D0 + 10;
  const labels = events.getColumn("label").toArray() as number[],
    days = events.getColumn("day").toArray() as number[];
  const idx = days.flatMap((d, i) => d === day ? [i] : []);
  const shuffled = new Rng(1).shuffle(idx.map((i) => labels[i]));
  const relabelled = [...labels];
  idx.forEach((i, k) => relabelled[i] = 1 - shuffled[k]);
  const perm = events.withColumns(pl.Series("label", relabelled).cast(pl.Int32));
  const rowsOn = (e: pl.DataFrame, d: number, o = {}) => {
    const s = behaviourSequences(e, vocab, { length: 20, ...o });
    const df = withSequenceIndex(e.filter(pl.col("day").eq(pl.lit(d))), s).sort("row_id");
    return (df.getColumn("seq_idx").toArray() as number[]).map((k) =>
      `${s.items.slice(k * 20, k * 20 + 20)}|${s.scenes.slice(k * 20, k * 20 + 20)}|${
        s.mask.slice(k * 20, k * 20 + 20)
      }`
    );
  };
  assertEquals(rowsOn(perm, day), rowsOn(events, day), "day D sequences must not see day D labels");
  assert(
    rowsOn(perm, day + 1).some((s, i) => s !== rowsOn(events, day + 1)[i]),
    "day D+1 sequences must see day D clicks",
  );
  // the audit can fail: the leaky variant does see day D's clicks on day D
  const leaky = { includeCurrentDay: true };
  assert(
    rowsOn(perm, day, leaky).some((s, i) => s !== rowsOn(events, day, leaky)[i]),
    "the leaky variant should fail the audit",
  );
});
