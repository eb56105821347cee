/**
 * Plotly charts as cell outputs. Each chart carries two representations: the plotly MIME type (for
 * front ends with a plotly renderer) and text/html that draws with `window.Plotly`. nbconvert's HTML keeps
 * only the latter; lib/report/export inlines plotly.js into each exported page, so reports need no network.
 * In an interactive session the first chart also inlines the library so JupyterLab can draw it.
 */
import { type Displayable, displayable, escapeHtml, isHeadless } from "./display.ts";

export interface Figure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
}

/** ctrlab's palette: colour-blind-safe, and distinctive enough for the screenshot tests to find. */
export const PALETTE = [
  "#1f5fbf",
  "#e8710a",
  "#188038",
  "#c5221f",
  "#8430ce",
  "#12939a",
  "#b06000",
  "#5f6368",
];

let libraryShown = false;
let counter = 0;

export function plotlySourcePath(): string {
  return new URL("../../node_modules/plotly.js-dist-min/plotly.min.js", import.meta.url).pathname;
}

export function plotlySource(): string {
  return Deno.readTextFileSync(plotlySourcePath());
}

const BASE_LAYOUT = {
  template: { layout: { colorway: PALETTE, font: { family: "Helvetica, Arial, sans-serif", size: 13 } } },
  margin: { l: 60, r: 20, t: 50, b: 50 },
  paper_bgcolor: "white",
  plot_bgcolor: "white",
  xaxis: { gridcolor: "#e6e6e6", zeroline: false },
  yaxis: { gridcolor: "#e6e6e6", zeroline: false },
  height: 380,
};

function mergeLayout(layout: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...BASE_LAYOUT, ...layout };
  for (const axis of ["xaxis", "yaxis"]) {
    out[axis] = {
      ...(BASE_LAYOUT as unknown as Record<string, object>)[axis],
      ...(layout[axis] as object ?? {}),
    };
  }
  return out;
}

/** The HTML that draws a figure where plotly.js is loaded (inline in the page or earlier in the notebook). */
export function figureHtml(fig: Figure, id: string): string {
  const spec = JSON.stringify(fig).replaceAll("</", "<\\/");
  const height = Number(fig.layout.height ?? 380);
  return `<div id="${id}" class="ctrlab-plot" style="width:100%;height:${height}px"></div>
<script type="text/javascript">(function(){var s=${spec};function d(){window.Plotly.newPlot("${id}",s.data,s.layout,{responsive:true,displaylogo:false});}
if(window.Plotly){d();}else{(window.__ctrlabPending=window.__ctrlabPending||[]).push(d);}})();</script>`;
}

/** A displayable plotly figure. */
export function plot(
  data: Record<string, unknown>[],
  layout: Record<string, unknown> = {},
): Displayable & { figure: Figure } {
  const fig: Figure = { data, layout: mergeLayout(layout) };
  const id = `ctrlab-plot-${Date.now().toString(36)}-${counter++}`;
  const title = typeof layout.title === "string"
    ? layout.title
    : (layout.title as { text?: string })?.text ?? "chart";
  const d = displayable(() => {
    let html = figureHtml(fig, id);
    if (!isHeadless() && !libraryShown) {
      libraryShown = true;
      html = `<script type="text/javascript">${plotlySource()}</script>\n${html}`;
    }
    return {
      "application/vnd.plotly.v1+json": fig,
      "text/html": html,
      "text/plain": `[plotly chart: ${escapeHtml(title)}; ${data.length} trace(s)]`,
    };
  });
  return Object.assign(d, { figure: fig });
}

type Series = Record<string, ArrayLike<number>>;
export interface ChartOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  height?: number;
  layout?: Record<string, unknown>;
}

function axes(o: ChartOptions): Record<string, unknown> {
  return {
    title: o.title ? { text: o.title } : undefined,
    xaxis: o.xTitle ? { title: { text: o.xTitle } } : {},
    yaxis: o.yTitle ? { title: { text: o.yTitle } } : {},
    height: o.height ?? 380,
    ...o.layout,
  };
}

const arr = (xs: ArrayLike<number | string>) => Array.from(xs as ArrayLike<number | string>);

/** Line chart: one trace per named series over a shared x. */
export function line(x: ArrayLike<number | string>, series: Series, o: ChartOptions = {}) {
  return plot(
    Object.entries(series).map(([name, y]) => ({
      type: "scatter",
      mode: "lines+markers",
      name,
      x: arr(x),
      y: arr(y),
    })),
    axes(o),
  );
}

/** Bar chart: categories on x, one (grouped or stacked) trace per series. */
export function bar(
  categories: ArrayLike<number | string>,
  series: Series,
  o: ChartOptions & { stacked?: boolean } = {},
) {
  const data = Object.entries(series).map(([name, y]) => ({
    type: "bar",
    name,
    x: arr(categories).map(String),
    y: arr(y),
  }));
  return plot(data, { ...axes(o), barmode: o.stacked ? "stack" : "group" });
}

/** Bars with asymmetric interval whiskers (e.g. ΔAUC with its bootstrap interval). */
export function intervalBar(
  categories: ArrayLike<number | string>,
  values: ArrayLike<number>,
  lo: ArrayLike<number>,
  hi: ArrayLike<number>,
  o: ChartOptions = {},
) {
  const v = arr(values) as number[], l = arr(lo) as number[], h = arr(hi) as number[];
  return plot([{
    type: "bar",
    x: arr(categories).map(String),
    y: v,
    marker: { color: v.map((_, i) => l[i] > 0 ? PALETTE[2] : h[i] < 0 ? PALETTE[3] : PALETTE[7]) },
    error_y: {
      type: "data",
      symmetric: false,
      array: v.map((x, i) => h[i] - x),
      arrayminus: v.map((x, i) => x - l[i]),
      color: "#333",
    },
  }], axes(o));
}

/** Heatmap of z[row][col] with row labels y and column labels x. */
export function heatmap(
  z: number[][],
  x: ArrayLike<number | string>,
  y: ArrayLike<number | string>,
  o: ChartOptions & { colorscale?: string; text?: boolean } = {},
) {
  // plotly's sequential scales run dark→light; reversed, darker means more. Rows read top to bottom.
  const trace: Record<string, unknown> = {
    type: "heatmap",
    z,
    x: arr(x).map(String),
    y: arr(y).map(String),
    colorscale: o.colorscale ?? "Blues",
    reversescale: true,
  };
  if (o.text) {
    Object.assign(trace, { texttemplate: "%{z:.3g}", hovertemplate: "%{y} / %{x}: %{z}<extra></extra>" });
  }
  const title = (t?: string) => t ? { title: { text: t } } : {};
  return plot([trace], {
    ...axes(o),
    yaxis: { type: "category", autorange: "reversed", ...title(o.yTitle) },
    xaxis: { type: "category", ...title(o.xTitle) },
  });
}

/** Scatter plot, one marker trace per named group (hover text optional). */
export function scatter(
  groups: Record<string, { x: ArrayLike<number>; y: ArrayLike<number>; text?: string[] }>,
  o: ChartOptions = {},
) {
  const data = Object.entries(groups).map(([name, g]) => ({
    type: "scattergl",
    mode: "markers",
    name,
    x: arr(g.x),
    y: arr(g.y),
    text: g.text,
    marker: { size: 5, opacity: 0.7 },
  }));
  return plot(data, axes(o));
}

export interface Bins {
  /** Bin centres, shared by every series. */
  centers: number[];
  width: number;
  /** Per series: count per bin (or share of its values, with normalize). */
  heights: Record<string, number[]>;
  /** Per series: values left out because they are not finite (NaN, ±Infinity). */
  skipped: Record<string, number>;
}

/**
 * Shared equal-width bins over all series. Integer data with no more distinct values than `bins` gets one
 * bin per integer (centred on it), so counts of clicks or days are exact.
 */
export function histogramBins(series: Series, bins = 40, normalize = false): Bins {
  let lo = Infinity, hi = -Infinity, integers = true;
  for (const v of Object.values(series)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (!Number.isFinite(x)) continue;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
      if (integers && !Number.isInteger(x)) integers = false;
    }
  }
  if (lo > hi) lo = hi = 0;
  const unit = integers && hi - lo + 1 <= bins;
  const n = unit ? hi - lo + 1 : bins;
  const width = unit ? 1 : (hi - lo) / bins || 1;
  const start = unit ? lo - 0.5 : lo;
  const heights: Record<string, number[]> = {}, skipped: Record<string, number> = {};
  for (const [name, v] of Object.entries(series)) {
    const h = new Array<number>(n).fill(0);
    let kept = 0;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (!Number.isFinite(x)) continue;
      h[Math.min(n - 1, Math.floor((x - start) / width))]++;
      kept++;
    }
    heights[name] = normalize && kept > 0 ? h.map((c) => c / kept) : h;
    skipped[name] = v.length - kept;
  }
  return { centers: Array.from({ length: n }, (_, i) => start + (i + 0.5) * width), width, heights, skipped };
}

/**
 * Histogram: binned here (`histogramBins`), drawn as overlaid bars, so the chart carries one number per bin
 * whatever the number of values (a million raw values would put megabytes into the notebook and the report).
 */
export function histogram(series: Series, o: ChartOptions & { bins?: number; normalize?: boolean } = {}) {
  const b = histogramBins(series, o.bins ?? 40, o.normalize);
  const overlay = Object.keys(series).length > 1;
  const data = Object.entries(b.heights).map(([name, y]) => ({
    type: "bar",
    name: b.skipped[name] ? `${name} (${b.skipped[name]} not finite, left out)` : name,
    x: b.centers,
    y,
    width: b.width,
    opacity: overlay ? 0.6 : 1,
  }));
  return plot(data, { ...axes(o), barmode: "overlay", bargap: 0 });
}
