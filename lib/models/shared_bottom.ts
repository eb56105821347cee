/** Shared-bottom multi-task: one MLP shared by all tasks, a tower per task. The baseline MMoE and PLE improve on. */
import { type CtrInputs, ctrInputs } from "./inputs.ts";
import { mlp, type ModelBuilder, towers } from "../graph/nn.ts";
import { concat, reshape } from "../graph/tensor.ts";

export interface SharedBottomConfig extends CtrInputs {
  bottom: number[];
  tasks: number;
  tower: number[];
}

export function sharedBottom(c: SharedBottomConfig) {
  return (m: ModelBuilder) => {
    const h = mlp(m, "bottom", ctrInputs(m, c), c.bottom, { lastActivation: true });
    const H = h.shape[1] as number;
    const stacked = concat(Array.from({ length: c.tasks }, () => reshape(h, [1, "B", H])), 0); // [T, B, H]
    return { logits: towers(m, "tower", stacked, c.tower) };
  };
}
