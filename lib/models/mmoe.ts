/**
 * MMoE (Ma et al., KDD 2018): K shared experts, a softmax gate per task mixing them, a tower per task.
 * The experts are one matmul ([B, in] → [B, K·H]) and the gates another ([B, in] → [B, T·K]); each task's
 * mixtures one batched matmul ([B, T, K] @ [B, K, H]), and the towers run together (`towers`: batched over tasks).
 */
import { type CtrInputs, ctrInputs } from "./inputs.ts";
import { linear, type ModelBuilder, towers } from "../graph/nn.ts";
import { matmul, relu, reshape, softmax, transpose } from "../graph/tensor.ts";

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
    return { logits: towers(m, "tower", transpose(mixed, [1, 0, 2]), c.tower), gates }; // a tower per task
  };
}
