/** The benchmarks' summary of repeated rounds. */

/** The median of repeated measurements (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q), m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
