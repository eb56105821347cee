/**
 * Running ctrlab's data stages on Apache Spark. lib/ compiles its definitions to Spark SQL (lib/features/sql.ts);
 * this module hands the SQL to Spark and brings back what it collected. Spark comes from the `pyspark` package in
 * a project-local environment (`scripts/pyenv.sh spark`, made on first use), Java from the machine.
 *
 * A plan is data, not code: Parquet inputs registered as views, then SQL steps in order, each registered as a
 * (cached) view, collected, or written as Parquet. A driver (python/spark_plan.py) executes it unchanged on any
 * master: `local[N]` in one JVM, `spark://host:port` for a standalone cluster (a user's, or `localCluster` here), or
 * YARN/Kubernetes URLs as spark-submit knows them. Paths are local paths (`assertLocalPath`): on a cluster, every
 * executor must see them too (a shared filesystem mounted at the same path).
 */
import { REPO_ROOT } from "../config.ts";

/**
 * Refuse `path` unless it is a path on this machine. A URI (hdfs://, s3a://, file://…) is refused by name: ctrlab reads the
 * logs' headers, the clean folder's schema and report, and moves the table's files itself, so a cluster's storage
 * must be mounted (NFS, HDFS's NFS gateway or a FUSE client, s3fs…) at the same path here and on the executors.
 */
export function assertLocalPath(path: string, what: string): void {
  if (/^[a-z][\w+.-]*:\/\//i.test(path)) {
    throw new Error(
      `${what} ${path}: ctrlab reads and writes through local paths (it reads headers, schemas and reports itself): mount that storage here (NFS, HDFS's NFS gateway or a FUSE client, s3fs), at the same path as on the Spark executors when a cluster runs the job, and give that path`,
    );
  }
}

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
  /**
   * With `view`: materialise it once (CACHE TABLE), for views later steps read more than once: in memory (spilling
   * to disk), or "disk": on the executors' local disks only, for views that hold a log's text. Spark's in-memory
   * cache of those ran its JVM out of heap on a 446 MB log with 2 GiB, where the same plan cached on disk ran
   * through (and on a 150 MB log, took the time the in-memory cache took).
   */
  cache?: boolean | "disk";
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
   * line's bytes without its LF or CR LF, undecoded), __cr (it ended CR LF), __last (it ends its file without a line
   * break: plain files only, false for .gz)), or Parquet files' rows (`parquet`: columns __file, __row
   * (0-based position in the file), then `columns`; ctrlab's names cannot clash with a log's own columns).
   */
  inputs: (
    | { view: string; path: string }
    | { view: string; lines: { path: string; file: number }[] }
    | { view: string; parquet: { path: string; file: number }[]; columns: string[] }
  )[];
  steps: SparkStep[];
  /**
   * Extra Spark settings: on a driver started for the plan, among those it starts with (memory, …); on a running
   * driver, set for this plan only (Spark SQL's runtime settings: spark.sql.shuffle.partitions, …).
   */
  conf?: Record<string, string>;
}

export interface SparkResult {
  collected: Record<string, Record<string, unknown>[]>;
  /** Seconds per step (by view, collect name or output path); "start": the session's (a driver's first plan, else 0). */
  seconds: Record<string, number>;
  total: number;
  sparkVersion: string;
  master: string;
}

/**
 * spark.sql.shuffle.partitions for a plan over `bytes` of input: one partition per `perPartition` bytes, at least 8
 * (Spark's adaptive execution merges the small ones it finds after a shuffle, but never splits a large one, so a
 * large input needs a large count to reach every core of a cluster). A user's own setting (--spark-conf) wins.
 */
export function shufflePartitions(bytes: number, perPartition: number): string {
  return String(Math.max(8, Math.ceil(bytes / perPartition)));
}

/** The bytes of the files at `path` (a file, or a folder and everything under it). */
export function pathBytes(path: string): number {
  const st = Deno.statSync(path);
  if (!st.isDirectory) return st.size;
  let n = 0;
  for (const e of Deno.readDirSync(path)) n += pathBytes(`${path}/${e.name}`);
  return n;
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

/** Settings every driver starts with: no web UI, session time zone UTC (dates are calendar days, as in polars). */
const BASE_CONF: Record<string, string> = {
  "spark.ui.enabled": "false",
  "spark.sql.session.timeZone": "UTC",
  "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
  "spark.driver.memory": "2g",
};

/**
 * A Spark driver: one process (python/spark_plan.py, its SparkSession and JVM) on `master` that runs plans one at
 * a time until `close()`. Starting one takes seconds and its first queries run cold (Java compiles Spark's code
 * as it runs); a driver kept for several plans runs the later ones warm (the tests keep one). The settings it
 * starts with hold for its life (spark.driver.memory, the master, …); a plan's own `conf` is set for that plan only,
 * so there it takes Spark SQL's runtime settings (spark.sql.*). Each plan starts from a clean session: the views
 * and cached tables of the plans before it are gone. A failed plan throws Spark's message; one that takes the
 * session down (its JVM out of memory) also carries the last lines of Spark's log, which goes to a file, and the
 * driver refuses later plans. The driver also stops when this process ends (its stdin closes).
 */
export class SparkDriver {
  #queue: Promise<unknown> = Promise.resolve();
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #pending = "";
  #plans = 0;
  #closing: Promise<void> | undefined;
  #exited = ""; // why the driver cannot run plans any more

  private constructor(
    readonly master: string,
    readonly dir: string,
    private readonly child: Deno.ChildProcess,
  ) {
    this.#writer = child.stdin.getWriter();
    this.#reader = child.stdout.getReader();
    child.unref(); // between plans a driver does not keep this process alive; it stops when this process ends
  }

  /** Start a driver on `master` with `conf` (over the base settings); resolves once its session is up. */
  static async start(master: string = LOCAL_MASTER, conf: Record<string, string> = {}): Promise<SparkDriver> {
    await ensureSpark();
    const dir = await Deno.makeTempDir({ prefix: "ctrlab-spark-" });
    await Deno.writeTextFile(
      `${dir}/driver.json`,
      // Spark makes its SQL warehouse folder as the session starts, by default in the working directory (which may be
      // the user's log folder): it lives in the driver's folder instead, removed on close
      JSON.stringify({
        master,
        conf: { ...BASE_CONF, "spark.sql.warehouse.dir": `${dir}/warehouse`, ...conf },
        log: `${dir}/spark.log`,
      }),
    );
    const child = new Deno.Command(`${SPARK_VENV}/bin/python`, {
      args: [`${REPO_ROOT}/python/spark_plan.py`, `${dir}/driver.json`],
      env: { PYSPARK_PYTHON: `${SPARK_VENV}/bin/python`, SPARK_LOCAL_IP: "127.0.0.1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "null", // the driver writes everything but its replies to its log
    }).spawn();
    const driver = new SparkDriver(master, dir, child);
    try {
      await driver.#reply(`Spark on ${master} did not start`);
    } catch (e) {
      await driver.close();
      throw e;
    }
    return driver;
  }

  /**
   * The last lines of this driver's log that say something: Spark's WARN lines, Java stack frames and the causes
   * of a failed code generation (Spark then runs that plan without it) left out.
   */
  log(lines = 25): string {
    let text = "";
    try {
      text = Deno.readTextFileSync(`${this.dir}/spark.log`);
    } catch { /* no log yet */ }
    return text.split("\n").filter((l) =>
      !/^\s*at |^\s*\.\.\. \d+ more|WARN|generated\.java|org\.codehaus\.|^\s*$/.test(l)
    ).slice(-lines)
      .join("\n");
  }

  /** Run `plan` and return what it collected; an error carries Spark's message. Plans run one after another. */
  run(plan: SparkPlan): Promise<SparkResult> {
    if (this.#closing) {
      return Promise.reject(new Error(`Spark plan "${plan.app}": the driver on ${this.master} is closed`));
    }
    const next = this.#queue.then(() => this.#run(plan));
    this.#queue = next.catch(() => {});
    return next;
  }

  async #run(plan: SparkPlan): Promise<SparkResult> {
    if (this.#exited) {
      throw new Error(`Spark plan "${plan.app}": the driver on ${this.master} ${this.#exited}`);
    }
    const path = `${this.dir}/plan-${++this.#plans}`;
    await Deno.writeTextFile(`${path}.json`, JSON.stringify({ ...plan, result: `${path}.result.json` }));
    try {
      await this.#writer.write(new TextEncoder().encode(`${path}.json\n`));
      await this.#reply(`Spark plan "${plan.app}" failed on ${this.master}`);
      return JSON.parse(await Deno.readTextFile(`${path}.result.json`));
    } finally {
      await Deno.remove(`${path}.json`).catch(() => {});
      await Deno.remove(`${path}.result.json`).catch(() => {});
    }
  }

  /** The driver's next reply line; throws `what` with the reason when it says the plan failed, or has exited. */
  async #reply(what: string): Promise<void> {
    const decoder = new TextDecoder();
    this.child.ref(); // waited for, the driver keeps this process alive
    try {
      while (!this.#pending.includes("\n")) {
        const { value, done } = await this.#reader.read();
        if (done) {
          this.#exited = "has exited";
          const status = await this.child.status;
          throw new Error(`${what}: the driver exited (code ${status.code}):\n${this.log()}`);
        }
        this.#pending += decoder.decode(value, { stream: true });
      }
    } finally {
      this.child.unref();
    }
    const at = this.#pending.indexOf("\n");
    const reply = JSON.parse(this.#pending.slice(0, at));
    this.#pending = this.#pending.slice(at + 1);
    if (reply.lost) {
      this.#exited = `lost its session (${what})`;
      throw new Error(`${what}:\n${reply.error}\nthe Spark session was lost; its log ends:\n${this.log()}`);
    }
    if (!reply.ok) throw new Error(`${what}:\n${reply.error}`);
  }

  /** Stop the session and its JVM (after the plans already given), and remove the driver's files. */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      await this.#queue;
      await this.#writer.close().catch(() => {}); // the driver stops its session when its stdin closes
      this.#reader.releaseLock();
      await this.child.stdout.cancel().catch(() => {});
      this.child.ref();
      await this.child.status;
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    })();
  }
}

/**
 * Run `plan` on a driver, or on `master` with a driver started for it (its `conf` among the settings the driver
 * starts with) and stopped after it. Returns what it collected; errors throw with Spark's message.
 */
export async function runSparkPlan(
  plan: SparkPlan,
  on: string | SparkDriver = LOCAL_MASTER,
): Promise<SparkResult> {
  if (on instanceof SparkDriver) return on.run(plan);
  const driver = await SparkDriver.start(on, plan.conf);
  try {
    return await driver.run({ ...plan, conf: {} });
  } finally {
    await driver.close();
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
