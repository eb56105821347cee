/**
 * Scenes as tasks: what the multi-task notebooks (05_mmoe, 06_ple) share — loading the table with a tower per
 * scene, training with per-scene validation AUC each epoch, and scoring the test days per scene beside the
 * oracle and against an earlier model's saved predictions (paired bootstrap intervals), then recording it all.
 */
import pl from "nodejs-polars";
import { oracleProbs } from "../data/dataset.ts";
import { alignedPredictions, savePredictions } from "../eval/predictions.ts";
import { appendResults } from "../eval/results.ts";
import { type ComparisonRow, compareBySlice, sliceMetrics, type SliceRow } from "../eval/slices.ts";
import { coldnessExpr } from "../features/summary.ts";
import { type Manifest, readManifest, readSplit, sceneLabels, SPLITS } from "../features/table.ts";
import { joinTextIndex, type TextFeatures, withMeanForMissing } from "../text/features.ts";
import type { ModelFn } from "../graph/program.ts";
import { compile } from "../graph/program.ts";
import type { TableData } from "./data.ts";
import { pickBackend } from "./backend.ts";
import { TrainSession } from "./session.ts";
import { type FallbackOptions, fallbackFlags, type TableOptions, tableData } from "./tables.ts";
import { evaluateTable, fit, type FitResult, meanOutputByGroup } from "./trainer.ts";

export interface SceneData {
  manifest: Manifest;
  frames: Record<"train" | "val" | "test", pl.DataFrame>;
  tables: Record<"train" | "val" | "test", TableData>;
}

export interface SceneDataOptions {
  /** Whitened text vectors joined by row_id (07_text onwards). */
  text?: TextFeatures;
  /**
   * Cold-start text fallback: ids with fewer than `coldBelow` (default 5) training impressions use their text
   * projection instead of their embedding; while training, a further `dropRate` (default 0.1) of rows do too
   * (chosen by a hash of row_id) so the projection learns from warm ids. Missing text maps to the training mean.
   */
  fallback?: FallbackOptions;
  /** Weight each scene's loss by (mean share / share)^½ (normalised to mean 1 over training rows). */
  sceneWeights?: boolean;
}

/** Per-scene loss weights ∝ share^−½, scaled so the training rows' mean weight is 1. */
export function sceneLossWeights(train: pl.DataFrame, scenes: number): number[] {
  const counts = new Array<number>(scenes).fill(0);
  for (const s of train.getColumn("scene").toArray() as number[]) counts[s]++;
  const raw = counts.map((n) => n ? Math.sqrt(train.height / scenes / n) : 0);
  const mean = counts.reduce((a, n, s) => a + n * raw[s], 0) / train.height;
  return raw.map((w) => w / mean);
}

export function loadSceneData(dataDir: string, o: SceneDataOptions = {}): SceneData {
  const dir = `${dataDir}/table`;
  const manifest = readManifest(dir);
  const frames = Object.fromEntries(SPLITS.map((s) => {
    let f = readSplit(dir, s, manifest);
    if (o.text) f = joinTextIndex(f, o.text).sort("row_id");
    if (o.fallback) f = f.withColumns(...fallbackFlags(s, o.fallback));
    return [s, f];
  })) as SceneData["frames"];
  const k = o.text?.k ?? 0;
  const mean = (t: Float32Array) => o.fallback ? withMeanForMissing(t, k) : t;
  const opts: TableOptions = {
    scenesAsTasks: true,
    taskWeights: o.sceneWeights ? sceneLossWeights(frames.train, manifest.scenes) : undefined,
    text: o.text ? { user: mean(o.text.tables.user), item: mean(o.text.tables.item), k } : undefined,
    fallback: !!o.fallback,
  };
  const tables = Object.fromEntries(SPLITS.map((s) => [s, tableData(frames[s], manifest, opts)])) as SceneData["tables"];
  return { manifest, frames, tables };
}

export interface SceneTraining {
  session: TrainSession;
  result: FitResult;
}

export async function trainScenes(model: ModelFn, d: SceneData, o: { epochs: number; batchSize: number; lr: number; seed: number; label: string }): Promise<SceneTraining> {
  const compiled = compile(model, { optimizer: { type: "adam" }, taskMask: true });
  const session = await TrainSession.create(compiled, await pickBackend(), { seed: o.seed });
  const scene = d.tables.val.task!, labels = sceneLabels(d.manifest);
  const result = await fit(session, d.tables.train, d.tables.val, {
    epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, seed: o.seed, patience: 2, reduceOnPlateau: { factor: 0.5, patience: 1 },
    progressLabel: o.label, valSlices: (i) => labels[scene[i]],
  });
  return { session, result };
}

export interface SceneReport {
  /** Test metrics overall and per scene, with the oracle's AUC on the same rows. */
  test: (SliceRow & { oracleAuc: number | "n/a" })[];
  /** This model (B) against the baseline (A), overall and per scene. */
  versus: ComparisonRow[];
  /** This model against the baseline by user coldness and by item coldness (zero / few / warm). */
  versusColdness: ComparisonRow[];
  /** Mean gate weight per scene (its own task's gate) over validation rows: [scene][expert]. */
  gates?: number[][];
  /** Test AUC by user coldness, by item coldness, and the scene × user-coldness pivot (zero / few / warm training impressions). */
  coldness: { byUser: SliceRow[]; byItem: SliceRow[]; sceneByUser: { scenes: string[]; levels: string[]; auc: (number | "n/a")[][]; rows: number[][] } };
}


/**
 * Score the test days per scene, compare with `baseline`'s saved predictions, save this model's
 * predictions, and append the results to the run's registry.
 */
export async function reportScenes(t: SceneTraining, d: SceneData, o: { runDir: string; dataDir: string; stage: string; model: string; baseline: string; resamples?: number; gates?: boolean }): Promise<SceneReport> {
  const evals = { val: await evaluateTable(t.session, d.tables.val), test: await evaluateTable(t.session, d.tables.test) };
  for (const s of ["val", "test"] as const) await savePredictions(o.runDir, o.model.toLowerCase(), s, d.frames[s].getColumn("row_id"), evals[s].probs);
  const test = d.tables.test, scene = test.task!;
  const labels = sceneLabels(d.manifest);
  const key = (i: number) => labels[scene[i]];
  const pTrue = oracleProbs(d.frames.test, o.dataDir); // null: the data has no known ceiling
  const oracle = pTrue ? sliceMetrics({ labels: test.labels, probs: pTrue }, key, { includeAll: true }) : null;
  const rows = sliceMetrics({ labels: test.labels, probs: evals.test.probs }, key, { includeAll: true })
    .map((r, k) => ({ ...r, oracleAuc: oracle ? oracle[k].auc : "n/a" as const }));
  const base = alignedPredictions(o.runDir, o.baseline.toLowerCase(), "test", d.frames.test.getColumn("row_id"));
  const versus = compareBySlice(test.labels, base, evals.test.probs, key, { resamples: o.resamples ?? 200 });
  const probs = { labels: test.labels, probs: evals.test.probs };
  // coldness as a deployed model sees it: the user's (item's) impressions in the training days
  const cold = d.frames.test.select(coldnessExpr("u_train_imp").alias("u"), coldnessExpr("i_train_imp").alias("i"));
  const [userCold, itemCold] = [cold.getColumn("u").toArray() as string[], cold.getColumn("i").toArray() as string[]];
  const levels = ["zero", "few", "warm"], sceneNames = labels;
  const pivot = sliceMetrics(probs, (i) => `${labels[scene[i]]}|${userCold[i]}`);
  const cell = (s: string, l: string) => pivot.find((r) => r.slice === `${s}|${l}`);
  const coldness = {
    byUser: sliceMetrics(probs, (i) => `user ${userCold[i]}`),
    byItem: sliceMetrics(probs, (i) => `item ${itemCold[i]}`),
    sceneByUser: {
      scenes: sceneNames, levels,
      auc: sceneNames.map((s) => levels.map((l) => cell(s, l)?.auc ?? "n/a")),
      rows: sceneNames.map((s) => levels.map((l) => cell(s, l)?.rows ?? 0)),
    },
  };
  const versusColdness = [
    ...compareBySlice(test.labels, base, evals.test.probs, (i) => `user ${userCold[i]}`, { resamples: o.resamples ?? 200 }).filter((r) => r.slice !== "all"),
    ...compareBySlice(test.labels, base, evals.test.probs, (i) => `item ${itemCold[i]}`, { resamples: o.resamples ?? 200 }).filter((r) => r.slice !== "all"),
  ];
  let gates: number[][] | undefined;
  if (o.gates) {
    const T = d.manifest.scenes, valScene = d.tables.val.task!;
    const perScene = await meanOutputByGroup(t.session, d.tables.val, "gates", (i) => valScene[i], T);
    const K = perScene[0].length / T;
    gates = perScene.map((g, s) => g.slice(s * K, (s + 1) * K)); // scene s's own tower's gate
  }
  await appendResults(o.runDir, [
    ...(["val", "test"] as const).map((s) => ({ stage: o.stage, model: o.model, split: s, slice: "all", rows: d.tables[s].rows, auc: evals[s].auc, logloss: evals[s].logloss })),
    ...rows.filter((r) => r.slice !== "all").map((r) => {
      const v = versus.find((x) => x.slice === r.slice)!;
      return {
        stage: o.stage, model: o.model, split: "test" as const, slice: r.slice, rows: r.rows, auc: typeof r.auc === "number" ? r.auc : NaN, logloss: r.logloss,
        oracleAuc: typeof r.oracleAuc === "number" ? r.oracleAuc : undefined,
        extra: { [`vs ${o.baseline} diff`]: v.diff, [`vs ${o.baseline} lo`]: v.lo, [`vs ${o.baseline} hi`]: v.hi },
      };
    }),
  ]);
  return { test: rows, versus, versusColdness, gates, coldness };
}
