/** Evaluation: gAUC on a hand-built example, calibration/ECE, slices with single-class "n/a", paired bootstrap. */
import { auc, AucRanking, calibration, gauc } from "../lib/eval/metrics.ts";
import { pairedBootstrap, sliceMetrics } from "../lib/eval/slices.ts";
import { appendResults, dropResults, readResults, type ResultRow } from "../lib/eval/results.ts";
import { Rng } from "../lib/util/rng.ts";
import { assert, assertClose, assertEquals, tempDir } from "./assert.ts";

Deno.test("gAUC weights per-user AUCs by impressions and skips single-class users", () => {
  // user 1: 4 rows, AUC 0.75; user 2: 2 rows, AUC 1; user 3: only clicks (skipped)
  const labels = [1, 0, 1, 0, 1, 0, 1, 1];
  const scores = [0.9, 0.8, 0.3, 0.1, 0.7, 0.2, 0.5, 0.4];
  const users = [1, 1, 1, 1, 2, 2, 3, 3];
  assertClose(auc([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1]), 0.75, 1e-12);
  assertClose(gauc(labels, scores, users), (0.75 * 4 + 1 * 2) / 6, 1e-12);
  assert(Number.isNaN(gauc([1, 1], [0.1, 0.2], [5, 5])));
});

Deno.test("calibration bins and expected calibration error", () => {
  const probs = [0.05, 0.05, 0.05, 0.05, 0.95, 0.95], labels = [0, 0, 0, 1, 1, 1];
  const c = calibration(labels, probs, 10);
  assertEquals(c.bins.map((b) => b.rows), [4, 2]);
  assertClose(c.bins[0].observedCtr, 0.25, 1e-12);
  assertClose(c.ece, (4 / 6) * 0.2 + (2 / 6) * 0.05, 1e-12);
});

Deno.test("slices report n/a for a single-class slice, with counts", () => {
  const s = { labels: [1, 0, 1, 1, 1], probs: [0.9, 0.2, 0.6, 0.7, 0.4] };
  const scene = ["0", "0", "1", "1", "1"];
  const rows = sliceMetrics(s, (i) => `scene ${scene[i]}`, { includeAll: true });
  assertEquals(rows.map((r) => r.slice), ["all", "scene 0", "scene 1"]);
  assertEquals(rows[2].auc, "n/a");
  assertEquals([rows[2].rows, rows[2].clicks], [3, 3]);
  assertEquals(rows[1].auc, 1);
});

Deno.test("paired bootstrap: zero for identical models, a clear positive interval for a better one", () => {
  const rng = new Rng(3);
  const n = 3000;
  const truth = Array.from({ length: n }, () => rng.next());
  const labels = truth.map((p) => (rng.next() < p ? 1 : 0));
  const weak = truth.map((p) => p + 0.6 * rng.normal());
  const strong = truth.map((p) => p + 0.1 * rng.normal());
  const same = pairedBootstrap(labels, weak, weak, { resamples: 50 });
  assertEquals([same.diff, same.lo, same.hi], [0, 0, 0]);
  const better = pairedBootstrap(labels, weak, strong, { resamples: 100 });
  assert(better.diff > 0 && better.lo > 0 && better.hi >= better.lo, JSON.stringify(better));
  assertEquals(better.pBetter, 1);
});

/** The bootstrap as first written: a copied resample per round, each model's AUC sorted afresh. */
function copiedBootstrap(
  labels: number[],
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  R: number,
  seed: number,
) {
  const rng = new Rng(seed), n = labels.length, diffs: number[] = [];
  const y = new Float64Array(n), pa = new Float64Array(n), pb = new Float64Array(n);
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < n; i++) {
      const j = rng.int(n);
      [y[i], pa[i], pb[i]] = [labels[j], a[j], b[j]];
    }
    const d = auc(y, pb) - auc(y, pa);
    if (!Number.isNaN(d)) diffs.push(d);
  }
  return diffs.sort((p, q) => p - q);
}

Deno.test("bootstrap from one sort and resample counts gives the same numbers as sorting copied resamples", () => {
  const rng = new Rng(11);
  const n = 2000;
  const labels = Array.from({ length: n }, () => (rng.next() < 0.3 ? 1 : 0));
  // float32 scores rounded to 2 decimals: many ties, within and across classes
  const a = Float32Array.from(labels, (y) => Math.round((0.4 * y + rng.next()) * 100) / 100);
  const b = Float32Array.from(labels, (y) => Math.round((0.7 * y + rng.next()) * 100) / 100);
  const R = 60, diffs = copiedBootstrap(labels, a, b, R, 5);
  const fast = pairedBootstrap(labels, a, b, { resamples: R, seed: 5 });
  const q = (f: number) => diffs[Math.round(f * (diffs.length - 1))];
  assertEquals([fast.lo, fast.hi, fast.resamples], [q(0.025), q(0.975), R]);
  assertEquals(fast.pBetter, diffs.filter((d) => d > 0).length / R);
  // weights are copies: AUC of rows counted 2, 0, 1, 3 times equals the AUC of the expanded rows
  const w = [2, 0, 1, 3], y4 = [1, 0, 0, 1], s4 = [0.5, 0.9, 0.5, 0.2];
  assertEquals(new AucRanking(y4, s4).auc(w), auc([1, 1, 0, 1, 1, 1], [0.5, 0.5, 0.5, 0.2, 0.2, 0.2]));
  assert(Number.isNaN(new AucRanking(y4, s4).auc([1, 0, 0, 1])), "no negative weight: n/a");
});

Deno.test("results registry: a stage that runs again replaces its rows, other stages keep theirs", async () => {
  const dir = await tempDir("results");
  const row = (stage: string, auc: number): ResultRow => ({
    stage,
    model: "m",
    split: "test",
    slice: "all",
    rows: 10,
    auc,
    logloss: 0.5,
  });
  await appendResults(dir, [row("04_dnn", 0.61), row("05_mmoe", 0.62)]);
  assertEquals(dropResults(dir, "07_text"), 0); // nothing of its own yet
  assertEquals(dropResults(dir, "04_dnn"), 1); // the rerun starts: its old row goes
  await appendResults(dir, [row("04_dnn", 0.71)]);
  // read back in stage order, whatever order the stages wrote in (notebooks run side by side)
  assertEquals(readResults(dir).map((r) => [r.stage, r.auc]), [["04_dnn", 0.71], ["05_mmoe", 0.62]]);
  assertEquals(
    Deno.readTextFileSync(`${dir}/results.jsonl`).trim().split("\n").map((l) => JSON.parse(l).stage),
    [
      "05_mmoe",
      "04_dnn",
    ],
  );
  assertEquals(dropResults(`${dir}/missing`, "04_dnn"), 0); // a fresh run directory
  await Deno.remove(dir, { recursive: true });
});
