/**
 * ctrlab command line.
 *
 *   main     [--rows N] [--seed S] [--corrupt R] [--run-id ID] [--only 01_etl,...]
 *            generate the default data (once), execute every notebook in order, write artifacts/<run-id>/
 *   generate --out DIR [--rows N] [--seed S] [--corrupt R] [--layout partitioned|single]
 *   etl      --input RAW --output DIR
 *   predict  --package RUN_DIR --input CSV [--output OUT.csv]
 *            score a raw-log CSV with a run's model package; writes id,probability
 *   make-text-model [--out DIR]
 *            (re)build the tiny BERT that ships in assets/tiny-zh-bert
 */
import { parseArgs } from "node:util";
import { DEFAULT_CORRUPT_RATE, DEFAULT_ROWS, DEFAULT_SEED, datasetDir, parseZoo, REPO_ROOT, type RunConfig } from "../lib/config.ts";
import { ensureDataset } from "../lib/data/dataset.ts";
import { runEtl } from "../lib/data/etl.ts";
import { generateLogs } from "../lib/data/synth.ts";
import { listNotebooks, runNotebooks } from "../lib/report/run.ts";
import { predictCsv } from "../lib/serve/predict.ts";
import { makeTinyBert } from "../lib/text/tiny_bert.ts";

function runId(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      rows: { type: "string" }, seed: { type: "string" }, corrupt: { type: "string" }, "run-id": { type: "string" },
      only: { type: "string" }, zoo: { type: "string" }, out: { type: "string" }, package: { type: "string" }, layout: { type: "string" }, input: { type: "string" }, output: { type: "string" },
    },
  });
  const rows = Number(values.rows ?? DEFAULT_ROWS), seed = Number(values.seed ?? DEFAULT_SEED);
  const corruptRate = Number(values.corrupt ?? DEFAULT_CORRUPT_RATE);
  switch (cmd) {
    case "main": {
      const cfg: RunConfig = {
        rows, seed, corruptRate, dataDir: datasetDir(rows, seed, corruptRate), runDir: `${REPO_ROOT}/artifacts/${values["run-id"] ?? runId()}`,
        zoo: parseZoo(values.zoo),
      };
      await ensureDataset(cfg);
      const only = values.only?.split(",");
      const notebooks = listNotebooks().filter((p) => !only || only.some((o) => p.endsWith(`/${o}.ipynb`)));
      const info = await runNotebooks(cfg, notebooks);
      console.log(`\n${info.notebooks.length} notebooks executed; report: ${cfg.runDir}/index.html`);
      return 0;
    }
    case "generate": {
      if (!values.out) throw new Error("generate: --out DIR is required");
      const m = await generateLogs({ rows, seed, corruptRate, outDir: values.out, layout: values.layout === "single" ? "single" : "partitioned" });
      console.log(JSON.stringify({ rows: m.rows, files: m.files.length, corrupt: m.corrupt }, null, 1));
      return 0;
    }
    case "etl": {
      if (!values.input || !values.output) throw new Error("etl: --input RAW and --output DIR are required");
      const r = await runEtl({ input: values.input, output: values.output });
      console.log(`read ${r.rowsRead}, written ${r.rowsWritten}, quarantined ${r.rowsQuarantined} in ${r.seconds.toFixed(1)} s`);
      return 0;
    }
    case "predict": {
      if (!values.package || !values.input) throw new Error("predict: --package RUN_DIR and --input CSV are required");
      const out = values.output ?? values.input.replace(/\.csv$/, "") + ".predictions.csv";
      const r = await predictCsv(values.package, values.input, { out });
      console.log(`scored ${r.ids.length} of ${r.rowsRead} records (${r.quarantined} quarantined${r.quarantineFile ? `, see ${r.quarantineFile}` : ""}) → ${out}`);
      return 0;
    }
    case "make-text-model": {
      const out = values.out ?? `${REPO_ROOT}/assets/tiny-zh-bert`;
      const { config } = await makeTinyBert(out);
      console.log(`tiny BERT (${config.layers} layers, hidden ${config.hidden}, vocab ${config.vocab}) → ${out}`);
      return 0;
    }
    default:
      console.error("usage: ctrlab main|generate|etl|predict|make-text-model [options]  (see cli/ctrlab.ts)");
      return 2;
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`ctrlab: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
