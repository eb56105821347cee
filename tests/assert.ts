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
