/**
 * The run's results registry: every model notebook appends rows (model, split, metrics); later notebooks and
 * the final report read them. Stored as JSON lines in <runDir>/results.jsonl (one row a line). A notebook that
 * starts again drops its own earlier rows first (`dropResults`), so a rerun replaces its results, never doubles them.
 * Notebooks may run side by side (lib/report/run.ts), so writes hold a lock on results.lock, and readers get
 * the rows in stage order whatever order the stages finished in.
 */
import { timed } from "../util/profile.ts";

export interface ResultRow {
  stage: string;
  model: string;
  split: "val" | "test";
  slice: string;
  rows: number;
  auc: number;
  logloss: number;
  /** Bayes-optimal AUC on the same rows, from the generator's true probabilities. */
  oracleAuc?: number;
  extra?: Record<string, number | string>;
  recordedAt?: string;
}

export const RESULTS_FILE = "results.jsonl";

export async function appendResults(runDir: string, rows: ResultRow[]): Promise<void> {
  return timed("writing", async () => {
    await Deno.mkdir(runDir, { recursive: true });
    const text = rows.map((r) =>
      JSON.stringify({ ...r, recordedAt: r.recordedAt ?? new Date().toISOString() }) + "\n"
    )
      .join("");
    locked(runDir, () => Deno.writeTextFileSync(`${runDir}/${RESULTS_FILE}`, text, { append: true }));
  });
}

/** Remove a stage's rows (a notebook calls this as it starts); returns how many were removed. */
export function dropResults(runDir: string, stage: string): number {
  return locked(runDir, () => {
    const rows = readResults(runDir);
    const kept = rows.filter((r) => r.stage !== stage);
    if (kept.length < rows.length) {
      Deno.writeTextFileSync(`${runDir}/${RESULTS_FILE}`, kept.map((r) => JSON.stringify(r) + "\n").join(""));
    }
    return rows.length - kept.length;
  });
}

/** The rows in stage order (stable: within a stage, in the order they were recorded). */
export function readResults(runDir: string): ResultRow[] {
  try {
    return Deno.readTextFileSync(`${runDir}/${RESULTS_FILE}`).split("\n").filter(Boolean)
      .map((l) => JSON.parse(l) as ResultRow)
      .sort((a, b) => a.stage < b.stage ? -1 : a.stage > b.stage ? 1 : 0);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/** `fn` under an exclusive lock on <runDir>/results.lock (notebooks running side by side share the registry). */
function locked<T>(runDir: string, fn: () => T): T {
  Deno.mkdirSync(runDir, { recursive: true });
  const f = Deno.openSync(`${runDir}/results.lock`, { create: true, write: true });
  try {
    f.lockSync(true);
    return fn();
  } finally {
    f.close(); // closing releases the lock
  }
}
