/**
 * A tiny image encoder in the transformers.js CLIP-vision layout (config.json with model_type
 * "clip_vision_model", preprocessor_config.json for CLIPImageProcessor, onnx/vision_model.onnx: pixel_values →
 * image_embeds), built with lib/graph so the CLIP loading path can be tested offline. It is not CLIP: it
 * averages 4×4 patches of the normalised picture and projects the 8×8×3 grid with a fixed random matrix.
 */
import { ModelBuilder } from "../graph/nn.ts";
import { toOnnx } from "../graph/onnx.ts";
import { matmul, reduceMean, reshape, transpose } from "../graph/tensor.ts";
import { Rng } from "../util/rng.ts";

export const TINY_CLIP = {
  imageSize: 32,
  grid: 8,
  projection: 32,
  mean: [0.5, 0.5, 0.5],
  std: [0.25, 0.25, 0.25],
};

/** Write the model directory; returns the projection matrix (192 × projection, row-major) for checks. */
export async function makeTinyClip(outDir: string, seed = 7): Promise<Float32Array> {
  const { imageSize: S, grid: G, projection: P } = TINY_CLIP, p = S / G;
  const m = new ModelBuilder(false);
  const x = m.input("pixel_values", ["B", 3, S, S]);
  const pooled = reduceMean(reshape(x, ["B", 3, G, p, G, p]), [3, 5]); // [B, 3, G, G]
  const flat = reshape(transpose(pooled, [0, 2, 3, 1]), ["B", G * G * 3]); // row-major (y, x, channel)
  const w = m.param("visual_projection", [G * G * 3, P], { kind: "normal", std: 1 });
  const rng = new Rng(seed);
  const proj = Float32Array.from({ length: G * G * 3 * P }, () => rng.normal() / Math.sqrt(G * G * 3));
  await Deno.mkdir(`${outDir}/onnx`, { recursive: true });
  await Deno.writeFile(
    `${outDir}/onnx/vision_model.onnx`,
    toOnnx({ // the file name transformers.js expects for CLIP vision
      name: "tiny-clip-vision",
      inputs: [x],
      initializers: new Map([[w, proj]]),
      outputs: { image_embeds: matmul(flat, w) },
      docString: "ctrlab tiny CLIP-layout image encoder (not CLIP)",
    }),
  );
  await Deno.writeTextFile(
    `${outDir}/config.json`,
    JSON.stringify(
      {
        model_type: "clip_vision_model",
        architectures: ["CLIPVisionModelWithProjection"],
        image_size: S,
        patch_size: p,
        num_channels: 3,
        projection_dim: P,
        hidden_size: G * G * 3,
      },
      null,
      2,
    ) + "\n",
  );
  await Deno.writeTextFile(
    `${outDir}/preprocessor_config.json`,
    JSON.stringify(
      {
        image_processor_type: "CLIPImageProcessor",
        feature_extractor_type: "CLIPFeatureExtractor",
        do_resize: true,
        size: { shortest_edge: S },
        resample: 3,
        do_center_crop: true,
        crop_size: { height: S, width: S },
        do_rescale: true,
        rescale_factor: 1 / 255,
        do_normalize: true,
        image_mean: TINY_CLIP.mean,
        image_std: TINY_CLIP.std,
        do_convert_rgb: true,
      },
      null,
      2,
    ) + "\n",
  );
  return proj;
}
