/**
 * Headless notebook execution: each notebook runs in a fresh Deno kernel through lib/report/nbrun.py (nbclient
 * with the late-output fix), in order; its executed copy and self-contained HTML land in the run directory,
 * then the index page. A failing cell stops the run with the notebook and cell named.
 */
import { configEnv, describedConfig, REPO_ROOT, type RunConfig } from "../config.ts";
import { plotlySourcePath } from "../viz/plotly.ts";
import type { Profile } from "../util/profile.ts";
import { type NotebookResult, PROFILE_COLUMNS, type RunInfo, writeIndex } from "./index_page.ts";
import { profilePath } from "./notebook.ts";

export const NOTEBOOK_DIR = `${REPO_ROOT}/notebooks`;
const PYTHON = "/usr/bin/python3";

export class NotebookError extends Error {
  constructor(readonly result: NotebookResult, message: string) {
    super(message);
    this.name = "NotebookError";
  }
}

/** Notebooks of the pipeline, in order (NN_name.ipynb). */
export function listNotebooks(dir = NOTEBOOK_DIR): string[] {
  return [...Deno.readDirSync(dir)].filter((e) => e.isFile && /^\d\d_.*\.ipynb$/.test(e.name)).map((e) =>
    `${dir}/${e.name}`
  ).sort();
}

/** Environment for a kernel: deno on PATH, the committed kernelspec, the run configuration. */
export function kernelEnv(cfg: RunConfig): Record<string, string> {
  const denoDir = Deno.execPath().replace(/\/[^/]+$/, "");
  return {
    ...configEnv({ ...cfg, headless: true }), // the runner executes notebooks unattended
    PATH: `${denoDir}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
    JUPYTER_PATH: `${REPO_ROOT}/jupyter`,
    NO_COLOR: "1",
    RUST_BACKTRACE: "1", // a kernel panic's backtrace lands in the runner's failure report
  };
}

export interface ExecuteOptions {
  /** Where the executed .ipynb and .html go. */
  outDir: string;
  cfg: RunConfig;
  /** Export HTML (default true). */
  html?: boolean;
  /** Plain nbclient without the late-output fix (tests use it to show the loss). */
  stock?: boolean;
  timeoutSeconds?: number;
}

interface Attempt {
  code: number;
  /** The head of the runner's stderr: on failure it starts with "FAILED <cell>" and the reason. */
  report: string;
  summary: {
    seconds?: number;
    outputs?: number;
    late_outputs_recovered?: number;
    reason?: string;
    kernel_start_seconds?: number;
    first_cell_seconds?: number;
    export_seconds?: number;
  };
}

async function attempt(path: string, name: string, o: ExecuteOptions): Promise<Attempt> {
  const args = [
    `${REPO_ROOT}/lib/report/nbrun.py`,
    path,
    `${o.outDir}/${name}.ipynb`,
    "--timeout",
    String(o.timeoutSeconds ?? 3600),
  ];
  if (o.html !== false) args.push("--html", `${o.outDir}/${name}.html`, "--inline-js", plotlySourcePath());
  if (o.stock) args.push("--stock");
  const child = new Deno.Command(PYTHON, { args, env: kernelEnv(o.cfg), stdout: "piped", stderr: "piped" })
    .spawn();
  const { code, stdout, stderr } = await child.output();
  const out = new TextDecoder().decode(stdout).trim().split("\n");
  // the kernel's own stderr (and Deno's "unstable" banner) goes to nbrun's kernel log, not here; keep the head
  const report = new TextDecoder().decode(stderr).trim().slice(0, 6000);
  let summary: Attempt["summary"] = {};
  try {
    summary = JSON.parse(out[out.length - 1]);
  } catch { /* no summary: the runner itself failed */ }
  return { code, report, summary };
}

/** The kernel process itself ended (a crash in Deno or a native library), as opposed to a cell's error. */
const kernelCrashed = (a: Attempt) =>
  a.code !== 0 && /^the kernel (died|did not start)/.test(a.summary.reason ?? "");

/**
 * Execute one notebook; resolves with its summary, rejects with NotebookError naming the failing cell.
 * A crashed kernel (not a cell error, not a timeout) gets one more attempt: the notebooks are seeded, so the
 * rerun computes the same thing, and a crash that repeats still fails. The first crash is printed as a
 * warning and kept in the result (`firstAttempt`), which run.json and the index page show.
 */
export async function executeNotebook(path: string, o: ExecuteOptions): Promise<NotebookResult> {
  const name = path.split("/").pop()!.replace(/\.ipynb$/, "");
  await Deno.mkdir(o.outDir, { recursive: true });
  await Deno.remove(profilePath(o.cfg.runDir, name)).catch(() => {}); // an earlier execution's phases
  let a = await attempt(path, name, o);
  let firstAttempt: string | undefined;
  if (kernelCrashed(a) && !o.stock) {
    firstAttempt = a.report;
    console.warn(`ctrlab: notebook ${name}: ${a.summary.reason}; running it once more.\n${firstAttempt}`);
    a = await attempt(path, name, o);
  }
  const result: NotebookResult = {
    stage: name,
    ok: a.code === 0,
    seconds: a.summary.seconds ?? 0,
    outputs: a.summary.outputs ?? 0,
    lateOutputsRecovered: a.summary.late_outputs_recovered ?? 0,
    html: o.html !== false ? `${name}.html` : undefined,
    firstAttempt,
    profile: timeProfile(a.summary, readPhases(o.cfg.runDir, name)),
  };
  if (a.code !== 0) {
    result.error = a.report || `nbrun.py exited with code ${a.code}`;
    const again = firstAttempt ? " (on the second attempt too)" : "";
    throw new NotebookError(result, `notebook ${name} failed${again}:\n${result.error}`);
  }
  return result;
}

function readPhases(runDir: string, stage: string): Profile {
  try {
    return JSON.parse(Deno.readTextFileSync(profilePath(runDir, stage)));
  } catch {
    return {}; // the notebook never reached startNotebook, or is not one of ours
  }
}

/**
 * A notebook's wall time split: the kernel's start, its first cell (the imports: lib/ and its native modules
 * loaded into the fresh kernel), the phases its cells spent in lib code (lib/util/profile.ts), "other" (cell time
 * outside any phase: narrative, small glue), and writing the executed notebook and its page.
 */
export function timeProfile(summary: Attempt["summary"], phases: Profile): Record<string, number> {
  const start = summary.kernel_start_seconds ?? 0, exp = summary.export_seconds ?? 0;
  const inPhases = Object.values(phases).reduce((a, b) => a + (b ?? 0), 0);
  const rest = Math.max(0, (summary.seconds ?? 0) - start - exp - inPhases);
  const imports = Math.min(rest, summary.first_cell_seconds ?? 0);
  const r = (x: number) => Math.round(x * 100) / 100;
  const cols: Record<string, number> = {
    "kernel start": start,
    imports,
    ...phases,
    other: rest - imports,
    "report export": exp,
  };
  return Object.fromEntries(PROFILE_COLUMNS.filter((c) => r(cols[c] ?? 0) > 0).map((c) => [c, r(cols[c])]));
}

/** Run notebooks in order into cfg.runDir, headless; writes run.json and index.html even when one fails. */
export async function runNotebooks(
  given: RunConfig,
  notebooks = listNotebooks(),
  log: (s: string) => void = console.log,
): Promise<RunInfo> {
  const cfg = { ...given, headless: true }; // what the kernels get, and what run.json records
  const runId = cfg.runDir.split("/").pop()!;
  const info: RunInfo = {
    runId,
    startedAt: new Date().toISOString(),
    config: describedConfig(cfg),
    notebooks: [],
  };
  const finish = async () => {
    await Deno.writeTextFile(`${cfg.runDir}/run.json`, JSON.stringify(info, null, 2));
    await writeIndex(cfg.runDir, info);
  };
  await Deno.mkdir(cfg.runDir, { recursive: true });
  for (const nb of notebooks) {
    const name = nb.split("/").pop()!;
    log(`▶ ${name}`);
    try {
      const r = await executeNotebook(nb, { outDir: cfg.runDir, cfg });
      info.notebooks.push(r);
      log(
        `  ok in ${
          r.seconds.toFixed(1)
        } s, ${r.outputs} outputs (${r.lateOutputsRecovered} arrived after idle and were kept)`,
      );
    } catch (e) {
      if (e instanceof NotebookError) info.notebooks.push(e.result);
      await finish();
      throw e;
    }
  }
  await finish();
  return info;
}
