/**
 * CTR layers shared by several models (FuxiCTR keeps these one folder away from the models): the cross
 * network of DCN and DCN-V2, and DIN's target attention. Each is composed from primitive ops, so its gradient
 * comes from lib/graph's rules (checked against finite differences in the tests).
 */
import { dice, linear, type ModelBuilder } from "../graph/nn.ts";
import {
  add,
  concat,
  gather,
  matmul,
  mul,
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
 * A behaviour sequence as target attention reads it: the mask [B, L] (1 for a real behaviour, 0 for padding)
 * and either the keys [B, L, d] or, in a graph that packs sequences, the real behaviours' keys [P, d] with their
 * positions `at` [P] (row·L + position, row-major; ModelBuilder.realPositions).
 */
export interface Behaviours {
  mask: Tensor;
  keys?: Tensor;
  real?: { keys: Tensor; at: Tensor };
}

/**
 * DIN's target attention: for each behaviour k_l an activation unit scores the pair (query q, k_l) from
 * [q, k_l, q − k_l, q ⊙ k_l] through a small MLP with Dice; padded positions (mask 0) get weight 0, and the
 * interest vector is the weighted sum Σ_l w_l·k_l — no softmax, as in the paper, so its scale keeps the
 * intensity of the user's interest. query [B, d] and the sequence → interest [B, d], weights [B, L].
 *
 * On packed behaviours (train graphs on CPU backends) the unit runs on the P real ones only, and their scores
 * and weighted keys are scattered back to [B, L] (distinct positions: no two updates meet, so the step stays
 * reproducible); on padded keys, on all B·L positions with padding masked out of Dice's statistics and the
 * weights. The same function either way.
 */
export function targetAttention(
  m: ModelBuilder,
  name: string,
  query: Tensor,
  seq: Behaviours,
  hidden: number[] = [36],
): { interest: Tensor; weights: Tensor } {
  const { mask } = seq, [b, L] = mask.shape as [number | string, number];
  const d = query.shape[1] as number;
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
  if (seq.real) {
    const { keys, at } = seq.real, P = at.shape[0], index = unsqueezeLast(at);
    // the unit reads the keys through a node of its own, so its two gradients sum before the interest's: the
    // order the padded form sums them in, which keeps the step's bits
    const k = reshape(keys, [P, d]);
    // each behaviour's query: q where the mask is 1, read at the real positions (its gradient sums over L)
    const perPosition = reshape(mul(q, unsqueezeLast(mask)), ["BL", d]);
    const qk = gather(perPosition, at);
    const h = matmul(concat([k, mul(qk, k), qk], 1), concat([wKey, wQuery], 0));
    const score = unit(add(h, bias)); // [P, 1]
    const weights = reshape(scatterND(zerosLike(reshape(mask, ["BL"])), index, reshape(score, [P])), [b, L]);
    const weighted = scatterND(zerosLike(perPosition), index, mul(score, keys)); // [B·L, d], zero at the padding
    return { interest: reduceSum(reshape(weighted, [b, L, d]), 1), weights };
  }
  if (!seq.keys) throw new Error("targetAttention: the sequence has neither keys nor packed real keys");
  // padded positions stay out of Dice's batch statistics, and get weight 0
  const perRow = add(matmul(query, wQuery), bias); // [B, n]
  const h = add(matmul(concat([seq.keys, mul(q, seq.keys)], 2), wKey), reshape(perRow, [b, 1, first]));
  const weights = mul(reshape(unit(h, unsqueezeLast(mask)), [b, L]), mask);
  return { interest: reduceSum(mul(unsqueezeLast(weights), seq.keys), 1), weights };
}
