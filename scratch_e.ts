import { runEtl } from "/work/main/lib/data/etl.ts";
import { generateLogs } from "/work/main/lib/data/synth.ts";
await Deno.remove("/tmp/gen", { recursive: true }).catch(() => {});
const m = await generateLogs({ rows: 200000, seed: 3, corruptRate: 0.01, outDir: "/tmp/gen" });
const t = performance.now();
const r = await runEtl({ input: "/tmp/gen/raw", output: "/tmp/gen/clean" });
console.log(r.rowsRead, r.rowsWritten, r.rowsQuarantined, r.byReason, r.scenes, (performance.now() - t) / 1000, m.corrupt);
