/**
 * The input block every model here shares: dense features beside user and item id embeddings — and, when the
 * config says so, the whitened user and item text vectors, the cold-start text fallback for the ids, and a
 * precomputed item vector (e.g. the fused content + collaborative embedding from lib/embed).
 */
import { embedding, linear, type ModelBuilder } from "../graph/nn.ts";
import { add, concat, mul, sub, type Tensor } from "../graph/tensor.ts";
import type { Behaviours } from "./layers.ts";

export interface CtrInputs {
  /** Number of dense (numeric) features, fed as input "dense" [B, dense]. */
  dense: number;
  userVocab: number;
  itemVocab: number;
  embDim: number;
  /** Width of the whitened text vectors, fed as inputs "user_text" and "item_text" [B, text]; absent: no text. */
  text?: number;
  /**
   * Text fallback for cold ids (needs `text`): inputs "user_cold" and "item_cold" [B, 1] in {0, 1}; where 1,
   * the id embedding is replaced by a learned projection of the text vector into the embedding space.
   */
  fallback?: boolean;
  /** Width of a precomputed item vector, fed as input "item_vec" [B, itemVec] (lib/embed's fused embedding). */
  itemVec?: number;
  /** Vocabulary sizes of further categorical fields (the dataset spec's), inputs "field_<k>" int64 [B], each embedded like the ids. */
  fields?: number[];
}

/** The behaviour sequence inputs (lib/features/sequence.ts): clicked item ids and scenes [B, L], and the mask. */
export interface SequenceInputs {
  /** Sequence length L (inputs "hist_item", "hist_scene" int64 [B, L] and "hist_mask" float [B, L]). */
  seqLen: number;
  scenes: number;
}

/** The text inputs [B, text] each: user, item. */
export function textInputs(m: ModelBuilder, c: CtrInputs): [Tensor, Tensor] {
  if (!c.text) throw new Error("this model needs text inputs: set `text` to the whitened dimension");
  return [m.input("user_text", ["B", c.text]), m.input("item_text", ["B", c.text])];
}

/** An id's embedding, or with the fallback (1−cold)·embedding + cold·W·text. */
function idEmbedding(
  m: ModelBuilder,
  c: CtrInputs,
  side: "user" | "item",
  vocab: number,
  text?: Tensor,
): Tensor {
  const e = embedding(m, `${side}_emb`, m.input(`${side}_id`, ["B"], "int64"), vocab, c.embDim);
  if (!c.fallback) return e;
  const cold = m.input(`${side}_cold`, ["B", 1]);
  return add(
    mul(sub(1, cold), e),
    mul(cold, linear(m, `${side}_fallback`, text!, c.embDim, { init: { kind: "xavier" } })),
  );
}

/**
 * The input block's parts: dense [B, dense], user and item embeddings [B, embDim], the categorical fields'
 * embeddings [B, embDim] each, and every optional vector (`extra`: text, item vector, then the fields).
 */
export function ctrInputParts(
  m: ModelBuilder,
  c: CtrInputs,
): { dense: Tensor; user: Tensor; item: Tensor; fields: Tensor[]; extra: Tensor[] } {
  const dense = m.input("dense", ["B", c.dense]);
  const text = c.text ? textInputs(m, c) : undefined;
  if (c.fallback && !text) throw new Error("the cold-start fallback projects text: set `text` too");
  const user = idEmbedding(m, c, "user", c.userVocab, text?.[0]);
  const item = idEmbedding(m, c, "item", c.itemVocab, text?.[1]);
  const fields = (c.fields ?? []).map((v, k) =>
    embedding(m, `field_${k}_emb`, m.input(`field_${k}`, ["B"], "int64"), v, c.embDim)
  );
  const extra = [...(text ?? []), ...(c.itemVec ? [m.input("item_vec", ["B", c.itemVec])] : []), ...fields];
  return { dense, user, item, fields, extra };
}

/** [B, dense + 2·embDim (+ 2·text) (+ itemVec)]: the parts, concatenated. */
export function ctrInputs(m: ModelBuilder, c: CtrInputs): Tensor {
  const p = ctrInputParts(m, c);
  return concat([p.dense, p.user, p.item, ...p.extra], 1);
}

/**
 * The behaviour sequence as keys: each clicked item's embedding (the same table as the target item's) plus its
 * scene's embedding, [B, L, embDim] with the padding mask [B, L]; in a graph that packs sequences, the real
 * behaviours' keys only ([P, embDim], packed by the host), so padding is never looked up nor updated.
 */
export function sequenceKeys(m: ModelBuilder, c: CtrInputs & SequenceInputs): Behaviours {
  const L = c.seqLen;
  const keys = (items: Tensor, scenes: Tensor) =>
    add(
      embedding(m, "item_emb", items, c.itemVocab, c.embDim),
      embedding(m, "hist_scene_emb", scenes, c.scenes, c.embDim),
    );
  if (m.packSequences) {
    const mask = m.input("hist_mask", ["B", L]);
    const { at, ids: [items, scenes] } = m.realPositions("hist_mask", ["hist_item", "hist_scene"]);
    return { mask, real: { keys: keys(items, scenes), at } };
  }
  const padded = keys(m.input("hist_item", ["B", L], "int64"), m.input("hist_scene", ["B", L], "int64"));
  return { mask: m.input("hist_mask", ["B", L]), keys: padded };
}
