/**
 * A float64 reference evaluator for symbolic graphs: slow, simple, exact. It is the ground truth for the
 * gradient checks (central finite differences need more precision than float32) and for checking what
 * onnxruntime computes from the serialised graphs.
 */
import { type Tensor, topoSort } from "./tensor.ts";

export interface Arr {
  shape: number[];
  data: Float64Array;
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
const strides = (s: number[]) => {
  const st = new Array(s.length).fill(1);
  for (let i = s.length - 2; i >= 0; i--) st[i] = st[i + 1] * s[i + 1];
  return st;
};

export function arr(shape: number[], data?: ArrayLike<number>): Arr {
  const d = data ? Float64Array.from(data) : new Float64Array(size(shape));
  if (d.length !== size(shape)) throw new Error(`arr: ${d.length} values for shape [${shape}]`);
  return { shape, data: d };
}

function bshape(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => {
    const x = a[a.length - r + i] ?? 1, y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`interp: [${a}] and [${b}] do not broadcast`);
    return x === 1 ? y : x;
  });
}

/** Index into `src` (shape s) for each flat index of broadcast output shape `out`. */
function broadcastIndex(s: number[], out: number[]): Int32Array {
  const n = size(out), idx = new Int32Array(n);
  const st = strides(s), lead = out.length - s.length;
  const ost = strides(out);
  for (let i = 0; i < n; i++) {
    let rem = i, j = 0;
    for (let k = 0; k < out.length; k++) {
      const c = Math.floor(rem / ost[k]);
      rem -= c * ost[k];
      if (k >= lead && s[k - lead] !== 1) j += c * st[k - lead];
    }
    idx[i] = j;
  }
  return idx;
}

function elementwise(xs: Arr[], f: (...v: number[]) => number): Arr {
  const out = xs.map((x) => x.shape).reduce(bshape);
  const idx = xs.map((x) => broadcastIndex(x.shape, out));
  const o = arr(out);
  const v = new Array(xs.length);
  for (let i = 0; i < o.data.length; i++) {
    for (let k = 0; k < xs.length; k++) v[k] = xs[k].data[idx[k][i]];
    o.data[i] = f(...v);
  }
  return o;
}

function transposeArr(x: Arr, perm: number[]): Arr {
  const out = perm.map((p) => x.shape[p]);
  const o = arr(out), st = strides(x.shape), ost = strides(out);
  for (let i = 0; i < o.data.length; i++) {
    let rem = i, j = 0;
    for (let k = 0; k < out.length; k++) {
      const c = Math.floor(rem / ost[k]);
      rem -= c * ost[k];
      j += c * st[perm[k]];
    }
    o.data[i] = x.data[j];
  }
  return o;
}

function reduceArr(
  x: Arr,
  axes: number[],
  keep: boolean,
  init: number,
  f: (acc: number, v: number) => number,
  fin?: (acc: number, n: number) => number,
): Arr {
  const kshape = x.shape.map((d, i) => axes.includes(i) ? 1 : d);
  const o = arr(kshape).data.fill(init);
  const idx = broadcastIndex(kshape, x.shape); // maps input flat index → output flat index
  for (let i = 0; i < x.data.length; i++) o[idx[i]] = f(o[idx[i]], x.data[i]);
  const n = axes.reduce((a, ax) => a * x.shape[ax], 1);
  if (fin) { for (let i = 0; i < o.length; i++) o[i] = fin(o[i], n); }
  return { shape: keep ? kshape : x.shape.filter((_, i) => !axes.includes(i)), data: o };
}

function matmulArr(a: Arr, b: Arr): Arr {
  const [m, k] = a.shape.slice(-2), [k2, n] = b.shape.slice(-2);
  if (k !== k2) throw new Error("interp matmul: inner dims");
  const batch = bshape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const ai = broadcastIndex(a.shape.slice(0, -2), batch), bi = broadcastIndex(b.shape.slice(0, -2), batch);
  const o = arr([...batch, m, n]);
  for (let t = 0; t < size(batch); t++) {
    const ao = ai[t] * m * k, bo = bi[t] * k * n, oo = t * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += a.data[ao + i * k + q] * b.data[bo + q * n + j];
        o.data[oo + i * n + j] = s;
      }
    }
  }
  return o;
}

function concatArr(xs: Arr[], axis: number): Arr {
  const out = [...xs[0].shape];
  out[axis] = xs.reduce((a, x) => a + x.shape[axis], 0);
  const o = arr(out);
  const outer = size(out.slice(0, axis)), inner = size(out.slice(axis + 1));
  let off = 0;
  for (const x of xs) {
    const w = x.shape[axis] * inner;
    for (let i = 0; i < outer; i++) {
      o.data.set(x.data.subarray(i * w, (i + 1) * w), i * out[axis] * inner + off);
    }
    off += w;
  }
  return o;
}

function sliceArr(x: Arr, axis: number, start: number, end: number): Arr {
  const out = [...x.shape];
  out[axis] = end - start;
  const o = arr(out);
  const outer = size(x.shape.slice(0, axis)), inner = size(x.shape.slice(axis + 1));
  for (let i = 0; i < outer; i++) {
    o.data.set(
      x.data.subarray((i * x.shape[axis] + start) * inner, (i * x.shape[axis] + end) * inner),
      i * (end - start) * inner,
    );
  }
  return o;
}

const OPS: Record<string, (x: Arr[], n: Tensor) => Arr> = {
  Add: (x) => elementwise(x, (a, b) => a + b),
  Sub: (x) => elementwise(x, (a, b) => a - b),
  Mul: (x) => elementwise(x, (a, b) => a * b),
  Div: (x) => elementwise(x, (a, b) => a / b),
  Pow: (x) => elementwise(x, (a, b) => Math.pow(a, b)),
  Greater: (x) => elementwise(x, (a, b) => a > b ? 1 : 0),
  Less: (x) => elementwise(x, (a, b) => a < b ? 1 : 0),
  Equal: (x) => elementwise(x, (a, b) => a === b ? 1 : 0),
  Where: (x) => elementwise(x, (c, a, b) => c ? a : b),
  Neg: (x) => elementwise(x, (a) => -a),
  Exp: (x) => elementwise(x, Math.exp),
  Log: (x) => elementwise(x, Math.log),
  Sqrt: (x) => elementwise(x, Math.sqrt),
  Abs: (x) => elementwise(x, Math.abs),
  Relu: (x) => elementwise(x, (a) => a > 0 ? a : 0),
  Sigmoid: (x) => elementwise(x, (a) => 1 / (1 + Math.exp(-a))),
  Tanh: (x) => elementwise(x, Math.tanh),
  Identity: (x) => x[0],
  Cast: (x, n) =>
    n.attrs.to === "int64"
      ? elementwise(x, Math.trunc)
      : n.attrs.to === "bool"
      ? elementwise(x, (a) => a ? 1 : 0)
      : x[0],
  MatMul: (x) => matmulArr(x[0], x[1]),
  ReduceSum: (x, n) => reduceArr(x[0], n.attrs.axes as number[], !!n.attrs.keepdims, 0, (a, v) => a + v),
  ReduceMean: (x, n) =>
    reduceArr(x[0], n.attrs.axes as number[], !!n.attrs.keepdims, 0, (a, v) => a + v, (a, c) => a / c),
  ReduceMax: (x, n) => reduceArr(x[0], n.attrs.axes as number[], !!n.attrs.keepdims, -Infinity, Math.max),
  Softmax: (x, n) => {
    const a = n.attrs.axis as number;
    const m = reduceArr(x[0], [a], true, -Infinity, Math.max);
    const e = elementwise([x[0], m], (v, mx) => Math.exp(v - mx));
    const s = reduceArr(e, [a], true, 0, (p, v) => p + v);
    return elementwise([e, s], (v, t) => v / t);
  },
  Concat: (x, n) => concatArr(x, n.attrs.axis as number),
  Slice: (x, n) => sliceArr(x[0], n.attrs.axis as number, n.attrs.start as number, n.attrs.end as number),
  Reshape: (x, n) => {
    const target = (n.attrs.shape as number[]).map((d, i) => d === 0 ? x[0].shape[i] : d);
    const known = target.filter((d) => d >= 0).reduce((a, b) => a * b, 1);
    const shape = target.map((d) => d < 0 ? x[0].data.length / known : d);
    return { shape, data: x[0].data };
  },
  SliceLike: (x, n) => sliceArr(x[0], 0, 0, x[1].shape[n.attrs.axis as number]),
  Transpose: (x, n) => transposeArr(x[0], n.attrs.perm as number[]),
  ExpandLike: (x) =>
    elementwise([x[0], { shape: x[1].shape, data: new Float64Array(size(x[1].shape)) }], (a) => a),
  Gather: (x) => {
    const [t, ids] = x;
    const row = size(t.shape.slice(1));
    const o = arr([...ids.shape, ...t.shape.slice(1)]);
    for (let i = 0; i < ids.data.length; i++) {
      const r = ids.data[i];
      if (r < 0 || r >= t.shape[0]) throw new Error(`interp gather: id ${r} out of range [0, ${t.shape[0]})`);
      o.data.set(t.data.subarray(r * row, (r + 1) * row), i * row);
    }
    return o;
  },
  CumSum: (x, n) => {
    const [a] = x, axis = n.attrs.axis as number;
    const inner = size(a.shape.slice(axis + 1)), len = a.shape[axis], outer = size(a.shape.slice(0, axis));
    const o = arr(a.shape);
    for (let p = 0; p < outer; p++) {
      for (let q = 0; q < inner; q++) {
        let acc = 0;
        for (let i = 0; i < len; i++) {
          const k = (p * len + i) * inner + q;
          if (n.attrs.exclusive) {
            o.data[k] = acc;
            acc += a.data[k];
          } else {
            acc += a.data[k];
            o.data[k] = acc;
          }
        }
      }
    }
    return o;
  },
  ScatterND: (x, n) => {
    const [d, ind, upd] = x;
    const o = arr(d.shape, d.data);
    const row = size(d.shape.slice(1));
    for (let i = 0; i < ind.data.length; i++) {
      const r = ind.data[i];
      for (let k = 0; k < row; k++) {
        if (n.attrs.reduction === "add") o.data[r * row + k] += upd.data[i * row + k];
        else o.data[r * row + k] = upd.data[i * row + k];
      }
    }
    return o;
  },
};

/** Evaluate `outputs` given values for inputs and params (by name). */
export function evaluate(outputs: Tensor[], feeds: Record<string, Arr>): Arr[] {
  const values = new Map<number, Arr>();
  for (const t of topoSort(outputs)) {
    if (t.kind === "input" || t.kind === "param") {
      const v = feeds[t.name!];
      if (!v) throw new Error(`interp: no value for ${t.kind} "${t.name}"`);
      const expect = t.shape.map((d, i) => typeof d === "number" ? d : v.shape[i]);
      if (v.shape.length !== t.shape.length || v.shape.some((d, i) => d !== expect[i])) {
        throw new Error(`interp: ${t.name} has shape [${v.shape}], declared [${t.shape}]`);
      }
      values.set(t.id, v);
    } else if (t.kind === "const") values.set(t.id, { shape: t.shape as number[], data: t.value! });
    else {
      const f = OPS[t.op];
      if (!f) throw new Error(`interp: no evaluator for ${t.op}`);
      values.set(t.id, f(t.inputs.map((i) => values.get(i.id)!), t));
    }
  }
  return outputs.map((o) => values.get(o.id)!);
}
