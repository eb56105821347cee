/** Logistic regression on the dense features: the quickest honest baseline. */
import { linear, type ModelBuilder } from "../graph/nn.ts";
import { reshape } from "../graph/tensor.ts";

export function logistic(c: { dense: number }) {
  return (m: ModelBuilder) => ({
    logits: reshape(linear(m, "lr", m.input("dense", ["B", c.dense]), 1, { init: { kind: "zeros" } }), ["B"]),
  });
}
