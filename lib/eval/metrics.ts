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
    for (let k = i; k <= j; k++) if (labels[order[k]] > 0.5) { pos++; rankSumPos += avgRank; }
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
