/**
 * The text-embedding interface every embedder implements, and the cache that makes each distinct text cost
 * one embedding: vectors are stored under a key hashed from (embedder fingerprint, text), so a refitted or
 * different embedder never reuses another's vectors, and rows find their vector by text key — never by position.
 */
import { createHash } from "node:crypto";

export interface EmbedOptions {
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface Embedder {
  /** Human-readable name ("tfidf-char-svd128", "transformers:models/tiny-zh-bert"). */
  readonly name: string;
  /** Changes whenever the embedder's parameters change (a hash of the fitted state or of the model files). */
  readonly fingerprint: string;
  readonly dim: number;
  /** n × dim row-major vectors, one per text, in order. */
  embed(texts: string[], o?: EmbedOptions): Promise<Float32Array>;
}

export const sha1 = (...parts: (string | Uint8Array)[]) => {
  const h = createHash("sha1");
  for (const p of parts) h.update(p);
  return h.digest("hex");
};

/** The key a text's vector is cached under for this embedder. */
export const textKey = (e: Embedder, text: string) => sha1(e.fingerprint, "\0", text);

/**
 * Vectors for `texts` (n × dim), computing only the texts not already in `cacheDir`'s store for this embedder,
 * then appending them. Returns the vectors in the order of `texts` and how many were computed.
 */
export async function embedCached(
  e: Embedder,
  texts: string[],
  cacheDir: string,
  o: EmbedOptions = {},
): Promise<{ vectors: Float32Array; computed: number }> {
  const dir = `${cacheDir}/${e.fingerprint}`;
  await Deno.mkdir(dir, { recursive: true });
  const keysFile = `${dir}/keys.txt`, vecFile = `${dir}/vectors.f32`;
  const stored = new Map<string, number>();
  let storedVecs = new Float32Array(0);
  try {
    const keys = (await Deno.readTextFile(keysFile)).split("\n").filter(Boolean);
    const bytes = await Deno.readFile(vecFile);
    storedVecs = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    if (storedVecs.length !== keys.length * e.dim) {
      throw new Error(
        `text cache ${dir}: ${keys.length} keys but ${
          storedVecs.length / e.dim
        } vectors; delete the folder to rebuild it`,
      );
    }
    keys.forEach((k, i) => stored.set(k, i));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const keys = texts.map((t) => textKey(e, t));
  const missing = [
    ...new Set(keys.map((k, i) => stored.has(k) ? -1 : i).filter((i) => i >= 0).map((i) => texts[i])),
  ];
  if (missing.length) {
    const fresh = await e.embed(missing, o);
    await Deno.writeTextFile(keysFile, missing.map((t) => textKey(e, t)).join("\n") + "\n", { append: true });
    const f = await Deno.open(vecFile, { write: true, create: true, append: true });
    await f.write(new Uint8Array(fresh.buffer, fresh.byteOffset, fresh.byteLength));
    f.close();
    const base = storedVecs.length / e.dim;
    const merged = new Float32Array(storedVecs.length + fresh.length);
    merged.set(storedVecs);
    merged.set(fresh, storedVecs.length);
    storedVecs = merged;
    missing.forEach((t, i) => stored.set(textKey(e, t), base + i));
  }
  const out = new Float32Array(texts.length * e.dim);
  keys.forEach((k, i) => {
    const r = stored.get(k)!;
    out.set(storedVecs.subarray(r * e.dim, (r + 1) * e.dim), i * e.dim);
  });
  return { vectors: out, computed: missing.length };
}

/**
 * The embedder of a log without usable text (no text columns in its dataset spec, fewer than two distinct texts
 * on the training days, or texts too uniform to fit TF-IDF): one dimension, every text → 0. The text vectors of
 * 07–09 then carry nothing, and each "+text" model is its baseline with a constant input.
 */
export const NO_TEXT: Embedder = {
  name: "none (no text in the logs)",
  fingerprint: "no-text",
  dim: 1,
  embed: (texts) => Promise.resolve(new Float32Array(texts.length)),
};
