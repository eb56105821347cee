/** The run's index.html: the ten stages, links to their reports, headline metrics and charts. Offline. */
import { escapeHtml } from "../viz/display.ts";
import { bar, type Figure, figureHtml, plotlySource } from "../viz/plotly.ts";
import { formatCell } from "../viz/table.ts";
import { type Headline, metricsPath } from "./notebook.ts";
import { STAGES } from "./stages.ts";
import { PHASES } from "../util/profile.ts";

/** The columns of a notebook's time profile, in order: the runner's own, lib's phases (lib/util/profile.ts), the rest. */
export const PROFILE_COLUMNS = ["kernel start", "imports", ...PHASES, "other", "report export"];

/** A colour per profile column (the chart stacks up to twelve; the shared palette has eight). */
const PROFILE_COLOURS: Record<string, string> = {
  "kernel start": "#9aa0a6",
  imports: "#c8ccd0",
  data: "#188038",
  features: "#12939a",
  training: "#8430ce",
  evaluation: "#1f5fbf",
  intervals: "#e8710a",
  charts: "#d01884",
  writing: "#b06000",
  waiting: "#e0e0e0",
  other: "#f2c94c",
  "report export": "#5f6368",
};

export interface NotebookResult {
  stage: string;
  ok: boolean;
  seconds: number;
  outputs: number;
  lateOutputsRecovered: number;
  html?: string; // path relative to the run dir
  error?: string;
  /** When the kernel crashed on the first attempt and the notebook ran again: that attempt's report. */
  firstAttempt?: string;
  /** Seconds by phase (lib/report/run.ts timeProfile); they add up to `seconds`. */
  profile?: Record<string, number>;
  /** onnxruntime threads its kernel had, when it ran beside other notebooks. */
  threads?: number;
}

export interface RunInfo {
  runId: string;
  startedAt: string;
  config: Record<string, unknown>;
  /** Wall-clock seconds of the whole run (less than the notebooks' sum when some ran side by side). */
  seconds?: number;
  notebooks: NotebookResult[];
}

function readHeadline(runDir: string, stage: string): Headline | null {
  try {
    return JSON.parse(Deno.readTextFileSync(metricsPath(runDir, stage)));
  } catch {
    return null;
  }
}

export function renderIndex(runDir: string, info: RunInfo): string {
  const rows: string[] = [];
  const charts: string[] = [];
  for (const s of STAGES) {
    const r = info.notebooks.find((n) => n.stage === s.id);
    const h = readHeadline(runDir, s.id);
    const status = !r
      ? `<span class="todo">not built yet</span>`
      : r.ok
      ? `<span class="ok">ran in ${r.seconds.toFixed(1)} s</span>${
        r.firstAttempt
          ? ` <span class="fail">(second attempt: the kernel crashed on the first)</span><pre>${
            escapeHtml(r.firstAttempt)
          }</pre>`
          : ""
      }`
      : `<span class="fail">failed</span>`;
    const name = r?.html
      ? `<a href="${escapeHtml(r.html)}">${escapeHtml(s.id)} · ${escapeHtml(s.title)}</a>`
      : `${escapeHtml(s.id)} · ${escapeHtml(s.title)}`;
    const metrics = h
      ? Object.entries(h.metrics).map(([k, v]) =>
        `<div><b>${escapeHtml(k)}</b> ${escapeHtml(formatCell(v))}</div>`
      ).join("")
      : "";
    rows.push(
      `<tr><td>${name}<div class="q">${escapeHtml(s.question)}</div></td><td>${status}${
        r?.error ? `<pre>${escapeHtml(r.error)}</pre>` : ""
      }</td><td>${metrics}</td></tr>`,
    );
    if (h?.table?.length) {
      const cols = Object.keys(h.table[0]);
      const body = h.table.map((r) =>
        `<tr>${cols.map((c) => `<td>${escapeHtml(formatCell(r[c]))}</td>`).join("")}</tr>`
      ).join("");
      charts.push(
        `<h3>${escapeHtml(s.id)} · ${escapeHtml(s.title)}</h3><table class="stage"><thead><tr>${
          cols.map((c) => `<th align="left">${escapeHtml(c)}</th>`).join("")
        }</tr></thead><tbody>${body}</tbody></table>`,
      );
    }
    if (h?.figure) {
      charts.push(
        `<h3>${escapeHtml(s.id)} · ${escapeHtml(s.title)}</h3>${figureHtml(h.figure, `index-${s.id}`)}`,
      );
    }
  }
  const timing = timeChart(info);
  if (timing) charts.unshift(`<h3>Where the run's time went</h3>${figureHtml(timing, "index-time")}`);
  const cfg = Object.entries(info.config).filter(([, v]) => v !== undefined) // unset (e.g. zoo: all of it)
    .map(([k, v]) => `<b>${escapeHtml(k)}</b> ${escapeHtml(String(v))}`).join(" · ");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ctrlab run ${escapeHtml(info.runId)}</title>
${
    charts.length
      ? `<script type="text/javascript">${plotlySource().replaceAll("</script", "<\\/script")}</script>`
      : ""
  }
<style>
body{font:14px Helvetica,Arial,sans-serif;max-width:1100px;margin:24px auto;color:#222;padding:0 16px}
table{border-collapse:collapse;width:100%} td{vertical-align:top;padding:8px;border-bottom:1px solid #ddd}
table.stage td{padding:4px 8px;font-size:13px} .q{color:#666;font-size:12px;margin-top:3px} .ok{color:#188038} .fail{color:#c5221f;font-weight:bold} .todo{color:#999}
pre{white-space:pre-wrap;font-size:11px;color:#c5221f} .cfg{color:#444;font-size:12px;margin-bottom:16px}
</style></head><body>
<h1>ctrlab · run ${escapeHtml(info.runId)}</h1>
<div class="cfg">started ${escapeHtml(info.startedAt)} · ${cfg}</div>
<table><thead><tr><th align="left">stage</th><th align="left">status</th><th align="left">headline</th></tr></thead>
<tbody>${rows.join("\n")}</tbody></table>
${charts.join("\n")}
</body></html>`;
}

/** Seconds per notebook, stacked by phase; null before any notebook reported a profile. */
export function timeChart(info: RunInfo): Figure | null {
  const runs = info.notebooks.filter((n) => n.profile);
  if (!runs.length) return null;
  const seen = new Set(runs.flatMap((n) => Object.keys(n.profile!)));
  const phases = PROFILE_COLUMNS.filter((p) => seen.has(p));
  const total = runs.reduce((a, n) => a + n.seconds, 0);
  return bar(
    runs.map((n) => `${n.stage} (${n.seconds.toFixed(0)} s${n.threads ? `, ${n.threads} thr` : ""})`),
    Object.fromEntries(phases.map((p) => [p, runs.map((n) => n.profile![p] ?? 0)])),
    {
      stacked: true,
      title: `${total.toFixed(0)} s in ${runs.length} notebooks, by phase${
        info.seconds !== undefined && info.seconds < total - 1
          ? ` (${info.seconds.toFixed(0)} s wall: some ran side by side)`
          : ""
      }`,
      yTitle: "seconds",
      height: 540,
      layout: { colorway: phases.map((p) => PROFILE_COLOURS[p]), margin: { b: 130 } },
    },
  ).figure;
}

export async function writeIndex(runDir: string, info: RunInfo): Promise<string> {
  const path = `${runDir}/index.html`;
  await Deno.writeTextFile(path, renderIndex(runDir, info));
  return path;
}
