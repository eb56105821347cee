/** The embedded default dataset: generated once per (rows, seed, corruption rate), reused afterwards. */
import pl from "nodejs-polars";
import type { RunConfig } from "../config.ts";
import { GENERATOR_VERSION, generateItemImages, generateLogs, ITEM_TRUTH, type SynthManifest } from "./synth.ts";

export async function readManifest(dataDir: string): Promise<SynthManifest | null> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dataDir}/manifest.json`));
  } catch {
    return null;
  }
}

/** Generate the dataset for `cfg` unless an identical one is already in place. */
export async function ensureDataset(cfg: RunConfig, log: (s: string) => void = console.log): Promise<SynthManifest> {
  const have = await readManifest(cfg.dataDir);
  if (have && have.version === GENERATOR_VERSION && have.rows === cfg.rows && have.seed === cfg.seed && have.options?.corruptRate === cfg.corruptRate) {
    // datasets generated before item images existed get them (deterministic from the same world; logs untouched)
    const hasImages = await Deno.stat(`${cfg.dataDir}/${ITEM_TRUTH}`).then(() => true, () => false);
    if (!hasImages) await generateItemImages({ rows: cfg.rows, seed: cfg.seed, corruptRate: cfg.corruptRate, outDir: cfg.dataDir });
    return have;
  }
  log(`generating ${cfg.rows.toLocaleString("en-US")} synthetic AntM2C rows into ${cfg.dataDir}`);
  const t0 = performance.now();
  const m = await generateLogs({ rows: cfg.rows, seed: cfg.seed, corruptRate: cfg.corruptRate, outDir: cfg.dataDir });
  log(`generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return m;
}

/** The generator's true click probability joined onto cleaned rows by row_id (never by position). */
export function withOracle(clean: pl.LazyDataFrame, dataDir: string) {
  return clean.join(pl.scanParquet(`${dataDir}/oracle.parquet`), { on: "row_id", how: "left" });
}

/** The true click probability (`p_true`) joined onto any frame with row_id. */
export function joinOracle(df: pl.DataFrame, dataDir: string): pl.DataFrame {
  return df.join(pl.readParquet(`${dataDir}/oracle.parquet`), { on: "row_id", how: "left" });
}
