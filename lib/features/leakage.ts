/**
 * The seed project's mistake, measured: features that include the impression's own day, and a random
 * split, each inflate offline AUC. Trains the same quick logistic regression on the four combinations and
 * scores each on its own test rows, beside the oracle's AUC on those rows (the honest ceiling).
 */
import pl from "nodejs-polars";
import { auc } from "../eval/metrics.ts";
import { compile } from "../graph/program.ts";
import { logistic } from "../models/logistic.ts";
import { loadBackend } from "../train/backend.ts";
import { TrainSession } from "../train/session.ts";
import { evaluateTable, fit } from "../train/trainer.ts";
import { tableData } from "../train/tables.ts";
import type { CleanSchema } from "../data/etl.ts";
import { buildTable, normalizedFeatures } from "./table.ts";

export interface LeakageRow {
  features: "including the current day (seed)" | "strictly before the day";
  split: "random" | "temporal";
  testRows: number;
  testAuc: number;
  /** The oracle's AUC on the same test rows; "n/a" for data without one. */
  oracleAuc: number | "n/a";
}

/** `events` may carry p_true (joined by row_id) for the oracle column; `schema`: the cleaned data's spec. */
export async function leakageContrast(events: pl.DataFrame, o: { epochs?: number; seed?: number; schema?: CleanSchema } = {}): Promise<LeakageRow[]> {
  const oracle = events.columns.includes("p_true");
  const out: LeakageRow[] = [];
  const backend = await loadBackend("node");
  for (const includeCurrentDay of [true, false]) {
    for (const mode of ["random", "temporal"] as const) {
      const { table, manifest } = await buildTable(oracle ? events.drop("p_true") : events, { includeCurrentDay, split: { mode }, schema: o.schema });
      const withP = (oracle ? table.join(events.select("row_id", "p_true"), { on: "row_id", how: "left" }) : table).withColumns(...normalizedFeatures(manifest));
      const part = (s: string) => withP.filter(pl.col("split").eq(pl.lit(s)));
      const [train, val, test] = ["train", "val", "test"].map((s) => tableData(part(s), manifest));
      const s = await TrainSession.create(compile(logistic({ dense: manifest.features.length }), { optimizer: { type: "adam" } }), backend, { seed: o.seed ?? 1 });
      await fit(s, train, val, { epochs: o.epochs ?? 2, batchSize: 1024, lr: 0.01, progressLabel: false });
      const ev = await evaluateTable(s, test);
      const pTrue = oracle ? part("test").getColumn("p_true").toTypedArray() as Float32Array : null;
      out.push({
        features: includeCurrentDay ? "including the current day (seed)" : "strictly before the day",
        split: mode, testRows: test.rows, testAuc: ev.auc, oracleAuc: pTrue ? auc(test.labels, pTrue) : "n/a",
      });
      await s.release();
    }
  }
  return out;
}
