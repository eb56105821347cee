/** The standard model inputs of a ctrlab training table: normalised behaviour features and id indices. */
import type pl from "nodejs-polars";
import type { Manifest } from "../features/table.ts";
import { type InputColumns, TableData } from "./data.ts";

/** Column mapping for models that take "dense", "user_id" and "item_id" (and optionally scenes as tasks). */
export function standardColumns(manifest: Manifest, o: { scenesAsTasks?: boolean } = {}): InputColumns {
  return {
    dense: manifest.features.map((f) => `n_${f.name}`),
    ids: { user_id: "user_idx", item_id: "item_idx" },
    label: "label",
    ...(o.scenesAsTasks ? { task: { column: "scene", tasks: manifest.scenes } } : {}),
  };
}

export function tableData(df: pl.DataFrame, manifest: Manifest, o: { scenesAsTasks?: boolean } = {}): TableData {
  return TableData.fromDataFrame(df, standardColumns(manifest, o));
}

/** Vocabulary sizes for embedding tables, from the manifest. */
export function vocabSizes(manifest: Manifest): { userVocab: number; itemVocab: number } {
  return { userVocab: manifest.vocabs.user_id.size, itemVocab: manifest.vocabs.item_id.size };
}
