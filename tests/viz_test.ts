import { bar, heatmap, histogram, histogramBins, line, PALETTE, plot } from "../lib/viz/plotly.ts";
import { JUPYTER_DISPLAY } from "../lib/viz/display.ts";
import { table } from "../lib/viz/table.ts";
import { progress } from "../lib/viz/progress.ts";
import { assert, assertClose, assertEquals } from "./assert.ts";

Deno.test("charts carry the plotly MIME type and self-drawing HTML", () => {
  Deno.env.set("CTRLAB_HEADLESS", "1");
  for (
    const chart of [
      line([1, 2, 3], { a: [1, 2, 3], b: [3, 2, 1] }, { title: "t" }),
      bar(["x", "y"], { v: [1, 2] }, { stacked: true }),
      heatmap([[1, 2], [3, 4]], ["c1", "c2"], ["r1", "r2"]),
      histogram({ v: [1, 2, 2, 3] }),
    ]
  ) {
    const b = chart[JUPYTER_DISPLAY]();
    const fig = b["application/vnd.plotly.v1+json"] as { data: unknown[] };
    assert(fig.data.length >= 1);
    const html = b["text/html"] as string;
    assert(html.includes("Plotly.newPlot") && html.includes("ctrlab-plot"));
    assert(!html.includes("cdn") && !/src=["']http/.test(html), "no network references");
  }
  const l = line([1, 2], { a: [1, 2], b: [2, 1] });
  assertEquals((l.figure.layout.template as { layout: { colorway: string[] } }).layout.colorway, PALETTE);
  assertEquals((l.figure.data[1] as { name: string }).name, "b");
});

Deno.test("histograms are binned before charting: exact integer bins, shared edges, every finite value counted once", () => {
  // integers with few distinct values: one bin per integer
  const ints = histogramBins({ a: [0, 0, 1, 3, 3, 3], b: [1, 2] }, 21);
  assertEquals(ints.centers, [0, 1, 2, 3]);
  assertEquals(ints.heights, { a: [2, 1, 0, 3], b: [0, 1, 1, 0] });
  // reals: equal-width bins over the union; the maximum lands in the last bin; NaN is counted as left out
  const rng = Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 5);
  const r = histogramBins({ x: [...rng, NaN], y: [10] }, 8);
  assertEquals(r.centers.length, 8);
  assertEquals(r.heights.x.reduce((a, b) => a + b, 0), 1000);
  assertEquals(r.skipped, { x: 1, y: 0 });
  assertEquals(r.heights.y[7], 1);
  const lo = Math.min(...rng), w = (10 - lo) / 8;
  assertClose(r.width, w, 1e-12);
  assertEquals(r.heights.x[0], rng.filter((v) => v < lo + w).length);
  assertClose(histogramBins({ x: rng }, 8, true).heights.x.reduce((a, b) => a + b, 0), 1, 1e-12);
  // the chart carries one number per bin, not the values
  const big = Float64Array.from({ length: 200_000 }, (_, i) => i % 97);
  const html = histogram({ v: big }, { bins: 10 })[JUPYTER_DISPLAY]()["text/html"] as string;
  assert(html.length < 5000, `histogram output is ${html.length} characters`);
});

Deno.test("headless charts do not embed plotly.js; interactive ones embed it once", () => {
  Deno.env.set("CTRLAB_HEADLESS", "1");
  assert((plot([{ type: "bar", x: [1], y: [1] }])[JUPYTER_DISPLAY]()["text/html"] as string).length < 5000);
  Deno.env.delete("CTRLAB_HEADLESS");
  const first = plot([{ type: "bar", x: [1], y: [1] }])[JUPYTER_DISPLAY]()["text/html"] as string;
  const second = plot([{ type: "bar", x: [1], y: [1] }])[JUPYTER_DISPLAY]()["text/html"] as string;
  assert(first.length > 1_000_000, "first interactive chart inlines plotly.js");
  assert(second.length < 5000, "later charts reuse it");
  Deno.env.set("CTRLAB_HEADLESS", "1");
});

Deno.test("table renders records and formats numbers", () => {
  const t = table([{ name: "a", n: 1234567, x: 0.123456 }, { name: "<b>", n: 2, x: NaN }], { title: "T" });
  const b = t[JUPYTER_DISPLAY]();
  assert((b["text/html"] as string).includes("1,234,567"));
  assert((b["text/html"] as string).includes("&lt;b&gt;"), "HTML escaped");
  assert((b["text/plain"] as string).includes("0.1235"));
  assert((b["text/plain"] as string).includes("n/a"));
  const many = table(Array.from({ length: 80 }, (_, i) => ({ i })), { maxRows: 10 });
  assert((many[JUPYTER_DISPLAY]()["text/plain"] as string).includes("70 more rows not shown"));
});

/** The lines `run` prints with console.log in a headless run. */
function headlessLines(run: () => void): string[] {
  Deno.env.set("CTRLAB_HEADLESS", "1");
  const lines: string[] = [];
  const orig = console.log;
  console.log = (s: string) => lines.push(s);
  try {
    run();
  } finally {
    console.log = orig;
  }
  return lines;
}

Deno.test("progress prints sparse lines when headless", () => {
  const lines = headlessLines(() => {
    const p = progress(1000, "work", 0.25);
    for (let i = 0; i < 1000; i++) p.tick(1);
    p.done();
  });
  assertEquals(lines.length, 4);
  assert(lines[3].includes("100%") && lines[3].includes("1,000/1,000"));
});

Deno.test("progress with an unknown total (0) counts, prints once when done, and never loops", () => {
  const lines = headlessLines(() => {
    const p = progress(0, "records");
    for (let i = 0; i < 5; i++) p.tick(1000);
    p.done("ok");
  });
  assertEquals(lines.length, 1);
  assert(lines[0].startsWith("records 5,000 ") && lines[0].endsWith("ok"), lines[0]);
});

Deno.test("progress updates one display in place inside a kernel", async () => {
  Deno.env.delete("CTRLAB_HEADLESS");
  const { useKernel } = await import("../lib/viz/display.ts");
  const calls: { update?: boolean; display_id?: string }[] = [];
  useKernel({
    display: (_o, opts) => {
      calls.push(opts ?? {});
      return Promise.resolve();
    },
  });
  try {
    const p = progress(10, "k");
    p.tick(5);
    p.done();
  } finally {
    useKernel(null);
    Deno.env.set("CTRLAB_HEADLESS", "1");
  }
  assertEquals(calls.length, 2);
  assertEquals([calls[0].update, calls[1].update], [false, true]);
  assertEquals(calls[0].display_id, calls[1].display_id);
});
