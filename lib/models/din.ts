/**
 * DIN (Zhou et al., KDD 2018): the target item attends over the user's recent behaviour sequence (the last N
 * clicked items strictly before the impression's day, lib/features/sequence.ts); the attention-weighted
 * interest vector joins the usual inputs, through an MLP with Dice activations.
 *
 * DCN-DIN is the multimodal CTR seed's hybrid: the same interest vector and item embeddings, fed to DCN's
 * cross ∥ deep network instead of the MLP.
 */
import { type Activation, mlp, type ModelBuilder } from "../graph/nn.ts";
import { concat, reshape } from "../graph/tensor.ts";
import { crossAndDeep, type CrossConfig } from "./dcn.ts";
import { ctrInputParts, type CtrInputs, type SequenceInputs, sequenceKeys } from "./inputs.ts";
import { targetAttention } from "./layers.ts";

export interface DinConfig extends CtrInputs, SequenceInputs {
  /** Hidden sizes of the activation unit (default [36]). */
  attention: number[];
  /** The MLP on top (default [128, 64]); its activation (default Dice). */
  hidden: number[];
  activation?: Activation;
}

/** Inputs + the interest vector: [B, dense + 2·embDim + extras + embDim], and the attention weights. */
function withInterest(m: ModelBuilder, c: CtrInputs & SequenceInputs & { attention: number[] }) {
  const p = ctrInputParts(m, c);
  const { interest, weights } = targetAttention(m, "attention", p.item, sequenceKeys(m, c), c.attention);
  return { x: concat([p.dense, p.user, p.item, ...p.extra, interest], 1), attention: weights };
}

export function din(c: DinConfig) {
  return (m: ModelBuilder) => {
    const { x, attention } = withInterest(m, c);
    const out = mlp(m, "mlp", x, [...c.hidden, 1], { activation: c.activation ?? "dice" });
    return { logits: reshape(out, ["B"]), attention };
  };
}

export interface DcnDinConfig extends CtrInputs, SequenceInputs, CrossConfig {
  attention: number[];
}

export function dcnDin(c: DcnDinConfig) {
  return (m: ModelBuilder) => {
    const { x, attention } = withInterest(m, c);
    return { logits: crossAndDeep(m, x, c), attention };
  };
}
