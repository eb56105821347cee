/** The seed's baseline: dense features and user/item ID embeddings, concatenated, through an MLP. */
import { mlp, type ModelBuilder } from "../graph/nn.ts";
import { reshape } from "../graph/tensor.ts";
import { type CtrInputs, ctrInputs } from "./inputs.ts";

export interface DnnConfig extends CtrInputs {
  hidden: number[];
}

export function dnn(c: DnnConfig) {
  return (m: ModelBuilder) => {
    const out = mlp(m, "mlp", ctrInputs(m, c), [...c.hidden, 1]);
    return { logits: reshape(out, ["B"]) };
  };
}
