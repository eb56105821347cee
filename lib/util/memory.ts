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
