/** Shared-bottom multi-task: one MLP shared by all tasks, a tower per task. The baseline MMoE and PLE improve on. */
import { type CtrInputs, ctrInputs } from "./inputs.ts";
import { mlp, type ModelBuilder } from "../graph/nn.ts";
import { concat } from "../graph/tensor.ts";

export interface SharedBottomConfig extends CtrInputs {
  bottom: number[];
  tasks: number;
  tower: number[];
}

export function sharedBottom(c: SharedBottomConfig) {
  return (m: ModelBuilder) => {
    const h = mlp(m, "bottom", ctrInputs(m, c), c.bottom, { lastActivation: true });
    return { logits: concat(Array.from({ length: c.tasks }, (_, t) => mlp(m, `tower${t}`, h, c.tower)), 1) };
  };
}
