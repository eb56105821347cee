/**
 * Execution backends for the ONNX graphs: onnxruntime-web on WebGPU (parameters and optimizer state stay in
 * GPU buffers between steps) or on wasm, and onnxruntime-node's CPU provider (MLAS kernels, multi-threaded).
 * `pickBackend()` chooses: a hardware WebGPU adapter if there is one, else onnxruntime-node, else wasm;
 * CTRLAB_BACKEND or an explicit name overrides; CTRLAB_NODE_THREADS sets onnxruntime-node's threads.
 */
import type { InferenceSession, Tensor as OrtTensor } from "onnxruntime-common";

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

export interface Backend {
  name: BackendName;
  session(model: Uint8Array, o?: SessionOptions): Promise<Session>;
  tensor(type: "float32", data: Float32Array, dims: readonly number[]): OrtTensor;
  tensor(type: "int64", data: BigInt64Array, dims: readonly number[]): OrtTensor;
  /** Host copy of a tensor's data (downloads GPU tensors). */
  read(t: OrtTensor): Promise<Float32Array | BigInt64Array>;
}

// deno-lint-ignore no-explicit-any
type OrtModule = any;

function wrap(name: BackendName, ort: OrtModule, sessionOptions: (o: SessionOptions) => InferenceSession.SessionOptions): Backend {
  return {
    name,
    async session(model, o = {}) {
      const s: InferenceSession = await ort.InferenceSession.create(model, sessionOptions(o));
      return { run: (feeds) => s.run(feeds) as Promise<Feeds>, inputNames: s.inputNames, outputNames: s.outputNames, release: () => s.release() };
    },
    tensor(type: "float32" | "int64", data: Float32Array | BigInt64Array, dims: readonly number[]) {
      return new ort.Tensor(type, data, dims);
    },
    async read(t) {
      return (t.location === "cpu" ? t.data : await t.getData()) as Float32Array | BigInt64Array;
    },
  } as Backend;
}

/**
 * Threads for onnxruntime-node's CPU kernels: CTRLAB_NODE_THREADS, or 0 (onnxruntime's default, every core).
 * Set it to 1 for bit-reproducible training. With several threads, DIN and DCN-DIN training on node differs
 * from run to run in the fourth decimal of AUC (same data, same seed; the DNN, DCN and MMoE graphs repeat
 * exactly). The kernel responsible is not pinned down: the suspect is CPU ScatterND(reduction="add"), which
 * splits its updates across threads with no synchronisation while DIN's batches repeat item ids many times.
 * wasm and a single-threaded node session give the same bits on every run.
 */
export function nodeThreads(): number {
  const v = Deno.env.get("CTRLAB_NODE_THREADS") ?? "0";
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`CTRLAB_NODE_THREADS must be a whole number ≥ 0 (0: every core), got "${v}"`);
  return n;
}

const loaded = new Map<BackendName, Backend>();

export async function loadBackend(name: BackendName): Promise<Backend> {
  const have = loaded.get(name);
  if (have) return have;
  let b: Backend;
  if (name === "node") {
    const ort = await import("onnxruntime-node");
    b = wrap("node", ort, () => ({ executionProviders: ["cpu"], graphOptimizationLevel: "all", intraOpNumThreads: nodeThreads() }));
  } else if (name === "wasm") {
    const ort = await import("onnxruntime-web");
    b = wrap("wasm", ort, () => ({ executionProviders: ["wasm"], graphOptimizationLevel: "all" }));
  } else {
    if (!(await gpuAdapter())) throw new Error("webgpu backend: no WebGPU adapter (navigator.gpu.requestAdapter() gave none)");
    const ort = await import("onnxruntime-web/webgpu");
    b = wrap("webgpu", ort, (o) => ({
      executionProviders: ["webgpu"],
      graphOptimizationLevel: "all",
      preferredOutputLocation: o.deviceOutputs ? Object.fromEntries(o.deviceOutputs.map((n) => [n, "gpu-buffer"])) : undefined,
      extra: o.strict ? { session: { disable_cpu_ep_fallback: "1" } } : undefined,
    }));
  }
  loaded.set(name, b);
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
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info: AdapterInfo } | null> } }).gpu;
  if (!gpu) return null;
  const a = await gpu.requestAdapter();
  return a ? { vendor: a.info.vendor, architecture: a.info.architecture, description: a.info.description, isFallbackAdapter: !!a.info.isFallbackAdapter } : null;
}

/** Backend by name, CTRLAB_BACKEND, or automatic choice. */
export async function pickBackend(name?: BackendName | "auto"): Promise<Backend> {
  const want = name && name !== "auto" ? name : (Deno.env.get("CTRLAB_BACKEND") as BackendName | undefined);
  if (want) return loadBackend(want);
  const a = await gpuAdapter();
  if (a && !a.isFallbackAdapter) return loadBackend("webgpu");
  try {
    return await loadBackend("node");
  } catch {
    return loadBackend("wasm");
  }
}
