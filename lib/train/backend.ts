/**
 * Execution backends for the ONNX graphs: onnxruntime-web on WebGPU (parameters and optimizer state stay in
 * GPU buffers between steps) or on wasm, and onnxruntime-node's CPU provider (MLAS kernels, multi-threaded).
 * `pickBackend()` chooses: a hardware WebGPU adapter if there is one, else onnxruntime-node, else wasm;
 * the run configuration's `backend` overrides, its `threads` sets onnxruntime-node's threads.
 *
 * How graphs are compiled for a backend is decided here and nowhere else (`Backend.compile`): WebGPU keeps
 * embedding tables in GPU buffers, so the train step writes updated rows back itself and sums repeated ids with
 * ScatterND (atomic on the GPU); CPU backends get the rows back and write them in place, and sum repeated ids
 * with the race-free segment sum (lib/graph/program.ts), so training repeats to the last bit at any thread count.
 */
import type { InferenceSession, Tensor as OrtTensor } from "onnxruntime-common";
import { runConfig } from "../config.ts";
import type { TrainConfig } from "../graph/program.ts";

export type BackendName = "webgpu" | "wasm" | "node";
export type { OrtTensor };
export type Feeds = Record<string, OrtTensor>;

export interface SessionOptions {
  /** Outputs to keep on the device (WebGPU: GPU buffers fed straight back as inputs). */
  deviceOutputs?: string[];
  /** Fail if any node would fall back to the CPU (WebGPU). */
  strict?: boolean;
}

export interface Session {
  run(feeds: Feeds): Promise<Feeds>;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  release(): Promise<void>;
}

/** The compile options a backend needs (the write-back and the sum of repeated ids). */
export type BackendCompile = Required<Pick<TrainConfig, "sparseWriteBack" | "sparseSum" | "packSequences">>;

/** Per backend; WebGPU keeps sequences padded (the host-packed form is unmeasured on a GPU). */
const COMPILE: Record<BackendName, BackendCompile> = {
  webgpu: { sparseWriteBack: "graph", sparseSum: "scatter", packSequences: false },
  wasm: { sparseWriteBack: "host", sparseSum: "segment", packSequences: true },
  node: { sparseWriteBack: "host", sparseSum: "segment", packSequences: true },
};

export interface Backend {
  name: BackendName;
  /** How train graphs must be compiled for this backend. */
  compile: BackendCompile;
  /** onnxruntime-node's intra-op threads (0: every core); 1 for the others. */
  threads: number;
  session(model: Uint8Array, o?: SessionOptions): Promise<Session>;
  tensor(type: "float32", data: Float32Array, dims: readonly number[]): OrtTensor;
  tensor(type: "int64", data: BigInt64Array, dims: readonly number[]): OrtTensor;
  /** Host copy of a tensor's data (downloads GPU tensors). */
  read(t: OrtTensor): Promise<Float32Array | BigInt64Array>;
}

// deno-lint-ignore no-explicit-any
type OrtModule = any;

function wrap(
  name: BackendName,
  ort: OrtModule,
  threads: number,
  sessionOptions: (o: SessionOptions) => InferenceSession.SessionOptions,
): Backend {
  return {
    name,
    compile: COMPILE[name],
    threads,
    async session(model, o = {}) {
      const s: InferenceSession = await ort.InferenceSession.create(model, sessionOptions(o));
      return {
        run: (feeds) => s.run(feeds) as Promise<Feeds>,
        inputNames: s.inputNames,
        outputNames: s.outputNames,
        release: () => s.release(),
      };
    },
    tensor(type: "float32" | "int64", data: Float32Array | BigInt64Array, dims: readonly number[]) {
      return new ort.Tensor(type, data, dims);
    },
    async read(t) {
      return (t.location === "cpu" ? t.data : await t.getData()) as Float32Array | BigInt64Array;
    },
  } as Backend;
}

const loaded = new Map<string, Backend>();

/** A backend by name; `threads` (onnxruntime-node only): the run configuration's, 0 = every core. */
export async function loadBackend(name: BackendName, threads = runConfig().threads): Promise<Backend> {
  if (!Number.isInteger(threads) || threads < 0) {
    throw new Error(`threads must be a whole number ≥ 0 (0: every core), got ${threads}`);
  }
  const key = name === "node" ? `node/${threads}` : name;
  const have = loaded.get(key);
  if (have) return have;
  let b: Backend;
  if (name === "node") {
    const ort = await import("onnxruntime-node");
    b = wrap(
      "node",
      ort,
      threads,
      () => ({ executionProviders: ["cpu"], graphOptimizationLevel: "all", intraOpNumThreads: threads }),
    );
  } else if (name === "wasm") {
    const ort = await import("onnxruntime-web");
    b = wrap("wasm", ort, 1, () => ({ executionProviders: ["wasm"], graphOptimizationLevel: "all" }));
  } else {
    if (!(await gpuAdapter())) {
      throw new Error("webgpu backend: no WebGPU adapter (navigator.gpu.requestAdapter() gave none)");
    }
    const ort = await import("onnxruntime-web/webgpu");
    b = wrap("webgpu", ort, 1, (o) => ({
      executionProviders: ["webgpu"],
      graphOptimizationLevel: "all",
      preferredOutputLocation: o.deviceOutputs
        ? Object.fromEntries(o.deviceOutputs.map((n) => [n, "gpu-buffer"]))
        : undefined,
      extra: o.strict ? { session: { disable_cpu_ep_fallback: "1" } } : undefined,
    }));
  }
  loaded.set(key, b);
  return b;
}

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  description: string;
  isFallbackAdapter: boolean;
}

/** The WebGPU adapter, if any (Mesa's lavapipe on GPU-less machines reports isFallbackAdapter). */
export async function gpuAdapter(): Promise<AdapterInfo | null> {
  const gpu =
    (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info: AdapterInfo } | null> } }).gpu;
  if (!gpu) return null;
  const a = await gpu.requestAdapter();
  return a
    ? {
      vendor: a.info.vendor,
      architecture: a.info.architecture,
      description: a.info.description,
      isFallbackAdapter: !!a.info.isFallbackAdapter,
    }
    : null;
}

/** The backend a run configuration names (`backend`, `threads`), or the automatic choice for "auto". */
export async function pickBackend(
  o: { backend?: BackendName | "auto"; threads?: number } = runConfig(),
): Promise<Backend> {
  const threads = o.threads ?? runConfig().threads;
  if (o.backend && o.backend !== "auto") return loadBackend(o.backend, threads);
  const a = await gpuAdapter();
  if (a && !a.isFallbackAdapter) return loadBackend("webgpu");
  try {
    return await loadBackend("node", threads);
  } catch {
    return loadBackend("wasm");
  }
}
