/** The training loop on a small synthetic table: learning, early stopping, plateau, exact resume, NaN stop. */
import pl from "nodejs-polars";
import { compile } from "../lib/graph/program.ts";
import { dnn } from "../lib/models/dnn.ts";
import { mmoe } from "../lib/models/mmoe.ts";
import { TableData } from "../lib/train/data.ts";
import { loadBackend } from "../lib/train/backend.ts";
import { TrainSession } from "../lib/train/session.ts";
import { evaluateTable, fit, predictTasks } from "../lib/train/trainer.ts";
import { auc } from "../lib/eval/metrics.ts";
import { Rng } from "../lib/util/rng.ts";
import { assert, assertClose, assertEquals, assertRejects, tempDir } from "./assert.ts";

Deno.env.set("CTRLAB_HEADLESS", "1");

/** Rows whose click depends on two dense features, a user effect and the scene. */
function table(n: number, seed: number): pl.DataFrame {
  const rng = new Rng(seed);
  const userEffect = Array.from({ length: 40 }, () => rng.normal());
  const cols: Record<string, number[]> = { x0: [], x1: [], x2: [], user: [], item: [], scene: [], label: [] };
  for (let i = 0; i < n; i++) {
    const x0 = rng.normal(),
      x1 = rng.normal(),
      x2 = rng.normal(),
      user = rng.int(40),
      item = rng.int(25),
      scene = rng.int(3);
    const z = 1.5 * x0 - x1 + userEffect[user] + (scene === 1 ? -x0 * 2 : 0) - 0.3;
    cols.x0.push(x0);
    cols.x1.push(x1);
    cols.x2.push(x2);
    cols.user.push(user);
    cols.item.push(item);
    cols.scene.push(scene);
    cols.label.push(rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0);
  }
  return pl.DataFrame(cols);
}

const SPEC = { dense: ["x0", "x1", "x2"], ids: { user_id: "user", item_id: "item" }, label: "label" };
const model = () =>
  compile(dnn({ dense: 3, userVocab: 40, itemVocab: 25, embDim: 4, hidden: [16, 8] }), {
    optimizer: { type: "adam" },
  });

Deno.test("fit learns, keeps a per-epoch history and restores the best weights", async () => {
  const [train, val] = [
    TableData.fromDataFrame(table(3000, 1), SPEC),
    TableData.fromDataFrame(table(1000, 2), SPEC),
  ];
  const s = await TrainSession.create(model(), await loadBackend("node"), { seed: 1 });
  const r = await fit(s, train, val, { epochs: 4, batchSize: 128, lr: 0.01, progressLabel: false });
  assertEquals(r.history.length, 4);
  assert(r.history[3].trainLoss < r.history[0].trainLoss, "training loss falls");
  assert(r.bestValAuc > 0.7, `val AUC ${r.bestValAuc}`);
  const now = await evaluateTable(s, val);
  assert(Math.abs(now.auc - r.bestValAuc) < 1e-9, "the session holds the best epoch's weights");
});

Deno.test("early stopping and reduce-on-plateau react to a flat validation AUC", async () => {
  const [train, val] = [
    TableData.fromDataFrame(table(600, 3), SPEC),
    TableData.fromDataFrame(table(300, 4), SPEC),
  ];
  const s = await TrainSession.create(model(), await loadBackend("node"), { seed: 1 });
  // lr 0: nothing changes, so validation never improves after the first epoch
  const r = await fit(s, train, val, {
    epochs: 10,
    batchSize: 100,
    lr: 0,
    patience: 2,
    reduceOnPlateau: { factor: 0.5, patience: 1 },
    progressLabel: false,
  });
  assertEquals(r.history.length, 3);
  assert(r.stoppedEarly);
  assertEquals(r.bestEpoch, 0);
});

Deno.test("a checkpoint resumes exactly: 2 epochs = 1 epoch + resume + 1 epoch", async () => {
  const [train, val] = [
    TableData.fromDataFrame(table(800, 5), SPEC),
    TableData.fromDataFrame(table(300, 6), SPEC),
  ];
  const be = await loadBackend("node");
  const straight = await TrainSession.create(model(), be, { seed: 3 });
  const a = await fit(straight, train, val, {
    epochs: 2,
    batchSize: 64,
    lr: 0.02,
    seed: 9,
    progressLabel: false,
  });
  const dir = await tempDir("ckpt");
  const first = await TrainSession.create(model(), be, { seed: 3 });
  await fit(first, train, val, {
    epochs: 1,
    batchSize: 64,
    lr: 0.02,
    seed: 9,
    checkpoint: `${dir}/ck`,
    progressLabel: false,
  });
  const resumed = await TrainSession.create(model(), be, { seed: 99 }); // different init: the checkpoint must override it
  const b = await fit(resumed, train, val, {
    epochs: 2,
    batchSize: 64,
    lr: 0.02,
    seed: 9,
    resume: `${dir}/ck`,
    progressLabel: false,
  });
  assertEquals(b.history.map((h) => h.valAuc), a.history.map((h) => h.valAuc));
  const [sa, sb] = [await straight.snapshot(), await resumed.snapshot()];
  assertEquals(sb.step, sa.step);
  for (const k of Object.keys(sa.values)) assertEquals(sb.values[k], sa.values[k], k);
});

Deno.test("a NaN loss stops training and names the step", async () => {
  const df = table(300, 7).withColumns(
    pl.when(pl.col("x0").gt(2)).then(pl.lit(Infinity)).otherwise(pl.col("x0")).alias("x0"),
  );
  const [train, val] = [TableData.fromDataFrame(df, SPEC), TableData.fromDataFrame(table(100, 8), SPEC)];
  const s = await TrainSession.create(model(), await loadBackend("node"), { seed: 1 });
  await assertRejects(
    fit(s, train, val, { epochs: 1, batchSize: 32, lr: 0.01, progressLabel: false }),
    /loss became (NaN|Infinity) at step \d+/,
  );
});

Deno.test("scenes as tasks: each tower learns from its own rows", async () => {
  const spec = { ...SPEC, task: { column: "scene", tasks: 3 } };
  const [train, val] = [
    TableData.fromDataFrame(table(3000, 10), spec),
    TableData.fromDataFrame(table(1000, 11), spec),
  ];
  const m = compile(
    mmoe({
      dense: 3,
      userVocab: 40,
      itemVocab: 25,
      embDim: 4,
      experts: 3,
      expertHidden: 8,
      tasks: 3,
      tower: [8, 1],
    }),
    { optimizer: { type: "adam" }, taskMask: true },
  );
  const s = await TrainSession.create(m, await loadBackend("node"), { seed: 2 });
  const r = await fit(s, train, val, { epochs: 3, batchSize: 128, lr: 0.01, progressLabel: false });
  assert(r.bestValAuc > 0.75, `val AUC ${r.bestValAuc}`);
});

Deno.test("multi-label mode: one tower per label column, both learned", async () => {
  const rng = new Rng(21);
  // a second label (say, conversion) driven by different features than the click
  const df = table(3000, 12).withColumns(pl.Series("conv", Array.from({ length: 3000 }, () => 0)));
  const x1 = df.getColumn("x1").toArray() as number[], x2 = df.getColumn("x2").toArray() as number[];
  const conv = x1.map((v, i) => (rng.next() < 1 / (1 + Math.exp(-(2 * x2[i] - v))) ? 1 : 0));
  const d = df.withColumns(pl.Series("conv", conv));
  const spec = { ...SPEC, label: ["label", "conv"] };
  const [train, val] = [
    TableData.fromDataFrame(d.head(2400), spec),
    TableData.fromDataFrame(d.tail(600), spec),
  ];
  assertEquals(train.columns.get("label")!.width, 2);
  const m = compile(
    mmoe({
      dense: 3,
      userVocab: 40,
      itemVocab: 25,
      embDim: 4,
      experts: 3,
      expertHidden: 8,
      tasks: 2,
      tower: [8, 1],
    }),
    { optimizer: { type: "adam" }, taskMask: true },
  );
  const s = await TrainSession.create(m, await loadBackend("node"), { seed: 2 });
  await fit(s, train, val, { epochs: 3, batchSize: 128, lr: 0.01, progressLabel: false });
  const p = await predictTasks(s, val);
  const [y0, y1] = [val.columns.get("label")!.data as Float32Array].map((
    l,
  ) => [
    Array.from({ length: val.rows }, (_, i) => l[i * 2]),
    Array.from({ length: val.rows }, (_, i) => l[i * 2 + 1]),
  ])[0];
  const [p0, p1] = [
    Array.from({ length: val.rows }, (_, i) => p[i * 2]),
    Array.from({ length: val.rows }, (_, i) => p[i * 2 + 1]),
  ];
  assert(auc(y0, p0) > 0.7 && auc(y1, p1) > 0.7, `click AUC ${auc(y0, p0)}, conversion AUC ${auc(y1, p1)}`);
  // each tower is specialised: swapping them hurts
  assert(auc(y1, p0) < auc(y1, p1) - 0.05);
  // the gates are inspectable: [rows, tasks, experts], each row a distribution
  const g =
    (await s.evaluate((val.batches(val.order(0, 0, false), 10).next().value!).batch, 10, ["gates"])).gates;
  assertEquals(g.length, 10 * 2 * 3);
  for (let r = 0; r < 20; r++) assertClose(g[r * 3] + g[r * 3 + 1] + g[r * 3 + 2], 1, 1e-5);
});

Deno.test("per-sample weights: uniform weights change nothing, zero weights silence rows", async () => {
  const df = table(800, 30).withColumns(
    pl.lit(1).cast(pl.Float32).alias("w1"),
    pl.when(pl.col("scene").eq(pl.lit(1))).then(pl.lit(0)).otherwise(pl.lit(3)).cast(pl.Float32).alias("w0"),
  );
  const run = async (weight?: string, train = df) => {
    const m = compile(dnn({ dense: 3, userVocab: 40, itemVocab: 25, embDim: 4, hidden: [8] }), {
      optimizer: { type: "adam" },
      sampleWeights: !!weight,
    });
    const s = await TrainSession.create(m, await loadBackend("node"), { seed: 5 });
    const data = TableData.fromDataFrame(train, { ...SPEC, weight });
    await fit(s, data, data, { epochs: 1, batchSize: 800, lr: 0.01, progressLabel: false, seed: 1 });
    return (await s.snapshot()).values;
  };
  const [plain, ones] = [await run(), await run("w1")];
  for (const k of Object.keys(plain)) plain[k].forEach((v, i) => assertClose(ones[k][i], v, 1e-6, k));
  // weight 0 on scene-1 rows (3 elsewhere) = training on the other rows alone (weights are normalised)
  const [zeroed, without] = [
    await run("w0"),
    await run(undefined, df.filter(pl.col("scene").neq(pl.lit(1)))),
  ];
  for (const k of Object.keys(without)) without[k].forEach((v, i) => assertClose(zeroed[k][i], v, 1e-5, k));
});
