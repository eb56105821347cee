/**
 * Where a notebook's time goes. Library code wraps its work in `timed(phase, fn)`; time is exclusive (a phase
 * entered inside another counts for the inner one only, so validation inside training counts as evaluation),
 * and the totals land in a small JSON file after each outermost phase ends (`profileTo`), which the notebook
 * runner reads when the kernel is done. Outside a notebook nothing is written; the totals are still kept.
 */

/** The phases, in the order charts stack them. */
export const PHASES = [
  "data",
  "features",
  "training",
  "evaluation",
  "intervals",
  "charts",
  "writing",
  "waiting",
] as const;
export type Phase = typeof PHASES[number];
export type Profile = Partial<Record<Phase, number>>;

const totals: Record<string, number> = {};
const open: { phase: Phase; since: number }[] = [];
let sink: string | null = null;

/** Write the totals (seconds per phase) to `path` from now on; the totals start from zero. */
export function profileTo(path: string | null): void {
  sink = path;
  for (const k of Object.keys(totals)) delete totals[k];
  if (sink) Deno.writeTextFileSync(sink, "{}");
}

/** Seconds spent so far in each phase. */
export function profile(): Profile {
  return Object.fromEntries(
    PHASES.filter((p) => totals[p]).map((p) => [p, Math.round(totals[p] * 1000) / 1e6]),
  );
}

/** Add seconds measured elsewhere (experiments trained in child processes) to the phases. */
export function credit(p: Profile): void {
  for (const [phase, s] of Object.entries(p)) if (s) totals[phase] = (totals[phase] ?? 0) + s * 1000;
  if (!open.length) save();
}

function save() {
  if (!sink) return;
  try {
    Deno.writeTextFileSync(sink, JSON.stringify(profile()));
  } catch { /* a missing run folder must not fail the work being timed */ }
}

function enter(phase: Phase) {
  const now = performance.now(), top = open[open.length - 1];
  if (top) totals[top.phase] = (totals[top.phase] ?? 0) + now - top.since;
  const entry = { phase, since: now };
  open.push(entry);
  return entry;
}

function leave(entry: { phase: Phase; since: number }) {
  const now = performance.now(), i = open.lastIndexOf(entry);
  if (i < 0) return;
  if (i === open.length - 1) totals[entry.phase] = (totals[entry.phase] ?? 0) + now - entry.since;
  open.splice(i, 1);
  const top = open[open.length - 1];
  if (top && i === open.length) top.since = now;
  if (!open.length) save();
}

/** Run `fn` (sync or async) as `phase`; its result is returned unchanged. */
export function timed<T>(phase: Phase, fn: () => T): T {
  const entry = enter(phase);
  let out: T;
  try {
    out = fn();
  } catch (e) {
    leave(entry);
    throw e;
  }
  if (out instanceof Promise) return out.finally(() => leave(entry)) as T;
  leave(entry);
  return out;
}
