/**
 * Where a run's data comes from. The embedded default is generated once per (rows, seed, corruption rate) and
 * reused. A user's own logs are only ever read: everything derived from them (clean/, table/, caches) goes to
 * a work folder ctrlab owns, keyed by the input's path and spec, and cleared when the input's files change.
 */
import pl from "nodejs-polars";
import { createHash } from "node:crypto";
import { rawInput, type RunConfig, workRoot } from "../config.ts";
import { listInputFiles, specFor } from "./etl.ts";
import { loadSpec, type ResolvedSpec } from "./spec.ts";
import {
  assertGeneratorFolder,
  generateItemImages,
  generateLogs,
  GENERATOR_VERSION,
  ITEM_TRUTH,
  type SynthManifest,
} from "./synth.ts";
import { timed } from "../util/profile.ts";

export const ORACLE_FILE = "oracle.parquet";
const INPUT_RECORD = "input.json";

export async function readSynthManifest(dataDir: string): Promise<SynthManifest | null> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dataDir}/manifest.json`));
  } catch {
    return null;
  }
}

/** The work folder for a user's input: data/own-<name>-<hash of the input's real path and spec>. */
export function ownDataDir(input: string, spec?: string, root = workRoot()): string {
  const real = Deno.realPathSync(input);
  const key = createHash("sha1").update(`${real}\n${spec ? specKey(spec) : ""}`).digest("hex").slice(0, 10);
  const name = real.split("/").filter(Boolean).pop()?.replace(/[^A-Za-z0-9_.-]/g, "_") ?? "input";
  return `${root}/own-${name}-${key}`;
}

/** A spec argument as a stable key: a built-in name as is, a file by its real path. */
function specKey(spec: string): string {
  try {
    return Deno.realPathSync(spec);
  } catch {
    return spec;
  }
}

/** Files of the input with size and modification time: derived data is reused only while this is unchanged. */
async function inputFingerprint(
  input: string,
  spec: ResolvedSpec,
): Promise<{ file: string; size: number; mtime: number | null }[]> {
  const files = await listInputFiles(input, spec.files);
  return files.map((f) => {
    const st = Deno.statSync(f);
    return { file: f, size: st.size, mtime: st.mtime?.getTime() ?? null };
  });
}

/** `p` with symbolic links resolved as far as it exists (the rest appended as written). */
function resolvedPath(p: string): string {
  const rest: string[] = [];
  let d = p.startsWith("/") ? p : `${Deno.cwd()}/${p}`;
  for (;;) {
    try {
      return [Deno.realPathSync(d), ...rest.reverse()].join("/").replace(/\/+/g, "/");
    } catch {
      rest.push(d.slice(d.lastIndexOf("/") + 1));
      d = d.slice(0, d.lastIndexOf("/")) || "/";
    }
  }
}

const within = (inner: string, outer: string) =>
  inner === outer || inner.startsWith(outer.endsWith("/") ? outer : outer + "/");

/** Refuse a folder ctrlab writes that overlaps the user's input (inside it, or holding it): the input is only read. */
export function assertOutside(input: string, dir: string, what: string): void {
  const real = resolvedPath(input), out = resolvedPath(dir);
  if (within(out, real)) {
    throw new Error(
      `the ${what} ${dir} lies inside the input ${input}, which ctrlab only reads; set CTRLAB_WORK_ROOT (work folders) or --run-id / CTRLAB_RUN_DIR to a place outside it`,
    );
  }
  if (within(real, out)) {
    throw new Error(
      `the input ${input} lies inside the ${what} ${dir}, which ctrlab rewrites; point --data at logs outside it`,
    );
  }
}

/** The resolved spec of a run's input (named, from a file, or recognised from the header). */
export async function runSpec(cfg: RunConfig): Promise<ResolvedSpec> {
  return await specFor(rawInput(cfg), cfg.spec ? await loadSpec(cfg.spec) : undefined);
}

/**
 * Make the run's data ready. Own logs: check the spec against them (an unknown header stops here, with a spec
 * to start from), keep the work folder outside the input, and clear derived data when the input changed.
 * The default: generate unless an identical dataset is already in place. Returns the generator's manifest (null for own logs).
 */
export async function ensureDataset(
  cfg: RunConfig,
  log: (s: string) => void = console.log,
): Promise<SynthManifest | null> {
  return timed("data", async () => {
    if (cfg.input) {
      const spec = await runSpec(cfg);
      assertOutside(cfg.input, cfg.dataDir, "work folder");
      assertOutside(cfg.input, cfg.runDir, "run folder");
      const fingerprint = await inputFingerprint(cfg.input, spec);
      const record = { input: Deno.realPathSync(cfg.input), spec: cfg.spec ?? spec.name, fingerprint };
      let before: typeof record | null = null;
      try {
        before = JSON.parse(await Deno.readTextFile(`${cfg.dataDir}/${INPUT_RECORD}`));
      } catch { /* a new work folder */ }
      if (before && JSON.stringify(before) !== JSON.stringify(record)) {
        log(`the input changed since ${cfg.dataDir} was built: clearing its derived data`);
        await Deno.remove(cfg.dataDir, { recursive: true });
      }
      await Deno.mkdir(cfg.dataDir, { recursive: true });
      await Deno.writeTextFile(`${cfg.dataDir}/${INPUT_RECORD}`, JSON.stringify(record, null, 2));
      log(
        `own logs: ${cfg.input} (spec ${spec.name}, ${fingerprint.length} file${
          fingerprint.length === 1 ? "" : "s"
        }); work folder ${cfg.dataDir}`,
      );
      return null;
    }
    const have = await readSynthManifest(cfg.dataDir);
    if (
      have && have.version === GENERATOR_VERSION && have.rows === cfg.rows && have.seed === cfg.seed &&
      have.options?.corruptRate === cfg.corruptRate
    ) {
      // datasets generated before item images existed get them (deterministic from the same world; logs untouched)
      const hasImages = await Deno.stat(`${cfg.dataDir}/${ITEM_TRUTH}`).then(() => true, () => false);
      if (!hasImages) {
        await generateItemImages({
          rows: cfg.rows,
          seed: cfg.seed,
          corruptRate: cfg.corruptRate,
          outDir: cfg.dataDir,
        });
      }
      return have;
    }
    await assertGeneratorFolder(cfg.dataDir); // a folder the generator did not write is never replaced
    log(`generating ${cfg.rows.toLocaleString("en-US")} synthetic AntM2C rows into ${cfg.dataDir}`);
    const t0 = performance.now();
    const m = await generateLogs({
      rows: cfg.rows,
      seed: cfg.seed,
      corruptRate: cfg.corruptRate,
      outDir: cfg.dataDir,
    });
    log(`generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return m;
  });
}

/** Whether the run's data has a known true click probability (only the generator's does). */
export function hasOracle(dataDir: string): boolean {
  try {
    return Deno.statSync(`${dataDir}/${ORACLE_FILE}`).isFile;
  } catch {
    return false;
  }
}

/** The generator's true click probability (`p_true`) joined onto any frame with row_id; null when the data has no oracle. */
export function joinOracle(df: pl.DataFrame, dataDir: string): pl.DataFrame | null {
  if (!hasOracle(dataDir)) return null;
  return df.join(pl.readParquet(`${dataDir}/${ORACLE_FILE}`), { on: "row_id", how: "left" });
}

/** p_true aligned with `df`'s rows (joined by row_id, never by position), or null without an oracle. */
export function oracleProbs(df: pl.DataFrame, dataDir: string): Float64Array | null {
  const j = joinOracle(df.select("row_id").withRowIndex("__order"), dataDir);
  return j ? Float64Array.from(j.sort("__order").getColumn("p_true").toArray() as number[]) : null;
}
