/**
 * runExperiment: spec → tables → model → train step compiled for the run's backend → fit (early stopping on
 * validation AUC) → validation and test scores (test scored once, with the epoch chosen on validation) →
 * slices beside the oracle → paired-bootstrap comparison with the baseline → saved predictions, standalone
 * inference model (checked against the eval graph), the resolved spec and the results registry. Returns what
 * the notebook plots. Every model in notebooks 02 and 04–09 runs through here.
 */
import type { RunConfig } from "../config.ts";
import { oracleProbs } from "../data/dataset.ts";
import { alignedPredictions, savePredictions } from "../eval/predictions.ts";
import { appendResults, type ResultRow } from "../eval/results.ts";
import { unfinishedWaits, waitForStages } from "../util/stages.ts";
import { compareBySlice, type ComparisonRow, sliceMetrics, type SliceRow } from "../eval/slices.ts";
import { auc } from "../eval/metrics.ts";
import { COLD_BELOW, COLDNESS, coldnessExpr } from "../features/summary.ts";
import { sceneLabels } from "../features/table.ts";
import { type GraphSummary, summarize } from "../graph/summary.ts";
import { pickBackend } from "../train/backend.ts";
import { batchFeeds, TrainSession } from "../train/session.ts";
import {
  type EvalResult,
  evaluateTable,
  fit,
  type FitResult,
  meanOutputByGroup,
  predictOutput,
} from "../train/trainer.ts";
import { type DataSources, type ExperimentData, experimentData } from "./data.ts";
import { buildModel } from "./models.ts";
import { type ExperimentSpec, type ResolvedSpec, resolveSpec, type SliceDimension, slug } from "./spec.ts";
import { timed } from "../util/profile.ts";

export type OracleSliceRow = SliceRow & { oracleAuc: number | "n/a" };

export interface ExperimentResult {
  spec: ResolvedSpec;
  name: string;
  backend: string;
  graph: GraphSummary;
  fit: FitResult;
  val: EvalResult;
  test: EvalResult;
  /** The oracle's AUC on the same rows; null for logs without one. */
  oracle: { val: number; test: number } | null;
  /** Test metrics overall ("all") and per slice of each dimension, beside the oracle. */
  slices: Record<string, OracleSliceRow[]>;
  /** Against the baseline on the same test rows: "all" first, then per slice of each dimension; null without a baseline. */
  versus: Record<string, ComparisonRow[]> | null;
  /** Test AUC per scene × user coldness. */
  sceneByUser: { scenes: string[]; levels: string[]; auc: (number | "n/a")[][]; rows: number[][] };
  /** Mean gate weight of each scene's own tower over validation rows ([scene][expert]), when asked. */
  gates?: number[][];
  /** Per-scene loss weights, when the spec asks for them. */
  taskWeights?: number[];
  /** The gate α of every test row, when asked. */
  alpha?: Float32Array;
  /** Per test row: scene label, user and item coldness (for notebook charts on extra outputs). */
  testRows: { scene: string[]; userCold: string[]; itemCold: string[] };
  /** The standalone inference model written for this run, checked against the eval graph. */
  inference: {
    file: string;
    kib: number;
    rowsChecked: number;
    maxDiff: number;
    inputs: ExperimentRecord["inputs"];
  };
  seconds: number;
}

export interface RunOptions extends DataSources {
  /** Keep the results out of the registry and predictions (a probe, not a stage result). */
  record?: boolean;
  /** Fail if any node would fall back to the CPU (WebGPU; what the tests use). */
  strict?: boolean;
}

/** Largest |Δp| tolerated between the saved inference model and the eval graph. */
const INFERENCE_TOLERANCE = 1e-5;

export async function runExperiment(
  s: ExperimentSpec,
  cfg: RunConfig,
  o: RunOptions = {},
): Promise<ExperimentResult> {
  const { result, rows } = await trainExperiment(s, cfg, o);
  if (rows.length) await appendResults(cfg.runDir, rows);
  return result;
}

/**
 * runExperiment without the last step: the result rows are returned, not appended to the registry (the
 * experiment pool, lib/experiment/pool.ts, appends them in the order the experiments were asked for).
 */
export async function trainExperiment(
  s: ExperimentSpec,
  cfg: RunConfig,
  o: RunOptions = {},
): Promise<{ result: ExperimentResult; rows: ResultRow[] }> {
  const t0 = performance.now();
  const spec = resolveSpec(s);
  const data = await experimentData(spec, cfg, o);
  // the baseline's saved test predictions, read before training so a missing one fails at once; but while a
  // notebook this one waits for (lib/util/stages.ts) is not done, it may be making them: read after training
  const readBase = () =>
    spec.baseline
      ? alignedPredictions(cfg.runDir, slug(spec.baseline), "test", data.frames.test.getColumn("row_id"))
      : null;
  const pending = spec.baseline ? unfinishedWaits(cfg, spec.stage) : [];
  let base = pending.length ? null : readBase();
  const model = buildModel(spec.model, data.dims, spec.params);
  const backend = await pickBackend(cfg);
  const session = await TrainSession.build(model, backend, {
    optimizer: spec.optimizer,
    taskMask: spec.tasks === "scenes",
  }, { seed: cfg.seed, strict: o.strict });
  try {
    const labels = sceneLabels(data.manifest);
    const valScene = data.tables.val.task ?? sceneColumn(data, "val");
    const result = await fit(session, data.tables.train, data.tables.val, {
      ...spec.fit,
      seed: cfg.seed,
      progressLabel: spec.name,
      ...(spec.tasks === "scenes" ? { valSlices: (i: number) => labels[valScene[i]] } : {}),
    });
    // validation was scored at the best epoch, with the weights fit leaves loaded: not scored twice
    const val = result.bestVal ?? await evaluateTable(session, data.tables.val),
      test = await evaluateTable(session, data.tables.test);
    const keys = sliceKeys(data, spec.slices, labels);
    const oracleOf = (split: "val" | "test") => oracleProbs(data.frames[split], cfg.dataDir);
    const [oVal, oTest] = [oracleOf("val"), oracleOf("test")];
    const tl = data.tables.test.labels;
    const sliced = (probs: ArrayLike<number>, key: (i: number) => string, all: boolean) =>
      sliceMetrics({ labels: tl, probs }, key, { includeAll: all });
    const slices: Record<string, OracleSliceRow[]> = {};
    for (const [dim, key] of [["all", () => "all"] as const, ...Object.entries(keys)]) {
      const mine = sliced(test.probs, key, false), ceiling = oTest ? sliced(oTest, key, false) : null;
      slices[dim] = mine.map((r, k) => ({ ...r, oracleAuc: ceiling ? ceiling[k].auc : "n/a" }));
    }
    let versus: Record<string, ComparisonRow[]> | null = null;
    if (pending.length) {
      await waitForStages(cfg, spec.stage, pending);
      base = readBase();
    }
    if (base) {
      const bs = { resamples: spec.resamples, seed: cfg.seed };
      versus = { all: compareBySlice(tl, base, test.probs, () => "all", { ...bs, includeAll: false }) };
      for (const [dim, key] of Object.entries(keys)) {
        versus[dim] = compareBySlice(tl, base, test.probs, key, { ...bs, includeAll: false });
      }
    }
    const scene = keys.scene ?? sceneKey(data, labels), user = keys["user coldness"] ?? coldKey(data, "user");
    const pivot = sliceMetrics({ labels: tl, probs: test.probs }, (i) => `${scene(i)}|${user(i)}`);
    const cell = (sc: string, l: string) => pivot.find((r) => r.slice === `${sc}|user ${l}`);
    const levels = [...COLDNESS];
    const sceneByUser = {
      scenes: labels,
      levels,
      auc: labels.map((sc) => levels.map((l) => cell(sc, l)?.auc ?? "n/a")),
      rows: labels.map((sc) => levels.map((l) => cell(sc, l)?.rows ?? 0)),
    };
    let gates: number[][] | undefined;
    if (spec.outputs.includes("gates")) {
      const T = data.manifest.scenes;
      const perScene = await meanOutputByGroup(session, data.tables.val, "gates", (i) => valScene[i], T);
      const K = perScene[0].length / T;
      gates = perScene.map((g, sc) => g.slice(sc * K, (sc + 1) * K)); // scene sc's own tower's gate
    }
    const alpha = spec.outputs.includes("alpha")
      ? await predictOutput(session, data.tables.test, "alpha")
      : undefined;
    const inference = await writeInferenceModel(session, data, cfg.runDir, spec.name, test.probs, o.strict);
    const out: ExperimentResult = {
      spec,
      name: spec.name,
      backend: backend.name,
      graph: summarize(model),
      fit: result,
      val,
      test,
      oracle: oVal && oTest ? { val: auc(data.tables.val.labels, oVal), test: auc(tl, oTest) } : null,
      slices,
      versus,
      sceneByUser,
      gates,
      alpha,
      inference,
      taskWeights: data.tables.train.spec.taskWeights,
      seconds: (performance.now() - t0) / 1000,
      testRows: {
        scene: rowsOf(scene, tl.length),
        userCold: rowsOf(user, tl.length),
        itemCold: rowsOf(keys["item coldness"] ?? coldKey(data, "item"), tl.length),
      },
    };
    return { result: out, rows: o.record !== false ? await record(out, data, cfg) : [] };
  } finally {
    await session.release();
  }
}

const rowsOf = (key: (i: number) => string, n: number) => Array.from({ length: n }, (_, i) => key(i));

function sceneColumn(d: ExperimentData, split: "val" | "test"): number[] {
  return d.frames[split].getColumn("scene").toArray() as number[];
}

function sceneKey(d: ExperimentData, labels: string[]) {
  const sc = d.tables.test.task ?? sceneColumn(d, "test");
  return (i: number) => labels[sc[i]];
}

function coldKey(d: ExperimentData, side: "user" | "item") {
  const c = d.frames.test.select(coldnessExpr(`${side[0]}_train_imp`).alias("c")).getColumn("c")
    .toArray() as string[];
  return (i: number) => `${side} ${c[i]}`;
}

/** Behaviour-sequence length buckets (empty, short, long, full). */
function lengthKey(d: ExperimentData, L: number) {
  const n = d.frames.test.getColumn("seq_len").toArray() as number[];
  return (i: number) =>
    n[i] === 0 ? "a: 0 clicks" : n[i] < 5 ? "b: 1–4" : n[i] < L ? `c: 5–${L - 1}` : `d: ${L} (full)`;
}

function sliceKeys(
  d: ExperimentData,
  dims: SliceDimension[],
  labels: string[],
): Partial<Record<SliceDimension, (i: number) => string>> {
  const keys: Partial<Record<SliceDimension, (i: number) => string>> = {};
  for (const dim of dims) {
    if (dim === "scene") keys.scene = sceneKey(d, labels);
    else if (dim === "user coldness") keys[dim] = coldKey(d, "user");
    else if (dim === "item coldness") keys[dim] = coldKey(d, "item");
    else if (d.dims.seqLen) keys[dim] = lengthKey(d, d.dims.seqLen);
  }
  return keys;
}

/** models/<slug>.onnx with the weights baked in; its probabilities on the first test rows must match the eval graph's. */
async function writeInferenceModel(
  session: TrainSession,
  data: ExperimentData,
  runDir: string,
  name: string,
  evalProbs: Float32Array,
  strict?: boolean,
) {
  return timed("writing", async () => {
    const file = `models/${slug(name)}.onnx`;
    await Deno.mkdir(`${runDir}/models`, { recursive: true });
    const bytes = session.model.inference(await session.paramValues());
    await Deno.writeFile(`${runDir}/${file}`, bytes);
    const test = data.tables.test, T = test.columns.get("label")!.width;
    const n = Math.min(256, test.rows);
    const inf = await session.backend.session(bytes, { strict });
    const { batch } = test.batches(test.order(0, 0, false), n).next().value!;
    const inputs = session.model.batchInputs.filter((s) => !["label", "mask", "weight"].includes(s.name))
      .map((s) => ({ name: s.name, dtype: s.dtype as "float32" | "int64", shape: s.shape }));
    const feeds = batchFeeds(session.backend, batch, n, inputs);
    const prob = await session.backend.read((await inf.run(feeds)).prob) as Float32Array;
    await inf.release();
    let maxDiff = 0;
    for (let r = 0; r < n; r++) {
      maxDiff = Math.max(maxDiff, Math.abs((T > 1 ? prob[r * T + test.task![r]] : prob[r]) - evalProbs[r]));
    }
    if (maxDiff > INFERENCE_TOLERANCE) {
      throw new Error(`${name}: the standalone model differs from the eval graph by up to ${maxDiff}`);
    }
    return { file, kib: Math.round(bytes.length / 1024), rowsChecked: n, maxDiff, inputs };
  });
}

/** What a later stage needs to reuse a run: its spec, inference inputs, graph and headline metrics. */
export interface ExperimentRecord {
  spec: ResolvedSpec;
  backend: string;
  model: string;
  inputs: { name: string; dtype: "float32" | "int64"; shape: (number | string)[] }[];
  tasks: number;
  text: number;
  coldBelow?: number;
  val: { auc: number; logloss: number };
  test: { auc: number; logloss: number };
  bestEpoch: number;
  epochs: number;
  seconds: number;
}

export const experimentPath = (runDir: string, name: string) => `${runDir}/experiments/${slug(name)}.json`;

export function readExperiment(runDir: string, name: string): ExperimentRecord {
  return JSON.parse(Deno.readTextFileSync(experimentPath(runDir, name)));
}

/** Saves the predictions and the resolved spec (experiments/<slug>.json); returns the result rows (val, test overall and per slice). */
async function record(r: ExperimentResult, data: ExperimentData, cfg: RunConfig): Promise<ResultRow[]> {
  return timed("writing", async () => {
    const name = slug(r.name);
    for (const s of ["val", "test"] as const) {
      await savePredictions(cfg.runDir, name, s, data.frames[s].getColumn("row_id"), r[s].probs);
    }
    const rec: ExperimentRecord = {
      spec: r.spec,
      backend: r.backend,
      model: r.inference.file,
      inputs: r.inference.inputs,
      tasks: data.dims.tasks,
      text: data.dims.text ?? 0,
      ...(r.spec.inputs.fallback ? { coldBelow: r.spec.inputs.fallback.coldBelow ?? COLD_BELOW } : {}),
      val: { auc: r.val.auc, logloss: r.val.logloss },
      test: { auc: r.test.auc, logloss: r.test.logloss },
      bestEpoch: r.fit.bestEpoch + 1,
      epochs: r.fit.history.length,
      seconds: r.seconds,
    };
    await Deno.mkdir(`${cfg.runDir}/experiments`, { recursive: true });
    await Deno.writeTextFile(experimentPath(cfg.runDir, r.name), JSON.stringify(rec, null, 1));
    const base = r.spec.baseline;
    const vs = (c?: ComparisonRow) =>
      base && c ? { [`vs ${base} diff`]: c.diff, [`vs ${base} lo`]: c.lo, [`vs ${base} hi`]: c.hi } : {};
    const common = { stage: r.spec.stage, model: r.name };
    const extra = {
      bestEpoch: r.fit.bestEpoch + 1,
      backend: r.backend,
      experiment: `experiments/${name}.json`,
    };
    const rows: ResultRow[] = [
      {
        ...common,
        split: "val",
        slice: "all",
        rows: data.tables.val.rows,
        auc: r.val.auc,
        logloss: r.val.logloss,
        oracleAuc: r.oracle?.val,
        extra,
      },
      {
        ...common,
        split: "test",
        slice: "all",
        rows: data.tables.test.rows,
        auc: r.test.auc,
        logloss: r.test.logloss,
        oracleAuc: r.oracle?.test,
        extra: { ...extra, ...vs(r.versus?.all[0]) },
      },
    ];
    for (const [dim, slices] of Object.entries(r.slices)) {
      if (dim === "all" || (dim === "scene" && slices.length < 2)) continue;
      for (const sl of slices) {
        rows.push({
          ...common,
          split: "test",
          slice: sl.slice,
          rows: sl.rows,
          auc: typeof sl.auc === "number" ? sl.auc : NaN,
          logloss: sl.logloss,
          ...(typeof sl.oracleAuc === "number" ? { oracleAuc: sl.oracleAuc } : {}),
          extra: vs(r.versus?.[dim]?.find((c) => c.slice === sl.slice)),
        });
      }
    }
    return rows;
  });
}
