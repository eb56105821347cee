/**
 * One model definition → three ONNX graphs:
 *   train     batch + params + optimizer state + lr + step → loss, updated params and state (+ predictions)
 *   eval      batch + params → probabilities
 *   inference batch → probabilities, parameters baked in as initializers (loadable by any onnxruntime)
 *
 * Sparse (embedding) params are updated lazily: only the rows a batch touches. The host passes each sparse
 * table's unique ids (`<table>:uniq`); the graph sums the gradient per unique row, applies the optimizer to
 * those rows, and either writes them back with ScatterND (`writeBack: "graph"`, keeps tables on a GPU) or
 * returns the rows (`writeBack: "host"`, the trainer writes them into the table in place: no full-table copy).
 *
 * Summing a row's gradient over its repeated ids (`sparseSum`):
 *   "scatter"  ScatterND(reduction=add) at each id's position among the uniques (`<table>:inv`). GPU kernels
 *              add atomically; onnxruntime's CPU kernel splits the updates across threads with no
 *              synchronisation, so with several threads repeated ids race (lost updates, run-to-run noise).
 *   "segment"  race-free: the host sorts the looked-up ids by unique row (`<table>:perm`) and gives each
 *              unique row its first and last sorted position (`:first`, `:last`); the graph takes a float64
 *              running sum and reads each row's sum as last − before-first. Same bits at any thread count.
 */
import { gradients } from "./grad.ts";
import { l2, ModelBuilder, type PackedSequence, type ParamSpec, weightedBce } from "./nn.ts";
import { toOnnx } from "./onnx.ts";
import { clipByGlobalNorm, type OptimizerConfig, stateKinds, update, updateFlat } from "./optim.ts";
import {
  add,
  cast,
  concat,
  cumsum,
  type DType,
  gather,
  input,
  numel,
  reshape,
  scatterND,
  type Shape,
  sigmoid,
  sub,
  type Tensor,
  zerosLike,
} from "./tensor.ts";

/** A model: logits [B] or [B, tasks], plus any tensors worth inspecting (e.g. gates), exported by the eval graph. */
export type ModelFn = (m: ModelBuilder) => { logits: Tensor } & Record<string, Tensor>;

export interface TrainConfig {
  optimizer: OptimizerConfig;
  /** L2 penalty on regularised dense params (weights, not biases or embeddings). */
  l2?: number;
  /** Adds input "weight" [B]: per-sample loss weights (e.g. scene reweighting). */
  sampleWeights?: boolean;
  /** Adds input "mask" shaped like the logits: 1 where a task applies to a row (multi-task losses). */
  taskMask?: boolean;
  sparseWriteBack?: "graph" | "host";
  /** How repeated ids' gradient rows are summed (see above); default "segment". WebGPU has no float64: "scatter". */
  sparseSum?: "scatter" | "segment";
  /** Sequence layers on the real positions only, packed by the host (ModelBuilder.packSequences); default false. */
  packSequences?: boolean;
  /** Also output the batch's probabilities from the train step. */
  emitPredictions?: boolean;
}

export interface IOSpec {
  name: string;
  shape: Shape;
  dtype: DType;
}

export interface SparseTable {
  param: string;
  /** Batch inputs whose ids index this table, in the order the host must concatenate them for `:inv`. */
  idsInputs: string[];
  /** The table's rows (its vocabulary); ids outside them are refused before the step. */
  rows: number;
  /** The shape of one row. */
  dim: number[];
}

export interface CompiledModel {
  train: Uint8Array;
  eval: Uint8Array;
  /** The standalone inference model with these parameter values baked in. */
  inference(values: Map<string, Float32Array>): Uint8Array;
  /** Parameters and buffers (`buffer: true`: no gradient, no optimizer state). */
  params: ParamSpec[];
  /** Batch inputs of the model (its features, as the eval and inference graphs take them). */
  batchInputs: IOSpec[];
  /** The train graph's inputs: the batch's (packed sequences instead of padded ones), label etc., state. */
  trainInputs: IOSpec[];
  /** Sequences the host packs for the train graph (ModelBuilder.realPositions); empty when it packs none. */
  packed: PackedSequence[];
  trainOutputs: string[];
  /** Eval-graph outputs besides prob and logits (e.g. "gates"), with their shapes. */
  extraOutputs: IOSpec[];
  stateKinds: ("m" | "v")[];
  /**
   * The dense params whose optimizer state is one flat tensor per kind (`optimizer:m`, `optimizer:v`), in its
   * order, with their sizes; empty when each param keeps its own (SGD, or a single dense param).
   */
  flatState: { name: string; size: number }[];
  sparse: SparseTable[];
  /** How updated sparse rows get back into their tables (config.sparseWriteBack, default "host"). */
  writeBack: "graph" | "host";
  /** How repeated ids' gradients are summed (config.sparseSum, default "segment"). */
  sparseSum: "scatter" | "segment";
  config: TrainConfig;
  /** The symbolic train graph, for the float64 reference evaluator. */
  trainGraph: { inputs: Tensor[]; outputs: Record<string, Tensor> };
}

export const stateName = (param: string, kind: string) => `${param}.${kind}`;
/** The flat optimizer state of the dense params (CompiledModel.flatState). */
export const flatStateName = (kind: string) => `optimizer:${kind}`;
/** The length of each flat state tensor: the dense params' sizes together. */
export const flatStateSize = (model: Pick<CompiledModel, "flatState">) =>
  model.flatState.reduce((a, p) => a + p.size, 0);
export const newName = (name: string) => `new:${name}`;
export const rowsName = (name: string) => `rows:${name}`;
export const uniqName = (param: string) => `${param}:uniq`;
export const invName = (param: string) => `${param}:inv`;
export const permName = (param: string) => `${param}:perm`;
export const firstName = (param: string) => `${param}:first`;
export const lastName = (param: string) => `${param}:last`;

/**
 * Params and optimizer state by name (`<param>.m`, as snapshots keep them) → the train graph's inputs: the dense
 * params' state packed into its flat tensors (CompiledModel.flatState).
 */
export function packState(
  model: Pick<CompiledModel, "flatState" | "stateKinds">,
  values: Record<string, Float32Array>,
): Record<string, Float32Array> {
  if (!model.flatState.length) return values;
  const out = { ...values }, total = flatStateSize(model);
  for (const k of model.stateKinds) {
    const flat = new Float32Array(total);
    let at = 0;
    for (const p of model.flatState) {
      const name = stateName(p.name, k), v = values[name];
      if (v?.length !== p.size) throw new Error(`state ${name}: expected ${p.size} values, got ${v?.length}`);
      flat.set(v, at);
      at += p.size;
      delete out[name];
    }
    out[flatStateName(k)] = flat;
  }
  return out;
}

/** The inverse of packState: each dense param's state under its own name again (copies). */
export function unpackState<A extends Float32Array | Float64Array>(
  model: Pick<CompiledModel, "flatState" | "stateKinds">,
  values: Record<string, A>,
): Record<string, A> {
  if (!model.flatState.length) return values;
  const out = { ...values };
  for (const k of model.stateKinds) {
    const flat = values[flatStateName(k)];
    delete out[flatStateName(k)];
    let at = 0;
    for (const p of model.flatState) out[stateName(p.name, k)] = flat.slice(at, at += p.size) as A;
  }
  return out;
}

const spec = (t: Tensor): IOSpec => ({ name: t.name!, shape: t.shape, dtype: t.dtype });

function build(model: ModelFn, training: boolean, packSequences = false) {
  const m = new ModelBuilder(training, training && packSequences);
  const { logits, ...extras } = model(m);
  if (logits.rank < 1 || logits.shape[0] !== "B") {
    throw new Error(`model logits must be [B] or [B, tasks], got [${logits.shape}]`);
  }
  return { m, logits, extras };
}

/** Compile a model for training with `cfg`. */
export function compile(model: ModelFn, cfg: TrainConfig): CompiledModel {
  // --- train graph
  const { m, logits } = build(model, true, cfg.packSequences);
  const all = [...m.params.values()];
  const params = all.filter((p) => !p.buffer); // trainable
  const batchInputs = [...m.inputs.values()];
  const label = input("label", logits.shape);
  const weight = cfg.sampleWeights ? input("weight", ["B"]) : undefined;
  const mask = cfg.taskMask ? input("mask", logits.shape) : undefined;
  let loss = weightedBce(logits, label, weight, mask);
  const dataLoss = loss;
  const reg = params.filter((p) => p.regularize && !p.sparse).map((p) => p.tensor);
  if (cfg.l2 && reg.length) loss = add(loss, l2(reg, cfg.l2));
  const lr = input("lr", []), step = input("step", []);
  const sparseSet = new Set(params.filter((p) => p.sparse).map((p) => p.tensor));
  const grads = gradients(loss, params.map((p) => p.tensor), sparseSet);

  // gradients per param (dense) or per unique touched row (sparse)
  const writeBack = cfg.sparseWriteBack ?? "host", sum = cfg.sparseSum ?? "segment";
  const kinds = stateKinds(cfg.optimizer);
  const extraInputs: Tensor[] = [lr, step];
  const sparse: SparseTable[] = [];
  const slots: { spec: ParamSpec; grad: Tensor; rows?: { uniq: Tensor; rowsOf: (t: Tensor) => Tensor } }[] =
    [];
  for (const p of params) {
    const sg = grads.sparse.get(p.tensor);
    if (!sg) {
      slots.push({ spec: p, grad: grads.dense.get(p.tensor)! });
      continue;
    }
    for (const part of sg.parts) {
      if (part.ids.kind !== "input") {
        throw new Error(`sparse table ${p.tensor.name} must be gathered with ids that are batch inputs`);
      }
    }
    // each table gets its own symbolic sizes (unique counts differ between tables); ids come as [n, 1]
    // columns, the index layout ScatterND wants, so no int64 reshape (a CPU op on WebGPU) is needed
    const name = p.tensor.name!, U = `U_${name}`, N = `N_${name}`;
    const uniq = input(uniqName(name), [U, 1], "int64");
    extraInputs.push(uniq);
    sparse.push({
      param: name,
      idsInputs: sg.parts.map((q) => q.ids.name!),
      rows: p.shape[0],
      dim: p.shape.slice(1),
    });
    const rows = sg.parts.length === 1 ? sg.parts[0].rows : concat(sg.parts.map((q) => q.rows), 0);
    const rowsOf = (table: Tensor) => reshape(gather(table, uniq), [U, ...p.shape.slice(1)]);
    let grad: Tensor;
    if (sum === "scatter") {
      const inv = input(invName(name), [N, 1], "int64");
      extraInputs.push(inv);
      grad = scatterND(zerosLike(rowsOf(p.tensor)), inv, rows);
    } else {
      const [perm, first, last] = [
        input(permName(name), [N], "int64"),
        input(firstName(name), [U], "int64"),
        input(lastName(name), [U], "int64"),
      ];
      extraInputs.push(perm, first, last);
      const sorted = gather(cast(rows, "float64"), perm);
      grad = cast(sub(gather(cumsum(sorted, 0), last), gather(cumsum(sorted, 0, true), first)), "float32");
    }
    slots.push({ spec: p, grad, rows: { uniq, rowsOf } });
  }
  if (cfg.optimizer.clipNorm) {
    const clipped = clipByGlobalNorm(slots.map((s) => s.grad), cfg.optimizer.clipNorm).grads;
    slots.forEach((s, i) => s.grad = clipped[i]);
  }

  const outputs: Record<string, Tensor> = { loss: dataLoss };
  for (const [name, value] of m.assigned) outputs[newName(name)] = value; // buffers (running statistics)
  if (cfg.emitPredictions) outputs.prob = sigmoid(logits);
  const stateInputs: Tensor[] = [];
  // the dense params' state flat, updated in one pass per op (optim.updateFlat), when there is state to keep
  const dense = slots.filter((s) => !s.rows);
  const flatState = kinds.length && dense.length > 1
    ? dense.map((s) => ({ name: s.spec.tensor.name!, size: numel(s.spec.shape) }))
    : [];
  if (flatState.length) {
    const total = flatStateSize({ flatState });
    const state = Object.fromEntries(kinds.map((k) => {
      const t = input(flatStateName(k), [total]);
      stateInputs.push(t);
      return [k, t];
    })) as { m?: Tensor; v?: Tensor };
    const u = updateFlat(
      cfg.optimizer,
      dense.map((s) => ({ param: s.spec.tensor, grad: s.grad })),
      state,
      lr,
      step,
    );
    dense.forEach((s, i) => outputs[newName(s.spec.tensor.name!)] = u.params[i]);
    for (const k of kinds) outputs[newName(flatStateName(k))] = u[k]!;
  }
  for (const s of flatState.length ? slots.filter((s) => s.rows) : slots) {
    const name = s.spec.tensor.name!;
    const state = Object.fromEntries(kinds.map((k) => {
      const t = input(stateName(name, k), s.spec.shape);
      stateInputs.push(t);
      return [k, t];
    })) as { m?: Tensor; v?: Tensor };
    if (!s.rows) {
      const u = update(cfg.optimizer, { param: s.spec.tensor, grad: s.grad, ...state }, lr, step);
      outputs[newName(name)] = u.param;
      for (const k of kinds) outputs[newName(stateName(name, k))] = u[k]!;
      continue;
    }
    const { uniq, rowsOf } = s.rows;
    const rowState = Object.fromEntries(kinds.map((k) => [k, rowsOf(state[k]!)]));
    const u = update(cfg.optimizer, { param: rowsOf(s.spec.tensor), grad: s.grad, ...rowState }, lr, step);
    const write = (name: string, full: Tensor, rows: Tensor) => {
      if (writeBack === "graph") outputs[newName(name)] = scatterND(full, uniq, rows, true);
      else outputs[rowsName(name)] = rows;
    };
    write(name, s.spec.tensor, u.param);
    for (const k of kinds) write(stateName(name, k), state[k]!, u[k]!);
  }

  const trainInputsT = [
    ...batchInputs,
    label,
    ...(weight ? [weight] : []),
    ...(mask ? [mask] : []),
    ...extraInputs,
    ...all.map((p) => p.tensor),
    ...stateInputs,
  ];
  const train = toOnnx({
    name: "train_step",
    inputs: trainInputsT,
    outputs,
    docString: "ctrlab train step: forward, backward, optimizer",
  });

  // --- eval graph (fresh build, so it holds no training nodes)
  const e = build(model, false);
  const evalGraph = toOnnx({
    name: "eval",
    inputs: [...e.m.inputs.values(), ...[...e.m.params.values()].map((p) => p.tensor)],
    outputs: { prob: sigmoid(e.logits), logits: e.logits, ...e.extras },
  });

  const inference = (values: Map<string, Float32Array>) => {
    const f = build(model, false);
    const inits = new Map<Tensor, Float32Array>();
    for (const p of f.m.params.values()) {
      const v = values.get(p.tensor.name!);
      if (!v) throw new Error(`inference: no value for param ${p.tensor.name}`);
      inits.set(p.tensor, v);
    }
    return toOnnx({
      name: "inference",
      inputs: [...f.m.inputs.values()],
      initializers: inits,
      outputs: { prob: sigmoid(f.logits) },
    });
  };

  return {
    train,
    eval: evalGraph,
    inference,
    params: all,
    config: cfg,
    stateKinds: kinds,
    flatState,
    sparse,
    writeBack,
    sparseSum: sum,
    trainGraph: { inputs: trainInputsT, outputs },
    extraOutputs: Object.entries(e.extras).map(([name, t]) => ({ name, shape: t.shape, dtype: t.dtype })),
    batchInputs: [...e.m.inputs.values()].map(spec),
    trainInputs: trainInputsT.map(spec),
    packed: m.packed,
    trainOutputs: Object.keys(outputs),
  };
}
