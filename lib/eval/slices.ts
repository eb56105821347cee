/**
 * Metrics by slice — overall, per scene, by user and item coldness, and scene × coldness — and paired
 * bootstrap intervals for the difference between two models on the same rows. A slice with a single class
 * reports "n/a" with its counts, never a silent NaN.
 */
import { Rng } from "../util/rng.ts";
import { auc, AucRanking, logloss } from "./metrics.ts";
import { timed } from "../util/profile.ts";

export interface Scored {
  labels: ArrayLike<number>;
  probs: ArrayLike<number>;
}

export interface SliceRow {
  slice: string;
  rows: number;
  clicks: number;
  auc: number | "n/a";
  logloss: number;
}

/** Metrics on the rows where `key(i)` equals each distinct value; keys sorted, "all" first when asked. */
export function sliceMetrics(
  s: Scored,
  key: (i: number) => string,
  o: { includeAll?: boolean } = {},
): SliceRow[] {
  return timed("evaluation", () => {
    const groups = new Map<string, number[]>();
    for (let i = 0; i < s.labels.length; i++) {
      const k = key(i);
      const g = groups.get(k);
      if (g) g.push(i);
      else groups.set(k, [i]);
    }
    const row = (name: string, idx: number[]): SliceRow => {
      const y = idx.map((i) => s.labels[i]), p = idx.map((i) => s.probs[i]);
      const clicks = y.reduce((a, b) => a + b, 0);
      const a = auc(y, p);
      return {
        slice: name,
        rows: idx.length,
        clicks,
        auc: Number.isNaN(a) ? "n/a" : a,
        logloss: idx.length ? logloss(y, p) : NaN,
      };
    };
    const out = [...groups.keys()].sort().map((k) => row(k, groups.get(k)!));
    if (o.includeAll) out.unshift(row("all", Array.from({ length: s.labels.length }, (_, i) => i)));
    return out;
  });
}

export interface BootstrapResult {
  aucA: number;
  aucB: number;
  /** AUC(B) − AUC(A) on the full rows. */
  diff: number;
  lo: number;
  hi: number;
  /** Share of resamples where B beats A. */
  pBetter: number;
  resamples: number;
}

/**
 * Paired bootstrap of AUC(B) − AUC(A): rows are resampled with replacement, both models scored on the same
 * resample. Returns the percentile interval at `level`. Each model's scores are sorted once; a resample is a
 * count per row, and its AUC one pass over that order (AucRanking), the same number as scoring a copied resample.
 */
export function pairedBootstrap(
  labels: ArrayLike<number>,
  probsA: ArrayLike<number>,
  probsB: ArrayLike<number>,
  o: { resamples?: number; level?: number; seed?: number } = {},
): BootstrapResult {
  return timed("intervals", () => {
    const R = o.resamples ?? 200, level = o.level ?? 0.95, n = labels.length;
    const rng = new Rng(o.seed ?? 1);
    const diffs: number[] = [];
    const [ra, rb] = [new AucRanking(labels, probsA), new AucRanking(labels, probsB)];
    const w = new Uint32Array(n);
    for (let r = 0; r < R; r++) {
      w.fill(0);
      for (let i = 0; i < n; i++) w[rng.int(n)]++;
      const d = rb.auc(w) - ra.auc(w);
      if (!Number.isNaN(d)) diffs.push(d);
    }

    diffs.sort((p, q) => p - q);
    const q = (f: number) =>
      diffs[Math.min(diffs.length - 1, Math.max(0, Math.round(f * (diffs.length - 1))))];
    const [aucA, aucB] = [ra.auc(), rb.auc()];
    return {
      aucA,
      aucB,
      diff: aucB - aucA,
      lo: q((1 - level) / 2),
      hi: q(1 - (1 - level) / 2),
      pBetter: diffs.filter((d) => d > 0).length / Math.max(1, diffs.length),
      resamples: diffs.length,
    };
  });
}

/** "[lo, hi]" of an interval, to 4 decimals. */
export function fmtInterval(r: { lo: number; hi: number }): string {
  return `[${r.lo.toFixed(4)}, ${r.hi.toFixed(4)}]`;
}

/** "+0.0123 [0.0101, 0.0145]": a difference with its interval. */
export function fmtDelta(r: { diff: number; lo: number; hi: number }): string {
  return `${r.diff >= 0 ? "+" : ""}${r.diff.toFixed(4)} ${fmtInterval(r)}`;
}

export interface ComparisonRow {
  slice: string;
  rows: number;
  aucA: number | "n/a";
  aucB: number | "n/a";
  /** AUC(B) − AUC(A) with its paired-bootstrap interval. */
  diff: number;
  lo: number;
  hi: number;
  verdict: "B better" | "A better" | "no clear difference" | "n/a";
}

/** Model B against model A on the same rows, overall ("all", unless `includeAll` is false) and per slice, with paired bootstrap intervals. */
export function compareBySlice(
  labels: ArrayLike<number>,
  probsA: ArrayLike<number>,
  probsB: ArrayLike<number>,
  key: (i: number) => string,
  o: { resamples?: number; seed?: number; includeAll?: boolean } = {},
): ComparisonRow[] {
  const groups = new Map<string, number[]>(
    o.includeAll === false ? [] : [["all", Array.from({ length: labels.length }, (_, i) => i)]],
  );
  for (let i = 0; i < labels.length; i++) {
    const k = key(i);
    const g = groups.get(k);
    if (g) g.push(i);
    else groups.set(k, [i]);
  }
  const order = [...groups.keys()].sort((
    p,
    q,
  ) => (p === "all" ? -1 : q === "all" ? 1 : p < q ? -1 : p > q ? 1 : 0));
  return order.map((slice) => {
    const idx = groups.get(slice)!;
    const y = idx.map((i) => labels[i]), a = idx.map((i) => probsA[i]), b = idx.map((i) => probsB[i]);
    const clicks = y.reduce((s, v) => s + (v > 0.5 ? 1 : 0), 0);
    if (clicks === 0 || clicks === y.length) {
      return {
        slice,
        rows: idx.length,
        aucA: "n/a",
        aucB: "n/a",
        diff: NaN,
        lo: NaN,
        hi: NaN,
        verdict: "n/a",
      };
    }
    const bs = pairedBootstrap(y, a, b, o);
    const verdict = bs.lo > 0 ? "B better" : bs.hi < 0 ? "A better" : "no clear difference";
    return {
      slice,
      rows: idx.length,
      aucA: bs.aucA,
      aucB: bs.aucB,
      diff: bs.diff,
      lo: bs.lo,
      hi: bs.hi,
      verdict,
    };
  });
}

export interface ModelComparisonRow {
  model: string;
  auc: number;
  logloss: number;
  /** AUC(model) − AUC(baseline) with its 95 % paired-bootstrap interval (0 for the baseline itself). */
  diff: number;
  lo: number;
  hi: number;
  verdict: "better" | "worse" | "no clear difference" | "baseline";
}

/** Several models against one baseline on the same rows: AUC, logloss and the paired-bootstrap ΔAUC interval. */
export function compareModels(
  labels: ArrayLike<number>,
  probs: Record<string, ArrayLike<number>>,
  baseline: string,
  o: { resamples?: number; seed?: number } = {},
): ModelComparisonRow[] {
  const base = probs[baseline];
  if (!base) throw new Error(`compareModels: no predictions for the baseline "${baseline}"`);
  return Object.entries(probs).map(([model, p]) => {
    if (p.length !== labels.length) {
      throw new Error(`compareModels: ${model} has ${p.length} predictions for ${labels.length} rows`);
    }
    const row = { model, auc: auc(labels, p), logloss: logloss(labels, p) };
    if (model === baseline) return { ...row, diff: 0, lo: 0, hi: 0, verdict: "baseline" as const };
    const bs = pairedBootstrap(labels, base, p, o);
    return {
      ...row,
      diff: bs.diff,
      lo: bs.lo,
      hi: bs.hi,
      verdict: bs.lo > 0 ? "better" as const : bs.hi < 0 ? "worse" as const : "no clear difference" as const,
    };
  });
}

/** Per-row values (e.g. a gate's α) grouped by a per-row key, groups in key order: their values, count and mean. */
export function groupValues(
  values: ArrayLike<number>,
  keys: readonly string[],
): { group: string; rows: number; mean: number; values: number[] }[] {
  const groups = new Map<string, number[]>();
  keys.forEach((k, i) => (groups.get(k) ?? groups.set(k, []).get(k)!).push(values[i]));
  return [...groups.keys()].sort().map((group) => {
    const v = groups.get(group)!;
    return { group, rows: v.length, mean: v.reduce((a, b) => a + b, 0) / v.length, values: v };
  });
}
