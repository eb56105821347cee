/** Ranking and probability metrics with the names FuxiCTR and DeepCTR users know. */

/** Exact ROC-AUC (Mann–Whitney with average ranks for ties). NaN when only one class is present. */
export function auc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  return new AucRanking(labels, scores).auc();
}

/**
 * Rows sorted once by score, tied scores grouped: the AUC of any weighting of the rows (row i counted w[i] times)
 * is then one pass, with no sort — what a bootstrap needs, since a resample is a weighting. A tied positive–negative
 * pair counts ½ (average ranks). With whole-number weights every partial sum is a whole or half number, so the
 * result is the same double as sorting the resampled copy.
 */
export class AucRanking {
  /** Row indices in ascending score order. */
  readonly order: Uint32Array;
  /** 1 where the row at that place in `order` is a click. */
  readonly positive: Uint8Array;
  /** 1 where a run of tied scores starts at that place in `order`. */
  readonly runStart: Uint8Array;

  constructor(labels: ArrayLike<number>, scores: ArrayLike<number>) {
    const n = labels.length;
    if (scores.length !== n) throw new Error(`auc: ${n} labels but ${scores.length} scores`);
    const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
    this.order = order;
    this.positive = Uint8Array.from(order, (i) => (labels[i] > 0.5 ? 1 : 0));
    this.runStart = Uint8Array.from(order, (i, k) => (k === 0 || scores[i] !== scores[order[k - 1]] ? 1 : 0));
  }

  /** AUC with row weights (default 1); NaN when either class has no weight. */
  auc(w?: ArrayLike<number>): number {
    const { order, positive, runStart } = this, n = order.length;
    let neg = 0, pos = 0, num = 0, wp = 0, wn = 0; // wp, wn: the current run of ties
    for (let k = 0; k < n; k++) {
      if (runStart[k]) {
        num += wp * (neg + wn / 2);
        neg += wn;
        pos += wp;
        wp = wn = 0;
      }
      const wi = w ? w[order[k]] : 1;
      if (positive[k]) wp += wi;
      else wn += wi;
    }
    num += wp * (neg + wn / 2);
    neg += wn;
    pos += wp;
    return pos === 0 || neg === 0 ? NaN : num / (pos * neg);
  }
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
