/** The standard model inputs of a ctrlab training table: normalised behaviour features and id indices. */
import pl from "nodejs-polars";
import type { BehaviourSequences } from "../features/sequence.ts";
import { COLD_BELOW } from "../features/summary.ts";
import type { Manifest } from "../features/table.ts";
import { unitHash } from "../util/frame.ts";
import { type InputColumns, TableData } from "./data.ts";

export interface FallbackOptions {
  /** Ids with fewer training impressions than this use the text fallback (default COLD_BELOW, 5). */
  coldBelow?: number;
  /** While training, this share of further rows (a seeded row_id hash) use it too (default 0.1). */
  dropRate?: number;
  seed?: number;
}

/** user_cold / item_cold flags: few training impressions, or (training split only) a seeded row_id hash below `dropRate`. */
export function fallbackFlags(split: string, o: FallbackOptions): pl.Expr[] {
  const below = o.coldBelow ?? COLD_BELOW, rate = split === "train" ? o.dropRate ?? 0.1 : 0;
  return (["user", "item"] as const).map((side, k) => {
    const drop = unitHash("row_id", (o.seed ?? 7) + k).lt(pl.lit(rate));
    return pl.col(`${side[0]}_train_imp`).lt(pl.lit(below)).or(drop).cast(pl.Float32).alias(`${side}_cold`);
  });
}

export interface TableOptions {
  scenesAsTasks?: boolean;
  /** Per-scene loss weights (with scenes as tasks). */
  taskWeights?: number[];
  /** Whitened text tables ((n+1) × k per side), looked up by the user_text_idx / item_text_idx columns. */
  text?: { user: Float32Array; item: Float32Array; k: number };
  /** Cold-start fallback flags from the user_cold / item_cold columns. */
  fallback?: boolean;
  /** Behaviour sequences (inputs hist_item, hist_scene, hist_mask), looked up by the seq_idx column. */
  sequence?: BehaviourSequences;
  /** A per-item vector table ((n × k), input item_vec), looked up by the item_vec_idx column. */
  itemVec?: { table: Float32Array; k: number };
  /** The row's scene one-hot (input scene_onehot [B, scenes]), for single-task models that weigh by scene. */
  sceneOneHot?: number;
}

/**
 * Column mapping for models that take "dense", "user_id" and "item_id" (and optionally scenes as tasks, text
 * vectors and cold flags).
 */
export function standardColumns(manifest: Manifest, o: TableOptions = {}): InputColumns {
  return {
    dense: manifest.features.map((f) => `n_${f.name}`),
    ids: {
      user_id: "user_idx",
      item_id: "item_idx",
      ...Object.fromEntries((manifest.categorical ?? []).map((c, k) => [`field_${k}`, `${c}_idx`])),
    },
    label: "label",
    ...(o.scenesAsTasks ? { task: { column: "scene", tasks: manifest.scenes } } : {}),
    ...(o.taskWeights ? { taskWeights: o.taskWeights } : {}),
    lookups: {
      ...(o.text
        ? {
          user_text: { column: "user_text_idx", table: o.text.user, width: o.text.k },
          item_text: { column: "item_text_idx", table: o.text.item, width: o.text.k },
        }
        : {}),
      ...(o.sequence
        ? {
          hist_item: { column: "seq_idx", table: o.sequence.items, width: o.sequence.length },
          hist_scene: { column: "seq_idx", table: o.sequence.scenes, width: o.sequence.length },
          hist_mask: { column: "seq_idx", table: o.sequence.mask, width: o.sequence.length },
        }
        : {}),
      ...(o.itemVec
        ? { item_vec: { column: "item_vec_idx", table: o.itemVec.table, width: o.itemVec.k } }
        : {}),
      ...(o.sceneOneHot
        ? { scene_onehot: { column: "scene", table: identity(o.sceneOneHot), width: o.sceneOneHot } }
        : {}),
    },
    ...(o.fallback ? { floats: { user_cold: "user_cold", item_cold: "item_cold" } } : {}),
  };
}

export function tableData(df: pl.DataFrame, manifest: Manifest, o: TableOptions = {}): TableData {
  return TableData.fromDataFrame(df, standardColumns(manifest, o));
}

/** Vocabulary sizes for embedding tables, from the manifest (and the spec's categorical fields, when it has any). */
export function vocabSizes(manifest: Manifest): { userVocab: number; itemVocab: number; fields?: number[] } {
  const fields = (manifest.categorical ?? []).map((c) => manifest.vocabs[c].size);
  return {
    userVocab: manifest.vocabs.user_id.size,
    itemVocab: manifest.vocabs.item_id.size,
    ...(fields.length ? { fields } : {}),
  };
}

/** Per-scene loss weights ∝ share^−½, scaled so the training rows' mean weight is 1. */
export function sceneLossWeights(train: pl.DataFrame, scenes: number): number[] {
  const counts = new Array<number>(scenes).fill(0);
  for (const s of train.getColumn("scene").toArray() as number[]) counts[s]++;
  const raw = counts.map((n) => n ? Math.sqrt(train.height / scenes / n) : 0);
  const mean = counts.reduce((a, n, s) => a + n * raw[s], 0) / train.height;
  return raw.map((w) => w / mean);
}

/** The n × n identity, row-major: row s is scene s's one-hot. */
function identity(n: number): Float32Array {
  return Float32Array.from({ length: n * n }, (_, i) => i % (n + 1) === 0 ? 1 : 0);
}
