/**
 * Training throughput per backend and batch size, for two fixed shapes:
 * 30 dense features + user (100k vocab) and item (50k vocab) 16-d embeddings, Adam;
 * DNN 128-64-1, and MMoE 8 experts × 64 hidden with 5 task towers 64-32-1.
 *
 *   deno task bench:train [--backends node,wasm,webgpu] [--batches 256,1024,4096] [--models dnn,mmoe] [--seconds 4]
 *
 * One line per (model, batch, backend): samples/s and the matmul GFLOP/s it implies (forward + backward).
 * Ids follow a Zipf-like law, as user and item traffic does. The loss is read every 50 steps, as in training.
 */
import { parseArgs } from "node:util";
import { compile, type ModelFn } from "../lib/graph/program.ts";
import { topoSort } from "../lib/graph/tensor.ts";
import { dnn } from "../lib/models/dnn.ts";
import { mmoe } from "../lib/models/mmoe.ts";
import { type BackendName, gpuAdapter, loadBackend } from "../lib/train/backend.ts";
import { type Batch, TrainSession } from "../lib/train/session.ts";
import { Rng } from "../lib/util/rng.ts";

const SHAPE = { dense: 30, userVocab: 100_000, itemVocab: 50_000, embDim: 16 };
const MODELS: Record<string, { fn: ModelFn; tasks: number }> = {
  dnn: { fn: dnn({ ...SHAPE, hidden: [128, 64] }), tasks: 1 },
  mmoe: { fn: mmoe({ ...SHAPE, experts: 8, expertHidden: 64, tasks: 5, tower: [64, 32, 1] }), tasks: 5 },
};

function zipfIds(rng: Rng, n: number, vocab: number): BigInt64Array {
  // inverse-CDF of a continuous power law with exponent ~1.1 over [1, vocab]
  return BigInt64Array.from({ length: n }, () => BigInt(Math.min(vocab - 1, Math.floor(Math.pow(vocab, rng.next()) - 1))));
}

function makeBatch(rng: Rng, rows: number, tasks: number): Batch {
  return {
    dense: Float32Array.from({ length: rows * SHAPE.dense }, () => rng.normal()),
    user_id: zipfIds(rng, rows, SHAPE.userVocab),
    item_id: zipfIds(rng, rows, SHAPE.itemVocab),
    label: Float32Array.from({ length: rows * tasks }, () => (rng.next() < 0.34 ? 1 : 0)),
    ...(tasks > 1 ? { mask: Float32Array.from({ length: rows * tasks }, (_, i) => (i % tasks === Math.floor(i / tasks) % tasks ? 1 : 0)) } : {}),
  };
}

/** Multiply-adds of every MatMul in the train graph, ×2 for FLOPs. */
function matmulFlops(model: ReturnType<typeof compile>, rows: number): number {
  let f = 0;
  for (const t of topoSort(Object.values(model.trainGraph.outputs))) {
    if (t.op !== "MatMul") continue;
    const [a, b] = t.inputs;
    const dims = (s: (number | string)[]) => s.map((d) => typeof d === "number" ? d : rows);
    const sa = dims(a.shape), sb = dims(b.shape), so = dims(t.shape);
    f += 2 * so.reduce((x, y) => x * y, 1) * sa[sa.length - 1];
    void sb;
  }
  return f;
}

async function main() {
  const { values } = parseArgs({ args: Deno.args, options: { backends: { type: "string" }, batches: { type: "string" }, models: { type: "string" }, seconds: { type: "string" } } });
  const adapter = await gpuAdapter();
  const backends = (values.backends ?? `node,wasm${adapter ? ",webgpu" : ""}`).split(",") as BackendName[];
  const batches = (values.batches ?? "256,1024,4096").split(",").map(Number);
  const seconds = Number(values.seconds ?? 4);
  console.log(`# ${Deno.build.os} ${navigator.hardwareConcurrency} cores; WebGPU adapter: ${adapter ? `${adapter.vendor} ${adapter.architecture} ${adapter.description}${adapter.isFallbackAdapter ? " (software fallback)" : ""}` : "none"}`);
  for (const name of (values.models ?? "dnn,mmoe").split(",")) {
    const { fn, tasks } = MODELS[name];
    for (const rows of batches) {
      for (const be of backends) {
        const backend = await loadBackend(be);
        const model = compile(fn, { optimizer: { type: "adam" }, taskMask: tasks > 1, sparseWriteBack: be === "webgpu" ? "graph" : "host" });
        const s = await TrainSession.create(model, backend, { seed: 1 });
        const rng = new Rng(rows);
        const data = Array.from({ length: 8 }, () => makeBatch(rng, rows, tasks));
        for (let i = 0; i < 3; i++) await s.step(data[i % data.length], rows, 1e-3, true); // warm-up
        let steps = 0;
        const t0 = performance.now();
        while (performance.now() - t0 < seconds * 1000) {
          await s.step(data[steps % data.length], rows, 1e-3, steps % 50 === 49);
          steps++;
        }
        await s.step(data[0], rows, 1e-3, true); // wait for queued device work
        steps++;
        const secs = (performance.now() - t0) / 1000;
        const sps = steps * rows / secs;
        const gflops = matmulFlops(model, rows) * steps / secs / 1e9;
        console.log(`${name} B=${rows} ${be}: ${Math.round(sps).toLocaleString("en-US")} samples/s (${gflops.toFixed(1)} GFLOP/s)`);
        await s.release();
      }
    }
  }
}

await main();
