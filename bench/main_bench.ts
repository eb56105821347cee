/**
 * Where a whole main job's time goes: the default pipeline (all ten notebooks, the model zoo included) at each
 * size, its wall-clock seconds (less than the notebooks' sum: some run side by side) and each notebook's seconds
 * split by phase (kernel start, imports, data, features, training, evaluation, intervals, charts, writing,
 * other, report export — what the run's index page charts), with the 1M/100k ratio per notebook.
 *
 *   deno task bench:main [--rows 100000,1000000] [--rounds R] [--from artifacts/RUN,…]
 *
 * Each size runs `ctrlab main --rows N --run-id bench-main-N[-rR]` (the generated default; its data is made once
 * and kept under data/). --rounds R: R runs per size, sizes alternating; the medians are printed. --from: print
 * the breakdown of runs already made (their run.json), running nothing.
 */
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../lib/config.ts";
import { PROFILE_COLUMNS, type RunInfo } from "../lib/report/index_page.ts";
import { median } from "./stats.ts";

async function runMain(rows: number, runId: string): Promise<RunInfo> {
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${REPO_ROOT}/cli/ctrlab.ts`, "main", "--rows", String(rows), "--run-id", runId],
    cwd: REPO_ROOT,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`main --rows ${rows} failed (exit ${out.code})`);
  console.log(
    `# main --rows ${rows}: ${((performance.now() - t0) / 1000).toFixed(1)} s wall, data set-up included`,
  );
  return readRun(`${REPO_ROOT}/artifacts/${runId}`);
}

const readRun = (dir: string): RunInfo => JSON.parse(Deno.readTextFileSync(`${dir}/run.json`));

/** notebook → phase → median seconds over the runs (a notebook's "total" included). */
function breakdown(runs: RunInfo[]): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  const stages = [...new Set(runs.flatMap((r) => r.notebooks.map((n) => n.stage)))];
  for (const stage of stages) {
    const per = runs.map((r) => r.notebooks.find((n) => n.stage === stage)).filter((n) => n);
    const phases = [...new Set(per.flatMap((n) => Object.keys(n!.profile ?? {})))];
    const m = new Map<string, number>([["total", median(per.map((n) => n!.seconds))]]);
    for (const p of phases) m.set(p, median(per.map((n) => n!.profile?.[p] ?? 0)));
    out.set(stage, m);
  }
  return out;
}

function print(label: string, b: Map<string, Map<string, number>>, wall: number | null) {
  const seen = new Set([...b.values()].flatMap((m) => [...m.keys()]));
  const phases = PROFILE_COLUMNS.filter((p) => seen.has(p));
  const total = [...b.values()].reduce((a, m) => a + m.get("total")!, 0);
  const side = wall !== null && wall < total - 1
    ? `; ${wall.toFixed(1)} s wall (notebooks side by side)`
    : "";
  console.log(`\n## ${label}: ${total.toFixed(1)} s in ${b.size} notebooks${side}`);
  console.log(["notebook", "seconds", ...phases].join("\t"));
  for (const [stage, m] of b) {
    console.log(
      [stage, m.get("total")!.toFixed(1), ...phases.map((p) => (m.get(p) ?? 0).toFixed(1))].join("\t"),
    );
  }
  const sums = phases.map((p) => [...b.values()].reduce((a, m) => a + (m.get(p) ?? 0), 0));
  console.log(["all", total.toFixed(1), ...sums.map((s) => s.toFixed(1))].join("\t"));
  console.log(["share", "100%", ...sums.map((s) => `${(100 * s / total).toFixed(0)}%`)].join("\t"));
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: { rows: { type: "string" }, rounds: { type: "string" }, from: { type: "string" } },
  });
  const results = new Map<string, RunInfo[]>();
  if (values.from) {
    for (const dir of values.from.split(",")) {
      const info = readRun(dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`);
      const rows = String(info.config.rows ?? dir);
      results.set(rows, [...results.get(rows) ?? [], info]);
    }
  } else {
    const sizes = (values.rows ?? "100000,1000000").split(",").map(Number);
    const rounds = Number(values.rounds ?? 1);
    for (let r = 0; r < rounds; r++) {
      for (const rows of sizes) {
        const info = await runMain(rows, `bench-main-${rows}${rounds > 1 ? `-r${r + 1}` : ""}`);
        results.set(String(rows), [...results.get(String(rows)) ?? [], info]);
      }
    }
  }
  const tables = new Map([...results].map(([rows, runs]) => [rows, breakdown(runs)]));
  for (const [rows, b] of tables) {
    const n = results.get(rows)!.length;
    const walls = results.get(rows)!.flatMap((r) => r.seconds !== undefined ? [r.seconds] : []);
    print(
      `${Number(rows).toLocaleString("en-US")} rows${n > 1 ? `, median of ${n} runs` : ""}`,
      b,
      walls.length ? median(walls) : null,
    );
  }
  // how each notebook scales: the largest size's seconds over the smallest's
  const keys = [...tables.keys()].sort((p, q) => Number(p) - Number(q));
  if (keys.length > 1) {
    const [lo, hi] = [tables.get(keys[0])!, tables.get(keys[keys.length - 1])!];
    console.log(`\n## ratio ${keys[keys.length - 1]}/${keys[0]} rows, seconds per notebook`);
    for (const [stage, m] of hi) {
      const base = lo.get(stage)?.get("total");
      if (base) console.log(`ratio ${stage}: ${(m.get("total")! / base).toFixed(2)}`);
    }
  }
}

await main();
