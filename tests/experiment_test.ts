/**
 * The experiment layer: every zoo and multi-task model runs from a spec through runExperiment — on the WebGPU
 * backend too (the path a hardware GPU takes; here Mesa's software adapter, CPU fallback disabled) — records
 * its resolved spec, predictions and results, and a new model needs only a model function and a zoo entry.
 */
import pl from "nodejs-polars";
import { EXECUTION_DEFAULTS, experimentConfig, type RunConfig, runConfig } from "../lib/config.ts";
import { ensureDataset } from "../lib/data/dataset.ts";
import { runEtl } from "../lib/data/etl.ts";
import { readResults } from "../lib/eval/results.ts";
import { MODELS } from "../lib/experiment/models.ts";
import { experimentPath, readExperiment, runExperiment } from "../lib/experiment/run.ts";
import { decode, encode, poolShape, runExperiments } from "../lib/experiment/pool.ts";
import { type ExperimentSpec, resolveSpec } from "../lib/experiment/spec.ts";
import { sweep } from "../lib/experiment/sweep.ts";
import { buildTable, loadEvents, writeTable } from "../lib/features/table.ts";
import { linear, type ModelBuilder } from "../lib/graph/nn.ts";
import { reshape } from "../lib/graph/tensor.ts";
import { ctrInputs } from "../lib/models/inputs.ts";
import { buildTextFeatures } from "../lib/text/features.ts";
import { gpuAdapter } from "../lib/train/backend.ts";
import { assert, assertEquals, assertRejects, assertThrows, tempDir } from "./assert.ts";

let small: Promise<RunConfig> | null = null;

/** 3,000 generated rows through ETL, table and text: enough for a batch or two of every split. */
function smallData(): Promise<RunConfig> {
  return small ??= (async () => {
    const dir = await tempDir("experiment");
    const cfg: RunConfig = {
      ...EXECUTION_DEFAULTS,
      rows: 3_000,
      seed: 3,
      corruptRate: 0,
      dataDir: dir,
      runDir: `${dir}/run`,
    };
    await ensureDataset(cfg, () => {});
    await runEtl({ input: `${dir}/raw`, output: `${dir}/clean` });
    const built = await buildTable(loadEvents(`${dir}/clean`));
    await writeTable(`${dir}/table`, built, `${dir}/clean`);
    await buildTextFeatures(dir, built.manifest.split.days.train, `${cfg.runDir}/text`, {
      k: 8,
      tfidf: { dim: 12 },
    });
    return cfg;
  })();
}

/** Every family of the zoo, with the inputs it needs (Fusion reads text; with the fallback too). */
const EVERY_MODEL: ExperimentSpec[] = [
  ...Object.keys(MODELS).filter((m) => m !== "Fusion").map((model) => ({ stage: "test", model })),
  { stage: "test", model: "Fusion", inputs: { text: true, sceneWeights: true } },
  {
    name: "Fusion+fallback",
    stage: "test",
    model: "Fusion",
    inputs: { text: true, fallback: { coldBelow: 5 } },
  },
  { name: "MMoE+text", stage: "test", model: "MMoE", inputs: { text: true } },
  {
    name: "MMoE+SFM",
    stage: "test",
    model: "MMoE",
    params: { sceneFactors: 4, sceneFactorMode: "per-scene" },
  },
  { name: "DNN+SFM", stage: "test", model: "DNN", params: { sceneFactors: 4, sceneFactorMode: "diagonal" } },
];

Deno.test("every zoo and multi-task model trains through runExperiment with CTRLAB_BACKEND=webgpu, CPU fallback disabled", async () => {
  if (!(await gpuAdapter())) {
    throw new Error("no WebGPU adapter: set-up installs Mesa's software one (mesa-vulkan-drivers)");
  }
  const base = await smallData();
  Deno.env.set("CTRLAB_BACKEND", "webgpu");
  let cfg: RunConfig;
  try {
    cfg = { ...runConfig(), dataDir: base.dataDir, runDir: base.runDir, seed: base.seed };
  } finally {
    Deno.env.delete("CTRLAB_BACKEND");
  }
  assertEquals(cfg.backend, "webgpu");
  for (const spec of EVERY_MODEL) {
    const r = await runExperiment({ ...spec, fit: { epochs: 1 } }, cfg, { strict: true, record: false });
    const name = r.name;
    assertEquals(r.backend, "webgpu", name);
    assert(
      r.fit.history[0].steps >= 1 && Number.isFinite(r.fit.history[0].trainLoss),
      `${name}: a finite train step`,
    );
    assert(r.test.auc > 0 && r.test.auc < 1, `${name}: test AUC ${r.test.auc}`);
    assert(r.inference.maxDiff < 1e-5, `${name}: inference model matches the eval graph`);
  }
});

Deno.test("runExperiment records the resolved spec, predictions and results, and compares with the baseline", async () => {
  const cfg = await smallData();
  const dnn = await runExperiment({ stage: "t04", model: "DNN", fit: { epochs: 2 } }, cfg);
  const spec: ExperimentSpec = {
    stage: "t05",
    model: "MMoE",
    params: { experts: 3 },
    baseline: "DNN",
    fit: { epochs: 2 },
    outputs: ["gates"],
  };
  const mmoe = await runExperiment(spec, cfg);
  const rec = readExperiment(cfg.runDir, "MMoE");
  assertEquals(rec.spec, resolveSpec(spec));
  assertEquals([
    rec.spec.params.experts,
    rec.spec.params.expertHidden,
    rec.spec.fit.batchSize,
    rec.spec.tasks,
  ], [3, 64, 1024, "scenes"]);
  assertEquals(rec.inputs.map((i) => i.name), ["dense", "user_id", "item_id"]);
  assertEquals(rec.val.auc, mmoe.val.auc);
  const saved = pl.readParquet(`${cfg.runDir}/predictions/mmoe_test.parquet`);
  assertEquals(saved.height, mmoe.test.probs.length);
  const results = readResults(cfg.runDir).filter((x) => x.model === "MMoE");
  const test = results.find((x) => x.split === "test" && x.slice === "all")!;
  assertEquals(test.extra?.experiment, "experiments/mmoe.json");
  assertEquals(test.extra?.["vs DNN diff"], mmoe.versus!.all[0].diff);
  assertEquals(mmoe.versus!.all[0].aucA, dnn.test.auc, "the baseline's saved predictions, aligned by row_id");
  assert(results.some((x) => x.slice === "user zero" || x.slice === "user warm"), "coldness slices recorded");
  assertEquals(mmoe.gates!.length, mmoe.sceneByUser.scenes.length);
  assert(mmoe.graph.layers.some((l) => l.layer === "experts") && mmoe.graph.parameters > 0);
  assert(
    (await Deno.stat(experimentPath(cfg.runDir, "MMoE"))).size > 0 &&
      (await Deno.stat(`${cfg.runDir}/${rec.model}`)).size > 0,
  );
});

Deno.test("runExperiments trains side by side, a child process each, and gives the bits runExperiment gives in turn", async () => {
  const base = await smallData();
  await runExperiment({ stage: "tpool", model: "DNN", fit: { epochs: 1 } }, base); // the baseline
  const specs: ExperimentSpec[] = [
    { stage: "tpool", model: "DIN", baseline: "DNN", fit: { epochs: 2 } },
    { stage: "tpool", model: "MMoE", baseline: "DNN", fit: { epochs: 2 }, outputs: ["gates"] },
  ];
  const rows = () => readResults(base.runDir).filter((r) => r.stage === "tpool" && r.model !== "DNN");
  const side = await runExperiments(specs, { ...base, jobs: 2, threads: 2 });
  const sideRows = rows();
  assertEquals(
    [...new Set(sideRows.map((r) => r.model))],
    ["DIN", "MMoE"],
    "rows appended in the order asked",
  );
  const turn = [];
  for (const s of specs) turn.push(await runExperiment(s, { ...base, threads: 2 }));
  for (const [k, r] of side.entries()) {
    assertEquals(r.name, turn[k].name);
    assertEquals([...r.test.probs], [...turn[k].test.probs], `${r.name}: the same test scores, bit for bit`);
    assertEquals(r.fit.history.map((h) => h.trainLoss), turn[k].fit.history.map((h) => h.trainLoss));
    assertEquals(r.versus, turn[k].versus);
    assertEquals(r.gates, turn[k].gates);
  }
  const strip = (rs: typeof sideRows) => rs.map(({ recordedAt: _, ...r }) => r);
  assertEquals(strip(rows()).slice(sideRows.length), strip(sideRows), "the same registry rows");
  // a child's failure names the experiment and its error
  await assertRejects(
    () => runExperiments([specs[0], { stage: "tpool", model: "NoSuchModel" }], { ...base, jobs: 2 }),
    /experiment NoSuchModel failed/,
  );
});

Deno.test("the pool's shape: processes × threads fit the cores; its wire format keeps Float32Arrays and non-finite numbers", () => {
  assertEquals(poolShape(6, { threads: 0, jobs: 0 }, 2), { width: 2, threads: 1 });
  assertEquals(poolShape(6, { threads: 0, jobs: 1 }, 16), { width: 1, threads: 16 });
  assertEquals(poolShape(3, { threads: 8, jobs: 0 }, 16), { width: 3, threads: 2 });
  assertEquals(poolShape(1, { threads: 0, jobs: 0 }, 16), { width: 1, threads: 16 });
  const v = {
    p: Float32Array.of(0.25, -1.5, 3e-8),
    auc: NaN,
    hi: Infinity,
    lo: -Infinity,
    s: ["n/a"],
    n: 0.1,
  };
  const back = decode(encode(v)) as typeof v;
  assert(back.p instanceof Float32Array);
  assertEquals([...back.p], [...v.p]);
  assertEquals([back.auc, back.hi, back.lo, back.s, back.n], [NaN, Infinity, -Infinity, ["n/a"], 0.1]);
});

Deno.test("a new model is a model function and a zoo entry: the runner does the rest", async () => {
  const cfg = await smallData();
  // a wide model: one linear layer over dense features and both id embeddings
  MODELS["Wide"] = {
    source: "logistic.ts",
    describe: "linear over dense + ids",
    tasks: "single",
    optimizer: { type: "adam" },
    defaults: { embDim: 4 },
    build: (d, p) => (m: ModelBuilder) => ({
      logits: reshape(linear(m, "wide", ctrInputs(m, { ...d, embDim: p.embDim as number }), 1), ["B"]),
    }),
  };
  try {
    const r = await runExperiment({ stage: "t", model: "Wide", fit: { epochs: 1 } }, cfg);
    assert(r.test.auc > 0.5, `the wide model learned something: ${r.test.auc}`);
    assertEquals(readExperiment(cfg.runDir, "Wide").spec.params.embDim, 4);
  } finally {
    delete MODELS["Wide"];
  }
  assertThrows(() => resolveSpec({ stage: "t", model: "Nope" }), /unknown model "Nope"/);
  assertThrows(
    () => resolveSpec({ stage: "t", model: "DNN", inputs: { fallback: {} } }),
    /fallback projects text/,
  );
});

Deno.test("a sweep runs one recorded experiment per value and chooses on validation AUC, never test", async () => {
  const cfg = await smallData();
  const rows = await sweep(
    { stage: "t-sweep", model: "DNN", fit: { epochs: 1 } },
    "hidden",
    [[8], [32, 16]],
    cfg,
  );
  assertEquals(rows.map((r) => r.name), ["DNN(hidden=8)", "DNN(hidden=32,16)"]);
  const best = rows.reduce((a, b) => b["val AUC"] > a["val AUC"] ? b : a);
  assertEquals(rows.filter((r) => r.chosen), [best]);
  assertEquals(readExperiment(cfg.runDir, "DNN(hidden=32,16)").spec.params.hidden, [32, 16]);
});

Deno.test("ctrlab experiment --run-id ID runs on the data and seed that run was made on, not on the command line's defaults", async () => {
  const dir = await tempDir("experiment-config");
  const given: RunConfig = { ...runConfig(), runDir: `${dir}/run`, dataDir: `${dir}/default-1m`, seed: 7 };
  assertThrows(
    () => experimentConfig(given, false),
    /holds no finished run \(run\.json\); make it with ctrlab main --run-id run/,
  );
  await Deno.mkdir(`${dir}/run`);
  const made = {
    ...given,
    dataDir: `${dir}/own-logs-x`,
    input: `${dir}/logs`,
    spec: `${dir}/spec.json`,
    seed: 3,
  };
  const { rows: _r, corruptRate: _c, ...recorded } = made; // as describedConfig records a run on the user's logs
  await Deno.writeTextFile(`${dir}/run/run.json`, JSON.stringify({ runId: "run", config: recorded }));
  const cfg = experimentConfig(given, false);
  assertEquals([cfg.dataDir, cfg.input, cfg.spec, cfg.seed, cfg.runDir], [
    made.dataDir,
    made.input,
    made.spec,
    3,
    given.runDir,
  ]);
  assertEquals(experimentConfig({ ...given, dataDir: made.dataDir, seed: 3 }, true).dataDir, made.dataDir);
  assertThrows(
    () => experimentConfig(given, true),
    /was made on .*\/logs \(seed 3\); its tables and predictions cannot serve/,
  );
});
