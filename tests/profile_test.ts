/** Time profiles: phases are exclusive (an inner phase's time is not its outer one's), survive throws, and land on disk. */
import { profile, profileTo, timed } from "../lib/util/profile.ts";
import { assert, assertEquals, tempDir } from "./assert.ts";

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* spin */ }
};

Deno.test("timed: nested phases count exclusively, async ones too, and the totals are written after each outer phase", async () => {
  const dir = await tempDir("profile");
  profileTo(`${dir}/p.json`);
  assertEquals(JSON.parse(Deno.readTextFileSync(`${dir}/p.json`)), {});
  const out = timed("training", () => {
    busy(60);
    timed("evaluation", () => busy(150));
    return 7;
  });
  assertEquals(out, 7);
  await timed("writing", async () => {
    await new Promise((r) => setTimeout(r, 30));
    await timed("intervals", () => new Promise((r) => setTimeout(r, 30)));
  });
  const p = profile();
  // inclusive timing would give training ≥ 0.21 s and writing ≥ 0.06 s
  assert(p.training! >= 0.058 && p.training! < 0.15, `training ${p.training}`);
  assert(p.evaluation! >= 0.148, `evaluation ${p.evaluation}`);
  assert(p.writing! >= 0.028 && p.writing! < 0.055 && p.intervals! >= 0.028, JSON.stringify(p));
  assertEquals(JSON.parse(Deno.readTextFileSync(`${dir}/p.json`)), p);
  // a throwing phase still ends (its time counted), and the one around it resumes
  try {
    timed("data", () => {
      busy(20);
      throw new Error("bad file");
    });
  } catch { /* expected */ }
  timed("charts", () => busy(10));
  const q = profile();
  assert(q.data! >= 0.018 && q.charts! >= 0.009, JSON.stringify(q));
  profileTo(null);
  assertEquals(profile(), {});
});
