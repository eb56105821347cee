/**
 * The tables an experiment trains and scores on, built from its input spec: the run's training table
 * (table/split=*), joined with behaviour sequences, text indices, cold-start flags or item-vector indices as
 * asked, packed once. Loaded tables are kept for the next experiment with the same inputs (04's zoo trains five
 * models on two input sets), so a notebook reads and packs each table once.
 */
import pl from "nodejs-polars";
import type { RunConfig } from "../config.ts";
import { withItemVecIndex } from "../embed/fuse.ts";
import { behaviourSequences, withSequenceIndex } from "../features/sequence.ts";
import {
  loadEvents,
  type Manifest,
  readManifest,
  readSplit,
  type SplitName,
  SPLITS,
} from "../features/table.ts";
import { joinTextIndex, loadTextFeatures, type TextFeatures, withMeanForMissing } from "../text/features.ts";
import type { TableData } from "../train/data.ts";
import {
  fallbackFlags,
  sceneLossWeights,
  tableData,
  type TableOptions,
  vocabSizes,
} from "../train/tables.ts";
import type { ModelDims } from "./models.ts";
import type { ResolvedSpec } from "./spec.ts";
import { timed } from "../util/profile.ts";

/** Item vectors from 07_text (lib/embed): one row per item id, mixed by α on request. */
export interface ItemVectors {
  itemIds: string[];
  k: number;
  fused(alpha: number): Float32Array;
}

/** Split frames built elsewhere (02's leakage experiment builds tables with other feature timings and splits). */
export interface GivenTables {
  manifest: Manifest;
  frames: Record<SplitName, pl.DataFrame>;
}

export interface ExperimentData {
  manifest: Manifest;
  frames: Record<SplitName, pl.DataFrame>;
  tables: Record<SplitName, TableData>;
  text?: TextFeatures;
  dims: ModelDims;
}

export interface DataSources {
  itemVectors?: ItemVectors;
  tables?: GivenTables;
}

const cache = new Map<string, ExperimentData>();
const CACHE_SIZE = 2;

/** The experiment's tables (cached by data folder, inputs and tasks; never when tables or item vectors are passed in). */
export async function experimentData(
  spec: ResolvedSpec,
  cfg: RunConfig,
  src: DataSources = {},
): Promise<ExperimentData> {
  return timed("data", async () => {
    const key = JSON.stringify([
      cfg.dataDir,
      cfg.runDir,
      cfg.seed,
      spec.inputs,
      spec.tasks,
      spec.params.seqLen ?? 0,
      !!spec.params.sceneFactors,
    ]);
    const cacheable = !src.tables && !src.itemVectors;
    const have = cacheable ? cache.get(key) : undefined;
    if (have) return have;
    const d = await load(spec, cfg, src);
    if (cacheable) {
      cache.set(key, d);
      while (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
    }
    return d;
  });
}

async function load(spec: ResolvedSpec, cfg: RunConfig, src: DataSources): Promise<ExperimentData> {
  const i = spec.inputs, tableDir = `${cfg.dataDir}/table`;
  const manifest = src.tables?.manifest ?? readManifest(tableDir);
  const text = i.text ? await loadTextFeatures(`${cfg.runDir}/text`) : undefined;
  const seqLen = i.sequence ? spec.params.seqLen as number : 0;
  const seq = seqLen
    ? behaviourSequences(
      loadEvents(`${cfg.dataDir}/clean`),
      pl.readParquet(`${tableDir}/vocab_item_id.parquet`),
      { length: seqLen },
    )
    : undefined;
  if (i.itemVec && !src.itemVectors) {
    throw new Error(`${spec.name}: inputs.itemVec needs the item vectors (07_text's buildItemEmbeddings)`);
  }
  const frames = Object.fromEntries(SPLITS.map((s) => {
    let f = src.tables?.frames[s] ?? readSplit(tableDir, s, manifest);
    if (text) f = joinTextIndex(f, text).sort("row_id");
    if (i.fallback) f = f.withColumns(...fallbackFlags(s, { seed: cfg.seed, ...i.fallback }));
    if (seq) f = withSequenceIndex(f, seq);
    if (i.itemVec) f = withItemVecIndex(f, src.itemVectors!.itemIds);
    return [s, f];
  })) as Record<SplitName, pl.DataFrame>;
  const k = text?.k ?? 0;
  const mean = (t: Float32Array) => i.fallback ? withMeanForMissing(t, k) : t;
  const scenes = spec.tasks === "scenes";
  const opts: TableOptions = {
    scenesAsTasks: scenes,
    taskWeights: i.sceneWeights ? sceneLossWeights(frames.train, manifest.scenes) : undefined,
    text: text ? { user: mean(text.tables.user), item: mean(text.tables.item), k } : undefined,
    fallback: !!i.fallback,
    sequence: seq,
    itemVec: i.itemVec
      ? { table: src.itemVectors!.fused(i.itemVec.alpha), k: src.itemVectors!.k }
      : undefined,
    // a single-task model with the scene-wise factorisation term reads its row's scene
    sceneOneHot: spec.params.sceneFactors && !scenes ? manifest.scenes : undefined,
  };
  const tables = Object.fromEntries(SPLITS.map((s) => [s, tableData(frames[s], manifest, opts)])) as Record<
    SplitName,
    TableData
  >;
  const dims: ModelDims = {
    dense: manifest.features.length,
    ...vocabSizes(manifest),
    scenes: manifest.scenes,
    tasks: scenes ? manifest.scenes : 1,
    ...(text ? { text: k } : {}),
    ...(i.fallback ? { fallback: true } : {}),
    ...(i.itemVec ? { itemVec: src.itemVectors!.k } : {}),
    ...(seqLen ? { seqLen } : {}),
  };
  return { manifest, frames, tables, text, dims };
}
