/**
 * Run configuration shared by the CLI, the notebooks and the tests. The notebook runner passes it to each
 * kernel through CTRLAB_* environment variables, so a notebook runs unchanged on the 10k-row test data or
 * the full default dataset.
 */
export interface RunConfig {
  /**
   * The work folder ctrlab owns for this dataset: clean/ (the ETL output), table/, text caches — and for the
   * generated default also raw/, oracle.parquet and manifest.json. Never a user's input folder.
   */
  dataDir: string;
  /** The user's own logs (a folder or file, only ever read); unset: the generated default in `<dataDir>/raw`. */
  input?: string;
  /** The dataset spec of `input`: a built-in name (antm2c, antm2c-10) or a JSON/YAML file; unset: recognised from the header. */
  spec?: string;
  /** Artifacts of this run: executed notebooks, HTML reports, metrics. */
  runDir: string;
  /** Rows of the generated default dataset. */
  rows: number;
  seed: number;
  /** Share of corrupt rows the generator injects (exercises the ETL's quarantine). */
  corruptRate: number;
  /** Models 04_dnn trains beside the DNN (lib/experiment/models.ts names); unset: all of them. */
  zoo?: string[];
  /** Where the graphs run: "auto" (a hardware WebGPU adapter, else onnxruntime-node, else wasm) or a backend's name. */
  backend: "auto" | "node" | "wasm" | "webgpu";
  /** onnxruntime-node's intra-op threads; 0: every core. Training repeats to the last bit at any count. */
  threads: number;
  /**
   * Processes at once: notebooks the runner runs side by side, and experiments a notebook trains side by side
   * (lib/experiment/pool.ts), sharing the cores between them; 0: one per core, 1: everything in turn.
   */
  jobs: number;
  /** Notebooks run by the headless runner (charts as static HTML, no live progress bars). */
  headless: boolean;
  /** Which engine runs the ETL (01) and builds the training table (03): ctrlab's own reader and nodejs-polars in this process, or Apache Spark. */
  engine: "polars" | "spark";
  /** With the Spark engine: the master URL (local[N], spark://host:port, yarn, …); unset: local with every core. */
  sparkMaster?: string;
  /**
   * With the Spark engine: settings the Spark driver starts with (spark.executor.memory, spark.executor.cores,
   * spark.sql.shuffle.partitions, …), over ctrlab's own; `--spark-conf KEY=VALUE`.
   */
  sparkConf?: Record<string, string>;
}

const ENGINES = ["polars", "spark"] as const;

/** `v` if it is one of `allowed`, else an error naming the setting and the choices. */
function oneOf<T extends string>(what: string, allowed: readonly T[], v: string): T {
  if (!(allowed as readonly string[]).includes(v)) {
    throw new Error(`${what} must be one of ${allowed.join(", ")}, got "${v}"`);
  }
  return v as T;
}

export const parseEngine = (v: string): RunConfig["engine"] => oneOf("engine", ENGINES, v);

/** Spark settings as typed, KEY=VALUE each (a key is spark.…, as spark-submit's --conf takes them); a key given twice keeps its last value. */
export function parseSparkConf(pairs: string[]): Record<string, string> {
  const conf: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("="), key = pair.slice(0, at).trim();
    if (at < 0 || !/^spark\.[\w.-]+$/.test(key)) {
      throw new Error(`spark-conf must be KEY=VALUE with a Spark setting's key (spark.…), got "${pair}"`);
    }
    conf[key] = pair.slice(at + 1);
  }
  return conf;
}

const BACKENDS = ["auto", "node", "wasm", "webgpu"] as const;

/** Execution settings of a run that names none: the automatic backend, every core, interactive display. */
export const EXECUTION_DEFAULTS: Pick<RunConfig, "backend" | "threads" | "jobs" | "headless" | "engine"> = {
  backend: "auto",
  threads: 0,
  jobs: 0,
  headless: false,
  engine: "polars",
};

export const REPO_ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
export const DEFAULT_ROWS = 1_000_000;
export const DEFAULT_SEED = 7;
export const DEFAULT_CORRUPT_RATE = 0.001;

/** Where the raw logs are: the user's input, or the generated default's raw/ folder. */
export function rawInput(cfg: RunConfig): string {
  return cfg.input ?? `${cfg.dataDir}/raw`;
}

/** Where work folders for users' own logs go (data/own-*): CTRLAB_WORK_ROOT, or the repository's data/. */
export function workRoot(): string {
  return Deno.env.get("CTRLAB_WORK_ROOT") || `${REPO_ROOT}/data`;
}

/** Directory of a generated dataset, named by its parameters so reruns reuse it. */
export function datasetDir(rows: number, seed: number, corruptRate: number): string {
  return `${REPO_ROOT}/data/synth-${rows}-s${seed}-c${corruptRate}`;
}

function num(name: string, fallback: number): number {
  const v = Deno.env.get(name);
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name}=${v} is not a number`);
  return n;
}

/** The configuration from CTRLAB_* variables, with defaults for interactive use. */
export function runConfig(): RunConfig {
  const rows = num("CTRLAB_ROWS", DEFAULT_ROWS);
  const seed = num("CTRLAB_SEED", DEFAULT_SEED);
  const corruptRate = num("CTRLAB_CORRUPT_RATE", DEFAULT_CORRUPT_RATE);
  return {
    rows,
    seed,
    corruptRate,
    dataDir: Deno.env.get("CTRLAB_DATA_DIR") || datasetDir(rows, seed, corruptRate),
    ...(Deno.env.get("CTRLAB_INPUT") ? { input: Deno.env.get("CTRLAB_INPUT") } : {}),
    ...(Deno.env.get("CTRLAB_SPEC") ? { spec: Deno.env.get("CTRLAB_SPEC") } : {}),
    runDir: Deno.env.get("CTRLAB_RUN_DIR") || `${REPO_ROOT}/artifacts/interactive`,
    zoo: parseZoo(Deno.env.get("CTRLAB_ZOO")),
    backend: parseBackend(Deno.env.get("CTRLAB_BACKEND") || "auto"),
    threads: parseThreads(Deno.env.get("CTRLAB_NODE_THREADS") || "0"),
    jobs: parseThreads(Deno.env.get("CTRLAB_JOBS") || "0", "jobs"),
    headless: Deno.env.get("CTRLAB_HEADLESS") === "1",
    engine: parseEngine(Deno.env.get("CTRLAB_ENGINE") || "polars"),
    ...(Deno.env.get("CTRLAB_SPARK_MASTER") ? { sparkMaster: Deno.env.get("CTRLAB_SPARK_MASTER") } : {}),
    ...(Deno.env.get("CTRLAB_SPARK_CONF")
      ? { sparkConf: parseSparkConf(JSON.parse(Deno.env.get("CTRLAB_SPARK_CONF")!)) }
      : {}),
  };
}

export const parseBackend = (v: string): RunConfig["backend"] => oneOf("backend", BACKENDS, v);

/** A count of threads (or notebooks at once: `what`) as typed; 0 means one per core. */
export function parseThreads(v: string, what = "threads"): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n)) {
    throw new Error(
      `${what} must be a whole number ≥ 0 (0: ${
        what === "threads" ? "every core" : "one per core"
      }), got "${v}"`,
    );
  }
  return n;
}

/** The zoo setting as written on the command line or in CTRLAB_ZOO: "DCN,DIN" → ["DCN", "DIN"]; "none" → []; unset → undefined (all). */
export function parseZoo(v: string | undefined): string[] | undefined {
  if (v === undefined || v === "") return undefined;
  return v === "none" ? [] : v.split(",").map((s) => s.trim()).filter(Boolean);
}

/** The zoo setting as a reader sees it: "all" (unset), "none" ([]) or the models named. */
export const zooLabel = (zoo: string[] | undefined) =>
  zoo === undefined ? "all" : zoo.length ? zoo.join(", ") : "none";

/** The settings that describe a run (config tables, run.json): the generator's only when it made the data. */
export function describedConfig(cfg: RunConfig): Partial<RunConfig> {
  if (!cfg.input) return { ...cfg };
  const { rows: _rows, corruptRate: _corrupt, ...rest } = cfg;
  return rest;
}

/**
 * The configuration for an experiment in a finished run's folder (`ctrlab experiment --run-id ID`): the data
 * and seed that run was made on, as its run.json recorded them, whatever the command line's defaults say — the
 * run's tables and saved predictions belong to that data. `given` names other data only when the user asked for
 * it (`dataAsked`), and then it must be the same data.
 */
export function experimentConfig(given: RunConfig, dataAsked: boolean): RunConfig {
  let recorded: Partial<RunConfig>;
  try {
    recorded = JSON.parse(Deno.readTextFileSync(`${given.runDir}/run.json`)).config;
  } catch {
    throw new Error(
      `experiment: ${given.runDir} holds no finished run (run.json); make it with ctrlab main --run-id ${
        given.runDir.split("/").pop()
      } first`,
    );
  }
  const data: Partial<RunConfig> & Pick<RunConfig, "dataDir" | "rows" | "seed" | "corruptRate"> = {
    dataDir: recorded.dataDir!,
    ...(recorded.input ? { input: recorded.input } : {}),
    ...(recorded.spec ? { spec: recorded.spec } : {}),
    rows: recorded.rows ?? given.rows,
    seed: recorded.seed ?? given.seed,
    corruptRate: recorded.corruptRate ?? given.corruptRate,
  };
  if (dataAsked && (given.dataDir !== data.dataDir || given.seed !== data.seed)) {
    throw new Error(
      `experiment: run ${given.runDir.split("/").pop()} was made on ${
        data.input ?? data.dataDir
      } (seed ${data.seed}); ` +
        `its tables and predictions cannot serve ${given.input ?? given.dataDir} (seed ${given.seed})`,
    );
  }
  const { input: _i, spec: _s, ...rest } = given;
  return { ...rest, ...data };
}

/** Environment that hands `cfg` to a child process (a kernel). */
export function configEnv(cfg: RunConfig): Record<string, string> {
  return {
    CTRLAB_DATA_DIR: cfg.dataDir,
    CTRLAB_INPUT: cfg.input ?? "",
    CTRLAB_SPEC: cfg.spec ?? "",
    CTRLAB_RUN_DIR: cfg.runDir,
    CTRLAB_ROWS: String(cfg.rows),
    CTRLAB_SEED: String(cfg.seed),
    CTRLAB_CORRUPT_RATE: String(cfg.corruptRate),
    CTRLAB_ZOO: cfg.zoo ? (cfg.zoo.length ? cfg.zoo.join(",") : "none") : "",
    CTRLAB_BACKEND: cfg.backend,
    CTRLAB_NODE_THREADS: String(cfg.threads),
    CTRLAB_JOBS: String(cfg.jobs),
    CTRLAB_HEADLESS: cfg.headless ? "1" : "",
    CTRLAB_ENGINE: cfg.engine,
    CTRLAB_SPARK_MASTER: cfg.sparkMaster ?? "",
    // KEY=VALUE pairs as a JSON list (a value may hold any character)
    CTRLAB_SPARK_CONF: cfg.sparkConf
      ? JSON.stringify(Object.entries(cfg.sparkConf).map(([k, v]) => `${k}=${v}`))
      : "",
  };
}
