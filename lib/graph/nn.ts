/**
 * Layers and losses composed from the primitive ops (tinygrad-style: gradients come for free), plus the
 * ModelBuilder through which a model declares its inputs and parameters.
 */
import { Rng } from "../util/rng.ts";
import {
  add,
  concat,
  constant,
  div,
  type DType,
  exp,
  expandLike,
  gather,
  greater,
  input,
  log,
  matmul,
  mul,
  neg,
  onesRow,
  param,
  reduceMean,
  reduceSum,
  relu,
  reshape,
  type Shape,
  sigmoid,
  slice,
  sqrt,
  sub,
  sumRows,
  tanh,
  type Tensor,
  where,
} from "./tensor.ts";

/** How a parameter starts; `zeroFirstRow`: row 0 (an embedding's out-of-vocabulary id) starts at zero. */
export type Init = { kind: "he" | "xavier" | "zeros" | "ones" } | {
  kind: "normal";
  std: number;
  zeroFirstRow?: boolean;
} | {
  kind: "uniform";
  limit: number;
};

/** A sequence the host packs for a train graph: its mask input and the [B, L] id inputs read at its real positions. */
export interface PackedSequence {
  mask: string;
  ids: string[];
}
/** Input names of a packed sequence: the real positions of mask `mask`, the values of `ids` there. */
export const atName = (mask: string) => `${mask}:at`;
export const realName = (ids: string) => `${ids}:real`;

export interface ParamSpec {
  tensor: Tensor;
  shape: number[];
  init: Init;
  /** Embedding tables updated row-wise (lazy Adam): only the rows a batch touches change. */
  sparse: boolean;
  /** Included in L2 regularisation. */
  regularize: boolean;
  /**
   * A buffer, not a parameter (PyTorch's word): state such as running statistics that the train step updates
   * by assignment (see `ModelBuilder.assign`), never by gradient; no optimizer state, no regularisation.
   */
  buffer: boolean;
}

/**
 * What a model definition gets: declare inputs, parameters and buffers, get tensors back. `training` says which
 * graph is being built: the train step (batch statistics, buffer updates) or eval/inference (running statistics).
 */
export class ModelBuilder {
  readonly inputs = new Map<string, Tensor>();
  readonly params = new Map<string, ParamSpec>();
  /** New values of buffers, written by the train step: buffer name → tensor. */
  readonly assigned = new Map<string, Tensor>();
  /** Sequences whose real positions the host packs for this graph (see `realPositions`). */
  readonly packed: PackedSequence[] = [];

  /**
   * `packSequences`: train graphs run sequence layers on the real positions only, which the host packs
   * (`realPositions`), not on [B, L] with padding masked out — the same function; the WebGPU train graph and
   * every eval and inference graph keep the masked form.
   */
  constructor(readonly training = true, readonly packSequences = false) {}

  /**
   * The real positions of [B, L] sequence inputs, packed by the host before each step (a packing train graph
   * only): `at` [P], each real position's row·L + position in row-major order (where the float `mask` input is
   * non-zero), and for each [B, L] int64 input in `ids` its values there, [P]. Padding is never looked up.
   */
  realPositions(mask: string, ids: string[]): { at: Tensor; ids: Tensor[] } {
    if (!this.packSequences) throw new Error("realPositions: only a graph that packs sequences has them");
    let seq = this.packed.find((p) => p.mask === mask);
    if (!seq) this.packed.push(seq = { mask, ids: [] });
    for (const id of ids) if (!seq.ids.includes(id)) seq.ids.push(id);
    const P = `P_${mask}`; // each sequence its own count of real positions
    return {
      at: this.input(atName(mask), [P], "int64"),
      ids: ids.map((id) => this.input(realName(id), [P], "int64")),
    };
  }

  input(name: string, shape: Shape, dtype: DType = "float32"): Tensor {
    const have = this.inputs.get(name);
    if (have) return have;
    const t = input(name, shape, dtype);
    this.inputs.set(name, t);
    return t;
  }

  param(
    name: string,
    shape: number[],
    init: Init,
    o: { sparse?: boolean; regularize?: boolean } = {},
  ): Tensor {
    if (this.params.has(name)) throw new Error(`param "${name}" declared twice`);
    const t = param(name, shape);
    this.params.set(name, {
      tensor: t,
      shape,
      init,
      sparse: !!o.sparse,
      regularize: o.regularize ?? true,
      buffer: false,
    });
    return t;
  }

  /** A non-trainable tensor that persists between steps (e.g. a running mean). */
  buffer(name: string, shape: number[], init: Init): Tensor {
    if (this.params.has(name)) throw new Error(`buffer "${name}" declared twice`);
    const t = param(name, shape);
    this.params.set(name, { tensor: t, shape, init, sparse: false, regularize: false, buffer: true });
    return t;
  }

  /** In the train step, set buffer `b` to `value` for the next step (ignored when not training). */
  assign(b: Tensor, value: Tensor): void {
    if (!this.params.get(b.name!)?.buffer) throw new Error(`assign: ${b.name} is not a buffer`);
    if (this.training) this.assigned.set(b.name!, value);
  }
}

/** Deterministic initial values: He (ReLU layers), Xavier/Glorot, normal, uniform, zeros, ones. */
export function initValues(spec: Pick<ParamSpec, "shape" | "init">, rng: Rng): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const fanIn = spec.shape.length >= 2 ? spec.shape[spec.shape.length - 2] : spec.shape[0];
  const fanOut = spec.shape[spec.shape.length - 1];
  const i = spec.init;
  switch (i.kind) {
    case "zeros":
      break;
    case "ones":
      out.fill(1);
      break;
    case "he":
      for (let k = 0; k < n; k++) out[k] = rng.normal() * Math.sqrt(2 / fanIn);
      break;
    case "xavier": {
      const lim = Math.sqrt(6 / (fanIn + fanOut));
      for (let k = 0; k < n; k++) out[k] = (2 * rng.next() - 1) * lim;
      break;
    }
    case "normal":
      for (let k = 0; k < n; k++) out[k] = rng.normal() * i.std;
      if (i.zeroFirstRow) out.fill(0, 0, fanOut);
      break;
    case "uniform":
      for (let k = 0; k < n; k++) out[k] = (2 * rng.next() - 1) * i.limit;
      break;
  }
  return out;
}

/** x @ W + b. */
export function linear(
  m: ModelBuilder,
  name: string,
  x: Tensor,
  out: number,
  o: { init?: Init; bias?: boolean } = {},
): Tensor {
  const inDim = x.shape[x.rank - 1];
  if (typeof inDim !== "number") throw new Error(`linear ${name}: input's last dim must be static`);
  const { w, b } = linearParams(m, name, inDim, out, o.init, o.bias !== false);
  const y = matmul(x, w);
  return b ? add(y, b) : y;
}

/** A linear layer's weight [in, out] and bias [out] (null without one), named, initialised and created in order. */
function linearParams(m: ModelBuilder, name: string, inDim: number, out: number, init?: Init, bias = true) {
  return {
    w: m.param(`${name}.w`, [inDim, out], init ?? { kind: "he" }),
    b: bias ? m.param(`${name}.b`, [out], { kind: "zeros" }, { regularize: false }) : null,
  };
}

/**
 * One ReLU MLP per task over stacked inputs x [T, B, H] → logits [B, T], run as batched matmuls (a few large nodes
 * instead of T small MLPs). The parameters are named, shaped, initialised and created in the order of T separate
 * `mlp(m, \`${name}${t}\`, x_t, sizes)` calls, so a model computes what it did with a loop of towers. `sizes` ends in 1.
 */
export function towers(m: ModelBuilder, name: string, x: Tensor, sizes: number[]): Tensor {
  const T = x.shape[0] as number;
  if (sizes[sizes.length - 1] !== 1) throw new Error(`towers ${name}: the last layer must have 1 output`);
  const layers: { w: Tensor; b: Tensor }[][] = sizes.map(() => []);
  for (let t = 0; t < T; t++) { // task by task, as the loop of mlp calls created them
    let inDim = x.shape[2] as number;
    sizes.forEach((n, i) => {
      const init: Init = i === sizes.length - 1 ? { kind: "xavier" } : { kind: "he" };
      const { w, b } = linearParams(m, `${name}${t}.${i}`, inDim, n, init);
      layers[i].push({ w: reshape(w, [1, inDim, n]), b: reshape(b!, [1, 1, n]) });
      inDim = n;
    });
  }
  let h = x;
  layers.forEach((p, i) => {
    h = add(matmul(h, concat(p.map((q) => q.w), 0)), concat(p.map((q) => q.b), 0));
    if (i < sizes.length - 1) h = relu(h);
  });
  return concat(Array.from({ length: T }, (_, t) => reshape(slice(h, 0, t, t + 1), ["B", 1])), 1);
}

export type Activation = "relu" | "dice";

/** A multilayer perceptron: ReLU (or Dice) between layers, none after the last. */
export function mlp(
  m: ModelBuilder,
  name: string,
  x: Tensor,
  sizes: number[],
  o: { lastActivation?: boolean; activation?: Activation } = {},
): Tensor {
  let h = x;
  sizes.forEach((n, i) => {
    const last = i === sizes.length - 1;
    h = linear(m, `${name}.${i}`, h, n, {
      init: last && !o.lastActivation ? { kind: "xavier" } : { kind: "he" },
    });
    if (!last || o.lastActivation) h = o.activation === "dice" ? dice(m, `${name}.${i}.dice`, h) : relu(h);
  });
  return h;
}

/** Layer normalisation over the last axis with a learned scale and shift (Ba et al., 2016). */
export function layerNorm(m: ModelBuilder, name: string, x: Tensor, eps = 1e-12): Tensor {
  const d = x.shape[x.rank - 1] as number;
  const mu = reduceMean(x, -1, true), centred = sub(x, mu);
  const variance = reduceMean(mul(centred, centred), -1, true);
  const normed = div(centred, sqrt(add(variance, eps)));
  return add(
    mul(normed, m.param(`${name}.gamma`, [d], { kind: "ones" }, { regularize: false })),
    m.param(`${name}.beta`, [d], { kind: "zeros" }, { regularize: false }),
  );
}

/** GELU, tanh approximation (as BERT implementations export it). */
export function gelu(x: Tensor): Tensor {
  const inner = mul(add(x, mul(mul(mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return mul(mul(x, 0.5), add(tanh(inner), 1));
}

/** An embedding table [vocab, dim] looked up at int64 ids; sparse (row-wise updates) by default. */
export function embedding(
  m: ModelBuilder,
  name: string,
  ids: Tensor,
  vocab: number,
  dim: number,
  o: { sparse?: boolean; std?: number; zeroOov?: boolean } = {},
): Tensor {
  const have = m.params.get(name);
  const table = have?.tensor ??
    m.param(name, [vocab, dim], { kind: "normal", std: o.std ?? 0.01, zeroFirstRow: o.zeroOov }, {
      sparse: o.sparse ?? true,
      regularize: false,
    });
  return gather(table, ids);
}

/** Numerically stable elementwise binary cross-entropy with logits: max(z,0) − z·y + log(1 + e^−|z|). */
export function bceWithLogits(logits: Tensor, labels: Tensor): Tensor {
  const pos = greater(logits, 0);
  const absz = where(pos, logits, neg(logits));
  return add(sub(where(pos, logits, 0), mul(logits, labels)), log(add(exp(neg(absz)), 1)));
}

/**
 * Weighted mean BCE over valid entries: Σ w·mask·bce / Σ w·mask. `weights` ([B]) and `mask` (shaped like
 * the logits, 1 = this task applies to this row) are optional.
 */
export function weightedBce(logits: Tensor, labels: Tensor, weights?: Tensor, mask?: Tensor): Tensor {
  let w: Tensor | null = null;
  if (weights) w = logits.rank === 2 ? reshapeToColumn(weights) : weights;
  if (mask) w = w ? mul(w, mask) : mask;
  const per = bceWithLogits(logits, labels);
  const axes = logits.shape.map((_, i) => i);
  if (!w) return reduceMean(per, axes);
  return reduceSum(mul(per, w), axes).div(add(reduceSum(expandLike(w, per), axes), 1e-12));
}

function reshapeToColumn(w: Tensor): Tensor {
  return w.reshape([w.shape[0], 1]);
}

/** λ · Σ p² over the given params. */
export function l2(params: Tensor[], lambda: number): Tensor {
  let s: Tensor = constant(0);
  for (const p of params) s = add(s, reduceSum(mul(p, p), p.shape.map((_, i) => i)));
  return mul(s, lambda);
}

/** Batch mean and variance over axis 0 (for normalisation layers). */
export function batchStats(x: Tensor): { mean: Tensor; variance: Tensor } {
  const mean = reduceMean(x, 0, true);
  const d = sub(x, mean);
  return { mean, variance: reduceMean(mul(d, d), 0, true) };
}

/** (x − mean) / sqrt(var + eps), with the batch statistics. */
export function normalize(x: Tensor, eps = 1e-5): Tensor {
  const { mean, variance } = batchStats(x);
  return sub(x, mean).div(sqrt(add(variance, eps)));
}

/**
 * Per-channel (last axis) standardisation as in batch normalisation, without scale and shift: the train step
 * uses the batch's mean and variance over every other axis (gradients flow through them) and moves the running
 * statistics towards them (running ← momentum·running + (1 − momentum)·batch); eval and inference use the
 * running statistics, so a row's output does not depend on the rest of its batch. `mask` (x's shape with a last
 * axis of 1; 1 = real, 0 = padding) keeps padded positions out of the batch statistics.
 */
export function batchStandardize(
  m: ModelBuilder,
  name: string,
  x: Tensor,
  o: StandardizeOptions = {},
): Tensor {
  const d = x.shape[x.rank - 1] as number;
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const runMean = m.buffer(`${name}.running_mean`, [d], { kind: "zeros" });
  const runVar = m.buffer(`${name}.running_var`, [d], { kind: "ones" });
  const scale = (c: Tensor, variance: Tensor) => mul(c, div(1, sqrt(add(variance, o.eps ?? 1e-8))));
  if (!m.training) return scale(sub(x, runMean), runVar);
  const mom = o.momentum ?? 0.99;
  // with a mask: sums over the real positions over their count, the same for every channel (counted once)
  const count = o.mask ? add(reduceSum(o.mask, axes), 1e-12) : null;
  const rows = !count && x.rank === 2 ? reduceSum(onesRow(x), [1]) : null; // [1]: the batch's rows
  const avg = (t: Tensor) =>
    count
      ? div(reduceSum(mul(t, o.mask!), axes), count)
      : rows
      ? div(reshape(sumRows(t), [d]), rows)
      : reduceMean(t, axes);
  const mean = avg(x), c = sub(x, mean), variance = avg(mul(c, c));
  m.assign(runMean, add(mul(runMean, mom), mul(mean, 1 - mom)));
  m.assign(runVar, add(mul(runVar, mom), mul(variance, 1 - mom)));
  return scale(c, variance);
}

export interface StandardizeOptions {
  momentum?: number;
  eps?: number;
  /** 1 for real positions, 0 for padding; shaped like x with a last axis of 1. */
  mask?: Tensor;
}

/**
 * Dice (Zhou et al., DIN, KDD 2018): a data-adaptive PReLU, f(s) = p(s)·s + (1 − p(s))·α·s with
 * p(s) = sigmoid of s standardised per channel — batch statistics while training, running statistics at
 * inference (`batchStandardize`). α is learned per channel, starting at 0.
 */
export function dice(m: ModelBuilder, name: string, x: Tensor, o: StandardizeOptions = {}): Tensor {
  const d = x.shape[x.rank - 1] as number;
  const alpha = m.param(`${name}.alpha`, [d], { kind: "zeros" }, { regularize: false });
  const p = sigmoid(batchStandardize(m, name, x, o));
  return mul(x, add(mul(p, sub(1, alpha)), alpha)); // p·x + (1 − p)·α·x, with one product over x's size
}
