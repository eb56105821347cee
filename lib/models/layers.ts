/**
 * CTR layers shared by several models (FuxiCTR keeps these one folder away from the models): the cross
 * network of DCN and DCN-V2, and DIN's target attention. Each is composed from primitive ops, so its gradient
 * comes from lib/graph's rules (checked against finite differences in the tests).
 */
import { dice, linear, type ModelBuilder } from "../graph/nn.ts";
import {
  add,
  concat,
  expandLike,
  matmul,
  mul,
  reduceSum,
  reshape,
  sub,
  type Tensor,
  unsqueezeLast,
} from "../graph/tensor.ts";

/**
 * Cross network over x0 [B, d], `layers` deep:
 *   DCN    (Wang et al., 2017):  x_{l+1} = x0 · (x_l · w_l) + b_l + x_l     w_l ∈ R^d   (a rank-1 cross)
 *   DCN-V2 (Wang et al., 2021):  x_{l+1} = x0 ⊙ (W_l x_l + b_l) + x_l       W_l ∈ R^{d×d}
 */
export function crossNet(
  m: ModelBuilder,
  name: string,
  x0: Tensor,
  layers: number,
  version: "v1" | "v2",
): Tensor {
  const d = x0.shape[1] as number;
  let x = x0;
  for (let l = 0; l < layers; l++) {
    const b = m.param(`${name}.${l}.b`, [d], { kind: "zeros" }, { regularize: false });
    if (version === "v1") {
      const w = m.param(`${name}.${l}.w`, [d, 1], { kind: "xavier" });
      x = add(add(mul(x0, matmul(x, w)), b), x); // [B, d] · [B, 1]
    } else {
      x = add(mul(x0, add(matmul(x, m.param(`${name}.${l}.w`, [d, d], { kind: "xavier" })), b)), x);
    }
  }
  return x;
}

/**
 * DIN's target attention: for each behaviour k_l an activation unit scores the pair (query q, k_l) from
 * [q, k_l, q − k_l, q ⊙ k_l] through a small MLP with Dice; padded positions (mask 0) get weight 0, and the
 * interest vector is the weighted sum Σ_l w_l·k_l — no softmax, as in the paper, so its scale keeps the
 * intensity of the user's interest. query [B, d], keys [B, L, d], mask [B, L] → interest [B, d], weights [B, L].
 */
export function targetAttention(
  m: ModelBuilder,
  name: string,
  query: Tensor,
  keys: Tensor,
  mask: Tensor,
  hidden: number[] = [36],
): { interest: Tensor; weights: Tensor } {
  const [b, L, d] = keys.shape as [number | string, number, number];
  const q = expandLike(reshape(query, [b, 1, d]), keys); // [B, L, d]
  let h = concat([q, keys, sub(q, keys), mul(q, keys)], 2); // [B, L, 4d]
  const real = unsqueezeLast(mask); // padded positions stay out of Dice's batch statistics
  hidden.forEach((n, i) => h = dice(m, `${name}.${i}.dice`, linear(m, `${name}.${i}`, h, n), { mask: real }));
  const score = reshape(linear(m, `${name}.out`, h, 1, { init: { kind: "xavier" } }), [b, L]);
  const weights = mul(score, mask);
  return { interest: reduceSum(mul(unsqueezeLast(weights), keys), 1), weights };
}
