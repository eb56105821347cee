/** Every op's gradient against central finite differences (float64 reference evaluator). */
import * as T from "../lib/graph/tensor.ts";
import { gradCheck } from "../lib/graph/check.ts";
import { arr, evaluate } from "../lib/graph/interp.ts";
import { gradients } from "../lib/graph/grad.ts";
import { Rng } from "../lib/util/rng.ts";
import { assert, assertClose } from "./assert.ts";

const rng = new Rng(42);
const rand = (shape: number[], scale = 1, offset = 0) =>
  arr(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => offset + scale * rng.normal()));

/** Reduce any tensor to a scalar with random weights so every output element matters. */
function scalarize(y: T.Tensor, feeds: Record<string, ReturnType<typeof arr>>, batch = 3): T.Tensor {
  const shape = y.shape.map((d) => typeof d === "number" ? d : batch);
  const w = T.input("__w", y.shape);
  feeds.__w = rand(shape);
  return T.reduceSum(T.mul(y, w), y.shape.map((_, i) => i));
}

function check(
  name: string,
  build: (p: T.Tensor[]) => T.Tensor,
  shapes: number[][],
  extra: Record<string, ReturnType<typeof arr>> = {},
  positive = false,
) {
  Deno.test(`gradient of ${name} matches finite differences`, () => {
    const params = shapes.map((s, i) => T.param(`p${i}`, s));
    const feeds: Record<string, ReturnType<typeof arr>> = { ...extra };
    shapes.forEach((s, i) => feeds[`p${i}`] = positive ? rand(s, 0.3, 1.5) : rand(s));
    const loss = scalarize(build(params), feeds);
    for (const r of gradCheck(loss, params, feeds)) {
      assert(r.maxRelErr < 1e-6, `${name} d/d${r.param}: rel err ${r.maxRelErr}`);
    }
  });
}

const B = T.input("x", ["B", 4]);
const xB = rand([3, 4]);

check("add (broadcast)", ([a, b]) => T.add(a, b), [[3, 4], [4]]);
check("sub (broadcast)", ([a, b]) => T.sub(a, b), [[3, 1], [3, 4]]);
check("mul (broadcast)", ([a, b]) => T.mul(a, b), [[2, 3, 4], [3, 1]]);
check("div", ([a, b]) => T.div(a, b), [[3, 4], [3, 4]], {}, true);
check("pow", ([a]) => T.pow(a, 3), [[3, 4]]);
check("neg/exp", ([a]) => T.exp(T.neg(a)), [[5]]);
check("log", ([a]) => T.log(a), [[5]], {}, true);
check("sqrt", ([a]) => T.sqrt(a), [[5]], {}, true);
check("abs", ([a]) => T.abs(a), [[7]]);
check("relu", ([a]) => T.relu(a), [[7]]);
check("sigmoid", ([a]) => T.sigmoid(a), [[7]]);
check("tanh", ([a]) => T.tanh(a), [[7]]);
check("matmul 2d with batch input", ([w]) => T.matmul(B, w), [[4, 5]], { x: xB });
check("matmul 3d @ 2d", ([a, w]) => T.matmul(a, w), [[2, 3, 4], [4, 2]]);
check("matmul batched", ([a, b]) => T.matmul(a, b), [[2, 3, 4], [2, 4, 2]]);
check("reduce sum", ([a]) => T.reduceSum(a, [0, 2]), [[2, 3, 4]]);
check("reduce mean keepdims", ([a]) => T.reduceMean(a, 1, true), [[2, 3, 4]]);
check("reduce mean over batch", ([w]) => T.reduceMean(T.mul(B, w), 0), [[4]], { x: xB });
check("reduce max", ([a]) => T.reduceMax(a, -1), [[3, 5]]);
check("softmax", ([a]) => T.softmax(a, -1), [[3, 5]]);
check("masked softmax", ([a]) => T.softmax(a, 1, T.constant([1, 1, 0, 1, 0], [1, 5])), [[3, 5]]);
check("concat", ([a, b]) => T.concat([a, b], 1), [[3, 2], [3, 4]]);
check("slice", ([a]) => T.slice(a, 1, 1, 3), [[3, 5]]);
check("reshape", ([a]) => T.reshape(a, [6, 2]), [[3, 4]]);
check("transpose", ([a]) => T.transpose(a, [2, 0, 1]), [[2, 3, 4]]);
check("expandLike", ([a]) => T.expandLike(a, B), [[1, 4]], { x: xB });
check("where", ([a, b]) => T.where(T.greater(a, 0), a, b), [[3, 4], [4]]);

Deno.test("gradient of gather accumulates repeated ids (ScatterND add)", () => {
  const table = T.param("table", [6, 3]);
  const ids = T.input("ids", ["B", 2], "int64");
  const feeds: Record<string, ReturnType<typeof arr>> = {
    table: rand([6, 3]),
    ids: arr([3, 2], [1, 4, 1, 1, 5, 0]),
  };
  const loss = scalarize(T.gather(table, ids), feeds);
  for (const r of gradCheck(loss, [table], feeds)) assert(r.maxRelErr < 1e-6, `gather: ${r.maxRelErr}`);
  // row 1 appears three times: its gradient is the sum of three contributions
  const g = evaluate([gradients(loss, [table]).dense.get(table)!], feeds)[0];
  const w = feeds.__w.data;
  for (let k = 0; k < 3; k++) {
    assertClose(g.data[3 + k], w[0 * 3 + k] + w[2 * 3 + k] + w[3 * 3 + k], 1e-12, `row 1 col ${k}`);
  }
  assertClose(g.data[2 * 3], 0, 0, "untouched row");
});

Deno.test("sparse gradients of gather carry ids and rows", () => {
  const table = T.param("table", [6, 3]);
  const ids = T.input("ids", ["B"], "int64");
  const feeds: Record<string, ReturnType<typeof arr>> = { table: rand([6, 3]), ids: arr([4], [2, 2, 5, 0]) };
  const loss = scalarize(T.gather(table, ids), feeds, 4);
  const sg = gradients(loss, [table], new Set([table])).sparse.get(table)!;
  const [sid, rows] = evaluate([sg.parts[0].ids, sg.parts[0].rows], feeds);
  assert([...sid.data].join() === "2,2,5,0");
  assert([...rows.data].every((v, i) => Math.abs(v - feeds.__w.data[i]) < 1e-12));
});

Deno.test("gradient of batch normalisation (batch statistics) matches finite differences", async () => {
  const { normalize } = await import("../lib/graph/nn.ts");
  const p = T.param("p0", [4]);
  const feeds: Record<string, ReturnType<typeof arr>> = { x: xB, p0: rand([4]) };
  const loss = scalarize(normalize(T.mul(B, p)), feeds);
  for (const r of gradCheck(loss, [p], feeds)) assert(r.maxRelErr < 1e-5, `normalize: ${r.maxRelErr}`);
});

Deno.test("weighted, masked BCE-with-logits: value and gradients", async () => {
  const { weightedBce } = await import("../lib/graph/nn.ts");
  const z = T.param("z", [3, 2]);
  const y = T.input("y", ["B", 2]), w = T.input("w", ["B"]), mask = T.input("mask", ["B", 2]);
  const feeds: Record<string, ReturnType<typeof arr>> = {
    z: arr([3, 2], [0.3, -1.2, 2.5, 0.1, -40, 35]), // ±40: stable far from zero
    y: arr([3, 2], [1, 0, 0, 1, 1, 0]),
    w: arr([3], [1, 2, 0.5]),
    mask: arr([3, 2], [1, 0, 1, 1, 0, 1]),
  };
  const loss = weightedBce(T.reshape(z, ["B", 2]), y, w, mask);
  const bce = (zz: number, yy: number) => Math.max(zz, 0) - zz * yy + Math.log1p(Math.exp(-Math.abs(zz)));
  let num = 0, den = 0;
  for (let i = 0; i < 3; i++) {
    for (let t = 0; t < 2; t++) {
      const k = i * 2 + t, wk = feeds.w.data[i] * feeds.mask.data[k];
      num += wk * bce(feeds.z.data[k], feeds.y.data[k]);
      den += wk;
    }
  }
  assertClose(evaluate([loss], feeds)[0].data[0], num / den, 1e-12, "loss value");
  assert(Number.isFinite(num), "no overflow at large logits");
  for (const r of gradCheck(loss, [z], feeds)) assert(r.maxRelErr < 1e-6, `weighted BCE: ${r.maxRelErr}`);
});

Deno.test("a one-column matmul's gradient multiplies the column without materialising its broadcast", () => {
  // [B, 4] @ [4, 1] is written Mul + ReduceSum; ReduceSum's gradient is an ExpandLike, which the Mul rule skips
  const w = T.param("p0", [4, 1]);
  const feeds: Record<string, ReturnType<typeof arr>> = { x: xB, p0: rand([4, 1]) };
  const loss = scalarize(T.matmul(B, w), feeds);
  const g = gradients(loss, [w]).dense.get(w)!;
  const expands = T.topoSort([g]).filter((t) => t.op === "ExpandLike" && t.shape.join() === "B,4");
  assert(expands.length === 0, `the gradient expands a column to [B, 4] ${expands.length} time(s)`);
  for (const r of gradCheck(loss, [w], feeds)) {
    assert(r.maxRelErr < 1e-6, `one-column matmul: ${r.maxRelErr}`);
  }
});
