/**
 * The notebooks on logs a user brings: the AntM2C release's exact layout through all ten (no oracle, a
 * read-only input whose tree is unchanged afterwards), a non-AntM2C log through a spec through 01–06, and a
 * log with neither text nor a scene column, cut inside a day into its two files, through all ten.
 */
import { ensureDataset } from "../lib/data/dataset.ts";
import { readManifest } from "../lib/features/table.ts";
import { readResults } from "../lib/eval/results.ts";
import { listNotebooks, runNotebooks } from "../lib/report/run.ts";
import { assert, assertEquals, assertReadable, tempDir } from "./assert.ts";
import { OTHER_SPEC, ownRunConfig, treeHashes, writeOtherLogs, writeReleaseLogs } from "./own_logs.ts";

interface Output {
  output_type: string;
  data?: Record<string, unknown>;
  text?: string | string[];
}

/** Every code cell of each executed notebook has an output and none is an error. */
async function assertCleanOutputs(runDir: string, stages: string[]): Promise<string> {
  let all = "";
  for (const stage of stages) {
    const cells = JSON.parse(await Deno.readTextFile(`${runDir}/${stage}.ipynb`)).cells.filter((
      c: { cell_type: string },
    ) => c.cell_type === "code");
    for (const [i, c] of cells.entries()) {
      const outs = (c.outputs ?? []) as Output[];
      assert(outs.length > 0, `${stage}: code cell ${i} has no output`);
      assert(!outs.some((o) => o.output_type === "error"), `${stage}: cell ${i} errored`);
      const text = JSON.stringify(outs.map((o) => o.data?.["text/markdown"] ?? o.data?.["text/plain"] ?? ""));
      assertReadable(text, `${stage}: cell ${i}`);
      all += text;
    }
  }
  return all;
}

Deno.test("the AntM2C release as it ships runs through all ten notebooks; no oracle is claimed; the read-only input is untouched", async () => {
  const dir = await tempDir("release-nb");
  const logs = await writeReleaseLogs(dir, 20_000, 7, 0.01);
  await new Deno.Command("chmod", { args: ["-R", "a-w", logs] }).output(); // read-only input
  const before = await treeHashes(logs);
  const cfg = ownRunConfig(dir, logs);
  try {
    await ensureDataset(cfg, () => {});
    const info = await runNotebooks(cfg, listNotebooks(), () => {});
    assertEquals(info.notebooks.map((r) => r.stage), [
      "01_etl",
      "02_features",
      "03_join",
      "04_dnn",
      "05_mmoe",
      "06_ple",
      "07_text",
      "08_fusion",
      "09_fallback",
      "10_final_eval",
    ]);
    assert(info.notebooks.every((r) => r.ok));
    const text = await assertCleanOutputs(cfg.runDir, info.notebooks.map((r) => r.stage));
    assert(text.includes("No oracle for these logs"), "01 says plainly that no ceiling is known");
    const etl = JSON.parse(await Deno.readTextFile(`${cfg.runDir}/metrics/01_etl.json`)).metrics;
    assertEquals(etl["oracle AUC"], "n/a (no oracle)");
    assertEquals(etl["rows read"], 20_000);
    const manifest = readManifest(`${cfg.dataDir}/table`);
    assertEquals(manifest.features.filter((f) => f.spec).length, 27, "deep_features_* are numeric inputs");
    const results = readResults(cfg.runDir);
    for (const stage of ["04_dnn", "05_mmoe", "06_ple", "07_text", "08_fusion", "09_fallback"]) {
      const r = results.find((x) => x.stage === stage && x.slice === "all" && x.split === "test");
      assert(r && r.auc > 0.5, `${stage} recorded a test AUC above chance`);
      assert(r.oracleAuc === undefined, `${stage} claims an oracle`);
    }
    assert(!results.some((x) => typeof x.oracleAuc === "number"), "no oracle AUC anywhere");
    const predict = JSON.parse(await Deno.readTextFile(`${cfg.runDir}/metrics/09_fallback.json`)).metrics;
    assertEquals(predict["predict max |Δp|"], 0, "predict on the raw release file reproduces the notebook");
    assertEquals(
      await treeHashes(logs),
      before,
      "nothing under the input was written, moved or deleted (contents, modes, mtimes)",
    );
  } finally {
    await new Deno.Command("chmod", { args: ["-R", "u+w", logs] }).output();
  }
});

Deno.test("a non-AntM2C log (string ids, epoch seconds, 3 named scenes, gzip + GBK) runs 01–06 through its spec", async () => {
  const dir = await tempDir("other-nb");
  const { logs, spec, rows } = await writeOtherLogs(dir, 20_000, 11);
  const before = await treeHashes(logs);
  const cfg = ownRunConfig(dir, logs, spec);
  await ensureDataset(cfg, () => {});
  const notebooks = listNotebooks().filter((p) => /\/0[1-6]_[a-z]+\.ipynb$/.test(p));
  const info = await runNotebooks(cfg, notebooks, () => {});
  assert(info.notebooks.length === 6 && info.notebooks.every((r) => r.ok));
  await assertCleanOutputs(cfg.runDir, info.notebooks.map((r) => r.stage));
  const etl = JSON.parse(await Deno.readTextFile(`${cfg.runDir}/metrics/01_etl.json`)).metrics;
  assertEquals([etl["rows read"], etl["rows written"]], [rows, rows]);
  const manifest = readManifest(`${cfg.dataDir}/table`);
  assertEquals([manifest.scenes, manifest.sceneNames, manifest.categorical], [3, ["home", "feed", "search"], [
    "city",
  ]]);
  assert(
    manifest.features.some((f) =>
      f.name === "price" && f.spec && f.transform === "log1p" && (f.missingShare ?? 0) > 0
    ),
  );
  assert(
    manifest.features.some((f) => f.name === "u_imp_s2") &&
      !manifest.features.some((f) => f.name === "u_imp_s3"),
    "per-scene features follow the spec's 3 scenes",
  );
  const results = readResults(cfg.runDir);
  for (const scene of ["scene home", "scene feed", "scene search"]) {
    assert(
      results.some((x) => x.stage === "06_ple" && x.split === "test" && x.slice === scene),
      `06 reports ${scene}`,
    );
  }
  assertEquals(await treeHashes(logs), before);
});

Deno.test("a log with neither text nor a scene column, its two files cut inside a day, runs all ten notebooks; 07 says there is no text; predict on the last file reproduces the notebook", async () => {
  const dir = await tempDir("notext-nb");
  const { logs, spec } = await writeOtherLogs(dir, 12_000, 13, {
    cut: "record",
    spec: { ...OTHER_SPEC, name: "bare", text: [], scene: null },
  });
  const cfg = ownRunConfig(dir, logs, spec);
  await ensureDataset(cfg, () => {});
  const info = await runNotebooks(cfg, listNotebooks(), () => {});
  assert(info.notebooks.length === 10 && info.notebooks.every((r) => r.ok));
  const text = await assertCleanOutputs(cfg.runDir, info.notebooks.map((r) => r.stage));
  assert(text.includes("No usable text in these logs"), "07 says plainly that there is no text");
  const meta = JSON.parse(await Deno.readTextFile(`${cfg.runDir}/text/meta.json`));
  assertEquals([meta.k, meta.texts], [1, { user: 0, item: 0 }], "one zero column per side");
  assertEquals(
    readManifest(`${cfg.dataDir}/table`).scenes,
    1,
    "one task: every scenes-as-tasks model has one tower",
  );
  // the last file starts in the middle of a day: its features still see that day's earlier records
  const predict = JSON.parse(await Deno.readTextFile(`${cfg.runDir}/metrics/09_fallback.json`)).metrics;
  assertEquals(predict["predict max |Δp|"], 0, "predict on the raw file reproduces the notebook");
});
