/**
 * Where each notebook of a run stands, for notebooks that run side by side: the notebook runner
 * (lib/report/run.ts) writes `<run>/stages.json` whenever a notebook starts, finishes its cells or fails, and a
 * notebook that started before one it reads from (its metadata's `ctrlab.waits`) waits here until that one is
 * done. The file lives only while the runner runs (it removes it at the end), and only headless kernels (the
 * runner's) look at it: a notebook run by hand waits for nothing, what it reads must exist already.
 */
import { timed } from "./profile.ts";

export type StageState = "waiting" | "running" | "done" | "failed";

/** Per notebook of the run: its state, and the notebooks it may wait for inside its cells. */
export type RunStages = Record<string, { state: StageState; waits: string[] }>;

export const stagesPath = (runDir: string) => `${runDir}/stages.json`;

export function readStages(runDir: string): RunStages | null {
  try {
    return JSON.parse(Deno.readTextFileSync(stagesPath(runDir)));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** Replace the file in one step (a rename), so a reader never sees half of it. */
export function writeStages(runDir: string, stages: RunStages): void {
  const tmp = `${stagesPath(runDir)}.tmp`;
  Deno.writeTextFileSync(tmp, JSON.stringify(stages, null, 1));
  Deno.renameSync(tmp, stagesPath(runDir));
}

const POLL_MS = 200;

/** Whose run: its folder, and whether this kernel is the runner's (headless); only then are there states to read. */
export type RunOf = { runDir: string; headless: boolean };

const statesOf = (run: RunOf) => run.headless ? readStages(run.runDir) : null;

/**
 * Wait until every notebook in `names` that is part of the run is done, for `stage` (which must declare them in
 * its metadata's `ctrlab.waits`). Returns the seconds waited; throws when one of them failed. Not the runner's
 * kernel: at once.
 */
export function waitForStages(run: RunOf, stage: string, names: string[]): Promise<number> {
  return timed("waiting", () => poll(run, stage, names));
}

async function poll(run: RunOf, stage: string, names: string[]): Promise<number> {
  const t0 = performance.now();
  for (let s = statesOf(run); s; s = statesOf(run)) {
    names = names.filter((n) => n in s); // the others are not in this run: they ran before it, or never
    const undeclared = names.filter((n) => !(s[stage]?.waits ?? []).includes(n));
    if (undeclared.length) {
      throw new Error(
        `${stage} waits for ${undeclared.join(", ")}, which its metadata's ctrlab.waits does not name ` +
          "(the runner starts what is named there first)",
      );
    }
    const failed = names.filter((n) => s[n]?.state === "failed");
    if (failed.length) throw new Error(`${stage} waits for ${failed.join(", ")}, which failed`);
    if (names.every((n) => s[n]?.state === "done")) break;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return (performance.now() - t0) / 1000;
}

/** The notebooks `stage` may wait for that are not done yet, failed ones included (none outside the runner). */
export function unfinishedWaits(run: RunOf, stage: string): string[] {
  const s = statesOf(run);
  return (s?.[stage]?.waits ?? []).filter((n) => s![n]?.state !== "done");
}
