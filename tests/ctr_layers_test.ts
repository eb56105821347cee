/**
 * DCN's cross layers, DIN's target attention (padding masked, or real positions packed) and Dice: gradients against finite differences, padding
 * that cannot be seen, and Dice's switch from batch statistics (training) to running statistics (inference).
 */
import { gradCheck } from "../lib/graph/check.ts";
import { gradients } from "../lib/graph/grad.ts";
import { type Arr, arr, evaluate } from "../lib/graph/interp.ts";
import { dice, linear, ModelBuilder } from "../lib/graph/nn.ts";
import { compile, newName } from "../lib/graph/program.ts";
import * as T from "../lib/graph/tensor.ts";
import { crossNet, targetAttention } from "../lib/models/layers.ts";
import { loadBackend } from "../lib/train/backend.ts";
import { packSequences, TrainSession } from "../lib/train/session.ts";
import { Rng } from "../lib/util/rng.ts";
import { assert, assertClose, assertEquals } from "./assert.ts";

const rng = new Rng(5);
const rand = (shape: number[], scale = 1) =>
  arr(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * rng.normal()));

/** Gradient check of sum(w ⊙ f(...)) over every trainable param of a layer built on a fresh ModelBuilder. */
function checkLayer(
  build: (m: ModelBuilder) => T.Tensor,
  feeds: Record<string, Arr>,
  batch: number,
  pack = false,
) {
  const m = new ModelBuilder(true, pack);
  const y = build(m);
  const w = T.input("__w", y.shape);
  feeds.__w = rand(y.shape.map((d) => typeof d === "number" ? d : batch));
  const loss = T.reduceSum(T.mul(y, w), y.shape.map((_, i) => i));
  const params = [...m.params.values()].filter((p) => !p.buffer);
  for (const p of params) feeds[p.tensor.name!] ??= rand(p.shape, 0.5);
  const res = gradCheck(loss, params.map((p) => p.tensor), feeds, { samples: 16 });
  for (const r of res) assert(r.maxRelErr < 1e-5, `d/d${r.param}: rel err ${r.maxRelErr}`);
  return res;
}

for (const version of ["v1", "v2"] as const) {
  Deno.test(`cross network ${version}: gradients of every layer and of x0 match finite differences`, () => {
    const feeds: Record<string, Arr> = { x0: rand([4, 5]) };
    const res = checkLayer(
      (m) => {
        const x0 = m.param("x0", [4, 5], { kind: "zeros" }); // x0 as a param, so its gradient is checked too
        return crossNet(m, "cross", x0, 3, version);
      },
      feeds,
      4,
    );
    assert(res.length === 7, `x0 + 3 layers × (w, b), got ${res.map((r) => r.param)}`);
  });
}

Deno.test("cross network v1: one layer is x0·(x·w) + b + x, by hand", () => {
  const m = new ModelBuilder(true);
  const x0 = T.input("x", ["B", 2]);
  const y = crossNet(m, "c", x0, 1, "v1");
  const [out] = evaluate([y], {
    x: arr([1, 2], [1, 2]),
    "c.0.w": arr([2, 1], [0.5, -1]),
    "c.0.b": arr([2], [0.1, 0.2]),
  });
  // x·w = 0.5 − 2 = −1.5 → x0·(−1.5) + b + x = [−1.5 + 0.1 + 1, −3 + 0.2 + 2]
  assertClose(out.data[0], -0.4, 1e-12);
  assertClose(out.data[1], -0.8, 1e-12);
});

/** Attention inputs: 3 rows of up to 4 behaviours, the rest padding. */
const B = 3, L = 4, D = 3;
const MASK = arr([B, L], [1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0]);

/** MASK's real positions as the host packs them for a train graph (input "at"). */
const AT = (() => {
  const at = packSequences([{ mask: "mask", ids: [] }], { mask: Float32Array.from(MASK.data) })["mask:at"];
  return arr([at.length], [...at].map(Number));
})();

function attention(m: ModelBuilder, keysFrom: "param" | "input") {
  const q = m.param("q", [B, D], { kind: "zeros" });
  const keys = keysFrom === "param" ? m.param("k", [B, L, D], { kind: "zeros" }) : T.input("k", [B, L, D]);
  const mask = T.input("mask", [B, L]);
  if (!m.packSequences) return targetAttention(m, "att", q, { mask, keys }, [5]);
  // the keys at the real positions, as the packed lookups of a train graph give them
  const at = T.input("at", ["P"], "int64");
  return targetAttention(
    m,
    "att",
    q,
    { mask, real: { keys: T.gather(T.reshape(keys, [B * L, D]), at), at } },
    [5],
  );
}

for (const pack of [false, true]) {
  Deno.test(`DIN attention unit, ${pack ? "real positions packed" : "padding masked"}: gradients (query, keys, unit weights, Dice α) match finite differences`, () => {
    const res = checkLayer((m) => attention(m, "param").interest, { mask: MASK, at: AT }, B, pack);
    assert(res.some((r) => r.param === "k") && res.some((r) => r.param === "att.0.dice.alpha"));
  });
}

Deno.test("DIN attention: packing the real positions computes what masking the padding does (outputs, statistics, gradients)", () => {
  const run = (pack: boolean) => {
    const m = new ModelBuilder(true, pack);
    const { interest, weights } = attention(m, "param");
    const params = [...m.params.values()].filter((p) => !p.buffer).map((p) => p.tensor);
    const loss = T.reduceSum(T.mul(interest, interest), [0, 1]);
    const g = gradients(loss, params).dense;
    const stats = [...m.assigned.values()];
    const feeds: Record<string, Arr> = { mask: MASK, at: AT };
    const r = new Rng(9);
    for (const p of m.params.values()) {
      feeds[p.tensor.name!] = arr(
        p.shape,
        Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () => r.normal()),
      );
    }
    return evaluate([interest, weights, ...stats, ...params.map((p) => g.get(p)!)], feeds);
  };
  const [masked, packed] = [run(false), run(true)];
  assertEquals(masked.length, packed.length);
  masked.forEach((a, i) =>
    a.data.forEach((v, j) => assertClose(packed[i].data[j], v, 1e-9, `output ${i}[${j}]`))
  );
});

Deno.test("DIN attention: padded behaviours get weight 0 and cannot change the interest vector, in training and at inference", () => {
  for (const [training, pack] of [[true, false], [true, true], [false, false]]) {
    const m = new ModelBuilder(training, pack);
    const { interest, weights } = attention(m, "input");
    const feeds: Record<string, Arr> = { mask: MASK, at: AT, q: rand([B, D]) };
    for (const p of m.params.values()) {
      if (p.tensor.name !== "q") {
        feeds[p.tensor.name!] = p.tensor.name!.endsWith("running_var")
          ? arr(p.shape, Array(p.shape[0]).fill(1))
          : rand(p.shape, 0.5);
      }
    }
    const keys = rand([B, L, D]);
    const [i1, w1] = evaluate([interest, weights], { ...feeds, k: keys });
    const other = arr(
      keys.shape,
      keys.data.map((v, j) => MASK.data[Math.floor(j / D)] ? v : v + 10 * rng.normal()),
    ); // change only padded keys
    const [i2, w2] = evaluate([interest, weights], { ...feeds, k: other });
    i1.data.forEach((v, j) => assertClose(i2.data[j], v, 1e-12, `interest ${j} (training ${training})`));
    w1.data.forEach((v, j) =>
      assert(MASK.data[j] ? Math.abs(v - w2.data[j]) < 1e-12 : v === 0, `weight ${j}`)
    );
    // a real behaviour does count (the test could fail)
    const moved = arr(keys.shape, keys.data.map((v, j) => j < D ? v + 1 : v));
    assert(Math.abs(evaluate([interest], { ...feeds, k: moved })[0].data[0] - i1.data[0]) > 1e-6);
  }
});

Deno.test("Dice: gradients through the batch statistics match finite differences", () => {
  const res = checkLayer((m) => dice(m, "dice", m.param("x", [6, 4], { kind: "zeros" })), {}, 6);
  assert(res.some((r) => r.param === "x") && res.some((r) => r.param === "dice.alpha"));
});

Deno.test("Dice uses batch statistics in training and the running statistics at inference", async () => {
  const N = 16, F = 3, mom = 0.9;
  const model = compile((m) => {
    const h = dice(m, "dice", linear(m, "l", m.input("dense", ["B", F]), 4), { momentum: mom });
    return { logits: T.reshape(linear(m, "out", h, 1), ["B"]) };
  }, { optimizer: { type: "sgd" } });
  assert(
    model.params.filter((p) => p.buffer).map((p) => p.tensor.name).join() ===
      "dice.running_mean,dice.running_var",
  );
  assert(model.trainOutputs.includes(newName("dice.running_mean")), "the train step writes the running mean");
  const s = await TrainSession.create(model, await loadBackend("node"), { seed: 3 });
  const r = new Rng(8);
  const batchOf = (rows: number, shift: number) => ({
    dense: Float32Array.from({ length: rows * F }, () => shift + r.normal()),
    label: Float32Array.from({ length: rows }, () => (r.next() < 0.5 ? 1 : 0)),
  });
  // the running mean follows the EMA of the batch means of the pre-activations, step by step
  let expected = new Float64Array(4);
  for (let k = 0; k < 6; k++) {
    const b = batchOf(N, 2);
    const snap = await s.snapshot();
    const [w, bias] = [snap.values["l.w"], snap.values["l.b"]];
    const batchMean = Array.from({ length: 4 }, (_, j) => {
      let sum = 0;
      for (let i = 0; i < N; i++) {
        let z = bias[j];
        for (let f = 0; f < F; f++) z += b.dense[i * F + f] * w[f * 4 + j];
        sum += z;
      }
      return sum / N;
    });
    expected = expected.map((v, j) => mom * v + (1 - mom) * batchMean[j]);
    await s.step(b, N, 0.05);
  }
  const running = (await s.snapshot()).values["dice.running_mean"];
  expected.forEach((v, j) => assertClose(running[j], v, 1e-5, `running mean ${j}`));
  // inference: a row's probability does not depend on the rest of its batch (batch statistics would)
  const test = batchOf(N, -1);
  const together = await s.predict(test, N);
  for (const i of [0, 7, 15]) {
    const alone = await s.predict({ dense: test.dense.slice(i * F, (i + 1) * F) }, 1);
    assertClose(alone[0], together[i], 1e-6, `row ${i} alone vs in batch`);
  }
  // and equals the formula evaluated with the running statistics
  const snap = await s.snapshot();
  const m = new ModelBuilder(false);
  const y = T.sigmoid(
    T.reshape(
      linear(m, "out", dice(m, "dice", linear(m, "l", m.input("dense", ["B", F]), 4), { momentum: mom }), 1),
      ["B"],
    ),
  );
  const feeds: Record<string, Arr> = { dense: arr([N, F], test.dense) };
  for (const p of m.params.values()) feeds[p.tensor.name!] = arr(p.shape, snap.values[p.tensor.name!]);
  evaluate([y], feeds)[0].data.forEach((p, i) =>
    assertClose(together[i], p, 1e-5, `row ${i} vs running-statistics formula`)
  );
  // the training graph's batch statistics would give other outputs on this shifted batch (the test could fail)
  const trainM = new ModelBuilder(true);
  const yTrain = T.sigmoid(
    T.reshape(
      linear(
        trainM,
        "out",
        dice(trainM, "dice", linear(trainM, "l", trainM.input("dense", ["B", F]), 4), { momentum: mom }),
        1,
      ),
      ["B"],
    ),
  );
  const batchProbs = evaluate([yTrain], feeds)[0].data;
  assert(
    batchProbs.some((p, i) => Math.abs(p - together[i]) > 1e-3),
    "batch statistics differ from running ones on a shifted batch",
  );
  await s.release();
});
