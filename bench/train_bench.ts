/**
 * Training throughput per backend and batch size, for fixed shapes:
 * 30 dense features + user (100k vocab) and item (50k vocab) 16-d embeddings, Adam;
 * DNN 128-64-1, MMoE 8 experts × 64 hidden with 5 task towers 64-32-1, DeepFM (FM ∥ MLP 128-64), STAR (5 scenes,
 * star layers 128-64, auxiliary head 32), and DIN (attention unit 36 with Dice,
 * MLP 128-64 with Dice) over behaviour sequences of length 20 and 50 (each row's real length uniform in 0..L).
 *
 *   deno task bench:train [--backends node,wasm,webgpu] [--batches 256,1024,4096] [--models dnn,mmoe,deepfm,star,din-L20,din-L50] [--seconds 4]
 *                         [--sparse-sum scatter|segment|both] [--optimizer adam|sgd|both] [--rounds R]
 *                         [--torch auto|off|PYTHON] [--torch-device cpu|cuda]
 * --sparse-sum: how repeated ids' gradients are summed (default: the backend's; scatter on CPU races on repeated
 * ids; both: each, alternating, with the ratio). --optimizer: Adam (default) or plain SGD; both: each, alternating,
 * with the ratio sgd/adam, which shows the optimizer's share of a step. --rounds: repeat every measurement R
 * times, alternating; medians.
 * --torch: the PyTorch peer (bench/torch_peer.py: dnn, mmoe, din-L20, din-L50 written the fast PyTorch way) runs
 * after ours in every round, and the last lines give ours/PyTorch per model and batch, ours on the best CPU backend
 * (or webgpu against --torch-device cuda): the ratio of the medians and, with rounds, the median of each round's
 * own ratio. auto (default): .venv-bench's Python (`bash scripts/pyenv.sh bench`),
 * else /usr/bin/python3 when it imports torch (Debian's python3-torch), else no peer. Never needed by tests or runs.
 *
 * One line per (model, batch, backend): samples/s and the matmul GFLOP/s it implies (forward + backward).
 * Ids follow a Zipf-like law, as user and item traffic does. The loss is read every 50 steps, as in training.
 */
import { parseArgs } from "node:util";
import { compile, type CompiledModel, type ModelFn } from "../lib/graph/program.ts";
import { topoSort } from "../lib/graph/tensor.ts";
import { din } from "../lib/models/din.ts";
import { dnn } from "../lib/models/dnn.ts";
import { mmoe } from "../lib/models/mmoe.ts";
import { deepFm } from "../lib/models/fm.ts";
import { star } from "../lib/models/star.ts";
import { type Backend, type BackendName, gpuAdapter, loadBackend } from "../lib/train/backend.ts";
import { type Batch, TrainSession } from "../lib/train/session.ts";
import { Rng } from "../lib/util/rng.ts";
import { REPO_ROOT } from "../lib/config.ts";
import { median } from "./stats.ts";

const SHAPE = { dense: 30, userVocab: 100_000, itemVocab: 50_000, embDim: 16 };
const MODELS: Record<string, { fn: ModelFn; tasks: number; seqLen?: number }> = {
  dnn: { fn: dnn({ ...SHAPE, hidden: [128, 64] }), tasks: 1 },
  mmoe: { fn: mmoe({ ...SHAPE, experts: 8, expertHidden: 64, tasks: 5, tower: [64, 32, 1] }), tasks: 5 },
  deepfm: { fn: deepFm({ ...SHAPE, hidden: [128, 64] }), tasks: 1 },
  star: { fn: star({ ...SHAPE, tasks: 5, hidden: [128, 64], aux: [32] }), tasks: 5 },
  ...Object.fromEntries(
    [20, 50].map((
      L,
    ) => [`din-L${L}`, {
      fn: din({ ...SHAPE, seqLen: L, scenes: 5, attention: [36], hidden: [128, 64] }),
      tasks: 1,
      seqLen: L,
    }]),
  ),
};

function zipfIds(rng: Rng, n: number, vocab: number): BigInt64Array {
  // inverse-CDF of a continuous power law with exponent ~1.1 over [1, vocab]
  return BigInt64Array.from(
    { length: n },
    () => BigInt(Math.min(vocab - 1, Math.floor(Math.pow(vocab, rng.next()) - 1))),
  );
}

function makeBatch(rng: Rng, rows: number, tasks: number, seqLen = 0): Batch {
  const hist = seqLen ? sequences(rng, rows, seqLen) : {};
  return {
    ...hist,
    dense: Float32Array.from({ length: rows * SHAPE.dense }, () => rng.normal()),
    user_id: zipfIds(rng, rows, SHAPE.userVocab),
    item_id: zipfIds(rng, rows, SHAPE.itemVocab),
    label: Float32Array.from({ length: rows * tasks }, () => (rng.next() < 0.34 ? 1 : 0)),
    ...(tasks > 1
      ? {
        mask: Float32Array.from(
          { length: rows * tasks },
          (_, i) => (i % tasks === Math.floor(i / tasks) % tasks ? 1 : 0),
        ),
      }
      : {}),
  };
}

/** Behaviour sequences: each row's length uniform in 0..L, Zipf-like item ids, padding 0 with mask 0. */
function sequences(rng: Rng, rows: number, L: number): Batch {
  const hist_item = new BigInt64Array(rows * L),
    hist_scene = new BigInt64Array(rows * L),
    hist_mask = new Float32Array(rows * L);
  for (let r = 0; r < rows; r++) {
    const n = rng.int(L + 1), ids = zipfIds(rng, n, SHAPE.itemVocab);
    for (let j = 0; j < n; j++) {
      hist_item[r * L + j] = ids[j];
      hist_scene[r * L + j] = BigInt(rng.int(5));
      hist_mask[r * L + j] = 1;
    }
  }
  return { hist_item, hist_scene, hist_mask };
}

/**
 * Multiply-adds of every MatMul in the train graph, ×2 for FLOPs; NaN when a matmul's size depends on the data
 * (DIN's packed behaviours: a dim other than the batch B), which the count cannot know.
 */
function matmulFlops(model: CompiledModel, rows: number): number {
  let f = 0;
  for (const t of topoSort(Object.values(model.trainGraph.outputs))) {
    if (t.op !== "MatMul") continue;
    const [a, b] = t.inputs;
    if ([...a.shape, ...b.shape].some((d) => typeof d === "string" && d !== "B")) return NaN;
    const dims = (s: (number | string)[]) => s.map((d) => typeof d === "number" ? d : rows);
    const sa = dims(a.shape), sb = dims(b.shape), so = dims(t.shape);
    f += 2 * so.reduce((x, y) => x * y, 1) * sa[sa.length - 1];
    void sb;
  }
  return f;
}

type Sum = "scatter" | "segment";
type Optimizer = "adam" | "sgd";
/** One configuration of a measurement; an unnamed field is the default (the backend's sum, Adam). */
interface Variant {
  sum?: Sum;
  optimizer?: Optimizer;
}
const label = (v: Variant) => [v.sum, v.optimizer].filter(Boolean).join("+");

/** Samples/s of one (model, batch, backend, variant) for `seconds`, after a warm-up. */
async function measure(name: string, rows: number, backend: Backend, v: Variant, seconds: number) {
  const { fn, tasks, seqLen } = MODELS[name], sum = v.sum;
  const train = { optimizer: { type: v.optimizer ?? "adam" }, taskMask: tasks > 1 };
  const s = sum // the backend's own choice unless the sum is named, to compare the two
    ? await TrainSession.create(compile(fn, { ...train, ...backend.compile, sparseSum: sum }), backend, {
      seed: 1,
    })
    : await TrainSession.build(fn, backend, train, { seed: 1 });
  const rng = new Rng(rows);
  const data = Array.from({ length: 8 }, () => makeBatch(rng, rows, tasks, seqLen));
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
  const out = { samples: steps * rows / secs, gflops: matmulFlops(s.model, rows) * steps / secs / 1e9 };
  await s.release();
  return out;
}

const TORCH_MODELS = ["dnn", "mmoe", "din-L20", "din-L50"];

/** The Python that runs the PyTorch peer, and its torch version; null for none. */
async function torchPython(choice: string): Promise<{ path: string; version: string } | null> {
  if (choice === "off") return null;
  const candidates = choice === "auto"
    ? [`${REPO_ROOT}/.venv-bench/bin/python`, "/usr/bin/python3"]
    : [choice];
  for (const path of candidates) {
    try {
      const out = await new Deno.Command(path, {
        args: ["-c", "import torch; print(torch.__version__)"],
        stdout: "piped",
        stderr: "null",
      }).output();
      if (out.success) return { path, version: `torch ${new TextDecoder().decode(out.stdout).trim()}` };
    } catch { /* not installed */ }
  }
  if (choice !== "auto") throw new Error(`--torch ${choice}: that Python cannot import torch`);
  return null;
}

/** Samples/s of the PyTorch peer for one model and batch (its own process; the same threads as ours). */
async function torchRate(python: string, model: string, rows: number, seconds: number, device: string) {
  const out = await new Deno.Command(python, {
    args: [
      `${REPO_ROOT}/bench/torch_peer.py`,
      "--model",
      model,
      "--batch",
      String(rows),
      "--seconds",
      String(seconds),
      "--threads",
      String(navigator.hardwareConcurrency),
      "--device",
      device,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`PyTorch peer failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
  }
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]).samples_per_s as number;
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      backends: { type: "string" },
      batches: { type: "string" },
      models: { type: "string" },
      seconds: { type: "string" },
      "sparse-sum": { type: "string" },
      optimizer: { type: "string" },
      rounds: { type: "string" },
      torch: { type: "string" },
      "torch-device": { type: "string" },
    },
  });
  const python = await torchPython(values.torch ?? "auto");
  const torchDevice = values["torch-device"] ?? "cpu";
  const adapter = await gpuAdapter();
  const backends = (values.backends ?? `node,wasm${adapter ? ",webgpu" : ""}`).split(",") as BackendName[];
  const batches = (values.batches ?? "256,1024,4096").split(",").map(Number);
  const seconds = Number(values.seconds ?? 4);
  console.log(
    `# PyTorch peer: ${
      python
        ? `${python.version} (${python.path}), ${torchDevice}`
        : values.torch === "off"
        ? "off"
        : "none (bash scripts/pyenv.sh bench adds one)"
    }`,
  );
  console.log(
    `# ${Deno.build.os} ${navigator.hardwareConcurrency} cores; WebGPU adapter: ${
      adapter
        ? `${adapter.vendor} ${adapter.architecture} ${adapter.description}${
          adapter.isFallbackAdapter ? " (software fallback)" : ""
        }`
        : "none"
    }`,
  );
  // each measurement once per round, rounds alternating (this machine is noisy); the medians are reported, and
  // against PyTorch also the median of each round's own ratio
  const rounds = Number(values.rounds ?? 1);
  const both = <T extends string>(flag: string | undefined, pair: [T, T]): (T | undefined)[] =>
    flag === "both" ? pair : [flag as T | undefined];
  const variants: Variant[] = both<Sum>(values["sparse-sum"], ["segment", "scatter"]).flatMap((sum) =>
    both<Optimizer>(values.optimizer, ["adam", "sgd"]).map((optimizer) => ({ sum, optimizer }))
  );
  const samples = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const name of (values.models ?? "dnn,mmoe,deepfm,star,din-L20,din-L50").split(",")) {
      if (!MODELS[name]) throw new Error(`unknown model ${name} (known: ${Object.keys(MODELS).join(", ")})`);
      for (const rows of batches) {
        for (const be of backends) {
          for (const v of variants) {
            const sps = await measure(name, rows, await loadBackend(be), v, seconds);
            const key = `${name} ${rows} ${be}${label(v) ? ` ${label(v)}` : ""}`;
            samples.set(key, [...samples.get(key) ?? [], sps.samples]);
            const what = [v.sum && `${v.sum} sum`, v.optimizer].filter(Boolean).join(", ");
            console.log(
              `${name} B=${rows} ${be}${what ? ` (${what})` : ""}${
                rounds > 1 ? ` round ${round + 1}` : ""
              }: ${Math.round(sps.samples).toLocaleString("en-US")} samples/s${
                Number.isNaN(sps.gflops) ? "" : ` (${sps.gflops.toFixed(1)} GFLOP/s)`
              }`,
            );
          }
        }
        if (python && TORCH_MODELS.includes(name)) {
          const sps = await torchRate(python.path, name, rows, seconds, torchDevice);
          const key = `${name} ${rows} torch`;
          samples.set(key, [...samples.get(key) ?? [], sps]);
          console.log(
            `${name} B=${rows} PyTorch ${torchDevice}${rounds > 1 ? ` round ${round + 1}` : ""}: ${
              Math.round(sps).toLocaleString("en-US")
            } samples/s`,
          );
        }
      }
    }
  }
  const rates = new Map([...samples].map(([k, v]) => [k, median(v)]));
  if (rounds > 1) {
    for (const [k, v] of rates) {
      console.log(`median of ${rounds} ${k}: ${Math.round(v).toLocaleString("en-US")} samples/s`);
    }
  }
  // each pair of variants that differ in one choice: segment/scatter, sgd/adam
  for (const [a, b] of [["segment", "scatter"], ["sgd", "adam"]]) {
    for (const [key, sps] of rates) {
      const parts = key.split(" "), choices = (parts[3] ?? "").split("+");
      if (!choices.includes(a)) continue;
      const other = rates.get(
        [...parts.slice(0, 3), choices.map((c) => c === a ? b : c).join("+")].join(" "),
      );
      const rest = choices.filter((c) => c !== a).join("+");
      if (other) {
        console.log(
          `ratio ${a}/${b} ${[...parts.slice(0, 3), rest].join(" ").trim()}: ${(sps / other).toFixed(2)}`,
        );
      }
    }
  }
  // ratios, not timings, are what compare across machines
  for (const [key, sps] of rates) {
    const [name, rows, be, variant] = key.split(" ");
    if (be === "torch") {
      const mine = torchDevice === "cuda" ? ["webgpu"] : ["node", "wasm"];
      const best = mine.map((b) => [b, rates.get(`${name} ${rows} ${b}`)] as const).filter(([, r]) => r)
        .sort((p, q) => q[1]! - p[1]!)[0];
      if (best) {
        // each round's own ratio too: ours and the peer run back to back, so a round's ratio sees one state of
        // this machine, whose speed moves between rounds more than the code's does
        const ours = samples.get(`${name} ${rows} ${best[0]}`)!, peer = samples.get(key)!;
        const perRound = ours.map((r, i) => r / peer[i]);
        console.log(
          `ratio ours/PyTorch ${name} B=${rows} (${best[0]} vs ${torchDevice}): ${
            (best[1]! / sps).toFixed(2)
          }${
            rounds > 1
              ? `; median of the rounds' own ratios ${median(perRound).toFixed(2)} (${
                perRound.map((r) => r.toFixed(2)).join(", ")
              })`
              : ""
          }`,
        );
      }
      continue;
    }
    if (variant) continue;
    const dnnRate = rates.get(`dnn ${rows} ${be}`), l20 = rates.get(`din-L20 ${rows} ${be}`);
    if (name.startsWith("din") && dnnRate) {
      console.log(`ratio ${name}/dnn B=${rows} ${be}: ${(sps / dnnRate).toFixed(2)}`);
    }
    if (name === "din-L50" && l20) {
      console.log(`ratio din-L50/din-L20 B=${rows} ${be}: ${(sps / l20).toFixed(2)}`);
    }
  }
}

await main();
