/**
 * What a model function builds, in a form a class can read: its inputs with shapes, its layers (parameters
 * grouped by name prefix, e.g. "mlp.0" or "experts") with shapes and sizes, and the ONNX ops of its forward
 * (inference) graph counted by type.
 */
import { ModelBuilder } from "./nn.ts";
import type { ModelFn } from "./program.ts";
import { topoSort } from "./tensor.ts";

export interface GraphSummary {
  inputs: { name: string; shape: string; dtype: string }[];
  layers: { layer: string; params: string; size: number }[];
  /** Trainable parameters (buffers such as running statistics excluded). */
  parameters: number;
  /** Forward-graph ops by type, most frequent first. */
  ops: { op: string; count: number }[];
  nodes: number;
  outputs: { name: string; shape: string }[];
}

const fmtShape = (s: (number | string)[]) => `[${s.join(", ")}]`;

/** A parameter's layer: its name up to the last "." (weight/bias names), or the whole name. */
const layerOf = (name: string) => name.includes(".") ? name.slice(0, name.lastIndexOf(".")) : name;

export function summarize(model: ModelFn): GraphSummary {
  const m = new ModelBuilder(false);
  const outputs = model(m);
  const layers = new Map<string, { params: string[]; size: number }>();
  let parameters = 0;
  for (const [name, p] of m.params) {
    const size = p.shape.reduce((a, b) => a * b, 1);
    if (!p.buffer) parameters += size;
    const l = layers.get(layerOf(name)) ?? { params: [], size: 0 };
    l.params.push(
      `${name.slice(layerOf(name).length + 1) || name} ${fmtShape(p.shape)}${p.buffer ? " (buffer)" : ""}`,
    );
    l.size += size;
    layers.set(layerOf(name), l);
  }
  const nodes = topoSort(Object.values(outputs)).filter((t) => t.kind === "op");
  const ops = new Map<string, number>();
  for (const t of nodes) ops.set(t.op, (ops.get(t.op) ?? 0) + 1);
  return {
    inputs: [...m.inputs.values()].map((t) => ({ name: t.name!, shape: fmtShape(t.shape), dtype: t.dtype })),
    layers: [...layers].map(([layer, l]) => ({ layer, params: l.params.join(", "), size: l.size })),
    parameters,
    ops: [...ops].map(([op, count]) => ({ op, count })).sort((a, b) =>
      b.count - a.count || a.op.localeCompare(b.op)
    ),
    nodes: nodes.length,
    outputs: Object.entries(outputs).map(([name, t]) => ({ name, shape: fmtShape(t.shape) })),
  };
}
