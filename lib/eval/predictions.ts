/** Model predictions saved per run, keyed by row_id (never by position), so later notebooks can compare models row by row. */
import pl from "nodejs-polars";

export const predictionsPath = (runDir: string, model: string, split: string) => `${runDir}/predictions/${model}_${split}.parquet`;

export async function savePredictions(runDir: string, model: string, split: string, rowIds: pl.Series, probs: Float32Array): Promise<void> {
  if (rowIds.length !== probs.length) throw new Error(`savePredictions: ${rowIds.length} row ids, ${probs.length} predictions`);
  await Deno.mkdir(`${runDir}/predictions`, { recursive: true });
  pl.DataFrame({ row_id: rowIds.cast(pl.Int64), prob: pl.Series("prob", probs) }).writeParquet(predictionsPath(runDir, model, split));
}

/** Another model's predictions aligned to `rowIds` (throws if any row is missing). */
export function alignedPredictions(runDir: string, model: string, split: string, rowIds: pl.Series): Float32Array {
  const preds = pl.readParquet(predictionsPath(runDir, model, split));
  const joined = pl.DataFrame({ row_id: rowIds.cast(pl.Int64) }).join(preds, { on: "row_id", how: "left" });
  const missing = joined.getColumn("prob").nullCount();
  if (missing) throw new Error(`${model} has no ${split} prediction for ${missing} of these rows`);
  return joined.getColumn("prob").cast(pl.Float32).toTypedArray() as Float32Array;
}
