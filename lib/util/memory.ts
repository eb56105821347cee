/**
 * nodejs-polars frames live in native memory that V8 does not see, so unreachable frames can pile up until
 * a garbage collection that V8 sees no reason to run. Big pipelines await `releaseMemory()` between phases;
 * it collects when the runtime exposes gc (the scripts and the kernelspec set DENO_V8_FLAGS=--expose-gc)
 * and does nothing otherwise.
 */
export async function releaseMemory(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  // native finalizers run on a later turn of the event loop: collect, yield, and collect what they freed
  for (let i = 0; i < 2; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 0));
  }
}

/** Peak resident memory of this process so far (VmHWM), in bytes; NaN where /proc is unavailable. */
export function peakRss(): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+) kB/);
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Resident memory of a process and all its descendants now (bytes; Linux /proc), e.g. a Spark driver's JVM under Python. */
export function treeRss(pid: number): number {
  const children = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const p = Number(e.name), ppid = Number(fields[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), p]);
      rss.set(p, Number(fields[21]) * 4096); // rss in pages
    } catch { /* the process ended meanwhile */ }
  }
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    total += rss.get(p) ?? 0;
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}
