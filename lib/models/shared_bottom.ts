/** Shared-bottom multi-task: one MLP shared by all tasks, a tower per task. The baseline MMoE and PLE improve on. */
import { embedding, mlp, type ModelBuilder } from "../graph/nn.ts";
import { concat } from "../graph/tensor.ts";

export interface SharedBottomConfig {
  dense: number;
  userVocab: number;
  itemVocab: number;
  embDim: number;
  bottom: number[];
  tasks: number;
  tower: number[];
}

export function sharedBottom(c: SharedBottomConfig) {
  return (m: ModelBuilder) => {
    const x0 = m.input("dense", ["B", c.dense]);
    const user = embedding(m, "user_emb", m.input("user_id", ["B"], "int64"), c.userVocab, c.embDim);
    const item = embedding(m, "item_emb", m.input("item_id", ["B"], "int64"), c.itemVocab, c.embDim);
    const h = mlp(m, "bottom", concat([x0, user, item], 1), c.bottom, { lastActivation: true });
    return { logits: concat(Array.from({ length: c.tasks }, (_, t) => mlp(m, `tower${t}`, h, c.tower)), 1) };
  };
}
