/**
 * Hands a run's models to Python with nothing of ctrlab's: for each saved inference model, its test-split
 * input tensors as raw little-endian files (built by the same code as training), the scene of each row, and
 * the predictions the notebooks saved — read back by python/interop_check.py.
 */
import type { RunConfig } from "../lib/config.ts";
import { alignedPredictions } from "../lib/eval/predictions.ts";
import { experimentData } from "../lib/experiment/data.ts";
import { ZOO } from "../lib/experiment/models.ts";
import { type ExperimentRecord, readExperiment } from "../lib/experiment/run.ts";
import { slug } from "../lib/experiment/spec.ts";
import type { ModelInfo } from "../lib/serve/package.ts";

/** The stage models beside 04's zoo: every model whose inputs `experimentData` can rebuild alone. */
export const PYTHON_MODELS = [...ZOO, "MMoE", "PLE", "MMoE+text", "Fusion", "Fusion+fallback"];

const bytes = (a: Float32Array | BigInt64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

async function exportModel(
  cfg: RunConfig,
  dir: string,
  name: string,
  model: string,
  rec: ExperimentRecord,
  predictions: string,
) {
  const data = await experimentData(rec.spec, cfg);
  const test = data.tables.test, rows = test.rows, key = slug(name).replace(/[^a-z0-9+-]/g, "_");
  await Deno.mkdir(`${dir}/${key}`, { recursive: true });
  const { batch } = test.batches(test.order(0, 0, false), rows).next().value!;
  const inputs = [];
  for (const i of rec.inputs) {
    const shape = i.shape.map((d) => typeof d === "number" ? d : rows);
    const n = shape.reduce((a, b) => a * b, 1);
    await Deno.writeFile(`${dir}/${key}/${i.name}.bin`, bytes(batch[i.name].subarray(0, n)));
    inputs.push({ name: i.name, dtype: i.dtype, shape, file: `${key}/${i.name}.bin` });
  }
  await Deno.writeFile(
    `${dir}/${key}/task.bin`,
    bytes(BigInt64Array.from(test.task ?? [], (t) => BigInt(t))),
  );
  const expected = alignedPredictions(cfg.runDir, predictions, "test", data.frames.test.getColumn("row_id"));
  await Deno.writeFile(`${dir}/${key}/expected.bin`, bytes(expected));
  return { name, model, inputs, task: `${key}/task.bin`, expected: `${key}/expected.bin` };
}

/** Writes `dir`/models.json and the tensors; returns the model names in order (the package last). */
export async function exportForPython(cfg: RunConfig, dir: string): Promise<string[]> {
  const models = [];
  for (const name of PYTHON_MODELS) {
    const rec = readExperiment(cfg.runDir, name);
    models.push(await exportModel(cfg, dir, name, `${cfg.runDir}/${rec.model}`, rec, slug(name)));
  }
  const info: ModelInfo = JSON.parse(await Deno.readTextFile(`${cfg.runDir}/model/model.json`));
  const pkg = `package (${info.model})`;
  models.push(
    await exportModel(
      cfg,
      dir,
      pkg,
      `${cfg.runDir}/model/model.onnx`,
      readExperiment(cfg.runDir, info.model),
      "final",
    ),
  );
  await Deno.writeTextFile(`${dir}/models.json`, JSON.stringify(models, null, 1));
  return models.map((m) => m.name);
}
