/**
 * The model package a run leaves in artifacts/<run-id>/: everything needed to score new raw logs without the
 * notebooks — the ONNX inference model and what it expects (model/), the feature manifest and vocabularies
 * (table/), the text embedder and whitening (text/), the impression history that point-in-time features are
 * rebuilt from (history.parquet), and the run configuration (config.json).
 */
import pl from "nodejs-polars";
import type { RunConfig } from "../config.ts";
import { type CleanSchema, readCleanSchema, SCHEMA_FILE } from "../data/etl.ts";
import { loadEvents, type Manifest, readManifest } from "../features/table.ts";
import type { TableData } from "../train/data.ts";
import { loadBackend, type Session } from "../train/backend.ts";
import { batchFeeds } from "../train/session.ts";
import { loadTextFeatures, type TextFeatures } from "../text/features.ts";
import { readExperiment } from "../experiment/run.ts";
import { timed } from "../util/profile.ts";

export interface ModelInfo {
  /** Model name as in the results table ("MMoE+text"): the stage with the best validation AUC. */
  model: string;
  stage: string;
  /** Scenes as tasks: the probability of a row is its scene's column. */
  scenes: number;
  /** Whitened text width (0: the model takes no text). */
  text: number;
  /** Cold-start fallback threshold on training impressions (absent: no fallback). */
  coldBelow?: number;
  /** The inference model's inputs; "B" marks the batch dimension. */
  inputs: { name: string; dtype: "float32" | "int64"; shape: (number | string)[] }[];
  createdAt: string;
}

export interface ModelPackage {
  dir: string;
  info: ModelInfo;
  manifest: Manifest;
  /** The dataset spec and scene list the model was trained on (new logs are read with them). */
  schema: CleanSchema;
  vocabs: Record<string, pl.DataFrame>;
  text?: TextFeatures;
  session: Session;
}

export const SCORE_BATCH = 8192;

/** Inputs `predict` can rebuild from raw logs (no behaviour sequences or item vectors yet). */
const SERVABLE = /^(dense|user_id|item_id|field_\d+|user_text|item_text|user_cold|item_cold)$/;

/**
 * Write the package for an experiment of this run (its saved inference model and spec, lib/experiment). The
 * history is every cleaned impression (the labels a deployed scorer would have seen by the end of the data);
 * `predict` uses only the days before the rows it scores.
 */
export async function writePackage(cfg: RunConfig, model: string): Promise<ModelInfo> {
  return timed("writing", async () => {
    const rec = readExperiment(cfg.runDir, model), dir = cfg.runDir;
    const unservable = rec.inputs.filter((i) => !SERVABLE.test(i.name)).map((i) => i.name);
    if (unservable.length) {
      throw new Error(`${model}: predict cannot rebuild the inputs ${unservable.join(", ")} from raw logs`);
    }
    await Deno.mkdir(`${dir}/model`, { recursive: true });
    await Deno.mkdir(`${dir}/table`, { recursive: true });
    await Deno.copyFile(`${dir}/${rec.model}`, `${dir}/model/model.onnx`);
    const full: ModelInfo = {
      model,
      stage: rec.spec.stage,
      scenes: rec.tasks,
      text: rec.text,
      ...(rec.coldBelow !== undefined ? { coldBelow: rec.coldBelow } : {}),
      inputs: rec.inputs,
      createdAt: new Date().toISOString(),
    };
    await Deno.writeTextFile(`${dir}/model/model.json`, JSON.stringify(full, null, 2));
    for await (const e of Deno.readDir(`${cfg.dataDir}/table`)) {
      if (e.isFile && (e.name === "manifest.json" || e.name.startsWith("vocab_"))) {
        await Deno.copyFile(`${cfg.dataDir}/table/${e.name}`, `${dir}/table/${e.name}`);
      }
    }
    await Deno.copyFile(`${cfg.dataDir}/clean/${SCHEMA_FILE}`, `${dir}/table/${SCHEMA_FILE}`); // the dataset spec new logs are read with
    loadEvents(`${cfg.dataDir}/clean`).writeParquet(`${dir}/history.parquet`);
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(cfg, null, 2));
    return full;
  });
}

export async function loadPackage(dir: string): Promise<ModelPackage> {
  let info: ModelInfo;
  try {
    info = JSON.parse(await Deno.readTextFile(`${dir}/model/model.json`));
  } catch {
    throw new Error(
      `${dir} is not a ctrlab model package (no model/model.json; run the notebooks through 09_fallback first)`,
    );
  }
  const manifest = readManifest(`${dir}/table`);
  const vocabs = Object.fromEntries(
    ["user_id", "item_id", ...manifest.categorical ?? []].map((
      c,
    ) => [c, pl.readParquet(`${dir}/table/vocab_${c}.parquet`)]),
  );
  const schema = readCleanSchema(`${dir}/table`);
  const text = info.text ? await loadTextFeatures(`${dir}/text`) : undefined;
  const session = await (await loadBackend("node")).session(await Deno.readFile(`${dir}/model/model.onnx`));
  return { dir, info, manifest, schema, vocabs, text, session };
}

/** Each row's click probability (its scene's column) from the package's inference model. */
export async function scoreTable(pkg: ModelPackage, data: TableData): Promise<Float32Array> {
  const backend = await loadBackend("node");
  const T = pkg.info.scenes, out = new Float32Array(data.rows);
  for (const { batch, rows, start } of data.batches(data.order(0, 0, false), SCORE_BATCH)) {
    const feeds = batchFeeds(backend, batch, rows, pkg.info.inputs);
    const prob = await backend.read((await pkg.session.run(feeds)).prob) as Float32Array;
    for (let r = 0; r < rows; r++) out[start + r] = T > 1 ? prob[r * T + data.task![start + r]] : prob[r];
  }
  return out;
}
