/** Gradient checks: autodiff gradients against central finite differences, both in float64. */
import { gradients } from "./grad.ts";
import { type Arr, evaluate } from "./interp.ts";
import type { Tensor } from "./tensor.ts";
import { Rng } from "../util/rng.ts";

export interface GradCheckResult {
  param: string;
  checked: number;
  maxAbsErr: number;
  maxRelErr: number;
}

/**
 * For each param, compare d(loss)/d(param) from the backward graph with (L(p+h) − L(p−h)) / 2h on up to
 * `samples` randomly chosen elements. Sparse-marked params are checked through their dense equivalent.
 */
export function gradCheck(
  loss: Tensor,
  params: Tensor[],
  feeds: Record<string, Arr>,
  o: { h?: number; samples?: number; seed?: number } = {},
): GradCheckResult[] {
  const h = o.h ?? 1e-5;
  const rng = new Rng(o.seed ?? 1);
  const g = gradients(loss, params);
  const analytic = evaluate(params.map((p) => g.dense.get(p)!), feeds);
  const lossAt = () => evaluate([loss], feeds)[0].data[0];
  return params.map((p, k) => {
    const v = feeds[p.name!];
    const n = v.data.length;
    const picks = n <= (o.samples ?? 24)
      ? [...Array(n).keys()]
      : Array.from({ length: o.samples ?? 24 }, () => rng.int(n));
    let maxAbs = 0, maxRel = 0;
    for (const i of picks) {
      const orig = v.data[i];
      v.data[i] = orig + h;
      const up = lossAt();
      v.data[i] = orig - h;
      const down = lossAt();
      v.data[i] = orig;
      const numeric = (up - down) / (2 * h);
      const a = analytic[k].data[i];
      const abs = Math.abs(a - numeric);
      maxAbs = Math.max(maxAbs, abs);
      maxRel = Math.max(maxRel, abs / Math.max(1e-6, Math.abs(a) + Math.abs(numeric)));
    }
    return { param: p.name!, checked: picks.length, maxAbsErr: maxAbs, maxRelErr: maxRel };
  });
}
