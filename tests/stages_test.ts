/** Notebooks that wait inside their cells for others running beside them (lib/util/stages.ts). */
import { readStages, unfinishedWaits, waitForStages, writeStages } from "../lib/util/stages.ts";
import { assert, assertEquals, assertRejects } from "./assert.ts";

Deno.test("waiting for stages: at once without a runner; until done; a failure or an undeclared wait is named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ctrlab-stages-" }), run = { runDir: dir, headless: true };
  // no stages.json (a notebook run by hand): nothing to wait for
  assertEquals(readStages(dir), null);
  assertEquals(unfinishedWaits(run, "09_fallback"), []);
  assert(await waitForStages(run, "09_fallback", ["08_fusion"]) < 0.1);

  writeStages(dir, {
    "06_ple": { state: "running", waits: [] },
    "07_text": { state: "done", waits: [] },
    "08_fusion": { state: "running", waits: [] },
    "09_fallback": { state: "running", waits: ["06_ple", "08_fusion"] },
  });
  assertEquals(unfinishedWaits(run, "09_fallback"), ["06_ple", "08_fusion"]);
  // a kernel that is not the runner's (a notebook run by hand) never reads the states
  assertEquals(unfinishedWaits({ runDir: dir, headless: false }, "09_fallback"), []);
  assert(await waitForStages({ runDir: dir, headless: false }, "09_fallback", ["08_fusion"]) < 0.1);
  // a notebook not in this run (rerun with --only, it ran before): nothing to wait for
  assert(await waitForStages(run, "09_fallback", ["05_mmoe"]) < 0.1);
  await assertRejects(
    () => waitForStages(run, "09_fallback", ["07_text"]),
    /which its metadata's ctrlab\.waits does not name/,
  );
  // 08 finishes 0.5 s from now: the wait returns then, not before
  setTimeout(() => {
    const s = readStages(dir)!;
    s["08_fusion"].state = "done";
    writeStages(dir, s);
  }, 500);
  const waited = await waitForStages(run, "09_fallback", ["08_fusion"]);
  assert(waited >= 0.4 && waited < 3, `waited ${waited} s`);
  assertEquals(unfinishedWaits(run, "09_fallback"), ["06_ple"]);
  const s = readStages(dir)!;
  s["06_ple"].state = "failed";
  writeStages(dir, s);
  assertEquals(unfinishedWaits(run, "09_fallback"), ["06_ple"], "a failed one is not done");
  await assertRejects(
    () => waitForStages(run, "09_fallback", ["06_ple", "08_fusion"]),
    /waits for 06_ple, which failed/,
  );
  await Deno.remove(dir, { recursive: true });
});
