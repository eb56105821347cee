/**
 * The final evaluation: every stage's validation-selected model, read back from the predictions it saved
 * (scored on test exactly once, after the epoch was chosen on validation), compared stage by stage on the same
 * test rows with paired-bootstrap intervals, beside the oracle; and the cold-start report (scene × user/item
 * coldness) in long and pivot form.
 */
import pl from "nodejs-polars";
import { oracleProbs } from "../data/dataset.ts";
import { readManifest, readSplitRaw, sceneLabels } from "../features/table.ts";
import { COLDNESS, coldnessExpr } from "../features/summary.ts";
import { auc, logloss } from "./metrics.ts";
import { alignedPredictions, predictionsPath } from "./predictions.ts";
import { readResults } from "./results.ts";
import { fmtInterval, pairedBootstrap, sliceMetrics } from "./slices.ts";
import { timed } from "../util/profile.ts";

/** The stage ladder: each stage's model, as its notebook names it in results and predictions. */
export const STAGE_MODELS = [
  { stage: "04_dnn", model: "DNN" },
  { stage: "05_mmoe", model: "MMoE" },
  { stage: "06_ple", model: "PLE" },
  { stage: "07_text", model: "MMoE+text" },
  { stage: "08_fusion", model: "Fusion" },
  { stage: "09_fallback", model: "Fusion+fallback" },
] as const;

/**
 * The final model: of the stage models this run recorded, the one with the best validation AUC (the test
 * split plays no part; it is scored once, in the stage table). Ties go to the earlier, simpler stage.
 */
export function selectFinal(
  runDir: string,
): {
  stage: string;
  model: string;
  valAuc: number;
  candidates: { stage: string; model: string; valAuc: number }[];
} {
  const results = readResults(runDir);
  const candidates = STAGE_MODELS.flatMap((s) => {
    const val = results.findLast((r) => r.model === s.model && r.split === "val" && r.slice === "all");
    return val && Number.isFinite(val.auc) ? [{ stage: s.stage, model: s.model, valAuc: val.auc }] : [];
  });
  if (!candidates.length) {
    throw new Error(`no stage model has a validation result in ${runDir} (run the notebooks 04–09 first)`);
  }
  const best = candidates.reduce((a, b) => b.valAuc > a.valAuc ? b : a);
  return { ...best, candidates };
}

export interface TestRows {
  rowIds: pl.Series;
  labels: Float32Array;
  scene: number[];
  /** Display name per scene index. */
  sceneLabels: string[];
  userCold: string[];
  itemCold: string[];
  /** The generator's true click probabilities; null for data without an oracle (a user's own logs). */
  oracle: Float64Array | null;
}

/** The test split's keys, labels, scenes and coldness (training impressions), and the oracle's probabilities. */
export function loadTestRows(dataDir: string): TestRows {
  return timed("data", () => {
    const f = readSplitRaw(`${dataDir}/table`, "test", [
      "row_id",
      "label",
      "scene",
      "u_train_imp",
      "i_train_imp",
    ])
      .sort("row_id").withColumns(
        coldnessExpr("u_train_imp").alias("u"),
        coldnessExpr("i_train_imp").alias("i"),
      );
    return {
      rowIds: f.getColumn("row_id"),
      labels: f.getColumn("label").cast(pl.Float32).toTypedArray() as Float32Array,
      scene: f.getColumn("scene").toArray() as number[],
      sceneLabels: sceneLabels(readManifest(`${dataDir}/table`)),
      userCold: f.getColumn("u").toArray() as string[],
      itemCold: f.getColumn("i").toArray() as string[],
      oracle: oracleProbs(f, dataDir),
    };
  });
}

export interface StageRow {
  stage: string;
  model: string;
  "val AUC (selection)": number | "n/a";
  "test AUC": number;
  "test logloss": number;
  "Δ vs previous": number | "n/a";
  "95% CI": string;
  "oracle test AUC": number | "n/a";
}

/** Test predictions of every stage model this run saved, aligned to the test rows. */
export function stagePredictions(
  runDir: string,
  t: TestRows,
): { stage: string; model: string; probs: Float32Array }[] {
  return timed("data", () => {
    return STAGE_MODELS.filter((s) => {
      try {
        Deno.statSync(predictionsPath(runDir, s.model.toLowerCase(), "test"));
        return true;
      } catch {
        return false;
      }
    }).map((s) => ({ ...s, probs: alignedPredictions(runDir, s.model.toLowerCase(), "test", t.rowIds) }));
  });
}

/** The stage table: validation AUC (what selected each model), test AUC once, and each step's gain with its interval. */
export function stageTable(
  runDir: string,
  t: TestRows,
  o: { resamples?: number; seed?: number } = {},
): StageRow[] {
  return timed("evaluation", () => {
    const results = readResults(runDir);
    const preds = stagePredictions(runDir, t);
    const oracle = t.oracle ? auc(t.labels, t.oracle) : "n/a";
    return preds.map((p, k) => {
      const val = results.findLast((r) => r.model === p.model && r.split === "val" && r.slice === "all");
      const prev = preds[k - 1];
      const bs = prev
        ? pairedBootstrap(t.labels, prev.probs, p.probs, { resamples: o.resamples ?? 200, seed: o.seed })
        : undefined;
      return {
        stage: p.stage,
        model: p.model,
        "val AUC (selection)": val?.auc ?? "n/a",
        "test AUC": auc(t.labels, p.probs),
        "test logloss": logloss(t.labels, p.probs),
        "Δ vs previous": bs ? bs.diff : "n/a",
        "95% CI": bs ? fmtInterval(bs) : "",
        "oracle test AUC": oracle,
      };
    });
  });
}

export interface ColdStartRow {
  model: string;
  side: "user" | "item";
  coldness: string;
  scene: string;
  rows: number;
  auc: number | "n/a";
  logloss: number;
}

/** AUC and logloss per model × side × coldness × scene (and "all" scenes) on the test rows: the long cold-start report. */
export function coldStartLong(
  t: TestRows,
  models: { model: string; probs: ArrayLike<number> }[],
): ColdStartRow[] {
  return timed("evaluation", () => {
    const out: ColdStartRow[] = [];
    for (const m of models) {
      for (const side of ["user", "item"] as const) {
        const cold = side === "user" ? t.userCold : t.itemCold;
        const s = { labels: t.labels, probs: m.probs };
        for (
          const r of [
            ...sliceMetrics(s, (i) => `${cold[i]}|all`),
            ...sliceMetrics(s, (i) => `${cold[i]}|${t.sceneLabels[t.scene[i]]}`),
          ]
        ) {
          const [coldness, scene] = r.slice.split("|");
          out.push({ model: m.model, side, coldness, scene, rows: r.rows, auc: r.auc, logloss: r.logloss });
        }
      }
    }
    const order = (r: ColdStartRow) =>
      `${r.model}|${r.side}|${COLDNESS.indexOf(r.coldness as never)}|${r.scene === "all" ? "" : r.scene}`;
    return out.sort((a, b) => order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0);
  });
}

/** One row per model × side × coldness, a column per scene ("all" first): the pivot cold-start report. */
export function coldStartPivot(long: ColdStartRow[]): Record<string, string | number>[] {
  const scenes = [...new Set(long.map((r) => r.scene))].sort((a, b) =>
    a === "all" ? -1 : b === "all" ? 1 : a < b ? -1 : 1
  );
  const keys = [...new Set(long.map((r) => `${r.model}|${r.side}|${r.coldness}`))];
  return keys.map((k) => {
    const [model, side, coldness] = k.split("|");
    const row: Record<string, string | number> = { model, side, coldness };
    for (const s of scenes) {
      const c = long.find((r) =>
        r.model === model && r.side === side && r.coldness === coldness && r.scene === s
      );
      row[`AUC ${s}`] = c ? c.auc : "n/a";
      row[`rows ${s}`] = c?.rows ?? 0;
    }
    return row;
  });
}

/** Scene × coldness AUC matrix of one model (rows: scenes, columns: zero/few/warm), NaN where a cell is n/a. */
export function sceneColdnessMatrix(
  long: ColdStartRow[],
  model: string,
  side: "user" | "item",
): { scenes: string[]; levels: string[]; auc: number[][] } {
  const scenes = [...new Set(long.filter((r) => r.scene !== "all").map((r) => r.scene))].sort();
  const levels = COLDNESS.filter((l) =>
    long.some((r) => r.model === model && r.side === side && r.coldness === l)
  );
  const cell = (s: string, l: string) =>
    long.find((r) => r.model === model && r.side === side && r.scene === s && r.coldness === l)?.auc;
  return {
    scenes,
    levels,
    auc: scenes.map((s) =>
      levels.map((l) => {
        const v = cell(s, l);
        return typeof v === "number" ? v : NaN;
      })
    ),
  };
}

/** RFC 4180 CSV of uniform records. */
export function toCsv(rows: Record<string, unknown>[]): string {
  if (!rows.length) return "";
  const cols = Object.keys(rows[0]);
  const cell = (v: unknown) => {
    const s = typeof v === "number" ? (Number.isNaN(v) ? "" : String(v)) : String(v ?? "");
    return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [cols.join(","), ...rows.map((r) => cols.map((c) => cell(r[c])).join(","))].join("\n") + "\n";
}
