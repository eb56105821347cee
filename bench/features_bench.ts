/**
 * Feature-table build time and peak memory (user, item and user×item history, splits, vocabularies,
 * normalisation statistics) from the cleaned Parquet table, on each engine: nodejs-polars in one process and
 * Apache Spark (local mode by default) from the same definitions.
 *
 *   deno task bench:features [--rows 1000000,10000000|none] [--engines polars,spark] [--spark-only 50000000]
 *                            [--master local[2]] [--driver-memory 16g] [--dir /tmp/ctrlab-bench-features]
 *
 * Sizes in --spark-only run on Spark alone (sizes polars cannot hold in this machine's memory). Each build runs
 * in its own process; peak memory is the largest resident memory of that process and everything it started
 * (Spark's JVM included), sampled every 200 ms. Generation and ETL happen first, in separate processes, and
 * are not timed here. Targets on the 2-core machine: 10M impressions → full feature table in ≤ 120 s and
 * ≤ 8 GiB with polars; Spark is not expected to beat polars on one machine, but to keep working where it cannot.
 */
import { parseArgs } from "node:util";
import { treeRss } from "../lib/util/memory.ts";
import { runEtl } from "../lib/data/etl.ts";
import { generateLogs } from "../lib/data/synth.ts";
import { makeTable } from "../lib/features/table.ts";

interface Args {
  rows: number;
  dir: string;
  master: string;
  driverMemory: string;
}

async function child(step: string, a: Args) {
  if (step === "prepare") {
    await generateLogs({ rows: a.rows, outDir: a.dir });
    await runEtl({ input: `${a.dir}/raw`, output: `${a.dir}/clean` });
    await Deno.remove(`${a.dir}/raw`, { recursive: true });
    return;
  }
  const engine = step as "polars" | "spark";
  const r = await makeTable(`${a.dir}/clean`, `${a.dir}/table-${engine}`, {
    engine,
    master: a.master,
    sparkConf: {
      "spark.driver.memory": a.driverMemory,
      "spark.sql.shuffle.partitions": String(Math.max(8, Math.ceil(a.rows / 1_000_000))),
    },
  });
  console.log(JSON.stringify({ seconds: r.seconds, features: r.manifest.features.length }));
}

/** Run a step in its own process; returns its last stdout line (JSON) and the sampled peak memory of its tree. */
async function run(step: string, a: Args): Promise<{ out: Record<string, number>; peak: number }> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      "--child",
      step,
      "--rows",
      String(a.rows),
      "--dir",
      a.dir,
      "--master",
      a.master,
      "--driver-memory",
      a.driverMemory,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let peak = 0;
  const timer = setInterval(() => peak = Math.max(peak, treeRss(proc.pid)), 200);
  const [status, stdout] = await Promise.all([proc.status, new Response(proc.stdout).text()]);
  clearInterval(timer);
  if (!status.success) throw new Error(`${step} at ${a.rows} rows failed`);
  const last = stdout.trim().split("\n").pop() ?? "";
  return { out: last.startsWith("{") ? JSON.parse(last) : {}, peak };
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rows: { type: "string" },
      engines: { type: "string" },
      "spark-only": { type: "string" },
      master: { type: "string" },
      "driver-memory": { type: "string" },
      dir: { type: "string" },
      child: { type: "string" },
    },
  });
  const base = values.dir ?? "/tmp/ctrlab-bench-features";
  const master = values.master ?? "local[2]", driverMemory = values["driver-memory"] ?? "16g";
  if (values.child) {
    return await child(values.child, { rows: Number(values.rows), dir: base, master, driverMemory });
  }
  const engines = (values.engines ?? "polars,spark").split(",");
  const sizes = [
    ...(values.rows === "none" ? [] : (values.rows ?? "1000000,10000000").split(",")).map((n) => ({
      rows: Number(n),
      engines,
    })),
    ...(values["spark-only"]?.split(",") ?? []).map((n) => ({ rows: Number(n), engines: ["spark"] })),
  ];
  console.log(`engines: polars (one process), spark (${master}, driver memory ${driverMemory})`);
  for (const { rows, engines } of sizes) {
    const a = { rows, dir: `${base}/${rows}`, master, driverMemory };
    await Deno.mkdir(a.dir, { recursive: true });
    const t0 = performance.now();
    await run("prepare", a);
    console.log(
      `prepared ${rows.toLocaleString("en-US")} rows (generate + ETL) in ${
        ((performance.now() - t0) / 1000).toFixed(0)
      } s`,
    );
    const took: Record<string, { seconds: number; peak: number }> = {};
    for (const engine of engines) {
      const { out, peak } = await run(engine, a);
      took[engine] = { seconds: out.seconds, peak };
      console.log(
        `features ${engine.padEnd(6)} ${rows.toLocaleString("en-US").padStart(11)} rows: ${
          Math.round(rows / out.seconds).toLocaleString("en-US").padStart(9)
        } rows/s (${
          out.seconds.toFixed(1)
        } s for ${out.features} features + splits + vocabularies), peak memory ${
          (peak / 2 ** 30).toFixed(2)
        } GiB`,
      );
      await Deno.remove(`${a.dir}/table-${engine}`, { recursive: true }).catch(() => {});
    }
    if (took.polars && took.spark) {
      console.log(
        `  spark/polars at ${rows.toLocaleString("en-US")} rows: time ×${
          (took.spark.seconds / took.polars.seconds).toFixed(1)
        }, peak memory ×${(took.spark.peak / took.polars.peak).toFixed(2)}`,
      );
    }
    await Deno.remove(a.dir, { recursive: true });
  }
}

await main();
