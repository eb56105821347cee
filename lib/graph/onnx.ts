/**
 * Serialise symbolic graphs to ONNX (opset 18, standard ops only) through the onnx-proto protobuf package.
 * Composite markers expand here: ExpandLike → Shape + Expand; reductions, Slice and Reshape get their
 * axes/shape as int64 constant inputs, as opset 18 wants.
 */
import * as onnxModule from "onnx-proto";
import { type DType, type Tensor, topoSort } from "./tensor.ts";

type OnnxNs = typeof onnxModule.onnx;
// the package is CommonJS: its namespace sits on the default export at run time (exported for tests that decode)
export const onnx: OnnxNs = (onnxModule as unknown as { default?: { onnx: OnnxNs } }).default?.onnx ??
  onnxModule.onnx;

export const OPSET = 18;
const DT = { float32: 1, float64: 11, int64: 7, bool: 9 } as const;
const dtOf = (d: DType) => DT[d];

export interface GraphSpec {
  name: string;
  /** Graph inputs fed at run time (batch tensors, and params/state in train and eval graphs). */
  inputs: Tensor[];
  /** Tensors baked into the model as initializers (params in the inference graph), with their values. */
  initializers?: Map<Tensor, Float32Array>;
  outputs: Record<string, Tensor>;
  docString?: string;
}

function valueInfo(name: string, t: { shape: (number | string)[]; dtype: DType }) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: dtOf(t.dtype),
        shape: { dim: t.shape.map((d) => typeof d === "number" ? { dimValue: d } : { dimParam: d }) },
      },
    },
  });
}

function tensorProto(name: string, dtype: DType, dims: number[], values: ArrayLike<number>) {
  const base = { name, dataType: dtOf(dtype), dims };
  if (dtype === "float32") {
    const f = values instanceof Float32Array ? values : Float32Array.from(values);
    return onnx.TensorProto.create({
      ...base,
      rawData: new Uint8Array(f.buffer, f.byteOffset, f.byteLength),
    });
  }
  if (dtype === "float64") {
    const f = Float64Array.from(values);
    return onnx.TensorProto.create({ ...base, rawData: new Uint8Array(f.buffer) });
  }
  if (dtype === "int64") {
    const b = BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
    return onnx.TensorProto.create({ ...base, rawData: new Uint8Array(b.buffer) });
  }
  return onnx.TensorProto.create({ ...base, rawData: Uint8Array.from(values) });
}

const attrInt = (name: string, i: number) =>
  onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
const attrInts = (name: string, ints: number[]) =>
  onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });
const attrStr = (name: string, s: string) =>
  onnx.AttributeProto.create({
    name,
    type: onnx.AttributeProto.AttributeType.STRING,
    s: new TextEncoder().encode(s),
  });

const DIRECT = new Set([
  "Add",
  "Sub",
  "Mul",
  "Div",
  "Pow",
  "Greater",
  "Less",
  "Equal",
  "Where",
  "Neg",
  "Exp",
  "Log",
  "Sqrt",
  "Abs",
  "Relu",
  "Sigmoid",
  "Tanh",
  "Identity",
  "MatMul",
]);

/** Encode a graph as ONNX ModelProto bytes. */
export function toOnnx(spec: GraphSpec): Uint8Array {
  const outs = Object.values(spec.outputs);
  const order = topoSort(outs);
  const names = new Map<number, string>();
  const inputNames = new Set(spec.inputs.map((t) => t.id));
  const nodes: ReturnType<typeof onnx.NodeProto.create>[] = [];
  const inits: ReturnType<typeof onnx.TensorProto.create>[] = [];
  let k = 0;
  const fresh = (base: string) => `${base}_${k++}`;
  const constInt64 = (values: number[]) => {
    const n = fresh("c");
    inits.push(tensorProto(n, "int64", [values.length], values));
    return n;
  };
  const node = (
    opType: string,
    input: string[],
    output: string,
    attribute: ReturnType<typeof attrInt>[] = [],
  ) =>
    nodes.push(
      onnx.NodeProto.create({ opType, input, output: [output], attribute, name: `${opType}_${k++}` }),
    );

  // an op's result that is a graph output is named as the output (an Identity would copy it when other
  // nodes read it too); inputs, constants and a tensor's second output name go through Identity
  const outputOf = new Map<number, string>();
  for (const [name, t] of Object.entries(spec.outputs)) {
    if (t.kind === "op" && !outputOf.has(t.id)) outputOf.set(t.id, name);
  }
  for (const t of order) {
    if (t.kind === "input" || t.kind === "param") {
      if (!t.name) throw new Error(`toOnnx: unnamed ${t.kind}`);
      names.set(t.id, t.name);
      if (inputNames.has(t.id)) continue;
      const v = spec.initializers?.get(t);
      if (!v) throw new Error(`toOnnx: ${t.kind} "${t.name}" is neither a graph input nor an initializer`);
      inits.push(tensorProto(t.name, "float32", t.shape as number[], v));
      continue;
    }
    if (t.kind === "const") {
      const n = fresh("const");
      inits.push(tensorProto(n, t.dtype, t.shape as number[], t.value!));
      names.set(t.id, n);
      continue;
    }
    const ins = t.inputs.map((i) => names.get(i.id)!);
    const out = outputOf.get(t.id) ?? fresh(t.op.toLowerCase());
    names.set(t.id, out);
    const a = t.attrs;
    if (DIRECT.has(t.op)) node(t.op, ins, out);
    else if (t.op === "Cast") node("Cast", ins, out, [attrInt("to", dtOf(a.to as DType))]);
    else if (t.op === "ReduceSum" || t.op === "ReduceMean" || t.op === "ReduceMax") {
      node(t.op, [ins[0], constInt64(a.axes as number[])], out, [attrInt("keepdims", a.keepdims ? 1 : 0)]);
    } else if (t.op === "Softmax") node("Softmax", ins, out, [attrInt("axis", a.axis as number)]);
    else if (t.op === "Concat") node("Concat", ins, out, [attrInt("axis", a.axis as number)]);
    else if (t.op === "Slice") {
      node("Slice", [
        ins[0],
        constInt64([a.start as number]),
        constInt64([a.end as number]),
        constInt64([a.axis as number]),
      ], out);
    } else if (t.op === "Reshape") node("Reshape", [ins[0], constInt64(a.shape as number[])], out);
    else if (t.op === "Transpose") node("Transpose", ins, out, [attrInts("perm", a.perm as number[])]);
    else if (t.op === "ExpandLike") {
      const shape = fresh("shape");
      node("Shape", [ins[1]], shape);
      node("Expand", [ins[0], shape], out);
    } else if (t.op === "SliceLike") {
      const len = fresh("len");
      nodes.push(
        onnx.NodeProto.create({
          opType: "Shape",
          input: [ins[1]],
          output: [len],
          attribute: [attrInt("start", a.axis as number), attrInt("end", (a.axis as number) + 1)],
          name: `Shape_${k++}`,
        }),
      );
      node("Slice", [ins[0], constInt64([0]), len, constInt64([0])], out);
    } else if (t.op === "Gather") node("Gather", ins, out, [attrInt("axis", 0)]);
    else if (t.op === "CumSum") {
      const axis = fresh("axis");
      inits.push(tensorProto(axis, "int64", [], [a.axis as number]));
      node("CumSum", [ins[0], axis], out, a.exclusive ? [attrInt("exclusive", 1)] : []);
    } else if (t.op === "ScatterND") {
      node("ScatterND", ins, out, a.reduction === "add" ? [attrStr("reduction", "add")] : []);
    } else throw new Error(`toOnnx: no ONNX mapping for ${t.op}`);
  }
  for (const [name, t] of Object.entries(spec.outputs)) {
    if (outputOf.get(t.id) !== name) node("Identity", [names.get(t.id)!], name);
  }

  const graph = onnx.GraphProto.create({
    name: spec.name,
    node: nodes,
    initializer: inits,
    input: spec.inputs.map((t) => valueInfo(t.name!, t)),
    output: Object.entries(spec.outputs).map(([name, t]) => valueInfo(name, t)),
    docString: spec.docString,
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "ctrlab",
    producerVersion: "0.1",
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}
