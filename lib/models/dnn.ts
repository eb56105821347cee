/** The seed's baseline: dense features and user/item ID embeddings, concatenated, through an MLP. */
import { embedding, mlp, type ModelBuilder } from "../graph/nn.ts";
import { concat, reshape } from "../graph/tensor.ts";

export interface DnnConfig {
  /** Number of dense (numeric) features, fed as input "dense" [B, dense]. */
  dense: number;
  userVocab: number;
  itemVocab: number;
  embDim: number;
  hidden: number[];
}

export const DNN_DEFAULTS: Omit<DnnConfig, "dense" | "userVocab" | "itemVocab"> = { embDim: 16, hidden: [128, 64] };

export function dnn(c: DnnConfig) {
  return (m: ModelBuilder) => {
    const x = m.input("dense", ["B", c.dense]);
    const user = embedding(m, "user_emb", m.input("user_id", ["B"], "int64"), c.userVocab, c.embDim);
    const item = embedding(m, "item_emb", m.input("item_id", ["B"], "int64"), c.itemVocab, c.embDim);
    const out = mlp(m, "mlp", concat([x, user, item], 1), [...c.hidden, 1]);
    return { logits: reshape(out, ["B"]) };
  };
}
