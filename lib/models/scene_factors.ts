/**
 * A scene-wise factorisation term any model can add to its logit: a user×item affinity that each scene weighs
 * its own way. "per-scene": user and item factors per scene, Σ_d a_{user,scene,d}·b_{item,scene,d};
 * "diagonal": shared factors weighted per scene, Σ_d w_{scene,d}·a_{user,d}·b_{item,d}. Scenes-as-tasks models
 * add it to every scene's column; single-task models to their one logit, through the row's scene (input
 * "scene_onehot" [B, scenes]). The out-of-vocabulary row (index 0: no training history) starts at zero and,
 * since no training row looks it up, stays there: the term is exactly 0 for an unseen user or item, rather
 * than their untrained factors' noise — it can only help where both have been seen.
 */
import { embedding, type ModelBuilder } from "../graph/nn.ts";
import { add, matmul, mul, reduceSum, reshape, type Tensor } from "../graph/tensor.ts";
import type { ModelFn } from "../graph/program.ts";

export interface SceneFactorConfig {
  userVocab: number;
  itemVocab: number;
  scenes: number;
  /** Factor width. */
  k: number;
  mode: "per-scene" | "diagonal";
}

/** The term for every scene: [B, scenes]. */
export function sceneFactors(m: ModelBuilder, c: SceneFactorConfig): Tensor {
  const T = c.scenes, k = c.k;
  const ids = (side: "user" | "item") => m.input(`${side}_id`, ["B"], "int64");
  if (c.mode === "per-scene") {
    const u = reshape(embedding(m, "user_sf", ids("user"), c.userVocab, T * k, { zeroOov: true }), [
      "B",
      T,
      k,
    ]);
    const i = reshape(embedding(m, "item_sf", ids("item"), c.itemVocab, T * k, { zeroOov: true }), [
      "B",
      T,
      k,
    ]);
    return reduceSum(mul(u, i), 2);
  }
  const u = embedding(m, "user_sf", ids("user"), c.userVocab, k, { zeroOov: true }),
    i = embedding(m, "item_sf", ids("item"), c.itemVocab, k, { zeroOov: true });
  return matmul(mul(u, i), m.param("sf.scene_w", [k, T], { kind: "ones" }, { regularize: false }));
}

/** `model` with the term added to its logits. */
export function withSceneFactors(model: ModelFn, c: SceneFactorConfig): ModelFn {
  return (m) => {
    const out = model(m), term = sceneFactors(m, c);
    // a column per scene (scenes as tasks, one scene included): the term's columns; one logit: the row's scene's
    if (out.logits.rank === 2) {
      if (out.logits.shape[1] !== c.scenes) {
        throw new Error(
          `scene factors: logits [${out.logits.shape}] are not one column per scene (${c.scenes})`,
        );
      }
      return { ...out, logits: add(out.logits, term) };
    }
    const scene = m.input("scene_onehot", ["B", c.scenes]); // the row's scene, one-hot
    return { ...out, logits: add(out.logits, reduceSum(mul(term, scene), 1)) };
  };
}
