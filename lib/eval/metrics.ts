/** Ranking and probability metrics with the names FuxiCTR and DeepCTR users know. */

/** Exact ROC-AUC (Mann–Whitney with average ranks for ties). NaN when only one class is present. */
export function auc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = labels.length;
  if (scores.length !== n) throw new Error(`auc: ${n} labels but ${scores.length} scores`);
  const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let pos = 0, rankSumPos = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]] > 0.5) {
        pos++;
        rankSumPos += avgRank;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSumPos - pos * (pos + 1) / 2) / (pos * neg);
}

/** Mean binary cross-entropy, probabilities clipped to [eps, 1 − eps]. */
export function logloss(labels: ArrayLike<number>, probs: ArrayLike<number>, eps = 1e-7): number {
  let s = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(1 - eps, Math.max(eps, probs[i]));
    s -= labels[i] > 0.5 ? Math.log(p) : Math.log(1 - p);
  }
  return s / labels.length;
}

/**
 * gAUC (DIN-style): the impression-weighted mean of per-group (per-user) AUCs, over groups that have both
 * a click and a non-click. Returns NaN when no group qualifies.
 */
export function gauc(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  groups: ArrayLike<number | bigint>,
): number {
  const by = new Map<number | bigint, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const g = by.get(groups[i]);
    if (g) g.push(i);
    else by.set(groups[i], [i]);
  }
  let num = 0, den = 0;
  for (const idx of by.values()) {
    const a = auc(idx.map((i) => labels[i]), idx.map((i) => scores[i]));
    if (Number.isNaN(a)) continue;
    num += a * idx.length;
    den += idx.length;
  }
  return den ? num / den : NaN;
}

export interface CalibrationBin {
  lo: number;
  hi: number;
  rows: number;
  meanPredicted: number;
  observedCtr: number;
}

/** Predicted vs observed CTR in equal-width probability bins, and the expected calibration error. */
export function calibration(
  labels: ArrayLike<number>,
  probs: ArrayLike<number>,
  bins = 10,
): { bins: CalibrationBin[]; ece: number } {
  const n = new Float64Array(bins), sp = new Float64Array(bins), sy = new Float64Array(bins);
  for (let i = 0; i < labels.length; i++) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(probs[i] * bins)));
    n[b]++;
    sp[b] += probs[i];
    sy[b] += labels[i];
  }
  let ece = 0;
  const out: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    if (!n[b]) continue;
    out.push({
      lo: b / bins,
      hi: (b + 1) / bins,
      rows: n[b],
      meanPredicted: sp[b] / n[b],
      observedCtr: sy[b] / n[b],
    });
    ece += (n[b] / labels.length) * Math.abs(sp[b] / n[b] - sy[b] / n[b]);
  }
  return { bins: out, ece };
}
