/**
 * A hyper-parameter chosen the honest way: one experiment per value of a parameter, each recorded like any
 * other, and the value with the best validation AUC chosen — the test AUC is reported beside it, never used.
 */
import type { RunConfig } from "../config.ts";
import { fmtDelta } from "../eval/slices.ts";
import type { Params } from "./models.ts";
import { runExperiment } from "./run.ts";
import type { ExperimentSpec } from "./spec.ts";

export interface SweepRow {
  name: string;
  value: Params[string];
  "val AUC": number;
  "test AUC": number;
  "vs baseline": string;
  chosen: boolean;
}

export async function sweep(
  spec: ExperimentSpec,
  param: string,
  values: Params[string][],
  cfg: RunConfig,
): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const value of values) {
    const name = `${spec.name ?? spec.model}(${param}=${value})`;
    const r = await runExperiment({ ...spec, name, params: { ...spec.params, [param]: value } }, cfg);
    rows.push({
      name,
      value,
      "val AUC": r.val.auc,
      "test AUC": r.test.auc,
      "vs baseline": r.versus ? fmtDelta(r.versus.all[0]) : "",
      chosen: false,
    });
  }
  rows.reduce((a, b) => b["val AUC"] > a["val AUC"] ? b : a).chosen = true;
  return rows;
}
