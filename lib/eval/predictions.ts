/** Model predictions saved per run, keyed by row_id (never by position), so later notebooks can compare models row by row. */
import pl from "nodejs-polars";
import { lookupJoin } from "../util/frame.ts";
import { timed } from "../util/profile.ts";

export const predictionsPath = (runDir: string, model: string, split: string) =>
  `${runDir}/predictions/${model}_${split}.parquet`;

export async function savePredictions(
  runDir: string,
  model: string,
  split: string,
  rowIds: pl.Series,
  probs: Float32Array,
): Promise<void> {
  return timed("writing", async () => {
    if (rowIds.length !== probs.length) {
      throw new Error(`savePredictions: ${rowIds.length} row ids, ${probs.length} predictions`);
    }
    await Deno.mkdir(`${runDir}/predictions`, { recursive: true });
    pl.DataFrame({ row_id: rowIds.cast(pl.Int64), prob: pl.Series("prob", probs) }).writeParquet(
      predictionsPath(runDir, model, split),
    );
  });
}

/** Another model's predictions aligned to `rowIds` (throws if any row is missing). */
export function alignedPredictions(
  runDir: string,
  model: string,
  split: string,
  rowIds: pl.Series,
): Float32Array {
  return timed("data", () => {
    const preds = pl.readParquet(predictionsPath(runDir, model, split));
    const joined = lookupJoin(
      pl.DataFrame({ row_id: rowIds.cast(pl.Int64) }),
      preds,
      "row_id",
      "prob",
      `${split} prediction from ${model}`,
    );
    return joined.getColumn("prob").cast(pl.Float32).toTypedArray() as Float32Array;
  });
}
