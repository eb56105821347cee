import { auc, logloss } from "../lib/eval/metrics.ts";
import { Rng } from "../lib/util/rng.ts";
import { assert, assertClose, assertEquals } from "./assert.ts";

function bruteAuc(y: number[], s: number[]): number {
  let num = 0, den = 0;
  for (let i = 0; i < y.length; i++) {
    for (let j = 0; j < y.length; j++) {
      if (y[i] === 1 && y[j] === 0) {
        den++;
        num += s[i] > s[j] ? 1 : s[i] === s[j] ? 0.5 : 0;
      }
    }
  }
  return num / den;
}

Deno.test("auc equals the brute-force pair count, ties included", () => {
  const rng = new Rng(1);
  for (let t = 0; t < 20; t++) {
    const n = 5 + rng.int(200);
    const y = Array.from({ length: n }, () => (rng.next() < 0.3 ? 1 : 0));
    const s = Array.from({ length: n }, () => Math.round(rng.next() * 10) / 10); // many ties
    if (!y.includes(1) || !y.includes(0)) continue;
    assertClose(auc(y, s), bruteAuc(y, s), 1e-12, "auc");
  }
  assert(Number.isNaN(auc([1, 1], [0.2, 0.4])), "one class → NaN");
  assertEquals(auc([0, 1], [0.1, 0.9]), 1);
});

Deno.test("logloss matches the definition", () => {
  assertClose(logloss([1, 0], [0.8, 0.4]), -(Math.log(0.8) + Math.log(0.6)) / 2, 1e-12);
});
