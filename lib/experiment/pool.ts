/**
 * Independent experiments side by side: `runExperiments` trains several specs at once, one child process
 * each, as many at once as the notebook's share of the cores (a process runs one train step at a time, and
 * a small model's graph keeps a second onnxruntime thread far less busy than a second process would). The
 * results come back in the order asked for and the registry rows are appended in that order; each child's
 * progress is printed as it comes (interactive) or in one piece when it ends (headless), and the children's
 * phases count in this notebook's time profile. Same seed, same numbers: training repeats to the last bit at
 * any thread count, and each child runs exactly what runExperiment runs here. With one core to use, or on
 * WebGPU (one device), they run here in turn.
 *
 * This file is also the child's entry point: `deno run -A pool.ts SPEC.json OUT.json`.
 */
import { Buffer } from "node:buffer";
import { configEnv, REPO_ROOT, type RunConfig, runConfig } from "../config.ts";
import { eachLine } from "../util/lines.ts";
import { appendResults, type ResultRow } from "../eval/results.ts";
import { pickBackend } from "../train/backend.ts";
import { credit, type Phase, PHASES, type Profile, profile } from "../util/profile.ts";
import { type ExperimentResult, runExperiment, type RunOptions, trainExperiment } from "./run.ts";
import type { ExperimentSpec } from "./spec.ts";

/**
 * How many child processes at once for `n` experiments (cfg.jobs, 0: one per core) and the onnxruntime threads
 * each gets: an equal share of this process's (cfg.threads, 0: every core).
 */
export function poolShape(
  n: number,
  cfg: Pick<RunConfig, "threads" | "jobs">,
  cores = navigator.hardwareConcurrency || 1,
) {
  const width = Math.max(1, Math.min(n, cfg.jobs || cores));
  return { width, threads: Math.max(1, Math.floor((cfg.threads || cores) / width)) };
}

/** What a child can be handed: the run options without in-memory data (each child reads its tables itself). */
export type PoolOptions = Pick<RunOptions, "record" | "strict">;

/** runExperiment for each spec, side by side where the cores allow; the results in the order of `specs`. */
export async function runExperiments(
  specs: ExperimentSpec[],
  cfg: RunConfig,
  o: PoolOptions = {},
): Promise<ExperimentResult[]> {
  const { width, threads } = poolShape(specs.length, cfg);
  if (width === 1 || (await pickBackend(cfg)).name === "webgpu") {
    const out: ExperimentResult[] = [];
    for (const s of specs) out.push(await runExperiment(s, cfg, o));
    return out;
  }
  const dir = await Deno.makeTempDir({ prefix: "ctrlab-pool-" });
  const t0 = performance.now();
  // in a notebook someone is watching, progress as it comes (lines of models side by side interleave, each
  // naming its model); headless, each child's output in one piece, in the order asked for
  const live = cfg.headless ? undefined : (line: string) => console.log(line);
  try {
    let free = width;
    const waiting: (() => void)[] = [];
    const started = specs.map(async (spec, k): Promise<{ child?: Child; error?: unknown }> => {
      while (free === 0) await new Promise<void>((r) => waiting.push(r)); // first come, first started
      free--;
      try {
        return { child: await runChild(spec, { ...cfg, threads, jobs: 1 }, o, `${dir}/${k}`, live) };
      } catch (error) {
        return { error };
      } finally {
        free++;
        waiting.shift()?.();
      }
    });
    const children: Child[] = [];
    let failure: unknown = null;
    for (const c of started) { // headless: each child's output once it and those before it have ended
      const { child, error } = await c;
      if (child?.output.trim()) console.log(child.output.trimEnd());
      if (child) children.push(child);
      failure ??= error;
    }
    if (failure) throw failure;
    for (const c of children) if (c.rows.length) await appendResults(cfg.runDir, c.rows);
    // the pool's wall time, split like the children's own time (their start-up stays "other")
    const wall = (performance.now() - t0) / 1000, busy = children.reduce((a, c) => a + c.seconds, 0);
    credit(Object.fromEntries(PHASES.map((p) => [p, wall * sum(children, p) / busy])) as Profile);
    return children.map((c) => c.result);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

interface Child {
  result: ExperimentResult;
  rows: ResultRow[];
  profile: Profile;
  output: string;
  seconds: number;
}

const sum = (cs: Child[], p: Phase) => cs.reduce((a, c) => a + (c.profile[p] ?? 0), 0);

/** One experiment in a child process; its output lines go to `live` as they come when given, else into `output`. */
async function runChild(
  spec: ExperimentSpec,
  cfg: RunConfig,
  o: PoolOptions,
  base: string,
  live?: (line: string) => void,
): Promise<Child> {
  const t0 = performance.now();
  await Deno.writeTextFile(`${base}.spec.json`, JSON.stringify({ spec, options: o }));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, `${base}.spec.json`, `${base}.out.json`],
    cwd: REPO_ROOT,
    env: { ...configEnv(cfg), NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const [{ success, code }, stderr] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
    eachLine(child.stdout, live ?? ((l) => lines.push(l))),
  ]);
  if (!success) {
    const name = spec.name ?? spec.model;
    throw new Error(`experiment ${name} failed in its child process (exit ${code}):\n${stderr.slice(-4000)}`);
  }
  const back = decode(await Deno.readTextFile(`${base}.out.json`)) as Omit<Child, "output" | "seconds">;
  return { ...back, output: lines.join("\n"), seconds: (performance.now() - t0) / 1000 };
}

/** JSON with Float32Arrays (as base64) and non-finite numbers kept. */
export function encode(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) =>
      x instanceof Float32Array
        ? { $f32: Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString("base64") }
        : typeof x === "number" && !Number.isFinite(x)
        ? { $num: String(x) }
        : x,
  );
}

export function decode(s: string): unknown {
  return JSON.parse(s, (_k, x) => {
    if (x && typeof x === "object" && typeof x.$f32 === "string") {
      const b = Buffer.from(x.$f32, "base64");
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    }
    if (x && typeof x === "object" && typeof x.$num === "string") return Number(x.$num);
    return x;
  });
}

if (import.meta.main) {
  const [specFile, outFile] = Deno.args;
  const { spec, options } = JSON.parse(await Deno.readTextFile(specFile));
  const { result, rows } = await trainExperiment(spec, runConfig(), options);
  await Deno.writeTextFile(outFile, encode({ result, rows, profile: profile() }));
}
