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
  gather,
  matmul,
  mul,
  nonZero,
  reduceSum,
  reshape,
  scatterND,
  slice,
  sub,
  type Tensor,
  unsqueezeLast,
  zerosLike,
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
 *
 * The unit runs on the real behaviours only when the builder packs sequences (train graphs on CPU backends):
 * their P positions are gathered (NonZero of the mask) into [P, ·] rows, and the scores scattered back to
 * [B, L]; otherwise on all B·L positions, padding masked out of Dice's statistics and the weights. Same function.
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
  // the first layer on [q, k, q − k, q ⊙ k] is q·(W₀ + W₂) + k·(W₁ − W₂) + (q ⊙ k)·W₃ + b: the query's part once
  // per row, the rest per behaviour on [k, q ⊙ k] — the same weights W [4d, n] as a linear layer on the concatenation
  const [first, ...rest] = hidden;
  const w = m.param(`${name}.0.w`, [4 * d, first], { kind: "he" });
  const bias = m.param(`${name}.0.b`, [first], { kind: "zeros" }, { regularize: false });
  const block = (i: number) => slice(w, 0, i * d, (i + 1) * d);
  const wKey = concat([sub(block(1), block(2)), block(3)], 0), wQuery = add(block(0), block(2)); // [2d, n], [d, n]
  const unit = (firstLayer: Tensor, real?: Tensor) => {
    let h = dice(m, `${name}.0.dice`, firstLayer, { mask: real });
    rest.forEach((n, j) =>
      h = dice(m, `${name}.${j + 1}.dice`, linear(m, `${name}.${j + 1}`, h, n), { mask: real })
    );
    return linear(m, `${name}.out`, h, 1, { init: { kind: "xavier" } });
  };
  const q = reshape(query, [b, 1, d]);
  let weights: Tensor;
  if (m.packSequences) {
    // every gather and scatter here has distinct indices, so no gradient sums into one place twice: reproducible
    const at = nonZero(mask), P = at.shape[1]; // [2, P]: (row, position) of every real behaviour
    const flat = add(mul(reshape(slice(at, 0, 0, 1), [P]), L), reshape(slice(at, 0, 1, 2), [P])); // row·L + position
    const real = (t: Tensor) => gather(reshape(t, ["BL", d]), flat); // [B, L, d] → [P, d]
    const [k, qk] = [real(keys), real(expandLike(q, keys))];
    const h = matmul(concat([k, mul(qk, k), qk], 1), concat([wKey, wQuery], 0));
    const score = reshape(unit(add(h, bias)), [P]);
    weights = reshape(scatterND(zerosLike(reshape(mask, ["BL"])), unsqueezeLast(flat), score), [b, L]);
  } else {
    // padded positions stay out of Dice's batch statistics, and get weight 0
    const perRow = add(matmul(query, wQuery), bias); // [B, n]
    const h = add(matmul(concat([keys, mul(q, keys)], 2), wKey), reshape(perRow, [b, 1, first]));
    weights = mul(reshape(unit(h, unsqueezeLast(mask)), [b, L]), mask);
  }
  return { interest: reduceSum(mul(unsqueezeLast(weights), keys), 1), weights };
}
