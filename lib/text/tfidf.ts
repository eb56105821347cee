/**
 * The weights-free embedder: character n-gram TF-IDF followed by a truncated SVD (LSA), fitted on training
 * texts only. Chinese has no spaces, so characters and character bigrams inside each comma-separated field are
 * the terms. The SVD is randomized (Halko, Martinsson & Tropp 2011): a Gaussian sketch, a few power
 * iterations, and an exact eigendecomposition of the small projected matrix.
 */
import { type Embedder, type EmbedOptions, sha1 } from "./embedder.ts";
import { orthonormalizeColumns, symmetricEigen } from "../util/linalg.ts";
import { Rng } from "../util/rng.ts";

export interface TfidfConfig {
  /** Character n-gram lengths, inclusive (default 1..2). */
  ngram?: [number, number];
  /** Terms must occur in at least this many fitting texts (default 2). */
  minDf?: number;
  /** Keep the most frequent terms (default 20000). */
  maxFeatures?: number;
  /** SVD dimensions (default 256; capped by the number of terms and texts). */
  dim?: number;
  powerIterations?: number;
  seed?: number;
}

interface State {
  config: Required<TfidfConfig>;
  terms: string[];
  idf: number[];
  dim: number;
  /** terms × dim, row-major. */
  components: Float32Array;
}

/** The training texts are too few or too uniform to fit the embedder (fewer than two texts or shared terms). */
export class TooLittleText extends Error {
  constructor(detail: string) {
    super(`tfidf: ${detail}`);
    this.name = "TooLittleText";
  }
}

/** The n-gram terms of one text: per comma/space-separated field, lower-cased. */
export function charNgrams(text: string, [lo, hi]: [number, number]): string[] {
  const out: string[] = [];
  for (const field of text.toLowerCase().split(/[,，\s|;]+/)) {
    const chars = [...field];
    for (let n = lo; n <= hi; n++) {
      for (let i = 0; i + n <= chars.length; i++) out.push(chars.slice(i, i + n).join(""));
    }
  }
  return out;
}

export class TfidfSvdEmbedder implements Embedder {
  readonly name: string;
  readonly fingerprint: string;
  readonly dim: number;
  private readonly index: Map<string, number>;

  private constructor(private readonly s: State) {
    this.dim = s.dim;
    this.index = new Map(s.terms.map((t, i) => [t, i]));
    this.name = `tfidf-char${s.config.ngram.join("")}-svd${s.dim}`;
    const c = s.components;
    this.fingerprint = sha1(
      this.name,
      JSON.stringify({ config: s.config, terms: s.terms, idf: s.idf }),
      new Uint8Array(c.buffer, c.byteOffset, c.byteLength),
    ).slice(0, 16);
  }

  /** Fit vocabulary, IDF and SVD on `corpus` (distinct training texts). */
  static fit(corpus: string[], cfg: TfidfConfig = {}): TfidfSvdEmbedder {
    const config: Required<TfidfConfig> = {
      ngram: [1, 2],
      minDf: 2,
      maxFeatures: 20_000,
      dim: 256,
      powerIterations: 2,
      seed: 7,
      ...cfg,
    };
    const docs = [...new Set(corpus)].filter((t) => t.trim() !== "");
    if (docs.length < 2) {
      throw new TooLittleText(`need at least 2 non-empty texts to fit, got ${docs.length}`);
    }
    const df = new Map<string, number>();
    for (const d of docs) {
      for (const t of new Set(charNgrams(d, config.ngram))) df.set(t, (df.get(t) ?? 0) + 1);
    }
    const terms = [...df].filter(([, n]) => n >= config.minDf).sort((a, b) =>
      b[1] - a[1] || (a[0] < b[0] ? -1 : 1)
    )
      .slice(0, config.maxFeatures).map(([t]) => t).sort();
    if (terms.length < 2) {
      throw new TooLittleText(`only ${terms.length} terms occur in ≥ ${config.minDf} texts`);
    }
    const idf = terms.map((t) => Math.log((1 + docs.length) / (1 + df.get(t)!)) + 1);
    const dim = Math.min(config.dim, terms.length - 1, docs.length - 1);
    const proto = new TfidfSvdEmbedder({ config, terms, idf, dim: 0, components: new Float32Array(0) });
    const rows = docs.map((d) => proto.sparse(d));
    const components = randomizedSvd(rows, terms.length, dim, config.powerIterations, config.seed);
    return new TfidfSvdEmbedder({ config, terms, idf, dim, components });
  }

  /** The L2-normalised, sublinear TF-IDF vector of one text as (term index, weight) pairs. */
  sparse(text: string): { idx: Int32Array; val: Float64Array } {
    const tf = new Map<number, number>();
    for (const t of charNgrams(text, this.s.config.ngram)) {
      const i = this.index.get(t);
      if (i !== undefined) tf.set(i, (tf.get(i) ?? 0) + 1);
    }
    const idx = Int32Array.from(tf.keys()),
      val = Float64Array.from(idx, (i) => (1 + Math.log(tf.get(i)!)) * this.s.idf[i]);
    const norm = Math.sqrt(val.reduce((a, v) => a + v * v, 0)) || 1;
    for (let k = 0; k < val.length; k++) val[k] /= norm;
    return { idx, val };
  }

  embed(texts: string[], o: EmbedOptions = {}): Promise<Float32Array> {
    const d = this.dim, out = new Float32Array(texts.length * d), C = this.s.components;
    texts.forEach((t, r) => {
      const { idx, val } = this.sparse(t);
      for (let k = 0; k < idx.length; k++) {
        const base = idx[k] * d, v = val[k];
        for (let j = 0; j < d; j++) out[r * d + j] += v * C[base + j];
      }
      if (o.onProgress && (r + 1) % 10_000 === 0) o.onProgress(r + 1, texts.length);
    });
    o.onProgress?.(texts.length, texts.length);
    return Promise.resolve(out);
  }

  async save(dir: string): Promise<void> {
    await Deno.mkdir(dir, { recursive: true });
    const { components, ...rest } = this.s;
    await Deno.writeTextFile(`${dir}/tfidf.json`, JSON.stringify(rest));
    await Deno.writeFile(
      `${dir}/components.f32`,
      new Uint8Array(components.buffer, components.byteOffset, components.byteLength),
    );
  }

  static async load(dir: string): Promise<TfidfSvdEmbedder> {
    const rest = JSON.parse(await Deno.readTextFile(`${dir}/tfidf.json`));
    const bytes = await Deno.readFile(`${dir}/components.f32`);
    return new TfidfSvdEmbedder({
      ...rest,
      components: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4),
    });
  }
}

/** Right singular vectors (terms × k, float32) of the sparse row matrix, top k. */
function randomizedSvd(
  rows: { idx: Int32Array; val: Float64Array }[],
  cols: number,
  k: number,
  power: number,
  seed: number,
): Float32Array {
  const n = rows.length, l = Math.min(k + 10, cols, n);
  const rng = new Rng(seed);
  // X·M (n × l) and Xᵀ·M (cols × l) for dense M
  const xTimes = (m: Float64Array) => {
    const y = new Float64Array(n * l);
    rows.forEach((r, i) => {
      for (let t = 0; t < r.idx.length; t++) {
        for (let j = 0; j < l; j++) y[i * l + j] += r.val[t] * m[r.idx[t] * l + j];
      }
    });
    return y;
  };
  const xtTimes = (m: Float64Array) => {
    const z = new Float64Array(cols * l);
    rows.forEach((r, i) => {
      for (let t = 0; t < r.idx.length; t++) {
        for (let j = 0; j < l; j++) z[r.idx[t] * l + j] += r.val[t] * m[i * l + j];
      }
    });
    return z;
  };
  let q = orthonormalizeColumns(xTimes(Float64Array.from({ length: cols * l }, () => rng.normal())), n, l);
  for (let it = 0; it < power; it++) {
    q = orthonormalizeColumns(xTimes(orthonormalizeColumns(xtTimes(q), cols, l)), n, l);
  }
  const bt = xtTimes(q); // Bᵀ = Xᵀ Q: cols × l
  const bbt = new Float64Array(l * l); // B Bᵀ = (Bᵀ)ᵀ Bᵀ
  for (let c = 0; c < cols; c++) {
    for (let a = 0; a < l; a++) {
      const v = bt[c * l + a];
      if (v === 0) continue;
      for (let b = a; b < l; b++) bbt[a * l + b] += v * bt[c * l + b];
    }
  }
  for (let a = 0; a < l; a++) for (let b = 0; b < a; b++) bbt[a * l + b] = bbt[b * l + a];
  const { values, vectors } = symmetricEigen(bbt, l);
  // v_j = Bᵀ u_j / σ_j
  const comp = new Float32Array(cols * k);
  for (let j = 0; j < k; j++) {
    const sigma = Math.sqrt(Math.max(values[j], 0));
    if (sigma < 1e-12) continue;
    for (let c = 0; c < cols; c++) {
      let s = 0;
      for (let a = 0; a < l; a++) s += bt[c * l + a] * vectors[a * l + j];
      comp[c * k + j] = s / sigma;
    }
  }
  return comp;
}
