/**
 * Generator and ETL throughput and peak memory.
 *
 *   deno task bench:data [--rows 1000000,10000000] [--dir /tmp/ctrlab-bench]
 *
 * Each measurement runs in its own process so peak RSS (VmHWM) belongs to that step alone. Prints one line
 * per step and size; targets for this project's 2-core machine: 10M rows CSV → Parquet in ≤ 90 s, ≤ 6 GiB.
 */
import { parseArgs } from "node:util";
import { peakRss } from "../lib/util/memory.ts";
import { runEtl } from "../lib/data/etl.ts";
import { generateLogs } from "../lib/data/synth.ts";


async function child(step: string, rows: number, dir: string) {
  const t0 = performance.now();
  if (step === "generate") await generateLogs({ rows, outDir: dir, corruptRate: 0.001 });
  else await runEtl({ input: `${dir}/raw`, output: `${dir}/clean` });
  const seconds = (performance.now() - t0) / 1000;
  let bytes = 0;
  if (step === "generate") for (const e of Deno.readDirSync(`${dir}/raw`)) for (const f of Deno.readDirSync(`${dir}/raw/${e.name}`)) bytes += Deno.statSync(`${dir}/raw/${e.name}/${f.name}`).size;
  console.log(JSON.stringify({ seconds, peak: peakRss(), bytes }));
}

async function main() {
  const { values } = parseArgs({ args: Deno.args, options: { rows: { type: "string" }, dir: { type: "string" }, child: { type: "string" } } });
  const sizes = (values.rows ?? "1000000,10000000").split(",").map(Number);
  const base = values.dir ?? "/tmp/ctrlab-bench";
  if (values.child) return await child(values.child, sizes[0], base);
  const gib = (b: number) => (b / 2 ** 30).toFixed(2);
  for (const rows of sizes) {
    const dir = `${base}/${rows}`;
    await Deno.mkdir(dir, { recursive: true });
    for (const step of ["generate", "etl"]) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL(import.meta.url).pathname, "--child", step, "--rows", String(rows), "--dir", dir],
        stdout: "piped", stderr: "inherit",
      }).output();
      if (!out.success) throw new Error(`${step} at ${rows} rows failed`);
      const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
      const extra = step === "generate" ? `, ${(r.bytes / 2 ** 20).toFixed(0)} MiB CSV` : "";
      console.log(`${step.padEnd(8)} ${rows.toLocaleString("en-US").padStart(10)} rows: ${Math.round(rows / r.seconds).toLocaleString("en-US")} rows/s (${r.seconds.toFixed(1)} s), peak RSS ${gib(r.peak)} GiB${extra}`);
    }
    await Deno.remove(dir, { recursive: true });
  }
}

await main();
