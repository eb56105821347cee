/**
 * Generator and ETL throughput and peak memory.
 *
 *   deno task bench:data [--rows 1000000,10000000] [--layouts antm2c-10,antm2c] [--engines polars,spark]
 *                        [--files N] [--dir /tmp/ctrlab-bench]
 *
 * Each measurement runs in its own process so peak RSS (VmHWM) belongs to that step alone (for Spark: the Deno
 * process, not Spark's JVM). Prints one line per step, engine, layout and size. `--files N` deals the generated
 * records out to N files (a log of many small files) before the ETL reads them. Targets for this project's
 * 2-core machine: 10M rows CSV → Parquet in ≤ 90 s and ≤ 6 GiB on the generator's ten-column layout, ≤ 60 s and
 * ≤ 6 GiB on the public release's 37 columns (the default engine).
 */
import { parseArgs } from "node:util";
import { peakRss } from "../lib/util/memory.ts";
import { runEtl } from "../lib/data/etl.ts";
import { runEtlSpark } from "../lib/data/etl_spark.ts";
import { LOCAL_MASTER } from "../lib/data/spark.ts";
import { generateLogs } from "../lib/data/synth.ts";

/** The generator's layout name for a dataset-spec name. */
const LAYOUTS = { "antm2c-10": "partitioned", antm2c: "release" } as const;

/** The bytes of a folder's files and how many of them end with `ext`. */
function tree(dir: string, ext = ""): { bytes: number; files: number } {
  const t = { bytes: 0, files: 0 };
  for (const e of Deno.readDirSync(dir)) {
    const sub = e.isDirectory
      ? tree(`${dir}/${e.name}`, ext)
      : { bytes: Deno.statSync(`${dir}/${e.name}`).size, files: e.name.endsWith(ext) ? 1 : 0 };
    t.bytes += sub.bytes;
    t.files += sub.files;
  }
  return t;
}

/** The generated CSV files' records dealt out in turn to `n` files under `to`, each with the header. */
function dealOut(from: string, to: string, n: number): void {
  const files = [...Deno.readDirSync(from)].sort((a, b) => a.name < b.name ? -1 : 1).flatMap((e) =>
    e.isDirectory ? [...Deno.readDirSync(`${from}/${e.name}`)].map((f) => `${from}/${e.name}/${f.name}`) : [
      `${from}/${e.name}`,
    ]
  );
  const parts: string[][] = Array.from({ length: n }, () => []);
  let header = "", k = 0;
  for (const f of files) {
    const lines = Deno.readTextFileSync(f).split("\n").filter((l) => l !== "");
    header = lines[0];
    for (const l of lines.slice(1)) parts[k++ % n].push(l);
  }
  Deno.mkdirSync(to, { recursive: true });
  parts.forEach((p, i) =>
    Deno.writeTextFileSync(`${to}/part-${String(i).padStart(5, "0")}.csv`, [header, ...p, ""].join("\n"))
  );
}

async function child(step: string, rows: number, dir: string, layout: keyof typeof LAYOUTS, files: number) {
  const t0 = performance.now();
  let seconds = 0;
  if (step === "generate") {
    await generateLogs({ rows, outDir: dir, corruptRate: 0.001, layout: LAYOUTS[layout] });
    seconds = (performance.now() - t0) / 1000;
    if (files) dealOut(`${dir}/raw`, `${dir}/files`, files); // not timed
  } else {
    const input = files ? `${dir}/files` : `${dir}/raw`, output = `${dir}/clean-${step}`;
    const r = step === "etl-spark"
      ? await runEtlSpark({ input, output, master: LOCAL_MASTER })
      : await runEtl({ input, output });
    if (r.spec !== layout) throw new Error(`the ETL read ${layout} logs as ${r.spec}`);
    seconds = (performance.now() - t0) / 1000;
  }
  console.log(
    JSON.stringify({
      seconds,
      peak: peakRss(),
      bytes: step === "generate" ? tree(`${dir}/raw`).bytes : 0,
      parts: step === "generate" ? 0 : tree(`${dir}/clean-${step}`, ".parquet").files,
    }),
  );
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rows: { type: "string" },
      dir: { type: "string" },
      child: { type: "string" },
      layouts: { type: "string" },
      engines: { type: "string" },
      files: { type: "string" },
    },
  });
  const files = Number(values.files ?? 0);
  const engines = (values.engines ?? "polars").split(",");
  for (const e of engines) {
    if (e !== "polars" && e !== "spark") throw new Error(`--engines: ${e} is not polars or spark`);
  }
  const sizes = (values.rows ?? "1000000,10000000").split(",").map(Number);
  const layouts = (values.layouts ?? "antm2c-10,antm2c").split(",") as (keyof typeof LAYOUTS)[];
  for (const l of layouts) {
    if (!(l in LAYOUTS)) {
      throw new Error(`--layouts: ${l} is not one of ${Object.keys(LAYOUTS).join(", ")}`);
    }
  }
  const base = values.dir ?? "/tmp/ctrlab-bench";
  if (values.child) return await child(values.child, sizes[0], base, layouts[0], files);
  const gib = (b: number) => (b / 2 ** 30).toFixed(2);
  for (const rows of sizes) {
    for (const layout of layouts) {
      const dir = `${base}/${rows}-${layout}`;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.mkdir(dir, { recursive: true });
      for (const step of ["generate", ...engines.map((e) => e === "spark" ? "etl-spark" : "etl")]) {
        const out = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            new URL(import.meta.url).pathname,
            "--child",
            step,
            "--rows",
            String(rows),
            "--dir",
            dir,
            "--layouts",
            layout,
            "--files",
            String(files),
          ],
          stdout: "piped",
          stderr: "inherit",
        }).output();
        if (!out.success) throw new Error(`${step} at ${rows} rows failed`);
        const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
        const extra = step === "generate"
          ? `, ${(r.bytes / 2 ** 20).toFixed(0)} MiB CSV${files ? ` in ${files} files` : ""}`
          : `, ${r.parts} Parquet files`;
        console.log(
          `${step.padEnd(9)} ${layout.padEnd(9)} ${rows.toLocaleString("en-US").padStart(10)} rows: ${
            Math.round(rows / r.seconds).toLocaleString("en-US")
          } rows/s (${r.seconds.toFixed(1)} s), peak RSS ${gib(r.peak)} GiB${extra}`,
        );
      }
      await Deno.remove(dir, { recursive: true });
    }
  }
}

await main();
