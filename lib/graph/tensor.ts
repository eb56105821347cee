/**
 * Symbolic tensors. A Tensor is a node: an op (an ONNX op type, or one of a few composite markers that emit
 * several ONNX nodes), its inputs, attributes, and a shape whose dims are numbers or the symbol "B" (the
 * batch). Building a model only records nodes; lib/graph/grad.ts derives the backward pass from the same
 * nodes, lib/graph/onnx.ts serialises them and lib/graph/interp.ts evaluates them in float64 for checks.
 */
export type Dim = number | string;
export type Shape = Dim[];
export type DType = "float32" | "float64" | "int64" | "bool";
export type Kind = "input" | "param" | "const" | "op";
export type Attrs = Record<string, number | number[] | string | boolean | undefined>;

let nextId = 0;

export class Tensor {
  readonly id = nextId++;
  constructor(
    readonly kind: Kind,
    readonly op: string,
    readonly inputs: Tensor[],
    readonly shape: Shape,
    readonly dtype: DType,
    readonly attrs: Attrs = {},
    public name?: string,
    readonly value?: Float64Array,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  // method sugar so models read like maths
  add(o: Tensor | number): Tensor {
    return add(this, o);
  }
  sub(o: Tensor | number): Tensor {
    return sub(this, o);
  }
  mul(o: Tensor | number): Tensor {
    return mul(this, o);
  }
  div(o: Tensor | number): Tensor {
    return div(this, o);
  }
  matmul(o: Tensor): Tensor {
    return matmul(this, o);
  }
  neg(): Tensor {
    return neg(this);
  }
  relu(): Tensor {
    return relu(this);
  }
  sigmoid(): Tensor {
    return sigmoid(this);
  }
  tanh(): Tensor {
    return tanh(this);
  }
  exp(): Tensor {
    return exp(this);
  }
  log(): Tensor {
    return log(this);
  }
  sum(axes: number | number[], keepdims = false): Tensor {
    return reduceSum(this, axes, keepdims);
  }
  mean(axes: number | number[], keepdims = false): Tensor {
    return reduceMean(this, axes, keepdims);
  }
  reshape(shape: Shape): Tensor {
    return reshape(this, shape);
  }
  transpose(perm: number[]): Tensor {
    return transpose(this, perm);
  }
}

// ---------------------------------------------------------------- leaves

export function input(name: string, shape: Shape, dtype: DType = "float32"): Tensor {
  return new Tensor("input", "Input", [], shape, dtype, {}, name);
}

export function param(name: string, shape: number[]): Tensor {
  return new Tensor("param", "Param", [], shape, "float32", {}, name);
}

/** A constant (float32 unless dtype says otherwise); a number makes a scalar. */
export function constant(
  value: number | ArrayLike<number>,
  shape?: number[],
  dtype: DType = "float32",
): Tensor {
  const data = typeof value === "number" ? Float64Array.of(value) : Float64Array.from(value);
  const s = shape ?? (typeof value === "number" ? [] : [data.length]);
  if (s.reduce((a, b) => a * b, 1) !== data.length) {
    throw new Error(`constant: ${data.length} values for shape [${s}]`);
  }
  return new Tensor("const", "Const", [], s, dtype, {}, undefined, data);
}

const lift = (x: Tensor | number, like: Tensor): Tensor =>
  typeof x === "number" ? constant(x, [], like.dtype) : x;

// ---------------------------------------------------------------- shapes

export const dimEq = (a: Dim, b: Dim) => a === b;

export function broadcastShapes(a: Shape, b: Shape, what = "broadcast"): Shape {
  const r = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1, y = b[b.length - r + i] ?? 1;
    if (dimEq(x, y) || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else throw new Error(`${what}: shapes [${a}] and [${b}] do not broadcast`);
  }
  return out;
}

const normAxis = (axis: number, rank: number) => {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
};

export function numel(shape: Shape): number {
  return shape.reduce<number>((a, d) => a * (typeof d === "number" ? d : NaN), 1);
}

// ---------------------------------------------------------------- elementwise

function binary(op: string, a: Tensor | number, b: Tensor | number, dtype?: DType): Tensor {
  const ta = typeof a === "number" ? lift(a, b as Tensor) : a;
  const tb = typeof b === "number" ? lift(b, ta) : b;
  return new Tensor("op", op, [ta, tb], broadcastShapes(ta.shape, tb.shape, op), dtype ?? ta.dtype);
}

export const add = (a: Tensor | number, b: Tensor | number) => binary("Add", a, b);
export const sub = (a: Tensor | number, b: Tensor | number) => binary("Sub", a, b);
export const mul = (a: Tensor | number, b: Tensor | number) => binary("Mul", a, b);
export const div = (a: Tensor | number, b: Tensor | number) => binary("Div", a, b);
/** Elementwise x^p for a constant exponent. */
export const pow = (a: Tensor, p: number) => binary("Pow", a, p);
export const greater = (a: Tensor | number, b: Tensor | number) => binary("Greater", a, b, "bool");
export const less = (a: Tensor | number, b: Tensor | number) => binary("Less", a, b, "bool");
export const equal = (a: Tensor | number, b: Tensor | number) => binary("Equal", a, b, "bool");

function unary(op: string, x: Tensor, attrs: Attrs = {}): Tensor {
  return new Tensor("op", op, [x], x.shape, x.dtype, attrs);
}

export const neg = (x: Tensor) => unary("Neg", x);
export const exp = (x: Tensor) => unary("Exp", x);
export const log = (x: Tensor) => unary("Log", x);
export const sqrt = (x: Tensor) => unary("Sqrt", x);
export const abs = (x: Tensor) => unary("Abs", x);
export const relu = (x: Tensor) => unary("Relu", x);
export const sigmoid = (x: Tensor) => unary("Sigmoid", x);
export const tanh = (x: Tensor) => unary("Tanh", x);
export const identity = (x: Tensor, name?: string) =>
  new Tensor("op", "Identity", [x], x.shape, x.dtype, {}, name);

export function cast(x: Tensor, to: DType): Tensor {
  return new Tensor("op", "Cast", [x], x.shape, to, { to });
}

/** cond ? a : b, broadcasting all three. */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  const ta = typeof a === "number" ? constant(a) : a;
  const tb = typeof b === "number" ? constant(b) : b;
  const shape = broadcastShapes(broadcastShapes(cond.shape, ta.shape, "Where"), tb.shape, "Where");
  return new Tensor("op", "Where", [cond, ta, tb], shape, ta.dtype);
}

// ---------------------------------------------------------------- linear algebra and reductions

/**
 * a @ b. A product with one output column (b [.., K, 1]) and more than one row is a row-wise dot product,
 * Mul then ReduceSum over K: onnxruntime's MatMul takes a matrix-vector path there whose rows at the edge of a
 * thread's share are summed in another order, so the bits would depend on the thread count (and so on the
 * machine); the reduction sums every row the same way on any count.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank < 2 || b.rank < 2) throw new Error(`MatMul needs rank ≥ 2, got [${a.shape}] @ [${b.shape}]`);
  const k1 = a.shape[a.rank - 1], k2 = b.shape[b.rank - 2];
  if (!dimEq(k1, k2)) throw new Error(`MatMul: inner dims differ, [${a.shape}] @ [${b.shape}]`);
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), "MatMul");
  const m = a.shape[a.rank - 2], n = b.shape[b.rank - 1];
  if (n === 1 && m !== 1) {
    // b as a row: a reshape, since its last dim is 1 (onnxruntime's WebGPU EP runs a Transpose this small on the CPU)
    const k = b.shape[b.rank - 2], lead = b.shape.slice(0, -2);
    const row = [...lead, k].filter((d) => typeof d !== "number").length > 1
      ? transposeLast(b)
      : reshape(b, [...lead, 1, k]);
    return reduceSum(mul(a, row), [-1], true);
  }
  return new Tensor("op", "MatMul", [a, b], [...batch, m, n], "float32");
}

function reduce(op: string, x: Tensor, axes: number | number[], keepdims: boolean): Tensor {
  const ax = [...new Set((Array.isArray(axes) ? axes : [axes]).map((a) => normAxis(a, x.rank)))].sort((
    p,
    q,
  ) => p - q);
  const shape = x.shape.flatMap((d, i) => ax.includes(i) ? (keepdims ? [1] : []) : [d]);
  return new Tensor("op", op, [x], shape, x.dtype, { axes: ax, keepdims });
}

export const reduceSum = (x: Tensor, axes: number | number[], keepdims = false) =>
  reduce("ReduceSum", x, axes, keepdims);
export const reduceMean = (x: Tensor, axes: number | number[], keepdims = false) =>
  reduce("ReduceMean", x, axes, keepdims);
export const reduceMax = (x: Tensor, axes: number | number[], keepdims = false) =>
  reduce("ReduceMax", x, axes, keepdims);

/** Softmax over `axis`; with a mask (1 keep, 0 drop, broadcastable) dropped positions get probability 0. */
export function softmax(x: Tensor, axis = -1, mask?: Tensor): Tensor {
  const logits = mask ? add(x, mul(sub(mask, 1), 1e9)) : x;
  return new Tensor("op", "Softmax", [logits], logits.shape, "float32", { axis: normAxis(axis, x.rank) });
}

// ---------------------------------------------------------------- shape manipulation

export function concat(xs: Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error("concat of nothing");
  const a = normAxis(axis, xs[0].rank);
  const shape = [...xs[0].shape];
  let total: Dim = 0; // symbolic when any part is (e.g. concatenated id lists)
  for (const x of xs) {
    if (x.rank !== shape.length) throw new Error(`concat: rank mismatch [${x.shape}] vs [${xs[0].shape}]`);
    x.shape.forEach((d, i) => {
      if (i !== a && !dimEq(d, shape[i])) {
        throw new Error(`concat: [${x.shape}] vs [${xs[0].shape}] on axis ${i}`);
      }
    });
    const d = x.shape[a];
    total = typeof d === "number" && typeof total === "number" ? total + d : "N";
  }
  shape[a] = total;
  return new Tensor("op", "Concat", xs, shape, xs[0].dtype, { axis: a });
}

/** x[..., start:end, ...] along one axis (static bounds). */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normAxis(axis, x.rank);
  const d = x.shape[a];
  if (typeof d !== "number" || start < 0 || end > d || start >= end) {
    throw new Error(`slice [${start}, ${end}) of axis ${a} in [${x.shape}]`);
  }
  const shape = [...x.shape];
  shape[a] = end - start;
  return new Tensor("op", "Slice", [x], shape, x.dtype, { axis: a, start, end });
}

/**
 * Reshape to a shape whose dims are numbers or symbols. One symbolic dim may go anywhere (ONNX −1); with
 * several, each must sit where the input has the same symbol (ONNX 0: copy that dim), e.g. [B, S, H] → [B, S, h, H/h].
 */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const symbolic = shape.filter((d) => typeof d !== "number").length;
  if (symbolic > 1 && shape.some((d, i) => typeof d !== "number" && x.shape[i] !== d)) {
    throw new Error(
      `reshape [${x.shape}] → [${shape}]: with several symbolic dims each must keep its position`,
    );
  }
  const [n1, n2] = [numel(x.shape), numel(shape)];
  if (!Number.isNaN(n1) && !Number.isNaN(n2) && n1 !== n2) {
    throw new Error(`reshape [${x.shape}] → [${shape}]: sizes differ`);
  }
  return new Tensor("op", "Reshape", [x], shape, x.dtype, {
    shape: shape.map((d) => typeof d === "number" ? d : symbolic > 1 ? 0 : -1),
  });
}

export function transpose(x: Tensor, perm: number[]): Tensor {
  if (perm.length !== x.rank) throw new Error(`transpose: perm [${perm}] for rank ${x.rank}`);
  return new Tensor("op", "Transpose", [x], perm.map((p) => x.shape[p]), x.dtype, { perm });
}

/** Swap the last two axes. */
export function transposeLast(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 1], perm[x.rank - 2]] = [perm[x.rank - 2], perm[x.rank - 1]];
  return transpose(x, perm);
}

/** Broadcast x to the (runtime) shape of `like`. Emits Shape + Expand. */
export function expandLike(x: Tensor, like: Tensor): Tensor {
  broadcastShapes(x.shape, like.shape, "expandLike");
  return new Tensor("op", "ExpandLike", [x, like], like.shape, x.dtype);
}

export const zerosLike = (x: Tensor) => expandLike(constant(0, [], x.dtype), x);

/**
 * Column sums of a matrix x [N, k] as [1, k]: ones [1, N] @ x. onnxruntime's CPU ReduceSum down the rows of a
 * narrow matrix runs at about a third of this matmul's speed (a bias's gradient, batch statistics).
 */
export function sumRows(x: Tensor): Tensor {
  return matmul(onesRow(x), x);
}

/** Ones [1, N] for a matrix x [N, k] (N may be symbolic). */
export function onesRow(x: Tensor): Tensor {
  if (x.rank !== 2) throw new Error(`onesRow: a matrix, got [${x.shape}]`);
  return expandLike(constant(1, [1, 1]), reshape(slice(x, 1, 0, 1), [1, x.shape[0]]));
}
export const onesLike = (x: Tensor) => expandLike(constant(1, [], x.dtype), x);

/** Rows of `table` ([V, ...]) at integer `ids` (any shape): shape ids.shape ++ table.shape[1:]. */
export function gather(table: Tensor, ids: Tensor): Tensor {
  if (ids.dtype !== "int64") throw new Error("gather: ids must be int64");
  return new Tensor("op", "Gather", [table, ids], [...ids.shape, ...table.shape.slice(1)], table.dtype, {
    axis: 0,
  });
}

/** Running sum along `axis` (ONNX CumSum); `exclusive`: each element leaves itself out (the first is 0). */
export function cumsum(x: Tensor, axis = 0, exclusive = false): Tensor {
  return new Tensor("op", "CumSum", [x], x.shape, x.dtype, { axis: normAxis(axis, x.rank), exclusive });
}

/**
 * data with `updates` added at `indices` ([N, 1] row indices; repeated rows accumulate), ONNX ScatterND with
 * reduction="add". `replace` = true uses reduction "none" (indices must then be unique).
 */
export function scatterND(data: Tensor, indices: Tensor, updates: Tensor, replace = false): Tensor {
  return new Tensor("op", "ScatterND", [data, indices, updates], data.shape, data.dtype, {
    reduction: replace ? "none" : "add",
  });
}

/** table[0 : like.shape[axis]] along axis 0, the length read at run time (e.g. position embeddings for a sequence). */
export function sliceLike(table: Tensor, like: Tensor, axis: number): Tensor {
  return new Tensor(
    "op",
    "SliceLike",
    [table, like],
    [like.shape[axis], ...table.shape.slice(1)],
    table.dtype,
    { axis: normAxis(axis, like.rank) },
  );
}

/** Append a trailing axis of size 1. */
export const unsqueezeLast = (x: Tensor) => reshape(x, [...x.shape, 1]);

// ---------------------------------------------------------------- traversal

/** Nodes reachable from `outputs`, inputs before users. */
export function topoSort(outputs: Tensor[]): Tensor[] {
  const seen = new Set<number>();
  const order: Tensor[] = [];
  const stack: [Tensor, boolean][] = outputs.map((t) => [t, false]);
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    stack.push([t, true]);
    for (let i = t.inputs.length - 1; i >= 0; i--) {
      if (!seen.has(t.inputs[i].id)) stack.push([t.inputs[i], false]);
    }
  }
  return order;
}
