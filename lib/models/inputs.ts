/** The input block every model here shares: dense features beside user and item id embeddings. */
import { embedding, type ModelBuilder } from "../graph/nn.ts";
import { concat, type Tensor } from "../graph/tensor.ts";

export interface CtrInputs {
  /** Number of dense (numeric) features, fed as input "dense" [B, dense]. */
  dense: number;
  userVocab: number;
  itemVocab: number;
  embDim: number;
}

/** [B, dense + 2·embDim]: "dense" concatenated with the "user_id" and "item_id" embeddings (sparse tables). */
export function ctrInputs(m: ModelBuilder, c: CtrInputs): Tensor {
  const x = m.input("dense", ["B", c.dense]);
  const user = embedding(m, "user_emb", m.input("user_id", ["B"], "int64"), c.userVocab, c.embDim);
  const item = embedding(m, "item_emb", m.input("item_id", ["B"], "int64"), c.itemVocab, c.embDim);
  return concat([x, user, item], 1);
}
