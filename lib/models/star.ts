/**
 * STAR (Sheng et al., CIKM 2021), the star-topology multi-scenario model: every scene has its own fully
 * connected network whose weights are the shared weights multiplied element-wise by the scene's
 * (W_s = W_shared ⊙ W_scene, b_s = b_shared + b_scene), so scenes share what transfers and keep what differs;
 * a partitioned normalisation (batch-standardised inputs, then a shared × per-scene scale and a shared +
 * per-scene shift); and an auxiliary network whose per-scene head adds a scene-specific logit. All scenes'
 * networks run as batched matmuls ([T, B, ·]); each row's loss reads its own scene's column (scenes as tasks).
 */
import { batchStandardize, mlp, type ModelBuilder } from "../graph/nn.ts";
import { add, matmul, mul, relu, reshape, type Tensor, transpose } from "../graph/tensor.ts";
import { type CtrInputs, ctrInputs } from "./inputs.ts";

export interface StarConfig extends CtrInputs {
  tasks: number;
  /** Hidden sizes of the star network (its output layer adds one unit). */
  hidden: number[];
  /** Hidden sizes of the auxiliary network (its head has one unit per scene). */
  aux: number[];
}

/** One star layer: x [T, B, in] → [T, B, out] with W_t = W_shared ⊙ W_t, b_t = b_shared + b_t. */
function starLayer(
  m: ModelBuilder,
  name: string,
  x: Tensor,
  tasks: number,
  out: number,
  last: boolean,
): Tensor {
  const inDim = x.shape[2] as number;
  const shared = m.param(`${name}.w_shared`, [1, inDim, out], { kind: last ? "xavier" : "he" });
  const scene = m.param(`${name}.w_scene`, [tasks, inDim, out], { kind: "ones" });
  const bias = add(
    m.param(`${name}.b_shared`, [1, 1, out], { kind: "zeros" }, { regularize: false }),
    m.param(`${name}.b_scene`, [tasks, 1, out], { kind: "zeros" }, { regularize: false }),
  );
  const y = add(matmul(x, mul(shared, scene)), bias);
  return last ? y : relu(y);
}

export function star(c: StarConfig) {
  return (m: ModelBuilder) => {
    const x = ctrInputs(m, c), T = c.tasks, d = x.shape[1] as number;
    // partitioned normalisation: standardised with batch (running, at inference) statistics, then scaled and shifted per scene
    const gamma = mul(
      m.param("pn.gamma_shared", [1, 1, d], { kind: "ones" }, { regularize: false }),
      m.param("pn.gamma_scene", [T, 1, d], { kind: "ones" }, { regularize: false }),
    );
    const beta = add(
      m.param("pn.beta_shared", [1, 1, d], { kind: "zeros" }, { regularize: false }),
      m.param("pn.beta_scene", [T, 1, d], { kind: "zeros" }, { regularize: false }),
    );
    let h = add(mul(reshape(batchStandardize(m, "pn", x), [1, "B", d]), gamma), beta); // [T, B, d]
    [...c.hidden, 1].forEach((n, i) => h = starLayer(m, `star.${i}`, h, T, n, i === c.hidden.length));
    const main = transpose(reshape(h, [T, "B"]), [1, 0]); // [B, T]
    const aux = mlp(m, "aux", x, [...c.aux, T]); // [B, T]: a head per scene
    return { logits: add(main, aux) };
  };
}
