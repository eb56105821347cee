/**
 * Item image embeddings. Two embedders behind one interface: CLIP through @huggingface/transformers (a hub id
 * or a local directory in the transformers.js layout — needs weights, which this machine cannot download), and
 * a weights-free fallback: the picture downsampled to 8×8 by area averaging (colour layout, 192 values) beside
 * a 4×4×4 joint colour histogram (palette, 64 values). PCA fitted on training items compresses either.
 */
import { decode } from "fast-png";

export interface ImageEmbedder {
  name: string;
  dim: number;
  /** One row of `dim` per image file. */
  embed(paths: string[]): Promise<Float32Array>;
}

/** RGB bytes and size of a PNG (grey and RGBA converted), with the file named in any error. */
export function readRgb(path: string): { rgb: Uint8Array; width: number; height: number } {
  let img;
  try {
    img = decode(Deno.readFileSync(path));
  } catch (e) {
    throw new Error(`image ${path}: ${(e as Error).message}`);
  }
  const { width, height, channels } = img;
  const data = img.data as Uint8Array;
  if (channels === 3) return { rgb: data, width, height };
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = data[p * channels + (channels < 3 ? 0 : c)];
  }
  return { rgb, width, height };
}

/** The weights-free image embedder: 8×8 area-averaged pixels (3 × 64) and a 64-bin joint colour histogram. */
export class PixelEmbedder implements ImageEmbedder {
  readonly name = "pixels-8x8+hist4";
  readonly dim = 8 * 8 * 3 + 64;

  embed(paths: string[]): Promise<Float32Array> {
    const out = new Float32Array(paths.length * this.dim);
    paths.forEach((p, r) => out.set(pixelFeatures(readRgb(p)), r * this.dim));
    return Promise.resolve(out);
  }
}

export function pixelFeatures(img: { rgb: Uint8Array; width: number; height: number }): Float32Array {
  const G = 8, f = new Float32Array(G * G * 3 + 64), counts = new Float32Array(G * G);
  const { rgb, width: W, height: H } = img;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const cell = Math.floor(y * G / H) * G + Math.floor(x * G / W), p = (y * W + x) * 3;
      counts[cell]++;
      for (let c = 0; c < 3; c++) f[cell * 3 + c] += rgb[p + c] / 255;
      f[G * G * 3 + (rgb[p] >> 6) * 16 + (rgb[p + 1] >> 6) * 4 + (rgb[p + 2] >> 6)] += 4 / (W * H); // shares, ×4 to sit on the pixels' scale
    }
  }
  for (let cell = 0; cell < G * G; cell++) {
    for (let c = 0; c < 3; c++) f[cell * 3 + c] /= Math.max(1, counts[cell]);
  }
  return f;
}

/**
 * CLIP image embeddings (`image_embeds`, the projection CLIP aligns with text) through transformers.js, from a hub
 * id ("Xenova/clip-vit-base-patch32") or a local directory (config.json, preprocessor_config.json, onnx/).
 */
export class ClipImageEmbedder implements ImageEmbedder {
  private constructor(
    readonly name: string,
    readonly dim: number,
    private model: ClipModel,
    private processor: ClipProcessor,
    private readImage: (p: string) => Promise<unknown>,
  ) {}

  static async load(idOrDir: string, o: { dtype?: string } = {}): Promise<ClipImageEmbedder> {
    const tf = await import("@huggingface/transformers");
    const local = await Deno.stat(idOrDir).then((s) => s.isDirectory, () => false);
    const opts = { local_files_only: local, dtype: o.dtype ?? "fp32" } as Record<string, unknown>;
    if (local) {
      Object.assign(tf.env, { allowLocalModels: true, allowRemoteModels: false, localModelPath: "" });
    }
    const model = await tf.CLIPVisionModelWithProjection.from_pretrained(
      idOrDir,
      opts,
    ) as unknown as ClipModel;
    const processor = await tf.AutoProcessor.from_pretrained(idOrDir, opts) as unknown as ClipProcessor;
    const cfg = (model as unknown as { config: { projection_dim?: number } }).config;
    return new ClipImageEmbedder(
      `clip:${idOrDir}`,
      cfg.projection_dim ?? 512,
      model,
      processor,
      (p) => tf.RawImage.read(p),
    );
  }

  async embed(paths: string[], batch = 16): Promise<Float32Array> {
    const out = new Float32Array(paths.length * this.dim);
    for (let i = 0; i < paths.length; i += batch) {
      const images = await Promise.all(paths.slice(i, i + batch).map(this.readImage));
      const { image_embeds } = await this.model(await this.processor(images));
      out.set(image_embeds.data as Float32Array, i * this.dim);
    }
    return out;
  }
}

type ClipModel = (inputs: unknown) => Promise<{ image_embeds: { data: Float32Array } }>;
type ClipProcessor = (images: unknown[]) => Promise<unknown>;
