/**
 * A tiny BERT-architecture Chinese sentence encoder that ctrlab makes itself and ships in the transformers.js
 * directory layout (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx), so the real model
 * loading path is exercised without a model hub. It is not a trained language model: its character embeddings
 * come from an LSA of the synthetic vocabulary with one dimension per topic (so mean-pooled outputs carry topic
 * meaning), the transformer
 * layers are small random perturbations around the residual path; special tokens, punctuation and positions embed
 * to zero. Built with lib/graph like every model here,
 * and evaluated by lib/graph/interp.ts in the tests to check what transformers.js returns.
 */
import { gelu, initValues, layerNorm, linear, ModelBuilder } from "../graph/nn.ts";
import { toOnnx } from "../graph/onnx.ts";
import {
  add,
  cast,
  gather,
  matmul,
  mul,
  reshape,
  sliceLike,
  softmax,
  sub,
  type Tensor,
  transpose,
} from "../graph/tensor.ts";
import { Rng } from "../util/rng.ts";
import { TITLE_PREFIXES, TITLE_SUFFIXES, TOPICS } from "../data/vocab.ts";
import { TfidfSvdEmbedder } from "./tfidf.ts";

export interface TinyBertConfig {
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  maxPositions: number;
  vocab: number;
}

export const SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const;

/** The forward graph: embeddings → `layers` post-LN transformer blocks; every block's output is exported. */
export function tinyBert(c: TinyBertConfig) {
  return (m: ModelBuilder) => {
    const ids = m.input("input_ids", ["B", "S"], "int64");
    const mask = m.input("attention_mask", ["B", "S"], "int64");
    const types = m.input("token_type_ids", ["B", "S"], "int64");
    const H = c.hidden, h = c.heads, d = H / h;
    const table = (name: string, rows: number) => m.param(name, [rows, H], { kind: "normal", std: 0.02 });
    let x = add(
      add(
        gather(table("embeddings.word_embeddings", c.vocab), ids),
        sliceLike(table("embeddings.position_embeddings", c.maxPositions), ids, 1),
      ),
      gather(table("embeddings.token_type_embeddings", 2), types),
    );
    x = layerNorm(m, "embeddings.LayerNorm", x);
    const hidden: Tensor[] = [x];
    // additive attention bias [B, 1, 1, S]: 0 for tokens, −1e4 for padding
    const bias = transpose(reshape(mul(sub(cast(mask, "float32"), 1), 1e4), ["B", "S", 1, 1]), [0, 2, 3, 1]);
    const heads = (t: Tensor) => transpose(reshape(t, ["B", "S", h, d]), [0, 2, 1, 3]); // [B, h, S, d]
    for (let l = 0; l < c.layers; l++) {
      const p = `encoder.layer.${l}`;
      const [q, k, v] = ["query", "key", "value"].map((n) =>
        heads(linear(m, `${p}.attention.${n}`, x, H, { init: { kind: "normal", std: 0.02 } }))
      );
      const scores = add(mul(matmul(q, transpose(k, [0, 1, 3, 2])), 1 / Math.sqrt(d)), bias);
      const ctx = reshape(transpose(matmul(softmax(scores, -1), v), [0, 2, 1, 3]), ["B", "S", H]);
      x = layerNorm(
        m,
        `${p}.attention.LayerNorm`,
        add(x, linear(m, `${p}.attention.output`, ctx, H, { init: { kind: "normal", std: 0.02 } })),
      );
      const ff = linear(
        m,
        `${p}.output`,
        gelu(linear(m, `${p}.intermediate`, x, c.intermediate, { init: { kind: "normal", std: 0.02 } })),
        H,
        { init: { kind: "normal", std: 0.02 } },
      );
      x = layerNorm(m, `${p}.output.LayerNorm`, add(x, ff));
      hidden.push(x);
    }
    return { last_hidden_state: x, hidden };
  };
}

/** Character vocabulary: special tokens, every character of the synthetic vocabularies, ASCII letters, digits and punctuation. */
export function tinyBertVocab(): string[] {
  const chars = new Set<string>();
  for (const w of [...TOPICS.flatMap((t) => [t.name, ...t.entities]), ...TITLE_PREFIXES, ...TITLE_SUFFIXES]) {
    for (const ch of w) chars.add(ch);
  }
  const ascii = "abcdefghijklmnopqrstuvwxyz0123456789,.;:!?-_/()[]";
  return [...SPECIAL_TOKENS, ...[...chars].sort(), ...ascii, ...[...ascii].map((a) => `##${a}`)];
}

/** Build the model's parameters (deterministic for a seed) and write the transformers.js directory. */
export async function makeTinyBert(
  outDir: string,
  o: { seed?: number; hidden?: number; layers?: number } = {},
): Promise<{ config: TinyBertConfig; params: Map<string, Float32Array> }> {
  const vocab = tinyBertVocab();
  const config: TinyBertConfig = {
    hidden: o.hidden ?? 64,
    layers: o.layers ?? 4,
    heads: 2,
    intermediate: 4 * (o.hidden ?? 64),
    maxPositions: 128,
    vocab: vocab.length,
  };
  const rng = new Rng(o.seed ?? 7);
  const m = new ModelBuilder();
  const out = tinyBert(config)(m);
  const params = new Map<string, Float32Array>();
  for (const [name, spec] of m.params) params.set(name, initValues(spec, rng));
  // character embeddings from an LSA of topic texts: characters of one topic's words point the same way
  const corpus: string[] = [];
  for (const t of TOPICS) {
    for (let r = 0; r < 40; r++) {
      corpus.push(Array.from({ length: 3 }, () => rng.pick(t.entities)).join(","));
    }
  }
  const lsa = TfidfSvdEmbedder.fit(corpus, {
    ngram: [1, 1],
    minDf: 1,
    dim: TOPICS.length,
    seed: o.seed ?? 7,
  });
  // special tokens, punctuation and positions start at zero, so pooled vectors are dominated by content characters
  params.get("embeddings.position_embeddings")!.fill(0);
  params.get("embeddings.token_type_embeddings")!.fill(0);
  const word = params.get("embeddings.word_embeddings")!.fill(0);
  const charVecs = await lsa.embed(vocab);
  vocab.forEach((_, i) => {
    let norm = 0;
    for (let j = 0; j < lsa.dim; j++) norm += charVecs[i * lsa.dim + j] ** 2;
    if (norm > 0) {
      for (let j = 0; j < lsa.dim; j++) {
        word[i * config.hidden + j] = 2 * charVecs[i * lsa.dim + j] / Math.sqrt(norm);
      }
    }
  });
  await Deno.mkdir(`${outDir}/onnx`, { recursive: true });
  const inputs = [...m.inputs.values()];
  const initializers = new Map([...m.params].map(([n, s]) => [s.tensor, params.get(n)!]));
  const outputs: Record<string, Tensor> = { last_hidden_state: out.last_hidden_state };
  out.hidden.forEach((t, i) => outputs[`hidden_states.${i}`] = t);
  await Deno.writeFile(
    `${outDir}/onnx/model.onnx`,
    toOnnx({
      name: "tiny-zh-bert",
      inputs,
      initializers,
      outputs,
      docString: "ctrlab tiny BERT (not a trained language model)",
    }),
  );
  await Deno.writeTextFile(
    `${outDir}/config.json`,
    JSON.stringify(
      {
        model_type: "bert",
        architectures: ["BertModel"],
        hidden_size: config.hidden,
        num_hidden_layers: config.layers,
        num_attention_heads: config.heads,
        intermediate_size: config.intermediate,
        max_position_embeddings: config.maxPositions,
        vocab_size: config.vocab,
        type_vocab_size: 2,
        hidden_act: "gelu",
        layer_norm_eps: 1e-12,
        pad_token_id: 0,
      },
      null,
      2,
    ) + "\n",
  );
  await Deno.writeTextFile(
    `${outDir}/tokenizer_config.json`,
    JSON.stringify(
      {
        tokenizer_class: "BertTokenizer",
        do_lower_case: true,
        tokenize_chinese_chars: true,
        model_max_length: config.maxPositions,
        cls_token: "[CLS]",
        sep_token: "[SEP]",
        pad_token: "[PAD]",
        unk_token: "[UNK]",
        mask_token: "[MASK]",
      },
      null,
      2,
    ) + "\n",
  );
  await Deno.writeTextFile(`${outDir}/tokenizer.json`, JSON.stringify(tokenizerJson(vocab)) + "\n");
  return { config, params };
}

/** A Hugging Face `tokenizers` JSON for a BERT WordPiece tokenizer over `vocab`. */
function tokenizerJson(vocab: string[]) {
  const id = (t: string) => vocab.indexOf(t);
  const special = (t: string) => ({ id: t, type_id: 0 });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((t) => ({
      id: id(t),
      content: t,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: special("[CLS]") }, { Sequence: { id: "A", type_id: 0 } }, {
        SpecialToken: special("[SEP]"),
      }],
      pair: [
        { SpecialToken: special("[CLS]") },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: special("[SEP]") },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: "[SEP]", type_id: 1 } },
      ],
      special_tokens: Object.fromEntries(
        ["[CLS]", "[SEP]"].map((t) => [t, { id: t, ids: [id(t)], tokens: [t] }]),
      ),
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
  };
}
