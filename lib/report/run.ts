/**
 * Headless notebook execution: each notebook runs in a fresh Deno kernel through lib/report/nbrun.py (nbclient
 * with the late-output fix), once the notebooks it reads from have run (side by side where they do not depend
 * on each other); its executed copy and self-contained HTML land in the run directory, then the index page. A
 * failing cell stops the run with the notebook and cell named.
 */
import { configEnv, describedConfig, REPO_ROOT, type RunConfig } from "../config.ts";
import { plotlySourcePath } from "../viz/plotly.ts";
import type { Profile } from "../util/profile.ts";
import { eachLine } from "../util/lines.ts";
import { type RunStages, stagesPath, writeStages } from "../util/stages.ts";
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
  /** Called once every cell has run without error and the executed notebook is written, before the page export. */
  onCellsDone?: () => void;
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

/** What lib/report/nbrun.py prints on its own line once the cells have run and the notebook is written. */
const CELLS_DONE = "ctrlab: cells done";

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
  const lines: string[] = [];
  // line by line: nbrun says when the cells are done, before it exports
  const reading = eachLine(
    child.stdout,
    (line) => line === CELLS_DONE ? o.onCellsDone?.() : lines.push(line),
  );
  const [{ code }, stderr] = await Promise.all([child.status, new Response(child.stderr).text(), reading]);
  const out = lines.filter((l) => l.trim());
  // the kernel's own stderr (and Deno's "unstable" banner) goes to nbrun's kernel log, not here; keep the head
  const report = stderr.trim().slice(0, 6000);
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

/** A notebook's stage name: its file name without .ipynb. */
const stageOf = (path: string) => path.split("/").pop()!.replace(/\.ipynb$/, "");

/**
 * The stages a notebook reads from, as its metadata declares them (`"ctrlab": {"after": ["05_mmoe"]}`: what it
 * reads must exist before it starts, what it writes nobody before it reads); without the field, every notebook
 * before it in `order`. A notebook may only name notebooks before it.
 */
export function notebookNeeds(path: string, order: string[]): string[] {
  const stage = stageOf(path), before = order.slice(0, order.indexOf(stage));
  return metadataStages(path, "after")?.filter((a) => before.includes(a)) ?? before; // the others ran earlier
}

/**
 * The stages a notebook may start beside and wait for inside its cells (`"ctrlab": {"waits": ["08_fusion"]}`:
 * it reads them only late, after lib/util/stages.ts `waitForStages`, as runExperiment does for a baseline). The
 * runner starts them before it, so a waiting notebook never holds a slot one it waits for needs.
 */
export function notebookWaits(path: string, order: string[]): string[] {
  return metadataStages(path, "waits")?.filter((a) => order.includes(a)) ?? [];
}

/** The metadata list `ctrlab.<field>`, checked to name notebooks before this one; undefined without the field. */
function metadataStages(path: string, field: "after" | "waits"): string[] | undefined {
  const stage = stageOf(path);
  const names = JSON.parse(Deno.readTextFileSync(path)).metadata?.ctrlab?.[field];
  if (names === undefined) return undefined;
  const all = listNotebooks(path.replace(/\/[^/]+$/, "")).map(stageOf);
  const bad = Array.isArray(names)
    ? names.filter((a) => typeof a !== "string" || !all.includes(a) || all.indexOf(a) >= all.indexOf(stage))
    : [names];
  if (bad.length) {
    throw new Error(
      `${stage}: metadata ctrlab.${field} must name notebooks before it, not ${JSON.stringify(bad)}`,
    );
  }
  return names;
}

/**
 * Run notebooks into cfg.runDir, headless: each starts as soon as the notebooks it needs (notebookNeeds) have
 * finished, up to cfg.jobs at once (0: one per core), so independent stages (06_ple beside 07_text) share the
 * machine. Kernels that run together split the cores and the jobs between them (onnxruntime's threads: the
 * results repeat to the last bit at any count). A failure stops new notebooks from starting; those running
 * finish, and the first failure in notebook order is thrown. Writes run.json and index.html even when one fails.
 */
export async function runNotebooks(
  given: RunConfig,
  notebooks = listNotebooks(),
  log: (s: string) => void = console.log,
): Promise<RunInfo> {
  const cfg = { ...given, headless: true }; // what the kernels get, and what run.json records
  const runId = cfg.runDir.split("/").pop()!;
  const cores = navigator.hardwareConcurrency || 1;
  const jobs = cfg.jobs || cores;
  const info: RunInfo = {
    runId,
    startedAt: new Date().toISOString(),
    config: describedConfig(cfg),
    notebooks: [],
  };
  const t0 = performance.now();
  const finish = async () => {
    await Deno.remove(stagesPath(cfg.runDir)).catch(() => {}); // only while the runner runs (lib/util/stages.ts)
    info.seconds = Math.round((performance.now() - t0) / 100) / 10;
    await Deno.writeTextFile(`${cfg.runDir}/run.json`, JSON.stringify(info, null, 2));
    await writeIndex(cfg.runDir, info);
  };
  await Deno.mkdir(cfg.runDir, { recursive: true });
  const order = notebooks.map(stageOf);
  const needs = new Map(notebooks.map((p, i) => [order[i], notebookNeeds(p, order)]));
  const waits = new Map(notebooks.map((p, i) => [order[i], notebookWaits(p, order)]));
  type Done = { stage: string; result?: NotebookResult; error?: unknown };
  // a notebook's kernel is "running" until its cells are done; its page export then overlaps what needs it
  const running = new Set<string>(), exporting = new Set<string>(), finished = new Map<string, Done>();
  const ended: Done[] = [];
  const cellsRan = (n: string) => (finished.has(n) && !finished.get(n)!.error) || exporting.has(n);
  // the states, for a notebook that waits inside its cells (lib/util/stages.ts): written on every change
  const publish = () =>
    writeStages(
      cfg.runDir,
      Object.fromEntries(order.map((n): [string, RunStages[string]] => [n, {
        state: finished.get(n)?.error
          ? "failed"
          : cellsRan(n)
          ? "done"
          : running.has(n)
          ? "running"
          : "waiting",
        waits: waits.get(n)!,
      }])),
    );
  publish();
  let signalled = false, wake: (() => void) | null = null;
  const signal = () => {
    signalled = true;
    wake?.();
  };
  for (;;) {
    const failed = [...finished.values()].some((d) => d.error);
    // in order (needs and waits name earlier notebooks, notebookNeeds): one it waits for starts first, here or before
    const start: string[] = [];
    for (const n of failed ? [] : order) {
      if (start.length >= jobs - running.size) break;
      if (
        !cellsRan(n) && !running.has(n) && needs.get(n)!.every(cellsRan) &&
        waits.get(n)!.every((d) => cellsRan(d) || running.has(d) || start.includes(d))
      ) start.push(n);
    }
    const sharing = running.size + start.length, already = [...running];
    for (const stage of start) {
      const threads = Math.max(1, Math.floor((cfg.threads || cores) / sharing));
      const share = Math.max(1, Math.floor(jobs / sharing));
      const beside = [...already, ...start.filter((s) => s !== stage)];
      log(
        `▶ ${stage}.ipynb${
          beside.length ? ` (beside ${beside.join(", ")}; ${threads} thread${threads > 1 ? "s" : ""})` : ""
        }`,
      );
      running.add(stage);
      publish();
      const cellsDone = () => {
        running.delete(stage);
        exporting.add(stage);
        publish();
        signal();
      };
      executeNotebook(notebooks[order.indexOf(stage)], {
        outDir: cfg.runDir,
        cfg: { ...cfg, threads, jobs: share },
        onCellsDone: cellsDone,
      }).then(
        (result) => ({ stage, result: { ...result, ...(sharing > 1 ? { threads } : {}) } }),
        (error) => ({ stage, error, result: error instanceof NotebookError ? error.result : undefined }),
      ).then((d) => {
        ended.push(d);
        signal();
      });
    }
    if (!running.size && !exporting.size && !ended.length) break;
    if (!signalled) await new Promise<void>((r) => wake = r);
    signalled = false;
    wake = null;
    for (const done of ended.splice(0)) {
      running.delete(done.stage);
      exporting.delete(done.stage);
      finished.set(done.stage, done);
      publish();
      const r = done.result;
      if (r && !done.error) {
        log(
          `  ${done.stage} ok in ${
            r.seconds.toFixed(1)
          } s, ${r.outputs} outputs (${r.lateOutputsRecovered} arrived after idle and were kept)`,
        );
      }
    }
  }
  const ran = order.filter((n) => finished.has(n)).map((n) => finished.get(n)!);
  info.notebooks = ran.flatMap((d) => d.result ? [d.result] : []);
  await finish();
  const failure = ran.find((d) => d.error);
  if (failure) throw failure.error;
  return info;
}
