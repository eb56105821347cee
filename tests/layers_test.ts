/**
 * lib/ layers import only downward (the order ARCHITECTURE.md states), and no module imports itself through
 * a cycle. Reads every relative import of every lib/ file.
 */
import { REPO_ROOT } from "../lib/config.ts";
import { assert, assertEquals } from "./assert.ts";

/** Bottom to top: a layer may import its own folder and the layers before it. `config` is lib/config.ts. */
export const LAYERS = [
  "util",
  "config",
  "viz",
  "data",
  "features",
  "eval",
  "graph",
  "models",
  "text",
  "train",
  "embed",
  "experiment",
  "serve",
  "report",
];

const LIB = `${REPO_ROOT}/lib`;

function libFiles(dir = LIB): string[] {
  return [...Deno.readDirSync(dir)].flatMap((e) =>
    e.isDirectory ? libFiles(`${dir}/${e.name}`) : e.name.endsWith(".ts") ? [`${dir}/${e.name}`] : []
  );
}

/** Relative imports (static and dynamic, `import type` included) of a file, resolved to absolute paths. */
function importsOf(file: string): string[] {
  const text = Deno.readTextFileSync(file);
  const specs = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/g),
    ...text.matchAll(/import\(\s*"(\.[^"]+)"\s*\)/g),
  ].map((m) => m[1]);
  return specs.map((s) => new URL(s, `file://${file}`).pathname);
}

const layerOf = (file: string) =>
  file === `${LIB}/config.ts` ? "config" : file.slice(LIB.length + 1).split("/")[0];

Deno.test("every lib/ folder has a place in the layer order", () => {
  const folders = new Set(libFiles().map(layerOf));
  assertEquals(
    [...folders].filter((f) => !LAYERS.includes(f)),
    [],
    "add new folders to LAYERS and ARCHITECTURE.md",
  );
});

Deno.test("lib/ layers import only downward", () => {
  const upward: string[] = [];
  for (const f of libFiles()) {
    for (const target of importsOf(f)) {
      if (!target.startsWith(`${LIB}/`)) continue;
      const [from, to] = [LAYERS.indexOf(layerOf(f)), LAYERS.indexOf(layerOf(target))];
      if (to > from) {
        upward.push(
          `${f.slice(LIB.length + 1)} → ${target.slice(LIB.length + 1)} (${LAYERS[from]} imports ${
            LAYERS[to]
          })`,
        );
      }
    }
  }
  assertEquals(upward, []);
});

Deno.test("no import cycle between lib/ modules", () => {
  const graph = new Map(libFiles().map((f) => [f, importsOf(f).filter((t) => t.startsWith(`${LIB}/`))]));
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (f: string, path: string[]) => {
    if (state.get(f) === "done") return;
    if (state.get(f) === "open") {
      cycles.push([...path.slice(path.indexOf(f)), f].map((p) => p.slice(LIB.length + 1)).join(" → "));
      return;
    }
    state.set(f, "open");
    for (const t of graph.get(f) ?? []) visit(t, [...path, f]);
    state.set(f, "done");
  };
  for (const f of graph.keys()) visit(f, []);
  assertEquals(cycles, []);
});

Deno.test("the import reader sees imports (the checks above cannot pass vacuously)", () => {
  const edges = libFiles().reduce((n, f) => n + importsOf(f).length, 0);
  assert(edges > 100, `only ${edges} imports found`);
  assert(importsOf(`${LIB}/experiment/run.ts`).includes(`${LIB}/train/session.ts`));
});

Deno.test("lib reads no CTRLAB_* environment variable outside lib/config.ts", () => {
  const readers = libFiles().filter((f) =>
    f !== `${LIB}/config.ts` && /Deno\.env\.get\(\s*["'`]CTRLAB_/.test(Deno.readTextFileSync(f))
  );
  assertEquals(readers.map((f) => f.slice(LIB.length + 1)), []);
});
