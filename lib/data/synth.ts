/**
 * Synthetic AntM2C-format ad logs with a known true click probability.
 *
 * The world: users and items carry latent vectors built from topic mixtures (plus idiosyncratic noise), with
 * Zipf-like activity and popularity. A click's log-odds is
 *
 *   β0 + β_scene + b_user + b_user,scene + b_item + drift_item·t + γ · Σ_d m_scene,d · u_d · v_d
 *      + weekend_scene + hour effect
 *
 * so scenes share most of the user–item interaction but weight (and partly invert) its dimensions
 * differently: they genuinely conflict, which is what makes multi-task models worth having. Item text comes
 * from the item's topics and user entity sequences from the user's interests, so text carries signal, most
 * of all for users and items that first appear late in the window (cold start). Scene shares drift over the
 * window, volume has a weekly cycle, item appeal drifts slowly.
 *
 * Output (all under `outDir`): raw CSV logs (`raw/date=YYYY-MM-DD/part-00000.csv`, or one `raw/logs.csv`),
 * `oracle.parquet` (row_id → p_true, never in the logs) and `manifest.json`.
 * Generation streams one day at a time; memory is O(users + items + rows of one day).
 */
import pl from "nodejs-polars";
import { cumulative, Rng, sampleCumulative } from "../util/rng.ts";
import { ENTITY_SEP, RAW_COLUMNS, SCENES } from "./schema.ts";
import { TITLE_PREFIXES, TITLE_SUFFIXES, TOPICS } from "./vocab.ts";
import { encodePng, itemPixels } from "./images.ts";
import { csvField } from "./csv.ts";
import { BUILTIN_HEADERS, DEEP_FEATURES } from "./spec.ts";

export interface SynthOptions {
  /** Total log rows (including corrupt ones). */
  rows: number;
  outDir: string;
  seed?: number;
  days?: number;
  /** First day, YYYY-MM-DD. */
  start?: string;
  users?: number;
  items?: number;
  /** Share of users / items that first appear after day 0. */
  lateUserShare?: number;
  lateItemShare?: number;
  /** Share of rows whose log_time uses `yyyy/M/d H:mm` instead of `yyyy-MM-dd HH:mm:ss`. */
  slashTimeShare?: number;
  /** Probability that a row is corrupted (one defect per corrupt row). */
  corruptRate?: number;
  /**
   * One CSV per day under raw/date=YYYY-MM-DD/ (default), a single raw/logs.csv, or the public AntM2C release's
   * layout: raw/antm2c_10m_part0..2 (no extension), 37 columns with 27 deep_features_* (noisy views of the
   * user's and item's latent vectors, 2 % missing), one time layout.
   */
  layout?: "partitioned" | "single" | "release";
  /**
   * Share of items whose title holds a line break (so their records span two lines, quoted, as exports of
   * free-text fields often do); unset: none, and the logs are as ever.
   */
  titleBreaks?: number;
  onDay?: (day: number, days: number, rowsDone: number) => void;
}

/** Kinds of defects the generator injects, with the ETL reason and column each must produce. */
export const CORRUPTIONS = {
  bad_timestamp: { reason: "bad_value", column: "log_time" },
  missing_label: { reason: "missing_value", column: "label" },
  bad_label: { reason: "bad_value", column: "label" },
  unknown_scene: { reason: "bad_value", column: "scene" },
  wrong_column_count: { reason: "wrong_column_count", column: "" },
  broken_quoting: { reason: "broken_quoting", column: "" },
} as const;
export type Corruption = keyof typeof CORRUPTIONS;

export interface SynthManifest {
  version: number;
  rows: number;
  seed: number;
  days: number;
  start: string;
  users: number;
  items: number;
  files: string[];
  oracle: string;
  clicks: number;
  sceneRows: number[];
  corrupt: Record<Corruption, number>;
  options: Omit<SynthOptions, "onDay" | "outDir">;
}

/** Bumped whenever the generated data would change; cached datasets of another version are regenerated. */
export const GENERATOR_VERSION = 2;

/** Published marginals of the AntM2C 10M release that the generator targets. */
export const TARGET_CTR = 0.34;
export const BASE_SCENE_SHARES = [0.06, 0.26, 0.48, 0.12, 0.08];
const SCENE_DRIFT = [0.35, 0.3, -0.25, 0.15, -0.3]; // log-share change from first to last day
const SCENE_BIAS = [0.35, -0.15, 0.0, 0.25, -0.45];
const WEEKEND_SCENE = [0.25, -0.1, 0.05, 0.2, -0.15];
const HOUR_WEIGHTS = [
  0.3,
  0.2,
  0.1,
  0.1,
  0.1,
  0.2,
  0.5,
  1.0,
  1.4,
  1.2,
  1.1,
  1.3,
  1.5,
  1.2,
  1.0,
  1.0,
  1.1,
  1.3,
  1.5,
  1.7,
  1.8,
  1.6,
  1.1,
  0.6,
];
const DIM = 16;
const GAMMA = 1.1;

export function defaultSizes(rows: number): { users: number; items: number } {
  return { users: Math.max(40, Math.round(rows / 110)), items: Math.max(30, Math.round(rows / 160)) };
}

/** Everything latent about the simulated population. */
interface World {
  nUsers: number;
  nItems: number;
  userVec: Float64Array; // nUsers × DIM
  itemVec: Float64Array; // nItems × DIM
  userBias: Float64Array;
  userSceneBias: Float64Array; // nUsers × 5
  userScenePref: Float64Array; // nUsers × 5
  userActivity: Float64Array;
  userFirstDay: Int32Array;
  userTopic: Int32Array;
  itemBias: Float64Array;
  itemDrift: Float64Array;
  itemPop: Float64Array;
  itemFirstDay: Int32Array;
  itemTopic: Int32Array;
  itemMix: { topics: number[]; weights: number[] }[];
  itemHomeScene: Int32Array;
  sceneMix: Float64Array; // 5 × DIM
  userText: string[]; // CSV-ready "query,service,bill"
  itemText: string[]; // CSV-ready "title,entities"
  beta0: number;
}

function zipfWeights(n: number, exponent: number, rng: Rng): Float64Array {
  const ranks = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i + 1));
  return Float64Array.from(ranks, (r) => Math.pow(r, -exponent));
}

function firstDays(n: number, lateShare: number, days: number, rng: Rng): Int32Array {
  // late arrivals are spread over the window, denser towards its end (new users and items keep coming)
  return Int32Array.from(
    { length: n },
    () => rng.next() < lateShare ? 1 + Math.floor(Math.sqrt(rng.next()) * (days - 1)) : 0,
  );
}

/** A sparse topic mixture: 1–3 topics with decreasing weight. */
function topicMixture(rng: Rng): { topics: number[]; weights: number[] } {
  const k = 1 + Math.floor(rng.next() * rng.next() * 3.2);
  const topics: number[] = [];
  while (topics.length < k) {
    const t = rng.int(TOPICS.length);
    if (!topics.includes(t)) topics.push(t);
  }
  const raw = topics.map((_, i) => Math.pow(0.5, i) * (0.7 + 0.6 * rng.next()));
  const s = raw.reduce((a, b) => a + b, 0);
  return { topics, weights: raw.map((w) => w / s) };
}

function latentFromTopics(
  out: Float64Array,
  row: number,
  mix: { topics: number[]; weights: number[] },
  topicVec: Float64Array,
  noise: number,
  rng: Rng,
) {
  for (let d = 0; d < DIM; d++) {
    let v = noise * rng.normal() / Math.sqrt(DIM);
    for (let j = 0; j < mix.topics.length; j++) v += mix.weights[j] * topicVec[mix.topics[j] * DIM + d];
    out[row * DIM + d] = v;
  }
}

function drawEntities(
  mix: { topics: number[]; weights: number[] },
  n: number,
  offTopic: number,
  rng: Rng,
): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let topic: number;
    if (rng.next() < offTopic) topic = rng.int(TOPICS.length);
    else {
      const u = rng.next();
      let acc = 0;
      topic = mix.topics[mix.topics.length - 1];
      for (let j = 0; j < mix.topics.length; j++) {
        if (u < (acc += mix.weights[j])) {
          topic = mix.topics[j];
          break;
        }
      }
    }
    out.push(rng.pick(TOPICS[topic].entities));
  }
  return out;
}

function poissonish(mean: number, rng: Rng): number {
  // small-mean Poisson by inversion; good enough for list lengths
  const l = Math.exp(-mean);
  let k = 0, p = rng.next();
  while (p > l) {
    k++;
    p *= rng.next();
  }
  return k;
}

function buildWorld(
  o: Required<Omit<SynthOptions, "onDay" | "outDir" | "titleBreaks">> & Pick<SynthOptions, "titleBreaks">,
): World {
  const rng = Rng.derive(o.seed, "world");
  // a stream of its own, so the world's draws are the same with and without title breaks
  const breaks = o.titleBreaks ? Rng.derive(o.seed, "title-breaks") : null;
  const nUsers = o.users, nItems = o.items;
  const topicVec = Float64Array.from(
    { length: TOPICS.length * DIM },
    () => rng.normal() / Math.sqrt(DIM) * 1.6,
  );
  const sceneMix = Float64Array.from({ length: 5 * DIM }, () => 0.75 + 0.8 * rng.normal());

  const userVec = new Float64Array(nUsers * DIM);
  const userTopic = new Int32Array(nUsers);
  const userText: string[] = new Array(nUsers);
  const userBias = new Float64Array(nUsers);
  const userSceneBias = new Float64Array(nUsers * 5);
  const userScenePref = new Float64Array(nUsers * 5);
  for (let u = 0; u < nUsers; u++) {
    const mix = topicMixture(rng);
    userTopic[u] = mix.topics[0];
    latentFromTopics(userVec, u, mix, topicVec, 0.6, rng);
    userBias[u] = 0.5 * rng.normal();
    for (let s = 0; s < 5; s++) {
      userSceneBias[u * 5 + s] = 0.3 * rng.normal();
      userScenePref[u * 5 + s] = Math.exp(0.5 * rng.normal());
    }
    const silent = rng.next() < 0.08; // some users have no entity history at all
    const seq = (mean: number) =>
      silent ? "" : csvField(drawEntities(mix, poissonish(mean, rng), 0.15, rng).join(ENTITY_SEP));
    userText[u] = `${seq(4)},${seq(2.5)},${seq(2)}`;
  }

  const itemVec = new Float64Array(nItems * DIM);
  const itemTopic = new Int32Array(nItems);
  const itemText: string[] = new Array(nItems);
  const itemBias = new Float64Array(nItems);
  const itemDrift = new Float64Array(nItems);
  const itemHomeScene = new Int32Array(nItems);
  const itemMix: World["itemMix"] = [];
  const sceneCum = cumulative(BASE_SCENE_SHARES);
  for (let i = 0; i < nItems; i++) {
    const mix = topicMixture(rng);
    itemTopic[i] = mix.topics[0];
    itemMix.push(mix);
    latentFromTopics(itemVec, i, mix, topicVec, 0.5, rng);
    itemBias[i] = 0.45 * rng.normal();
    itemDrift[i] = 0.4 * rng.normal();
    itemHomeScene[i] = sampleCumulative(sceneCum, rng.next());
    const words = drawEntities(mix, 1 + rng.int(2), 0.05, rng);
    let title = `${rng.pick(TITLE_PREFIXES)}${[...new Set(words)].join("")}${rng.pick(TITLE_SUFFIXES)}`;
    if (breaks && breaks.next() < o.titleBreaks!) {
      title = [...title].map((c, k) => k === 2 ? `\n${c}` : c).join("");
    }
    const ents = [...new Set(drawEntities(mix, 2 + rng.int(3), 0.1, rng))].join(ENTITY_SEP);
    itemText[i] = `${csvField(title)},${csvField(ents)}`;
  }

  const world: World = {
    nUsers,
    nItems,
    userVec,
    itemVec,
    userBias,
    userSceneBias,
    userScenePref,
    userActivity: zipfWeights(nUsers, 0.8, rng),
    userFirstDay: firstDays(nUsers, o.lateUserShare, o.days, rng),
    userTopic,
    itemBias,
    itemDrift,
    itemPop: zipfWeights(nItems, 0.9, rng),
    itemFirstDay: firstDays(nItems, o.lateItemShare, o.days, rng),
    itemTopic,
    itemMix,
    itemHomeScene,
    sceneMix,
    userText,
    itemText,
    beta0: 0,
  };
  world.beta0 = calibrateIntercept(world, o);
  return world;
}

/** Sampling tables for one day: who is active, which items each scene and each topic shows. */
class DaySampler {
  userCum: Float64Array;
  userIdx: Int32Array;
  sceneItemCum: Float64Array[] = [];
  sceneItemIdx: Int32Array[] = [];
  topicItemCum: (Float64Array | null)[] = [];
  topicItemIdx: Int32Array[] = [];
  sceneShares: number[];

  constructor(readonly w: World, readonly day: number, days: number) {
    const f = days > 1 ? day / (days - 1) : 0;
    const raw = BASE_SCENE_SHARES.map((b, s) => b * Math.exp(SCENE_DRIFT[s] * (f - 0.5)));
    const total = raw.reduce((a, b) => a + b, 0);
    this.sceneShares = raw.map((r) => r / total);
    const users = [...Array(w.nUsers).keys()].filter((u) => w.userFirstDay[u] <= day);
    this.userIdx = Int32Array.from(users);
    this.userCum = cumulative(users.map((u) => w.userActivity[u]));
    const items = [...Array(w.nItems).keys()].filter((i) => w.itemFirstDay[i] <= day);
    for (const s of SCENES) {
      this.sceneItemIdx.push(Int32Array.from(items));
      // new items get a launch boost so cold items are actually shown
      this.sceneItemCum.push(
        cumulative(items.map((i) =>
          w.itemPop[i] * (w.itemHomeScene[i] === s ? 1 : 0.15) *
          (day - w.itemFirstDay[i] < 3 && w.itemFirstDay[i] > 0 ? 4 : 1)
        )),
      );
    }
    for (let t = 0; t < TOPICS.length; t++) {
      const pool = items.filter((i) => w.itemTopic[i] === t);
      this.topicItemIdx.push(Int32Array.from(pool));
      this.topicItemCum.push(pool.length ? cumulative(pool.map((i) => w.itemPop[i])) : null);
    }
  }

  user(rng: Rng): number {
    return this.userIdx[sampleCumulative(this.userCum, rng.next())];
  }

  scene(u: number, rng: Rng): number {
    const pref = this.w.userScenePref;
    let total = 0;
    for (let s = 0; s < 5; s++) total += this.sceneShares[s] * pref[u * 5 + s];
    let x = rng.next() * total;
    for (let s = 0; s < 4; s++) if ((x -= this.sceneShares[s] * pref[u * 5 + s]) < 0) return s;
    return 4;
  }

  item(u: number, s: number, rng: Rng): number {
    // 35% of impressions are targeted at the user's main topic, the rest follow the scene's inventory
    const t = this.w.userTopic[u];
    const cum = this.topicItemCum[t];
    if (cum && rng.next() < 0.35) return this.topicItemIdx[t][sampleCumulative(cum, rng.next())];
    return this.sceneItemIdx[s][sampleCumulative(this.sceneItemCum[s], rng.next())];
  }
}

function logitWithoutIntercept(
  w: World,
  u: number,
  i: number,
  s: number,
  day: number,
  days: number,
  weekend: boolean,
  hour: number,
): number {
  let dot = 0;
  const uo = u * DIM, io = i * DIM, so = s * DIM;
  for (let d = 0; d < DIM; d++) dot += w.sceneMix[so + d] * w.userVec[uo + d] * w.itemVec[io + d];
  const f = days > 1 ? day / (days - 1) : 0;
  return SCENE_BIAS[s] + w.userBias[u] + w.userSceneBias[u * 5 + s] + w.itemBias[i] +
    w.itemDrift[i] * (f - 0.5) +
    GAMMA * dot + (weekend ? WEEKEND_SCENE[s] : 0) + 0.15 * Math.cos((hour - 20) / 24 * 2 * Math.PI);
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Intercept β0 such that the mean click probability over the whole window is TARGET_CTR. */
function calibrateIntercept(w: World, o: { seed: number; days: number; start: string }): number {
  const rng = Rng.derive(o.seed, "calibration");
  const logits: number[] = [];
  for (let day = 0; day < o.days; day += Math.max(1, Math.floor(o.days / 10))) {
    const sampler = new DaySampler(w, day, o.days);
    const weekend = isWeekend(o.start, day);
    for (let k = 0; k < 2000; k++) {
      const u = sampler.user(rng), s = sampler.scene(u, rng), i = sampler.item(u, s, rng);
      logits.push(logitWithoutIntercept(w, u, i, s, day, o.days, weekend, rng.int(24)));
    }
  }
  let lo = -6, hi = 6;
  for (let it = 0; it < 50; it++) {
    const mid = (lo + hi) / 2;
    const mean = logits.reduce((a, l) => a + sigmoid(l + mid), 0) / logits.length;
    if (mean > TARGET_CTR) hi = mid;
    else lo = mid;
  }
  return (lo + hi) / 2;
}

function dayDate(start: string, day: number): Date {
  const d = new Date(`${start}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + day);
  return d;
}

function isWeekend(start: string, day: number): boolean {
  const wd = dayDate(start, day).getUTCDay();
  return wd === 0 || wd === 6;
}

export function isoDate(start: string, day: number): string {
  return dayDate(start, day).toISOString().slice(0, 10);
}

/** Rows per day: weekly cycle and slow growth, summing exactly to `rows`. */
function dayVolumes(rows: number, days: number, start: string): number[] {
  const w = Array.from({ length: days }, (_, d) => (isWeekend(start, d) ? 1.15 : 1) * (1 + 0.01 * d));
  const total = w.reduce((a, b) => a + b, 0);
  const n = w.map((x) => Math.floor(rows * x / total));
  let rest = rows - n.reduce((a, b) => a + b, 0);
  for (let d = 0; rest > 0; d = (d + 1) % days, rest--) n[d]++;
  return n;
}

const pad2 = (n: number) => n < 10 ? `0${n}` : `${n}`;

const BAD_TIMES = ["2023-13-45 99:00:00", "not a time", "2023/7/32 25:61", "20230710"];
const BAD_LABELS = ["2", "yes", "-1", "0.5"];
const BAD_SCENES = ["7", "s2", "-1", "5"];

/** Apply one defect to a well-formed row's fields; returns the raw line (no newline). */
function corruptLine(kind: Corruption, f: string[], rng: Rng): string {
  switch (kind) {
    case "bad_timestamp":
      f[3] = rng.pick(BAD_TIMES);
      break;
    case "missing_label":
      f[4] = "";
      break;
    case "bad_label":
      f[4] = rng.pick(BAD_LABELS);
      break;
    case "unknown_scene":
      f[2] = rng.pick(BAD_SCENES);
      break;
    case "wrong_column_count":
      return rng.next() < 0.5 ? f.slice(0, 9).join(",") : [...f, "extra"].join(",");
    case "broken_quoting":
      f[5] = `"${f[5].replaceAll('"', "")}`;
      break; // opening quote never closed
  }
  return f.join(",");
}

/** The ten fields with one defect applied (a wrong field count is applied to the final line instead). */
function splitCorrupted(kind: Corruption, f: string[], rng: Rng): string[] {
  if (kind !== "wrong_column_count") corruptLine(kind, f, rng);
  return f;
}

/** 27 deep features: noisy views of the user's (0–12) and item's (13–26) latent vectors; 2 % are missing. */
function deepFeatures(w: World, u: number, i: number, rng: Rng): string[] {
  return DEEP_FEATURES.map((_, k) => {
    const v = k < 13 ? w.userVec[u * DIM + (k % DIM)] : w.itemVec[i * DIM + ((k - 13) % DIM)];
    return rng.next() < 0.02 ? "" : (v + 0.5 * rng.normal()).toFixed(4);
  });
}

/** A row in the release's column order (user_id, item_id, log_time, label, bill, service, query, entity names, title, scene, deep_features_*). */
function releaseLine(f: string[], deep: string[], kind: Corruption | null): string {
  const cols = [f[0], f[1], f[3], f[4], f[9], f[8], f[7], f[6], f[5], f[2], ...deep];
  if (kind === "wrong_column_count") return cols.slice(0, -1).join(",");
  return cols.join(",");
}

/** Split a generated row (fields built by this module, so quoting is well-formed) into its 10 fields. */
function splitGenerated(line: string): string[] {
  const out: string[] = [];
  let cur = "", q = false;
  for (const ch of line) {
    if (ch === '"') {
      q = !q;
      cur += ch;
    } else if (ch === "," && !q) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Generate the logs, the oracle and the manifest. Deterministic for a given seed and options. */
function resolveOptions(opts: SynthOptions) {
  const o = {
    seed: 7,
    days: 30,
    start: "2023-07-10",
    lateUserShare: 0.2,
    lateItemShare: 0.25,
    slashTimeShare: 0.5,
    corruptRate: 0,
    layout: "partitioned" as const,
    ...defaultSizes(opts.rows),
    ...(opts.layout === "release" ? { slashTimeShare: 0 } : {}),
    ...opts,
  };
  if (!(o.rows > 0) || !Number.isInteger(o.rows)) {
    throw new Error(`synth: rows must be a positive integer, got ${o.rows}`);
  }
  return o;
}

export const IMAGES_DIR = "images";
export const ITEM_TRUTH = "item_truth.parquet";

/**
 * The item pictures (`images/<item_id>.png`, lib/data/images.ts) and the item truth (`item_truth.parquet`:
 * item_id → main latent topic, first day; like the oracle, never in the logs — for judging embeddings).
 * Deterministic from the world, so it can be added to a dataset generated before images existed.
 */
export async function generateItemImages(opts: SynthOptions): Promise<void> {
  const o = resolveOptions(opts);
  const world = buildWorld(o);
  await writeItemImages(world, opts.outDir, o.seed);
}

async function writeItemImages(world: World, outDir: string, seed: number): Promise<void> {
  const dir = `${outDir}/${IMAGES_DIR}`;
  await Deno.mkdir(dir, { recursive: true });
  const rng = Rng.derive(seed, "images");
  for (let i = 0; i < world.nItems; i++) {
    await Deno.writeFile(`${dir}/${i + 1}.png`, encodePng(itemPixels(world.itemMix[i], TOPICS.length, rng)));
  }
  pl.DataFrame({
    item_id: pl.Series("item_id", Int32Array.from({ length: world.nItems }, (_, i) => i + 1)).cast(pl.Int64),
    topic: pl.Series("topic", world.itemTopic),
    first_day: pl.Series("first_day", world.itemFirstDay),
  }).writeParquet(`${outDir}/${ITEM_TRUTH}`);
}

/**
 * The generator writes only into a folder it created: missing, empty, or holding its own manifest.json. Any
 * other folder (a user's logs, say) is refused before anything is written.
 */
export async function assertGeneratorFolder(outDir: string): Promise<void> {
  let entries: string[];
  try {
    entries = [...Deno.readDirSync(outDir)].map((e) => e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  if (entries.length === 0) return;
  let ours = false;
  try {
    const m = JSON.parse(await Deno.readTextFile(`${outDir}/manifest.json`));
    ours = typeof m.version === "number" && typeof m.rows === "number" && typeof m.oracle === "string";
  } catch { /* no manifest: not ours */ }
  if (!ours) {
    throw new Error(
      `generate: ${outDir} is not empty and was not written by ctrlab's generator (no generator manifest.json); refusing to write there`,
    );
  }
}

export async function generateLogs(opts: SynthOptions): Promise<SynthManifest> {
  const o = resolveOptions(opts);
  const { onDay: _onDay, outDir: _outDir, ...options } = o;
  await assertGeneratorFolder(opts.outDir);
  const world = buildWorld(o);
  const rawDir = `${opts.outDir}/raw`;
  await Deno.remove(rawDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(rawDir, { recursive: true });

  const release = o.layout === "release";
  const header = (release ? BUILTIN_HEADERS.antm2c : RAW_COLUMNS).join(",") + "\n";
  const encoder = new TextEncoder();
  const oracle = new Float32Array(o.rows);
  const sceneRows = [0, 0, 0, 0, 0];
  const corrupt = Object.fromEntries(Object.keys(CORRUPTIONS).map((k) => [k, 0])) as Record<
    Corruption,
    number
  >;
  const corruptKinds = Object.keys(CORRUPTIONS) as Corruption[];
  const files: string[] = [];
  const volumes = dayVolumes(o.rows, o.days, o.start);
  const hourCum = cumulative(HOUR_WEIGHTS);
  let rowId = 0, clicks = 0;
  let file: Deno.FsFile | null = null;
  const open = (path: string) => {
    file?.close();
    Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    file = Deno.openSync(path, { write: true, create: true, truncate: true });
    file.writeSync(encoder.encode(header));
    files.push(path.slice(rawDir.length + 1));
  };
  const writeAll = (s: string) => {
    const bytes = encoder.encode(s);
    for (let off = 0; off < bytes.length;) off += file!.writeSync(bytes.subarray(off));
  };
  if (o.layout === "single") open(`${rawDir}/logs.csv`);
  const RELEASE_PARTS = 3;

  for (let day = 0; day < o.days; day++) {
    const rng = Rng.derive(o.seed, `day-${day}`);
    const sampler = new DaySampler(world, day, o.days);
    const weekend = isWeekend(o.start, day);
    const date = dayDate(o.start, day);
    const ymd = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()];
    const dash = `${ymd[0]}-${pad2(ymd[1])}-${pad2(ymd[2])}`;
    const slash = `${ymd[0]}/${ymd[1]}/${ymd[2]}`;
    if (o.layout === "partitioned") open(`${rawDir}/date=${dash}/part-00000.csv`);
    if (
      release &&
      (day === 0 ||
        Math.floor(day * RELEASE_PARTS / o.days) !== Math.floor((day - 1) * RELEASE_PARTS / o.days))
    ) {
      open(`${rawDir}/antm2c_10m_part${Math.floor(day * RELEASE_PARTS / o.days)}`);
    }
    // impression times first, sorted, so each day's file is in time order
    const n = volumes[day];
    const secs = new Float64Array(n);
    for (let k = 0; k < n; k++) secs[k] = sampleCumulative(hourCum, rng.next()) * 3600 + rng.int(3600);
    secs.sort();
    let chunk: string[] = [];
    for (let k = 0; k < n; k++, rowId++) {
      const t = secs[k], hour = Math.floor(t / 3600), minute = Math.floor(t / 60) % 60, second = t % 60;
      const u = sampler.user(rng), s = sampler.scene(u, rng), i = sampler.item(u, s, rng);
      const p = sigmoid(
        world.beta0 + logitWithoutIntercept(world, u, i, s, day, o.days, weekend, hour + minute / 60),
      );
      const label = rng.next() < p ? 1 : 0;
      oracle[rowId] = p;
      const time = rng.next() < o.slashTimeShare
        ? `${slash} ${hour}:${pad2(minute)}`
        : `${dash} ${pad2(hour)}:${pad2(minute)}:${pad2(second)}`;
      let line = `${u + 1},${i + 1},${s},${time},${label},${world.itemText[i]},${world.userText[u]}`;
      const isCorrupt = o.corruptRate > 0 && rng.next() < o.corruptRate;
      const kind = isCorrupt ? rng.pick(corruptKinds) : null;
      if (release) {
        line = releaseLine(
          kind ? splitCorrupted(kind, splitGenerated(line), rng) : splitGenerated(line),
          deepFeatures(world, u, i, rng),
          kind,
        );
      } else if (kind) line = corruptLine(kind, splitGenerated(line), rng);
      if (kind) corrupt[kind]++;
      else {
        sceneRows[s]++;
        clicks += label;
      }
      chunk.push(line);
      if (chunk.length === 20000) {
        writeAll(chunk.join("\n") + "\n");
        chunk = [];
      }
    }
    if (chunk.length) writeAll(chunk.join("\n") + "\n");
    opts.onDay?.(day + 1, o.days, rowId);
  }
  (file as Deno.FsFile | null)?.close();

  const oraclePath = `${opts.outDir}/oracle.parquet`;
  pl.DataFrame({
    row_id: pl.Series("row_id", Float64Array.from({ length: o.rows }, (_, k) => k)).cast(pl.Int64),
    p_true: pl.Series("p_true", oracle),
  })
    .writeParquet(oraclePath);
  const manifest: SynthManifest = {
    version: GENERATOR_VERSION,
    rows: o.rows,
    seed: o.seed,
    days: o.days,
    start: o.start,
    users: o.users,
    items: o.items,
    files,
    oracle: "oracle.parquet",
    clicks,
    sceneRows,
    corrupt,
    options,
  };
  await writeItemImages(world, opts.outDir, o.seed);
  await Deno.writeTextFile(`${opts.outDir}/manifest.json`, JSON.stringify(manifest, null, 2));
  return manifest;
}
