/**
 * PLE (Tang et al., RecSys 2020): progressive layered extraction. Each level has shared experts and
 * task-specific experts; a CGC gate per task mixes its own experts with the shared ones, and (below the last
 * level) a shared gate mixes all experts for the next level's shared input. Towers sit on the last level.
 */
import { type CtrInputs, ctrInputs } from "./inputs.ts";
import { linear, type ModelBuilder, towers } from "../graph/nn.ts";
import { concat, matmul, relu, reshape, softmax, type Tensor } from "../graph/tensor.ts";

export interface PleConfig extends CtrInputs {
  tasks: number;
  levels: number;
  sharedExperts: number;
  taskExperts: number;
  expertHidden: number;
  tower: number[];
}

/** K experts of width H on input x, as one matmul: [B, K, H]. */
function experts(m: ModelBuilder, name: string, x: Tensor, k: number, h: number): Tensor {
  return reshape(relu(linear(m, name, x, k * h)), ["B", k, h]);
}

/** Gate over the experts E [B, K, H] driven by x: softmax weights [B, 1, K] @ E → [B, H]. */
function gate(m: ModelBuilder, name: string, x: Tensor, e: Tensor): { out: Tensor; weights: Tensor } {
  const k = e.shape[1] as number, h = e.shape[2] as number;
  const weights = softmax(reshape(linear(m, name, x, k, { init: { kind: "xavier" } }), ["B", 1, k]), -1);
  return { out: reshape(matmul(weights, e), ["B", h]), weights: reshape(weights, ["B", k]) };
}

export function ple(c: PleConfig) {
  return (m: ModelBuilder) => {
    const x = ctrInputs(m, c);
    let taskIn: Tensor[] = Array.from({ length: c.tasks }, () => x);
    let sharedIn = x;
    let gates: Tensor[] = [];
    for (let l = 0; l < c.levels; l++) {
      const shared = experts(m, `l${l}.shared`, sharedIn, c.sharedExperts, c.expertHidden);
      const own = taskIn.map((t, i) => experts(m, `l${l}.task${i}`, t, c.taskExperts, c.expertHidden));
      const cgc = own.map((e, i) => gate(m, `l${l}.gate${i}`, taskIn[i], concat([e, shared], 1)));
      gates = cgc.map((g) => g.weights);
      if (l < c.levels - 1) {
        sharedIn = gate(m, `l${l}.gate_shared`, sharedIn, concat([...own, shared], 1)).out;
      }
      taskIn = cgc.map((g) => g.out);
    }
    const stacked = concat(taskIn.map((h) => reshape(h, [1, "B", c.expertHidden])), 0); // [T, B, H]
    return {
      logits: towers(m, "tower", stacked, c.tower), // a tower per task, batched
      gates: concat(gates.map((g) => reshape(g, ["B", 1, c.taskExperts + c.sharedExperts])), 1),
    };
  };
}
