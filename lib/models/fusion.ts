/**
 * Behaviour–content fusion: an MMoE backbone on every feature (behaviour, ids, text), a content tower on text
 * only with a head per scene, and a learned per-sample gate α ∈ (0, 1) that decides how much to trust the
 * content tower:  logits = (1 − α) · backbone + α · content.  The gate sees the behaviour statistics (how much
 * history the user and item have) and the texts, so it can learn to lean on content when behaviour is thin.
 */
import { linear, mlp, type ModelBuilder } from "../graph/nn.ts";
import { add, concat, mul, sigmoid, sub } from "../graph/tensor.ts";
import { mmoe, type MmoeConfig } from "./mmoe.ts";
import { textInputs } from "./inputs.ts";

export interface FusionConfig extends MmoeConfig {
  /** Hidden sizes of the content tower (its last layer has one output per scene). */
  content: number[];
}

export function fusion(c: FusionConfig) {
  return (m: ModelBuilder) => {
    const backbone = mmoe(c)(m); // [B, T]
    const text = concat(textInputs(m, c), 1);
    const content = mlp(m, "content", text, [...c.content, c.tasks]); // [B, T]
    const alpha = sigmoid(
      linear(m, "alpha", concat([m.input("dense", ["B", c.dense]), text], 1), 1, {
        init: { kind: "xavier" },
      }),
    ); // [B, 1]
    const logits = add(mul(sub(1, alpha), backbone.logits), mul(alpha, content));
    return { logits, gates: backbone.gates, alpha, backbone: backbone.logits, content };
  };
}
