/**
 * Optimizers as graph ops, appended to the backward pass so one ONNX graph does forward, backward and the
 * update. Learning rate and step are graph inputs, so schedules live in the training loop. Semantics follow
 * PyTorch: Adam's weight decay is L2 added to the gradient; AdamW decays the weights directly.
 */
import {
  add,
  concat,
  constant,
  div,
  exp,
  greater,
  mul,
  numel,
  reduceSum,
  reshape,
  slice,
  sqrt,
  sub,
  type Tensor,
  where,
} from "./tensor.ts";

export interface OptimizerConfig {
  type: "sgd" | "adam" | "adamw";
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Clip the global gradient norm (over every param, sparse rows included) to this value. */
  clipNorm?: number;
}

export interface Slot {
  param: Tensor;
  grad: Tensor;
  m?: Tensor;
  v?: Tensor;
}

export interface Updated {
  param: Tensor;
  m?: Tensor;
  v?: Tensor;
}

/** Which state tensors an optimizer keeps per parameter. */
export function stateKinds(cfg: OptimizerConfig): ("m" | "v")[] {
  return cfg.type === "sgd" ? [] : ["m", "v"];
}

/** Scale every gradient so that their global L2 norm is at most `maxNorm`; returns the scaled grads and the norm. */
export function clipByGlobalNorm(grads: Tensor[], maxNorm: number): { grads: Tensor[]; norm: Tensor } {
  let sq: Tensor = constant(0);
  for (const g of grads) sq = add(sq, reduceSum(mul(g, g), g.shape.map((_, i) => i)));
  const norm = sqrt(sq);
  const scale = where(greater(norm, maxNorm), div(constant(maxNorm), add(norm, 1e-12)), 1);
  return { grads: grads.map((g) => mul(g, scale)), norm };
}

/** The update of one parameter (or of a set of rows of one, for lazy/sparse updates). */
export function update(cfg: OptimizerConfig, s: Slot, lr: Tensor, step: Tensor): Updated {
  const wd = cfg.weightDecay ?? 0;
  let g = s.grad;
  if (wd && cfg.type !== "adamw") g = add(g, mul(s.param, wd));
  if (cfg.type === "sgd") return { param: sub(s.param, mul(g, lr)) };
  const b1 = cfg.beta1 ?? 0.9, b2 = cfg.beta2 ?? 0.999, eps = cfg.eps ?? 1e-8;
  const m = add(mul(s.m!, b1), mul(g, 1 - b1));
  const v = add(mul(s.v!, b2), mul(mul(g, g), 1 - b2));
  // bias corrections 1 − β^t, with β^t = exp(t·ln β) (Pow with a tensor exponent is avoided for WebGPU)
  const bc1 = sub(1, exp(mul(step, Math.log(b1))));
  const bc2 = sub(1, exp(mul(step, Math.log(b2))));
  const stepDir = div(div(m, bc1), add(sqrt(div(v, bc2)), eps));
  const base = cfg.type === "adamw" && wd ? mul(s.param, sub(1, mul(lr, wd))) : s.param;
  return { param: sub(base, mul(stepDir, lr)), m, v };
}

/**
 * One update of several dense params at once, PyTorch's multi-tensor ("foreach") form: params and grads
 * flattened and concatenated, the state flat (`m`, `v`: [Σ sizes], params in order), each updated param sliced
 * back to its shape. Element by element the arithmetic of `update`, so the same bits; one node per op for all
 * params instead of one per param and op (onnxruntime pays for every node; MMoE's towers hold 30 weights).
 */
export function updateFlat(
  cfg: OptimizerConfig,
  slots: { param: Tensor; grad: Tensor }[],
  state: { m?: Tensor; v?: Tensor },
  lr: Tensor,
  step: Tensor,
): { params: Tensor[]; m?: Tensor; v?: Tensor } {
  const sizes = slots.map((s) => numel(s.param.shape));
  const flat = (ts: Tensor[]) => concat(ts.map((t, i) => reshape(t, [sizes[i]])), 0);
  const u = update(
    cfg,
    { param: flat(slots.map((s) => s.param)), grad: flat(slots.map((s) => s.grad)), ...state },
    lr,
    step,
  );
  let at = 0;
  const params = slots.map((s, i) => reshape(slice(u.param, 0, at, at += sizes[i]), s.param.shape));
  return { params, m: u.m, v: u.v };
}
