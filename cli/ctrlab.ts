/**
 * ctrlab command line.
 *
 *   main     [--data PATH [--spec FILE|NAME]] [--rows N] [--seed S] [--corrupt R] [--run-id ID] [--only 01_etl,...] [--zoo M,..]
 *            [--backend auto|node|wasm|webgpu] [--threads N]   (defaults: CTRLAB_BACKEND, CTRLAB_NODE_THREADS, else auto and 0 = every core)
 *            [--engine polars|spark [--master URL] [--spark-conf KEY=VALUE]...]   which engine runs the ETL and builds
 *            the training table (default polars; Spark's default master: local[*]; spark://host:port for a standalone
 *            cluster; --spark-conf, repeated: settings the Spark driver starts with, as spark-submit's --conf)
 *            [--jobs N]   processes at once (default CTRLAB_JOBS, else 0 = one per core; 1: all in turn): a notebook
 *            starts when those it reads from have finished (its metadata's ctrlab.after), so 06 runs beside 07
 *            and 08, and 04 trains its zoo side by side (lib/experiment/pool.ts); the numbers do not change
 *            execute every notebook on the logs at PATH (only read; derived data in data/own-*), or on
 *            the generated default (once per rows/seed/corruption), and write artifacts/<run-id>/
 *   env      [--data PATH [--spec FILE|NAME]] [--rows N] ...   the run configuration as shell exports (scripts/lab.sh)
 *   spec     --data PATH   the dataset spec of the logs at PATH as JSON: the built-in layout their header matches,
 *            or one guessed from their column names and first records (to check, save and pass as --spec FILE)
 *   experiment --run-id ID --experiment JSON [--vary PARAM=v1,v2,…|PARAM=[a,b];[c,d]] [--rows N …]
 *            run an experiment spec (lib/experiment/spec.ts) in an existing run's folder (its data and saved
 *            predictions: the baseline must have run); --vary runs one per value and chooses on validation AUC
 *   generate --out DIR [--rows N] [--seed S] [--corrupt R] [--layout partitioned|single|release] [--title-breaks R]
 *            (R: share of items whose title holds a quoted line break)
 *   etl      --input RAW --output DIR [--spec FILE|NAME] [--engine polars|spark] [--master URL] [--spark-conf K=V]...
 *   features --input CLEAN --output DIR [--engine polars|spark] [--master URL] [--spark-conf K=V]...
 *            the training table (features, splits, vocabularies, manifest) of an ETL output, on either engine
 *   predict  --package RUN_DIR --input FILE [--output OUT.csv]   (default RUN_DIR/predictions/<name>.predictions.csv)
 *            score raw logs (in the spec the package was trained on) with a run's model package; writes id,probability
 *   make-text-model [--out DIR]
 *            (re)build the tiny BERT that ships in assets/tiny-zh-bert
 */
import { parseArgs } from "node:util";
import {
  configEnv,
  datasetDir,
  DEFAULT_CORRUPT_RATE,
  DEFAULT_ROWS,
  DEFAULT_SEED,
  experimentConfig,
  parseBackend,
  parseEngine,
  parseSparkConf,
  parseThreads,
  parseZoo,
  REPO_ROOT,
  type RunConfig,
  runConfig,
} from "../lib/config.ts";
import { assertOutside, ensureDataset, ownDataDir } from "../lib/data/dataset.ts";
import { BUILTIN_SPECS, loadSpec } from "../lib/data/spec.ts";
import { runEtlOn } from "../lib/data/etl_spark.ts";
import { assertLocalPath } from "../lib/data/spark.ts";
import { inputSpec } from "../lib/data/etl.ts";
import { guessedFrom, timeHint } from "../lib/data/sniff.ts";
import { makeTable, SPLITS } from "../lib/features/table.ts";
import { generateLogs } from "../lib/data/synth.ts";
import { listNotebooks, runNotebooks } from "../lib/report/run.ts";
import { predictCsv } from "../lib/serve/predict.ts";
import { sweep } from "../lib/experiment/sweep.ts";
import { runExperiment } from "../lib/experiment/run.ts";
import { makeTinyBert } from "../lib/text/tiny_bert.ts";

function runId(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      rows: { type: "string" },
      seed: { type: "string" },
      corrupt: { type: "string" },
      "run-id": { type: "string" },
      only: { type: "string" },
      zoo: { type: "string" },
      data: { type: "string" },
      spec: { type: "string" },
      out: { type: "string" },
      package: { type: "string" },
      layout: { type: "string" },
      input: { type: "string" },
      output: { type: "string" },
      backend: { type: "string" },
      vary: { type: "string" },
      experiment: { type: "string" },
      threads: { type: "string" },
      jobs: { type: "string" },
      engine: { type: "string" },
      master: { type: "string" },
      "spark-conf": { type: "string", multiple: true },
      "title-breaks": { type: "string" },
    },
  });
  const rows = Number(values.rows ?? DEFAULT_ROWS), seed = Number(values.seed ?? DEFAULT_SEED);
  const corruptRate = Number(values.corrupt ?? DEFAULT_CORRUPT_RATE);
  // paths as the user typed them, relative to where they ran the script (scripts/*.sh change into the repo first)
  const cwd = Deno.env.get("CTRLAB_CALLER_CWD") || Deno.cwd();
  for (const o of ["data", "spec", "input", "output", "out", "package"] as const) {
    if (values[o] !== undefined) assertLocalPath(values[o], `--${o}`);
  }
  const userPath = (p: string) => Deno.realPathSync(p.startsWith("/") ? p : `${cwd}/${p}`);
  // a spec file is passed on by its absolute path (kernels run in notebooks/); built-in names as they are
  const spec = values.spec === undefined
    ? undefined
    : BUILTIN_SPECS[values.spec]
    ? values.spec
    : userPath(values.spec);
  const sparkConf = values["spark-conf"] ? parseSparkConf(values["spark-conf"]) : undefined;
  if (spec && !values.data && cmd !== "etl") {
    throw new Error("--spec describes the logs given with --data PATH");
  }
  // --master and --spark-conf only with Spark
  const sparkOnly = (command: string, engine: RunConfig["engine"]) => {
    for (const [option, given] of [["--master", values.master], ["--spark-conf", sparkConf]] as const) {
      if (given && engine !== "spark") throw new Error(`${command}: ${option} is for --engine spark`);
    }
    return engine;
  };
  const runConfigFromArgs = (): RunConfig => {
    const input = values.data === undefined ? undefined : userPath(values.data);
    const fromEnv = runConfig(); // CTRLAB_BACKEND, CTRLAB_NODE_THREADS when no option names them
    const engine = sparkOnly(cmd, values.engine ? parseEngine(values.engine) : fromEnv.engine);
    return {
      backend: values.backend ? parseBackend(values.backend) : fromEnv.backend,
      threads: values.threads ? parseThreads(values.threads) : fromEnv.threads,
      jobs: values.jobs ? parseThreads(values.jobs, "jobs") : fromEnv.jobs,
      headless: false,
      engine,
      ...(values.master ?? fromEnv.sparkMaster ? { sparkMaster: values.master ?? fromEnv.sparkMaster } : {}),
      ...(sparkConf ?? fromEnv.sparkConf ? { sparkConf: sparkConf ?? fromEnv.sparkConf } : {}),
      rows,
      seed,
      corruptRate,
      runDir: `${REPO_ROOT}/artifacts/${values["run-id"] ?? runId()}`,
      zoo: parseZoo(values.zoo),
      dataDir: input ? ownDataDir(input, spec) : datasetDir(rows, seed, corruptRate),
      ...(input ? { input } : {}),
      ...(spec ? { spec } : {}),
    };
  };
  // etl and features: --engine (default polars)
  const engineOf = (command: string) =>
    sparkOnly(command, values.engine ? parseEngine(values.engine) : "polars");
  switch (cmd) {
    case "main": {
      const cfg = runConfigFromArgs();
      await ensureDataset(cfg);
      const only = values.only?.split(",");
      const notebooks = listNotebooks().filter((p) => !only || only.some((o) => p.endsWith(`/${o}.ipynb`)));
      const info = await runNotebooks(cfg, notebooks);
      console.log(`\n${info.notebooks.length} notebooks executed; report: ${cfg.runDir}/index.html`);
      return 0;
    }
    case "env": {
      const cfg = runConfigFromArgs();
      if (cfg.input) await ensureDataset(cfg, (s) => console.error(s));
      const env = configEnv({
        ...cfg,
        runDir: values["run-id"] ? cfg.runDir : `${REPO_ROOT}/artifacts/interactive`,
      });
      for (const [k, v] of Object.entries(env)) console.log(`export ${k}='${v.replaceAll("'", "'\\''")}'`);
      return 0;
    }
    case "experiment": {
      // one experiment spec (JSON) in an existing run's folder; --vary P=a,b,c runs one per value of params.P
      // and chooses on validation AUC
      if (!values["run-id"] || !values.experiment) {
        throw new Error("experiment: --run-id ID and --experiment JSON are required");
      }
      const asked = ["data", "spec", "rows", "seed", "corrupt"].some((k) => values[k as keyof typeof values]);
      const cfg = experimentConfig(runConfigFromArgs(), asked); // the data the run was made on
      const spec = JSON.parse(values.experiment);
      if (!values.vary) {
        const r = await runExperiment(spec, cfg);
        console.log(
          JSON.stringify({
            name: r.name,
            valAuc: r.val.auc,
            testAuc: r.test.auc,
            vsBaseline: r.versus?.all[0] ?? null,
          }),
        );
        return 0;
      }
      const [param, list] = values.vary.split("=");
      if (!param || !list) throw new Error(`experiment: --vary wants PARAM=v1,v2,…, got "${values.vary}"`);
      // values split on "," — or on ";" when a value is itself a JSON list: hidden=[128,64];[64,32]
      const values_ = list.includes(";")
        ? list.split(";").map((v) => JSON.parse(v))
        : list.split(",").map((v) => Number.isFinite(Number(v)) ? Number(v) : v);
      const rows = await sweep(spec, param, values_, cfg);
      console.table(rows);
      console.log(`chosen on validation AUC: ${rows.find((r) => r.chosen)!.name}`);
      return 0;
    }
    case "generate": {
      if (!values.out) throw new Error("generate: --out DIR is required");
      const layout = values.layout ?? "partitioned";
      if (layout !== "partitioned" && layout !== "single" && layout !== "release") {
        throw new Error(`generate: --layout must be partitioned, single or release`);
      }
      const titleBreaks = values["title-breaks"] === undefined ? undefined : Number(values["title-breaks"]);
      if (titleBreaks !== undefined && !(titleBreaks >= 0 && titleBreaks <= 1)) {
        throw new Error(
          `generate: --title-breaks must be a share between 0 and 1, got "${values["title-breaks"]}"`,
        );
      }
      const m = await generateLogs({ rows, seed, corruptRate, outDir: values.out, layout, titleBreaks });
      console.log(JSON.stringify({ rows: m.rows, files: m.files.length, corrupt: m.corrupt }, null, 1));
      return 0;
    }
    case "etl": {
      if (!values.input || !values.output) throw new Error("etl: --input RAW and --output DIR are required");
      assertOutside(values.input, values.output, "ETL output");
      const engine = engineOf("etl");
      const r = await runEtlOn(engine, {
        input: values.input,
        output: values.output,
        spec: spec ? await loadSpec(spec) : undefined,
        master: values.master,
        sparkConf,
      });
      console.log(
        `read ${r.rowsRead}, written ${r.rowsWritten}, quarantined ${r.rowsQuarantined} in ${
          r.seconds.toFixed(1)
        } s`,
      );
      return 0;
    }
    case "features": {
      if (!values.input || !values.output) {
        throw new Error("features: --input CLEAN and --output DIR are required");
      }
      assertOutside(values.input, values.output, "table output");
      const engine = engineOf("features");
      const r = await makeTable(values.input, values.output, { engine, master: values.master, sparkConf });
      const rows = SPLITS.map((s) => `${s} ${r.manifest.rows[s]}`).join(", ");
      console.log(
        `${r.engine}: ${rows} rows, ${r.manifest.features.length} features in ${r.seconds.toFixed(1)} s`,
      );
      return 0;
    }
    case "predict": {
      if (!values.package || !values.input) {
        throw new Error("predict: --package RUN_DIR and --input CSV are required");
      }
      // by default beside the package, never beside the input (inputs are only read)
      const out = values.output ??
        `${values.package}/predictions/${
          values.input.split("/").pop()!.replace(/\.csv(\.gz)?$/, "")
        }.predictions.csv`;
      assertOutside(values.input, out, "output");
      await Deno.mkdir(out.slice(0, out.lastIndexOf("/")) || ".", { recursive: true });
      const r = await predictCsv(values.package, values.input, { out });
      console.log(
        `scored ${r.ids.length} of ${r.rowsRead} records (${r.quarantined} quarantined${
          r.quarantineFile ? `, see ${r.quarantineFile}` : ""
        }) → ${out}`,
      );
      return 0;
    }
    case "spec": {
      // the spec for the logs at --data, as JSON on stdout (a built-in one, or a guess to check and save)
      if (!values.data) throw new Error("spec: --data PATH is required");
      const found = await inputSpec(values.data);
      if ("builtin" in found) {
        console.error(`${values.data}: the built-in layout "${found.builtin}" (no --spec needed)`);
        console.log(JSON.stringify(BUILTIN_SPECS[found.builtin], null, 2));
      } else {
        console.error(
          `${found.file}: a spec guessed from ${guessedFrom(found)}; check every role.\n${
            timeHint(found.spec)
          }`,
        );
        console.log(JSON.stringify(found.spec, null, 2));
      }
      return 0;
    }
    case "make-text-model": {
      const out = values.out ?? `${REPO_ROOT}/assets/tiny-zh-bert`;
      const { config } = await makeTinyBert(out);
      console.log(
        `tiny BERT (${config.layers} layers, hidden ${config.hidden}, vocab ${config.vocab}) → ${out}`,
      );
      return 0;
    }
    default:
      console.error(
        "usage: ctrlab main|env|spec|experiment|generate|etl|predict|make-text-model [options]  (see cli/ctrlab.ts)",
      );
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
