/**
 * DCN (Wang et al., ADKDD 2017) and DCN-V2 (Wang et al., WWW 2021): a cross network that builds explicit
 * feature crosses of bounded degree (one per layer) in parallel with a deep network; both outputs are
 * concatenated into a final linear layer.
 */
import { linear, mlp, type ModelBuilder } from "../graph/nn.ts";
import { concat, reshape, type Tensor } from "../graph/tensor.ts";
import { type CtrInputs, ctrInputs } from "./inputs.ts";
import { crossNet } from "./layers.ts";

export interface CrossConfig {
  /** Cross layers (default 3). */
  crossLayers: number;
  /** "v1": DCN's rank-1 cross (w ∈ R^d); "v2": DCN-V2's full-matrix cross (W ∈ R^{d×d}). */
  version: "v1" | "v2";
  /** The parallel deep network (default [128, 64]). */
  hidden: number[];
}

export interface DcnConfig extends CtrInputs, CrossConfig {}

/** Cross network ∥ deep network on x0 [B, d], concatenated, through a final linear layer: logits [B]. */
export function crossAndDeep(m: ModelBuilder, x0: Tensor, c: CrossConfig): Tensor {
  const cross = crossNet(m, "cross", x0, c.crossLayers, c.version);
  const deep = mlp(m, "deep", x0, c.hidden, { lastActivation: true });
  return reshape(linear(m, "final", concat([cross, deep], 1), 1, { init: { kind: "xavier" } }), ["B"]);
}

export function dcn(c: DcnConfig) {
  return (m: ModelBuilder) => ({ logits: crossAndDeep(m, ctrInputs(m, c), c) });
}
