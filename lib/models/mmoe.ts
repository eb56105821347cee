/**
 * MMoE (Ma et al., KDD 2018): K shared experts, a softmax gate per task mixing them, a tower per task.
 * The experts are one matmul ([B, in] → [B, K·H]) and the gates another ([B, in] → [B, T·K]); each task's
 * mixture is one slice of a batched matmul, and its tower a small MLP.
 */
import { type CtrInputs, ctrInputs } from "./inputs.ts";
import { linear, mlp, type ModelBuilder } from "../graph/nn.ts";
import { concat, matmul, relu, reshape, slice, softmax } from "../graph/tensor.ts";

export interface MmoeConfig extends CtrInputs {
  experts: number;
  expertHidden: number;
  tasks: number;
  tower: number[];
}

export function mmoe(c: MmoeConfig) {
  return (m: ModelBuilder) => {
    const x = ctrInputs(m, c);
    const K = c.experts, H = c.expertHidden, T = c.tasks;
    const experts = reshape(relu(linear(m, "experts", x, K * H)), ["B", K, H]); // [B, K, H]
    const gates = softmax(
      reshape(linear(m, "gates", x, T * K, { init: { kind: "xavier" } }), ["B", T, K]),
      -1,
    ); // [B, T, K]
    const mixed = matmul(gates, experts); // [B, T, H]
    const logits = Array.from(
      { length: T },
      (_, t) => mlp(m, `tower${t}`, reshape(slice(mixed, 1, t, t + 1), ["B", H]), c.tower),
    );
    return { logits: concat(logits, 1), gates };
  };
}
