/**
 * The charts and tables every model notebook shows for its experiments, in one place so notebooks hold the
 * narrative and a spec, not copies of plotting code: the model's definition and compiled graph, training
 * curves, test slices beside the oracle, the comparison with the baseline, coldness, gates.
 */
import { readEtlReport } from "../data/etl.ts";
import { sceneSummary } from "../data/summary.ts";
import { type ComparisonRow, fmtDelta } from "../eval/slices.ts";
import { sceneLabels } from "../features/table.ts";
import { bar, heatmap, intervalBar, line, md, table } from "../viz/mod.ts";
import { family } from "./models.ts";
import type { ExperimentResult } from "./run.ts";

/** The model's own definition (its lib/models file), as a code block. */
export function modelDefinition(model: string) {
  return modelFile(family(model).source);
}

/** A lib/models file as a code block (e.g. a layer any model can add, such as scene_factors.ts). */
export function modelFile(file: string) {
  const source = Deno.readTextFileSync(new URL(`../models/${file}`, import.meta.url)).trim();
  return md(`**\`lib/models/${file}\`**\n\n\`\`\`ts\n${source}\n\`\`\``);
}

/** What the engine built from the model function: layers with shapes, inputs, and the forward graph's ops. */
export function graphSummary(r: ExperimentResult) {
  const g = r.graph;
  return table([
    ...g.layers.map((l) => ({ part: "layer", name: l.layer, detail: l.params, size: l.size })),
    ...g.inputs.map((i) => ({ part: "input", name: i.name, detail: `${i.shape} ${i.dtype}`, size: "" })),
    {
      part: "ops",
      name: `${g.nodes} nodes`,
      detail: g.ops.map((o) => `${o.op} ×${o.count}`).join(", "),
      size: "",
    },
  ], {
    title: `${r.name}: ${
      g.parameters.toLocaleString("en-US")
    } trainable parameters (compiled for ${r.backend})`,
    maxRows: 60,
  });
}

/** One row per experiment: size, epochs, validation (what selected it) and test. */
export function experimentTable(rs: ExperimentResult[], title = "Experiments") {
  return table(
    rs.map((r) => ({
      model: r.name,
      parameters: r.graph.parameters,
      epochs: r.fit.history.length,
      "best epoch": r.fit.bestEpoch + 1,
      "val AUC": r.val.auc,
      "test AUC": r.test.auc,
      "test logloss": r.test.logloss,
      "train s": r.seconds,
    })),
    { title },
  );
}

export function historyTable(r: ExperimentResult) {
  const h = r.fit;
  return table(h.history.map(({ valSliceAuc: _s, ...e }) => ({ ...e, epoch: e.epoch + 1 })), {
    title: `${r.name}: training history (best epoch ${h.bestEpoch + 1}, chosen on validation${
      h.stoppedEarly ? "; stopped early" : ""
    })`,
  });
}

export function learningCurves(r: ExperimentResult) {
  const h = r.fit.history;
  return line(h.map((e) => e.epoch + 1), {
    "train loss": h.map((e) => e.trainLoss),
    "val logloss": h.map((e) => e.valLogloss),
  }, {
    title: `${r.name}: learning curves`,
    xTitle: "epoch",
    yTitle: "logloss",
  });
}

/** Validation AUC per epoch, one line per experiment. */
export function valAucCurves(rs: ExperimentResult[]) {
  const epochs = Math.max(...rs.map((r) => r.fit.history.length));
  return line(
    Array.from({ length: epochs }, (_, i) => i + 1),
    Object.fromEntries(rs.map((r) => [r.name, r.fit.history.map((e) => e.valAuc)])),
    {
      title: "Validation AUC per epoch",
      xTitle: "epoch",
      yTitle: "AUC",
    },
  );
}

/** Validation AUC of each scene's tower, per epoch (scenes as tasks). */
export function sceneValCurves(r: ExperimentResult) {
  const h = r.fit.history, scenes = Object.keys(h[0]?.valSliceAuc ?? {});
  return line(
    h.map((e) => e.epoch + 1),
    Object.fromEntries(scenes.map((s) => [s, h.map((e) => e.valSliceAuc![s] as number)])),
    {
      title: `${r.name}: validation AUC per scene, per epoch`,
      xTitle: "epoch",
      yTitle: "AUC",
    },
  );
}

/** Test metrics overall and per slice of `dims`, beside the oracle. */
export function sliceTable(r: ExperimentResult, dims = ["scene"]) {
  const rows = [...r.slices.all, ...dims.flatMap((d) => r.slices[d] ?? [])];
  return table(rows, {
    title: `${r.name}: test metrics${
      rows[0]?.oracleAuc === "n/a" ? " (no oracle for these logs)" : ", beside the oracle"
    }`,
  });
}

/** The comparison with the baseline: "all" and the slices of `dims`, each ΔAUC with its 95 % paired-bootstrap interval. */
export function versusRows(r: ExperimentResult, dims = ["scene"]): ComparisonRow[] {
  if (!r.versus) throw new Error(`${r.name} has no baseline to compare with`);
  return [...r.versus.all, ...dims.flatMap((d) => r.versus![d] ?? [])];
}

export function versusTable(r: ExperimentResult, dims = ["scene"]) {
  return table(versusRows(r, dims), {
    title:
      `${r.name} (B) vs ${r.spec.baseline} (A) on the same test rows: AUC difference with 95 % paired-bootstrap intervals`,
  });
}

/** ΔAUC per slice with its interval; green where the interval is above 0. */
export function versusChart(r: ExperimentResult, dims = ["scene"]) {
  const rows = versusRows(r, dims).filter((c) => c.verdict !== "n/a");
  return intervalBar(
    rows.map((c) => c.slice),
    rows.map((c) => c.diff),
    rows.map((c) => c.lo),
    rows.map((c) => c.hi),
    {
      title: `${r.name} − ${r.spec.baseline}: test ΔAUC (95 % paired bootstrap)`,
      yTitle: "ΔAUC",
    },
  );
}

/** Several experiments against their (shared) baseline, overall: the zoo's comparison table. */
export function baselineTable(rs: ExperimentResult[]) {
  return table(
    rs.map((r) => {
      const v = r.versus?.all[0];
      return {
        model: r.name,
        "test AUC": r.test.auc,
        "test logloss": r.test.logloss,
        [`ΔAUC vs ${r.spec.baseline ?? "—"} (95 % CI)`]: v ? fmtDelta(v) : "",
        verdict: v?.verdict ?? "",
      };
    }),
    { title: `Test AUC; ΔAUC vs ${rs[0]?.spec.baseline} with 95 % paired-bootstrap intervals` },
  );
}

export function baselineChart(rs: ExperimentResult[]) {
  const v = rs.map((r) => r.versus!.all[0]);
  return intervalBar(rs.map((r) => r.name), v.map((c) => c.diff), v.map((c) => c.lo), v.map((c) => c.hi), {
    title: `Test ΔAUC vs ${rs[0]?.spec.baseline} (95 % paired bootstrap); green: interval above 0`,
    yTitle: "ΔAUC",
  });
}

export function coldnessTable(r: ExperimentResult) {
  return table([...r.slices["user coldness"] ?? [], ...r.slices["item coldness"] ?? []], {
    title: `${r.name}: test AUC by user and item coldness`,
  });
}

export function sceneColdnessHeatmap(r: ExperimentResult) {
  const cp = r.sceneByUser;
  return heatmap(
    cp.auc.map((row) => row.map((v) => typeof v === "number" ? Number(v.toFixed(4)) : NaN)),
    cp.levels.map((l) => `user ${l}`),
    cp.scenes,
    {
      title: `${r.name}: test AUC, scene × user coldness (empty: n/a)`,
      text: true,
    },
  );
}

/** Mean gate weight per scene's tower (validation rows); `expert` names the columns. */
export function gatesHeatmap(r: ExperimentResult, expert: (k: number) => string, title: string) {
  const g = r.gates;
  if (!g) throw new Error(`${r.name} was run without outputs: ["gates"]`);
  return heatmap(g, g[0].map((_, k) => expert(k)), r.sceneByUser.scenes, { title, text: true });
}

/** Impressions and CTR per scene, from the ETL report. */
export function sceneVolume(cleanDir: string) {
  const etl = readEtlReport(cleanDir);
  const names = sceneLabels({ scenes: etl.scenes.length, sceneNames: etl.scenes });
  const scenes = sceneSummary(etl.partitions, etl.scenes.length);
  return bar(scenes.map((s) => names[s.scene]), {
    "share of impressions": scenes.map((s) => s.share),
    CTR: scenes.map((s) => s.ctr),
  }, {
    title: "Volume and CTR per scene",
    yTitle: "fraction",
  });
}
