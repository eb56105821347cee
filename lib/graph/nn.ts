/**
 * Layers and losses composed from the primitive ops (tinygrad-style: gradients come for free), plus the
 * ModelBuilder through which a model declares its inputs and parameters.
 */
import { Rng } from "../util/rng.ts";
import {
  add, constant, div, type DType, exp, expandLike, gather, greater, input, log, matmul, mul, neg, param, reduceMean, reduceSum,
  relu, type Shape, sqrt, sub, tanh, type Tensor, where,
} from "./tensor.ts";

export type Init = { kind: "he" | "xavier" | "zeros" | "ones" } | { kind: "normal"; std: number } | { kind: "uniform"; limit: number };

export interface ParamSpec {
  tensor: Tensor;
  shape: number[];
  init: Init;
  /** Embedding tables updated row-wise (lazy Adam): only the rows a batch touches change. */
  sparse: boolean;
  /** Included in L2 regularisation. */
  regularize: boolean;
}

/** What a model definition gets: declare inputs and parameters, get tensors back. */
export class ModelBuilder {
  readonly inputs = new Map<string, Tensor>();
  readonly params = new Map<string, ParamSpec>();

  input(name: string, shape: Shape, dtype: DType = "float32"): Tensor {
    const have = this.inputs.get(name);
    if (have) return have;
    const t = input(name, shape, dtype);
    this.inputs.set(name, t);
    return t;
  }

  param(name: string, shape: number[], init: Init, o: { sparse?: boolean; regularize?: boolean } = {}): Tensor {
    if (this.params.has(name)) throw new Error(`param "${name}" declared twice`);
    const t = param(name, shape);
    this.params.set(name, { tensor: t, shape, init, sparse: !!o.sparse, regularize: o.regularize ?? true });
    return t;
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
    case "zeros": break;
    case "ones": out.fill(1); break;
    case "he": for (let k = 0; k < n; k++) out[k] = rng.normal() * Math.sqrt(2 / fanIn); break;
    case "xavier": { const lim = Math.sqrt(6 / (fanIn + fanOut)); for (let k = 0; k < n; k++) out[k] = (2 * rng.next() - 1) * lim; break; }
    case "normal": for (let k = 0; k < n; k++) out[k] = rng.normal() * i.std; break;
    case "uniform": for (let k = 0; k < n; k++) out[k] = (2 * rng.next() - 1) * i.limit; break;
  }
  return out;
}

/** x @ W + b. */
export function linear(m: ModelBuilder, name: string, x: Tensor, out: number, o: { init?: Init; bias?: boolean } = {}): Tensor {
  const inDim = x.shape[x.rank - 1];
  if (typeof inDim !== "number") throw new Error(`linear ${name}: input's last dim must be static`);
  const w = m.param(`${name}.w`, [inDim, out], o.init ?? { kind: "he" });
  const y = matmul(x, w);
  return o.bias === false ? y : add(y, m.param(`${name}.b`, [out], { kind: "zeros" }, { regularize: false }));
}

/** A multilayer perceptron: ReLU between layers, none after the last. */
export function mlp(m: ModelBuilder, name: string, x: Tensor, sizes: number[], o: { lastActivation?: boolean } = {}): Tensor {
  let h = x;
  sizes.forEach((n, i) => {
    const last = i === sizes.length - 1;
    h = linear(m, `${name}.${i}`, h, n, { init: last && !o.lastActivation ? { kind: "xavier" } : { kind: "he" } });
    if (!last || o.lastActivation) h = relu(h);
  });
  return h;
}

/** Layer normalisation over the last axis with a learned scale and shift (Ba et al., 2016). */
export function layerNorm(m: ModelBuilder, name: string, x: Tensor, eps = 1e-12): Tensor {
  const d = x.shape[x.rank - 1] as number;
  const mu = reduceMean(x, -1, true), centred = sub(x, mu);
  const variance = reduceMean(mul(centred, centred), -1, true);
  const normed = div(centred, sqrt(add(variance, eps)));
  return add(mul(normed, m.param(`${name}.gamma`, [d], { kind: "ones" }, { regularize: false })), m.param(`${name}.beta`, [d], { kind: "zeros" }, { regularize: false }));
}

/** GELU, tanh approximation (as BERT implementations export it). */
export function gelu(x: Tensor): Tensor {
  const inner = mul(add(x, mul(mul(mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return mul(mul(x, 0.5), add(tanh(inner), 1));
}

/** An embedding table [vocab, dim] looked up at int64 ids; sparse (row-wise updates) by default. */
export function embedding(m: ModelBuilder, name: string, ids: Tensor, vocab: number, dim: number, o: { sparse?: boolean; std?: number } = {}): Tensor {
  const have = m.params.get(name);
  const table = have?.tensor ?? m.param(name, [vocab, dim], { kind: "normal", std: o.std ?? 0.01 }, { sparse: o.sparse ?? true, regularize: false });
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

