/**
 * Sentence embeddings from a transformers.js model (a hub id such as "moka-ai/m3e-base" or "BAAI/bge-small-zh",
 * or a local directory in the transformers.js layout): tokenise in batches, run the encoder, mean-pool the
 * token vectors over non-padding positions — optionally averaging the last n hidden layers first, when the
 * model exports them as `hidden_states.<i>`. Runs on onnxruntime-node under Deno (needs --allow-ffi).
 */
import {
  AutoModel,
  AutoTokenizer,
  env,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  type Tensor,
} from "@huggingface/transformers";
import { type Embedder, type EmbedOptions, sha1 } from "./embedder.ts";

export interface TransformersOptions {
  /** Average this many last hidden layers before pooling (default 1: the last layer only). */
  lastLayers?: number;
  maxLength?: number;
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await Deno.stat(p)).isDirectory;
  } catch {
    return false;
  }
}

/** Mean over non-padding tokens of a [B, S, H] tensor (row-major data) under a [B, S] mask. */
export function meanPool(
  hidden: Float32Array,
  mask: ArrayLike<number | bigint>,
  [B, S, H]: number[],
): Float32Array {
  const out = new Float32Array(B * H);
  for (let b = 0; b < B; b++) {
    let n = 0;
    for (let s = 0; s < S; s++) {
      if (!Number(mask[b * S + s])) continue;
      n++;
      for (let h = 0; h < H; h++) out[b * H + h] += hidden[(b * S + s) * H + h];
    }
    for (let h = 0; h < H; h++) out[b * H + h] /= Math.max(n, 1);
  }
  return out;
}

export class TransformersEmbedder implements Embedder {
  private constructor(
    readonly name: string,
    readonly fingerprint: string,
    readonly dim: number,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly model: PreTrainedModel,
    private readonly o: Required<TransformersOptions>,
  ) {}

  static async load(idOrDir: string, o: TransformersOptions = {}): Promise<TransformersEmbedder> {
    const local = await isDir(idOrDir);
    const source = local ? await Deno.realPath(idOrDir) : idOrDir;
    env.allowLocalModels = true;
    env.allowRemoteModels = !local;
    let tokenizer: PreTrainedTokenizer, model: PreTrainedModel;
    try {
      tokenizer = await AutoTokenizer.from_pretrained(source);
      model = await AutoModel.from_pretrained(source, { dtype: "fp32", device: "cpu" });
    } catch (e) {
      throw new Error(
        `transformers.js could not load "${idOrDir}" (${
          local ? "local directory" : "hub id; is the hub reachable?"
        }): ${(e as Error).message}`,
      );
    }
    const config = model.config as unknown as { hidden_size?: number; max_position_embeddings?: number };
    const fingerprint = local
      ? sha1(
        await Deno.readFile(`${source}/config.json`),
        await Deno.readFile(`${source}/onnx/model.onnx`),
        String(o.lastLayers ?? 1),
      ).slice(0, 16)
      : sha1(idOrDir, String(o.lastLayers ?? 1)).slice(0, 16);
    const opts = {
      lastLayers: o.lastLayers ?? 1,
      maxLength: o.maxLength ?? Math.min(config.max_position_embeddings ?? 512, 512),
    };
    return new TransformersEmbedder(
      `transformers:${idOrDir}${opts.lastLayers > 1 ? `:last${opts.lastLayers}` : ""}`,
      fingerprint,
      config.hidden_size ?? 0,
      tokenizer,
      model,
      opts,
    );
  }

  async embed(texts: string[], o: EmbedOptions = {}): Promise<Float32Array> {
    const bs = o.batchSize ?? 64, out = new Float32Array(texts.length * this.dim);
    for (let start = 0; start < texts.length; start += bs) {
      const batch = texts.slice(start, start + bs);
      const inputs = this.tokenizer(batch, { padding: true, truncation: true, max_length: this.o.maxLength });
      const outputs = await this.model(inputs) as Record<string, Tensor>;
      const dims = outputs.last_hidden_state.dims as number[];
      let hidden = outputs.last_hidden_state.data as Float32Array;
      if (this.o.lastLayers > 1) {
        const layers = Object.keys(outputs).filter((k) => /^hidden_states\.\d+$/.test(k)).sort((a, b) =>
          Number(a.split(".")[1]) - Number(b.split(".")[1])
        );
        if (layers.length < this.o.lastLayers) {
          throw new Error(
            `${this.name}: averaging the last ${this.o.lastLayers} layers needs hidden_states.<i> outputs; the model exports ${layers.length}`,
          );
        }
        const last = layers.slice(-this.o.lastLayers).map((k) => outputs[k].data as Float32Array);
        const avg = new Float32Array(last[0].length);
        for (const l of last) for (let i = 0; i < avg.length; i++) avg[i] += l[i] / last.length;
        hidden = avg;
      }
      const pooled = meanPool(hidden, (inputs.attention_mask as Tensor).data as BigInt64Array, dims);
      out.set(pooled, start * this.dim);
      o.onProgress?.(Math.min(start + bs, texts.length), texts.length);
    }
    return out;
  }
}
