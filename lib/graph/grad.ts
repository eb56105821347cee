/**
 * Reverse-mode autodiff over symbolic tensors. Each op's gradient rule is a few lines that build more ops
 * (micrograd's `_backward`, but symbolic); `gradients` walks the graph backwards once, summing the
 * contributions that reach each node. Broadcasting is undone by `unbroadcast`; embedding gradients become
 * ScatterND(reduction=add) so repeated ids accumulate — or, for params marked sparse, stay as (ids, rows)
 * pairs so the optimizer can update only the rows a batch touches.
 */
import {
  add,
  broadcastShapes,
  cast,
  concat,
  constant,
  dimEq,
  div,
  equal,
  expandLike,
  gather,
  greater,
  matmul,
  mul,
  neg,
  pow,
  reduceSum,
  reshape,
  scatterND,
  type Shape,
  slice,
  sub,
  sumRows,
  type Tensor,
  topoSort,
  transpose,
  transposeLast,
  unsqueezeLast,
  where,
  zerosLike,
} from "./tensor.ts";

/** Sum `g` over the axes along which a tensor of shape `target` was broadcast to g's shape. */
export function unbroadcast(g: Tensor, target: Shape): Tensor {
  if (g.shape.length === target.length && g.shape.every((d, i) => dimEq(d, target[i]))) return g;
  const lead = g.rank - target.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead) axes.push(i);
    else if (target[i - lead] === 1 && g.shape[i] !== 1) axes.push(i);
  }
  if (g.rank === 2 && axes.length === 1 && axes[0] === 0) return reshape(sumRows(g), target); // a bias's gradient
  const summed = axes.length ? reduceSum(g, axes, true) : g;
  return reshape(summed, target);
}

/** Reinsert reduced axes (as size 1) so a reduction's gradient broadcasts back over its input. */
function keepDims(g: Tensor, node: Tensor): Tensor {
  if (node.attrs.keepdims) return g;
  const axes = node.attrs.axes as number[];
  const x = node.inputs[0];
  return reshape(g, x.shape.map((d, i) => axes.includes(i) ? 1 : d));
}

/** Number of elements as a dim: a number when static, "N" when it involves the batch. */
export function flatSize(t: Tensor): number | string {
  return t.shape.reduce<number | string>(
    (a, d) => typeof a === "number" && typeof d === "number" ? a * d : "N",
    1,
  );
}

/**
 * g's source when g only broadcasts it (ExpandLike: a reduction's gradient) and multiplying the source by
 * `other` broadcasts to g's shape anyway: the product is the same, element for element, without the expanded
 * copy (onnxruntime's Expand of a column over [P, 36] took as long as the attention unit's matmuls).
 */
function unexpanded(g: Tensor, other: Tensor): Tensor {
  if (g.op !== "ExpandLike") return g;
  const src = g.inputs[0];
  try {
    const shape = broadcastShapes(src.shape, other.shape);
    return shape.length === g.rank && shape.every((d, i) => dimEq(d, g.shape[i])) ? src : g;
  } catch {
    return g; // shapes that do not broadcast together
  }
}

type Rule = (g: Tensor, node: Tensor) => (Tensor | null)[];

/** The gradient of each op with respect to each of its inputs, given the gradient g of its output. */
export const GRAD_RULES: Record<string, Rule> = {
  Add: (g, n) => [unbroadcast(g, n.inputs[0].shape), unbroadcast(g, n.inputs[1].shape)],
  Sub: (g, n) => [unbroadcast(g, n.inputs[0].shape), unbroadcast(neg(g), n.inputs[1].shape)],
  Mul: (
    g,
    n,
  ) => [
    unbroadcast(mul(unexpanded(g, n.inputs[1]), n.inputs[1]), n.inputs[0].shape),
    unbroadcast(mul(unexpanded(g, n.inputs[0]), n.inputs[0]), n.inputs[1].shape),
  ],
  Div: (g, n) => {
    const [a, b] = n.inputs;
    return [unbroadcast(div(g, b), a.shape), unbroadcast(neg(div(mul(g, n), b)), b.shape)];
  },
  Pow: (g, n) => {
    const [x, p] = n.inputs;
    const e = p.value![0];
    return [mul(g, mul(pow(x, e - 1), e)), null];
  },
  Neg: (g) => [neg(g)],
  Exp: (g, n) => [mul(g, n)],
  Log: (g, n) => [div(g, n.inputs[0])],
  Sqrt: (g, n) => [div(g, mul(n, 2))],
  Abs: (g, n) => [where(greater(n.inputs[0], 0), g, neg(g))], // Sign falls back to CPU on WebGPU
  // g · [x > 0]: the values of Where(x > 0, g, 0), up to the sign of a zero; onnxruntime's CPU Cast and Mul
  // together are faster than its Where over a bool mask (MMoE's step measurably)
  Relu: (g, n) => [mul(g, cast(greater(n.inputs[0], 0), "float32"))],
  Sigmoid: (g, n) => [mul(g, mul(n, sub(1, n)))],
  Tanh: (g, n) => [mul(g, sub(1, mul(n, n)))],
  Identity: (g) => [g],
  Cast: () => [null],
  Greater: () => [null, null],
  Less: () => [null, null],
  Equal: () => [null, null],
  Where: (
    g,
    n,
  ) => [
    null,
    unbroadcast(where(n.inputs[0], g, 0), n.inputs[1].shape),
    unbroadcast(where(n.inputs[0], 0, g), n.inputs[2].shape),
  ],
  MatMul: (g, n) => {
    const [a, b] = n.inputs;
    return [
      unbroadcast(matmul(g, transposeLast(b)), a.shape),
      unbroadcast(matmul(transposeLast(a), g), b.shape),
    ];
  },
  ReduceSum: (g, n) => [expandLike(keepDims(g, n), n.inputs[0])],
  ReduceMean: (g, n) => {
    const x = n.inputs[0];
    const axes = n.attrs.axes as number[];
    const sizes = axes.map((a) => x.shape[a]);
    // a static count when the reduced dims are known, else counted at run time (the batch) on a probe of x
    // cut to length 1 along every kept axis; the gradient is divided before it is spread over x
    let probe = x;
    x.shape.forEach((d, i) => {
      if (!axes.includes(i) && typeof d === "number" && d > 1) probe = slice(probe, i, 0, 1);
    });
    const count = sizes.every((d) => typeof d === "number")
      ? constant(sizes.reduce((p: number, d) => p * (d as number), 1))
      : reduceSum(expandLike(constant(1), probe), axes, true);
    return [expandLike(div(keepDims(g, n), count), x)];
  },
  ReduceMax: (g, n) => {
    const x = n.inputs[0];
    const hit = equal(x, expandLike(keepDims(n, n), x));
    return [where(hit, expandLike(keepDims(g, n), x), 0)];
  },
  Softmax: (g, n) => {
    const axis = n.attrs.axis as number;
    return [mul(n, sub(g, reduceSum(mul(g, n), axis, true)))];
  },
  Concat: (g, n) => {
    const axis = n.attrs.axis as number;
    let offset = 0;
    return n.inputs.map((x) => {
      const d = x.shape[axis] as number;
      const part = slice(g, axis, offset, offset + d);
      offset += d;
      return part;
    });
  },
  Slice: (g, n) => {
    const x = n.inputs[0];
    const { axis, start, end } = n.attrs as { axis: number; start: number; end: number };
    const parts: Tensor[] = [];
    if (start > 0) parts.push(zerosLike(slice(x, axis, 0, start)));
    parts.push(g);
    if (end < (x.shape[axis] as number)) parts.push(zerosLike(slice(x, axis, end, x.shape[axis] as number)));
    return [parts.length === 1 ? g : concat(parts, axis)];
  },
  Reshape: (g, n) => [reshape(g, n.inputs[0].shape)],
  Transpose: (g, n) => {
    const perm = n.attrs.perm as number[];
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [transpose(g, inv)];
  },
  ExpandLike: (g, n) => [unbroadcast(g, n.inputs[0].shape), null],
  ScatterND: (g, n) => {
    const [, indices, updates] = n.inputs;
    if (n.attrs.reduction !== "add" || indices.shape[indices.rank - 1] !== 1) {
      throw new Error("ScatterND: gradients only for reduction add over rows (indices [..., 1])");
    }
    return [g, null, reshape(gather(g, reshape(indices, [flatSize(indices)])), updates.shape)];
  },
  Gather: (g, n) => {
    const [table, ids] = n.inputs;
    const flatIds = reshape(ids, [flatSize(ids)]);
    const rows = reshape(g, [flatIds.shape[0], ...table.shape.slice(1)]);
    return [scatterND(zerosLike(table), unsqueezeLast(flatIds), rows), null];
  },
};

/**
 * A gradient kept as touched rows, one part per Gather of the table in forward order: row r of part.rows
 * belongs to table row part.ids[r] (flattened; ids may repeat). part.ids is the Gather's own ids tensor.
 */
export interface SparseGrad {
  parts: { ids: Tensor; rows: Tensor }[];
}

export interface Gradients {
  dense: Map<Tensor, Tensor>;
  sparse: Map<Tensor, SparseGrad>;
}

/**
 * d(loss)/d(each of `wrt`). Params in `sparseParams` that are used only through Gather get a SparseGrad
 * instead of a dense tensor. A param the loss does not depend on gets a zero gradient.
 */
export function gradients(loss: Tensor, wrt: Tensor[], sparseParams: Set<Tensor> = new Set()): Gradients {
  if (loss.rank !== 0) throw new Error(`gradients: loss must be a scalar, got shape [${loss.shape}]`);
  const order = topoSort([loss]);
  const grads = new Map<number, Tensor>([[loss.id, constant(1)]]);
  const sparseParts = new Map<Tensor, { ids: Tensor; rows: Tensor; order: number }[]>();
  const accumulate = (t: Tensor, g: Tensor) => {
    const prev = grads.get(t.id);
    grads.set(t.id, prev ? add(prev, g) : g);
  };
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i];
    const g = grads.get(node.id);
    if (!g || node.kind !== "op") continue;
    if (node.op === "Gather" && sparseParams.has(node.inputs[0])) {
      const [table, ids] = node.inputs;
      const parts = sparseParts.get(table) ?? [];
      parts.push({ ids, rows: reshape(g, [flatSize(ids), ...table.shape.slice(1)]), order: node.id });
      sparseParts.set(table, parts);
      continue;
    }
    const rule = GRAD_RULES[node.op];
    if (!rule) throw new Error(`no gradient rule for ${node.op}`);
    const ins = rule(g, node);
    node.inputs.forEach((x, k) => {
      const gx = ins[k];
      if (gx && x.dtype === "float32" && x.kind !== "const") accumulate(x, gx);
    });
  }
  const out: Gradients = { dense: new Map(), sparse: new Map() };
  for (const p of wrt) {
    const parts = sparseParts.get(p);
    if (parts && grads.has(p.id)) {
      throw new Error(`param ${p.name} is marked sparse but is also used outside Gather`);
    }
    if (parts) {
      out.sparse.set(p, {
        parts: parts.sort((a, b) => a.order - b.order).map(({ ids, rows }) => ({ ids, rows })),
      });
    } else out.dense.set(p, grads.get(p.id) ?? zerosLike(p));
  }
  return out;
}
