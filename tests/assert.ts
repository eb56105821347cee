/** Minimal assertions (jsr:@std/assert is unreachable here; node:assert is the portable choice). */
export {
  deepStrictEqual as assertEquals,
  ok as assert,
  rejects as assertRejects,
  throws as assertThrows,
} from "node:assert/strict";

export function assertClose(actual: number, expected: number, tol: number, what = "value"): void {
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new Error(`${what}: expected ${expected} ± ${tol}, got ${actual}`);
  }
}

export function assertBetween(actual: number, lo: number, hi: number, what = "value"): void {
  if (!(actual >= lo && actual <= hi)) {
    throw new Error(`${what}: expected within [${lo}, ${hi}], got ${actual}`);
  }
}

export async function tempDir(prefix: string): Promise<string> {
  return await Deno.makeTempDir({ prefix: `ctrlab-${prefix}-` });
}

/** A reader never sees a JavaScript placeholder: no "undefined" and no "NaN" in text a notebook printed. */
export function assertReadable(text: string, what: string): void {
  const m = /\bundefined\b|\bNaN\b/.exec(text);
  if (m) {
    throw new Error(`${what} prints "${m[0]}": …${text.slice(Math.max(0, m.index - 80), m.index + 20)}…`);
  }
}
