/**
 * Feature-table build throughput and peak memory (user, item and user×item history, splits, vocabularies,
 * normalisation statistics) from the cleaned Parquet table.
 *
 *   deno task bench:features [--rows 1000000,10000000] [--dir /tmp/ctrlab-bench-features]
 *
 * Each size runs in its own process (peak RSS = VmHWM of that process). Generation and ETL happen first, in
 * separate processes, and are not timed here. Target on the 2-core machine: 10M impressions → full feature
 * table in ≤ 120 s and ≤ 8 GiB peak RSS.
 */
import { parseArgs } from "node:util";
import { peakRss } from "../lib/util/memory.ts";
import { runEtl } from "../lib/data/etl.ts";
import { generateLogs } from "../lib/data/synth.ts";
import { buildTable, loadEvents, writeTable } from "../lib/features/table.ts";

async function child(step: string, rows: number, dir: string) {
  if (step === "prepare") {
    await generateLogs({ rows, outDir: dir });
    await runEtl({ input: `${dir}/raw`, output: `${dir}/clean` });
    await Deno.remove(`${dir}/raw`, { recursive: true });
    return;
  }
  const t0 = performance.now();
  const events = loadEvents(`${dir}/clean`);
  const built = await buildTable(events);
  await writeTable(`${dir}/table`, built, `${dir}/clean`);
  console.log(
    JSON.stringify({
      seconds: (performance.now() - t0) / 1000,
      peak: peakRss(),
      features: built.manifest.features.length,
    }),
  );
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: { rows: { type: "string" }, dir: { type: "string" }, child: { type: "string" } },
  });
  const sizes = (values.rows ?? "1000000,10000000").split(",").map(Number);
  const base = values.dir ?? "/tmp/ctrlab-bench-features";
  if (values.child) return await child(values.child, sizes[0], base);
  for (const rows of sizes) {
    const dir = `${base}/${rows}`;
    await Deno.mkdir(dir, { recursive: true });
    for (const step of ["prepare", "features"]) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--v8-flags=--expose-gc",
          new URL(import.meta.url).pathname,
          "--child",
          step,
          "--rows",
          String(rows),
          "--dir",
          dir,
        ],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      if (!out.success) throw new Error(`${step} at ${rows} rows failed`);
      if (step !== "features") continue;
      const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
      console.log(
        `features ${rows.toLocaleString("en-US").padStart(10)} rows: ${
          Math.round(rows / r.seconds).toLocaleString("en-US")
        } rows/s (${r.seconds.toFixed(1)} s for ${r.features} features + splits + vocabularies), peak RSS ${
          (r.peak / 2 ** 30).toFixed(2)
        } GiB`,
      );
    }
    await Deno.remove(dir, { recursive: true });
  }
}

await main();
