/**
 * Generator and ETL throughput and peak memory.
 *
 *   deno task bench:data [--rows 1000000,10000000] [--layouts antm2c-10,antm2c] [--dir /tmp/ctrlab-bench]
 *
 * Each measurement runs in its own process so peak RSS (VmHWM) belongs to that step alone. Prints one line
 * per step, layout and size; targets for this project's 2-core machine: 10M rows CSV → Parquet in ≤ 90 s and
 * ≤ 6 GiB on the generator's ten-column layout, ≤ 60 s and ≤ 6 GiB on the public release's 37 columns.
 */
import { parseArgs } from "node:util";
import { peakRss } from "../lib/util/memory.ts";
import { runEtl } from "../lib/data/etl.ts";
import { generateLogs } from "../lib/data/synth.ts";

/** The generator's layout name for a dataset-spec name. */
const LAYOUTS = { "antm2c-10": "partitioned", antm2c: "release" } as const;

function treeBytes(dir: string): number {
  let bytes = 0;
  for (const e of Deno.readDirSync(dir)) {
    bytes += e.isDirectory ? treeBytes(`${dir}/${e.name}`) : Deno.statSync(`${dir}/${e.name}`).size;
  }
  return bytes;
}

async function child(step: string, rows: number, dir: string, layout: keyof typeof LAYOUTS) {
  const t0 = performance.now();
  if (step === "generate") {
    await generateLogs({ rows, outDir: dir, corruptRate: 0.001, layout: LAYOUTS[layout] });
  } else {
    const r = await runEtl({ input: `${dir}/raw`, output: `${dir}/clean` });
    if (r.spec !== layout) throw new Error(`the ETL read ${layout} logs as ${r.spec}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    JSON.stringify({ seconds, peak: peakRss(), bytes: step === "generate" ? treeBytes(`${dir}/raw`) : 0 }),
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
    },
  });
  const sizes = (values.rows ?? "1000000,10000000").split(",").map(Number);
  const layouts = (values.layouts ?? "antm2c-10,antm2c").split(",") as (keyof typeof LAYOUTS)[];
  for (const l of layouts) {
    if (!(l in LAYOUTS)) {
      throw new Error(`--layouts: ${l} is not one of ${Object.keys(LAYOUTS).join(", ")}`);
    }
  }
  const base = values.dir ?? "/tmp/ctrlab-bench";
  if (values.child) return await child(values.child, sizes[0], base, layouts[0]);
  const gib = (b: number) => (b / 2 ** 30).toFixed(2);
  for (const rows of sizes) {
    for (const layout of layouts) {
      const dir = `${base}/${rows}-${layout}`;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.mkdir(dir, { recursive: true });
      for (const step of ["generate", "etl"]) {
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
          ],
          stdout: "piped",
          stderr: "inherit",
        }).output();
        if (!out.success) throw new Error(`${step} at ${rows} rows failed`);
        const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
        const extra = step === "generate" ? `, ${(r.bytes / 2 ** 20).toFixed(0)} MiB CSV` : "";
        console.log(
          `${step.padEnd(8)} ${layout.padEnd(9)} ${rows.toLocaleString("en-US").padStart(10)} rows: ${
            Math.round(rows / r.seconds).toLocaleString("en-US")
          } rows/s (${r.seconds.toFixed(1)} s), peak RSS ${gib(r.peak)} GiB${extra}`,
        );
      }
      await Deno.remove(dir, { recursive: true });
    }
  }
}

await main();
