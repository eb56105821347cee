/**
 * Running ctrlab's data stages on Apache Spark. lib/ compiles its definitions to Spark SQL (lib/features/sql.ts);
 * this module hands the SQL to Spark and brings back what it collected. Spark comes from the `pyspark` package in
 * a project-local environment (`scripts/pyenv.sh spark`, made on first use), Java from the machine.
 *
 * A plan is data, not code: Parquet inputs registered as views, then SQL steps in order, each registered as a
 * (cached) view, collected, or written as Parquet. python/spark_plan.py executes it unchanged on any master:
 * `local[N]` in one JVM, `spark://host:port` for a standalone cluster (a user's, or `localCluster` here), or
 * YARN/Kubernetes URLs as spark-submit knows them. Input and output paths may be HDFS or S3 URIs when the
 * cluster has their connectors.
 */
import { REPO_ROOT } from "../config.ts";

/** A quoted Spark SQL identifier. */
export const q = (name: string) => "`" + name.replaceAll("`", "``") + "`";
/** A Spark SQL string literal. */
export const str = (s: string) => `'${s.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
/** A Java regular expression matching `s` literally (Spark's split and rlike take regexes). */
export const literalRegex = (s: string) => s.replace(/[\\^$.|?*+()[\]{}]/g, "\\$&");

/** The Parquet part files in `folder`, by name (Spark's part-00000-…, part-00001-… are in row order; polars writes part-00000.parquet). */
export function partFiles(folder: string): string[] {
  return [...Deno.readDirSync(folder)].filter((e) => e.isFile && /^part-.*\.parquet$/.test(e.name)).map((e) =>
    `${folder}/${e.name}`
  ).sort();
}

export interface SparkStep {
  sql: string;
  /** Register the result under this name for later steps. */
  view?: string;
  /** With `view`: materialise it once (CACHE TABLE), for views later steps read more than once. */
  cache?: boolean;
  /** Collect the rows into the result under this name (small results only). */
  collect?: string;
  /** Write the result as Parquet to `path` (part files in the query's order; an existing folder is replaced). */
  write?: { path: string; compression?: "snappy" | "zstd"; partitionBy?: string[] };
}

export interface SparkPlan {
  app: string;
  /**
   * Inputs registered as views: a Parquet folder (`path`, Hive partitions discovered), or text files read as
   * numbered lines (`lines`: columns __file (the index given), __line (1-based), __byte (offset), __bytes (the
   * line's bytes without its LF or CR LF, undecoded), __cr (it ended CR LF)), or Parquet files' rows (`parquet`: columns __file, __row
   * (0-based position in the file), then `columns`; ctrlab's names cannot clash with a log's own columns).
   */
  inputs: (
    | { view: string; path: string }
    | { view: string; lines: { path: string; file: number }[] }
    | { view: string; parquet: { path: string; file: number }[]; columns: string[] }
  )[];
  steps: SparkStep[];
  /** Extra Spark settings (spark.sql.shuffle.partitions, memory, …). */
  conf?: Record<string, string>;
}

export interface SparkResult {
  collected: Record<string, Record<string, unknown>[]>;
  /** Seconds per step (by view, collect name or output path), "start" for the session. */
  seconds: Record<string, number>;
  total: number;
  sparkVersion: string;
  master: string;
}

/** The master for `local` mode on this machine, with every core. */
export const LOCAL_MASTER = "local[*]";

export const SPARK_VENV = `${REPO_ROOT}/.venv-spark`;

let ready = false;
/** Make the Spark environment if it is missing or stale (scripts/pyenv.sh spark: PySpark, pinned). */
export async function ensureSpark(): Promise<void> {
  if (ready) return;
  const out = await new Deno.Command("bash", {
    args: [`${REPO_ROOT}/scripts/pyenv.sh`, "spark"],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("the Spark environment could not be made (scripts/pyenv.sh spark)");
  ready = true;
}

/** Settings every plan gets: no web UI, session time zone UTC (dates are calendar days, as in polars). */
const BASE_CONF: Record<string, string> = {
  "spark.ui.enabled": "false",
  "spark.sql.session.timeZone": "UTC",
  "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
  "spark.driver.memory": "2g",
};

/** Run `plan` on `master` and return what it collected. Spark's own log goes to stderr; errors throw with its tail. */
export async function runSparkPlan(plan: SparkPlan, master: string = LOCAL_MASTER): Promise<SparkResult> {
  await ensureSpark();
  const dir = await Deno.makeTempDir({ prefix: "ctrlab-spark-" });
  try {
    const result = `${dir}/result.json`;
    await Deno.writeTextFile(
      `${dir}/plan.json`,
      JSON.stringify({ ...plan, master, result, conf: { ...BASE_CONF, ...plan.conf } }),
    );
    const child = new Deno.Command(`${SPARK_VENV}/bin/python`, {
      args: [`${REPO_ROOT}/python/spark_plan.py`, `${dir}/plan.json`],
      env: { PYSPARK_PYTHON: `${SPARK_VENV}/bin/python`, SPARK_LOCAL_IP: "127.0.0.1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const [out, err, status] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.status,
    ]);
    if (!status.success) {
      const tail = (out + err).split("\n").filter((l) => !/^\s*at |WARN|^\s*$/.test(l)).slice(-25).join("\n");
      throw new Error(`Spark plan "${plan.app}" failed on ${master}:\n${tail}`);
    }
    return JSON.parse(await Deno.readTextFile(result));
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

export interface LocalCluster {
  master: string;
  workers: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitFor(
  url: string,
  ok: (body: string) => boolean,
  what: string,
  seconds = 90,
): Promise<void> {
  const until = Date.now() + seconds * 1000;
  let last = "";
  while (Date.now() < until) {
    try {
      const body = await (await fetch(url)).text();
      if (ok(body)) return;
      last = body.slice(0, 200);
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`Spark standalone: ${what} not ready after ${seconds} s (${last})`);
}

/**
 * A Spark standalone cluster on loopback: one master and `workers` workers (separate JVMs, `cores` cores and
 * `memory` each), started with Spark's own launcher (spark-class) — the same deployment a user's cluster runs.
 * `stop()` ends every process.
 */
export async function localCluster(workers = 2, cores = 1, memory = "1g"): Promise<LocalCluster> {
  await ensureSpark();
  const sparkClass = `${SPARK_VENV}/bin/spark-class`;
  const [port, ui] = [await freePort(), await freePort()];
  const env = {
    SPARK_LOCAL_IP: "127.0.0.1",
    SPARK_NO_DAEMONIZE: "1",
    PYSPARK_PYTHON: `${SPARK_VENV}/bin/python`,
  };
  const procs: Deno.ChildProcess[] = [];
  const work = await Deno.makeTempDir({ prefix: "ctrlab-spark-workers-" }); // executors' scratch, not inside .venv-spark
  const spawn = (args: string[]) =>
    procs.push(
      new Deno.Command(sparkClass, { args, env, stdout: "null", stderr: "null" }).spawn(),
    );
  const stop = async () => {
    for (const p of procs.reverse()) {
      try {
        p.kill("SIGTERM");
      } catch { /* already gone */ }
      await p.status;
    }
    await Deno.remove(work, { recursive: true }).catch(() => {});
  };
  try {
    spawn([
      "org.apache.spark.deploy.master.Master",
      "--host",
      "127.0.0.1",
      "--port",
      `${port}`,
      "--webui-port",
      `${ui}`,
    ]);
    const master = `spark://127.0.0.1:${port}`;
    await waitFor(`http://127.0.0.1:${ui}/json/`, (b) => b.includes('"status" : "ALIVE"'), "master");
    for (let w = 0; w < workers; w++) {
      spawn([
        "org.apache.spark.deploy.worker.Worker",
        "--host",
        "127.0.0.1",
        "--cores",
        `${cores}`,
        "--memory",
        memory,
        "--webui-port",
        `${await freePort()}`,
        "--work-dir",
        `${work}/worker-${w}`,
        master,
      ]);
    }
    await waitFor(
      `http://127.0.0.1:${ui}/json/`,
      (b) => (JSON.parse(b).aliveworkers ?? 0) >= workers,
      `${workers} workers`,
    );
    return { master, workers, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
