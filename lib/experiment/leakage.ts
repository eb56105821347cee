/**
 * The seed project's mistake, measured: features that include the impression's own day, and a random
 * split, each inflate offline AUC. The same logistic regression (an experiment spec, run by runExperiment)
 * on the four combinations, each scored on its own test rows beside the oracle's AUC there (the honest ceiling).
 */
import pl from "nodejs-polars";
import type { RunConfig } from "../config.ts";
import type { CleanSchema } from "../data/etl.ts";
import { buildTable, normalizedFeatures, SPLITS } from "../features/table.ts";
import { runExperiment } from "./run.ts";

export interface LeakageRow {
  features: "including the current day (seed)" | "strictly before the day";
  split: "random" | "temporal";
  /** The experiment's name in the run's results. */
  model: string;
  testRows: number;
  testAuc: number;
  /** The oracle's AUC on the same test rows; "n/a" for data without one. */
  oracleAuc: number | "n/a";
}

/** `events`: the cleaned impressions; `schema`: the cleaned data's spec. Results are recorded under `stage`. */
export async function leakageContrast(
  events: pl.DataFrame,
  cfg: RunConfig,
  o: { stage: string; epochs?: number; schema?: CleanSchema },
): Promise<LeakageRow[]> {
  const out: LeakageRow[] = [];
  for (const includeCurrentDay of [true, false]) {
    for (const mode of ["random", "temporal"] as const) {
      const { table, manifest } = await buildTable(events, {
        includeCurrentDay,
        split: { mode },
        schema: o.schema,
      });
      const withN = table.withColumns(...normalizedFeatures(manifest));
      const frames = Object.fromEntries(
        SPLITS.map((s) => [s, withN.filter(pl.col("split").eq(pl.lit(s)))]),
      ) as Record<typeof SPLITS[number], pl.DataFrame>;
      const name = `LR-${includeCurrentDay ? "leaky" : "honest"}-${mode}`;
      const r = await runExperiment(
        {
          name,
          stage: o.stage,
          model: "LR",
          tasks: "single",
          slices: [],
          fit: { epochs: o.epochs ?? 2, patience: undefined, reduceOnPlateau: undefined },
        },
        cfg,
        { tables: { manifest, frames } },
      );
      out.push({
        features: includeCurrentDay ? "including the current day (seed)" : "strictly before the day",
        split: mode,
        model: name,
        testRows: r.test.probs.length,
        testAuc: r.test.auc,
        oracleAuc: r.oracle?.test ?? "n/a",
      });
    }
  }
  return out;
}
