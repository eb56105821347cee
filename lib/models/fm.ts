/**
 * FM (Rendle, ICDM 2010) and DeepFM (Guo et al., IJCAI 2017). FM scores a row as a bias, a linear term on the
 * dense features, a learned weight per id (first order), and every pair of id fields — user, item and the
 * spec's categorical fields — interacting through the dot product of their factor vectors (second order),
 * computed in O(fields · k) as ½ Σ_d [(Σ_f v_fd)² − Σ_f v_fd²]. DeepFM adds a DNN over the same embeddings:
 * the factors are the DNN's id embeddings, so the explicit and the implicit interactions share them.
 */
import { embedding, linear, mlp, type ModelBuilder } from "../graph/nn.ts";
import { add, concat, mul, reduceSum, reshape, sub, type Tensor } from "../graph/tensor.ts";
import { ctrInputParts, type CtrInputs } from "./inputs.ts";

/** ½ Σ_d [(Σ_f v_fd)² − Σ_f v_fd²] over field factors [B, k] each → [B]: every pair's dot product, summed. */
export function pairwiseInteractions(factors: Tensor[]): Tensor {
  const k = factors[0].shape[1] as number;
  const v = concat(factors.map((f) => reshape(f, ["B", 1, k])), 1); // [B, F, k]
  const sum = reduceSum(v, 1); // [B, k]
  return mul(reduceSum(sub(mul(sum, sum), reduceSum(mul(v, v), 1)), 1), 0.5);
}

/** The FM logit [B] from the input block's parts (first order: one scalar weight per id of every field). */
function fmLogit(m: ModelBuilder, c: CtrInputs, p: ReturnType<typeof ctrInputParts>): Tensor {
  const ids = [
    ["user", c.userVocab],
    ["item", c.itemVocab],
    ...(c.fields ?? []).map((v, k) => [`field_${k}`, v]),
  ] as [string, number][];
  const first = ids.map(([f, vocab]) =>
    embedding(m, `${f}_w`, m.input(f === "user" || f === "item" ? `${f}_id` : f, ["B"], "int64"), vocab, 1)
  );
  const linearPart = add(
    reshape(linear(m, "dense_w", p.dense, 1, { init: { kind: "zeros" } }), ["B"]),
    reduceSum(concat(first, 1), 1),
  );
  return add(linearPart, pairwiseInteractions([p.user, p.item, ...p.fields]));
}

export function fm(c: CtrInputs) {
  return (m: ModelBuilder) => ({ logits: fmLogit(m, c, ctrInputParts(m, c)) });
}

export interface DeepFmConfig extends CtrInputs {
  hidden: number[];
}

export function deepFm(c: DeepFmConfig) {
  return (m: ModelBuilder) => {
    const p = ctrInputParts(m, c);
    const deep = mlp(m, "mlp", concat([p.dense, p.user, p.item, ...p.extra], 1), [...c.hidden, 1]);
    return { logits: add(fmLogit(m, c, p), reshape(deep, ["B"])) };
  };
}
