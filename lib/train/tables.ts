/** The standard model inputs of a ctrlab training table: normalised behaviour features and id indices. */
import type pl from "nodejs-polars";
import type { Manifest } from "../features/table.ts";
import { type InputColumns, TableData } from "./data.ts";

export interface TableOptions {
  scenesAsTasks?: boolean;
  /** Per-scene loss weights (with scenes as tasks). */
  taskWeights?: number[];
  /** Whitened text tables ((n+1) × k per side), looked up by the user_text_idx / item_text_idx columns. */
  text?: { user: Float32Array; item: Float32Array; k: number };
  /** Cold-start fallback flags from the user_cold / item_cold columns. */
  fallback?: boolean;
}

/**
 * Column mapping for models that take "dense", "user_id" and "item_id" (and optionally scenes as tasks, text
 * vectors and cold flags).
 */
export function standardColumns(manifest: Manifest, o: TableOptions = {}): InputColumns {
  return {
    dense: manifest.features.map((f) => `n_${f.name}`),
    ids: { user_id: "user_idx", item_id: "item_idx" },
    label: "label",
    ...(o.scenesAsTasks ? { task: { column: "scene", tasks: manifest.scenes } } : {}),
    ...(o.taskWeights ? { taskWeights: o.taskWeights } : {}),
    ...(o.text ? {
      lookups: {
        user_text: { column: "user_text_idx", table: o.text.user, width: o.text.k },
        item_text: { column: "item_text_idx", table: o.text.item, width: o.text.k },
      },
    } : {}),
    ...(o.fallback ? { floats: { user_cold: "user_cold", item_cold: "item_cold" } } : {}),
  };
}

export function tableData(df: pl.DataFrame, manifest: Manifest, o: TableOptions = {}): TableData {
  return TableData.fromDataFrame(df, standardColumns(manifest, o));
}

/** Vocabulary sizes for embedding tables, from the manifest. */
export function vocabSizes(manifest: Manifest): { userVocab: number; itemVocab: number } {
  return { userVocab: manifest.vocabs.user_id.size, itemVocab: manifest.vocabs.item_id.size };
}
