/**
 * The training loop: epochs over shuffled batches, validation AUC/logloss after each epoch, early stopping
 * with best-weights restore, reduce-on-plateau, progress, a per-epoch history, checkpoints with exact resume
 * (params, optimizer state, step, epoch, learning rate), and a stop that names the step when the loss is
 * NaN or infinite.
 */
import { auc, logloss } from "../eval/metrics.ts";
import { sliceMetrics } from "../eval/slices.ts";
import { progress } from "../viz/progress.ts";
import type { TableData } from "./data.ts";
import { type Snapshot, TrainSession } from "./session.ts";
import { timed } from "../util/profile.ts";

export interface FitOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  /** Shuffling seed (the init seed is the session's). */
  seed?: number;
  /** Stop after this many epochs without a better validation AUC, and restore the best weights. */
  patience?: number;
  /** Multiply the learning rate by `factor` after `patience` epochs without improvement. */
  reduceOnPlateau?: { factor: number; patience: number; minLr?: number };
  /** Read the loss every N steps (CPU backends read it every step anyway: it costs nothing there). */
  lossEvery?: number;
  /** Save a checkpoint after every epoch to this path prefix (.json + .bin). */
  checkpoint?: string;
  /** Resume from a checkpoint written by an earlier fit. */
  resume?: string;
  /** Progress label; false for none. */
  progressLabel?: string | false;
  /** Called after each epoch with its record. */
  onEpoch?: (e: EpochRecord) => void;
  /** Also record validation AUC per slice (e.g. scene) each epoch. */
  valSlices?: (i: number) => string;
}

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  valAuc: number;
  valLogloss: number;
  lr: number;
  seconds: number;
  steps: number;
  valSliceAuc?: Record<string, number | "n/a">;
}

export interface FitResult {
  history: EpochRecord[];
  bestEpoch: number;
  bestValAuc: number;
  /** The validation scores of the best epoch (the weights fit leaves loaded); absent when it was before a resume. */
  bestVal?: EvalResult;
  stoppedEarly: boolean;
}

export interface EvalResult {
  probs: Float32Array;
  auc: number;
  logloss: number;
}

/** An eval-graph output ("prob", "logits", or a model extra such as "alpha") for every row, row-major. */
export async function predictOutput(
  s: TrainSession,
  data: TableData,
  output: string,
  batchSize = 8192,
): Promise<Float32Array> {
  return timed("evaluation", async () => {
    let out: Float32Array | null = null;
    for (const { batch, rows, start } of data.batches(data.order(0, 0, false), batchSize)) {
      const v = (await s.evaluate(batch, rows, [output]))[output];
      out ??= new Float32Array(data.rows * (v.length / rows));
      out.set(v, start * (v.length / rows));
    }
    return out ?? new Float32Array(0);
  });
}

/** Every task's probability for every row: [rows × tasks], row-major. */
export const predictTasks = (s: TrainSession, data: TableData, batchSize = 8192) =>
  predictOutput(s, data, "prob", batchSize);

/**
 * Probability of each row's own label over a whole table: its scene's tower when scenes are tasks, the
 * first label's tower for multi-label tables.
 */
export async function predictTable(
  s: TrainSession,
  data: TableData,
  batchSize = 8192,
): Promise<Float32Array> {
  return timed("evaluation", async () => {
    const T = data.columns.get("label")!.width;
    const all = await predictTasks(s, data, batchSize);
    if (T === 1) return all;
    return Float32Array.from({ length: data.rows }, (_, i) => all[i * T + (data.task ? data.task[i] : 0)]);
  });
}

/** Mean of a model's extra output (e.g. "gates" [B, tasks, experts]) per group of rows. */
export async function meanOutputByGroup(
  s: TrainSession,
  data: TableData,
  output: string,
  group: (i: number) => number,
  groups: number,
  batchSize = 8192,
): Promise<number[][]> {
  return timed("evaluation", async () => {
    let width = 0;
    let sums: Float64Array | null = null;
    const counts = new Float64Array(groups);
    for (const { batch, rows, start } of data.batches(data.order(0, 0, false), batchSize)) {
      const v = (await s.evaluate(batch, rows, [output]))[output];
      width = v.length / rows;
      sums ??= new Float64Array(groups * width);
      for (let r = 0; r < rows; r++) {
        const g = group(start + r);
        counts[g]++;
        for (let k = 0; k < width; k++) sums[g * width + k] += v[r * width + k];
      }
    }
    return Array.from(
      { length: groups },
      (_, g) => Array.from({ length: width }, (_, k) => counts[g] ? sums![g * width + k] / counts[g] : NaN),
    );
  });
}

export async function evaluateTable(s: TrainSession, data: TableData): Promise<EvalResult> {
  return timed("evaluation", async () => {
    const probs = await predictTable(s, data);
    return { probs, auc: auc(data.labels, probs), logloss: logloss(data.labels, probs) };
  });
}

interface CheckpointMeta {
  epoch: number;
  lr: number;
  step: number;
  history: EpochRecord[];
  best: { epoch: number; auc: number };
  tensors: { name: string; length: number }[];
}

export async function saveCheckpoint(
  path: string,
  snap: Snapshot,
  meta: Omit<CheckpointMeta, "tensors" | "step">,
): Promise<void> {
  const names = Object.keys(snap.values).sort();
  const total = names.reduce((a, n) => a + snap.values[n].length, 0);
  const bin = new Float32Array(total);
  let off = 0;
  for (const n of names) {
    bin.set(snap.values[n], off);
    off += snap.values[n].length;
  }
  await Deno.writeFile(`${path}.bin`, new Uint8Array(bin.buffer));
  const full: CheckpointMeta = {
    ...meta,
    step: snap.step,
    tensors: names.map((n) => ({ name: n, length: snap.values[n].length })),
  };
  await Deno.writeTextFile(`${path}.json`, JSON.stringify(full, null, 1));
}

export async function loadCheckpoint(path: string): Promise<{ snap: Snapshot; meta: CheckpointMeta }> {
  const meta: CheckpointMeta = JSON.parse(await Deno.readTextFile(`${path}.json`));
  const raw = await Deno.readFile(`${path}.bin`);
  const bin = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const values: Record<string, Float32Array> = {};
  let off = 0;
  for (const t of meta.tensors) {
    values[t.name] = bin.slice(off, off + t.length);
    off += t.length;
  }
  return { snap: { step: meta.step, values }, meta };
}

export async function fit(
  s: TrainSession,
  train: TableData,
  val: TableData,
  o: FitOptions,
): Promise<FitResult> {
  return timed("training", async () => {
    const seed = o.seed ?? 1;
    const lossEvery = s.backend.name === "webgpu" ? (o.lossEvery ?? 50) : 1;
    let lr = o.lr;
    let history: EpochRecord[] = [];
    let best = { epoch: -1, auc: -Infinity };
    let bestSnap: Snapshot | null = null, bestVal: EvalResult | undefined;
    let firstEpoch = 0;
    if (o.resume) {
      const { snap, meta } = await loadCheckpoint(o.resume);
      s.load(snap);
      lr = meta.lr;
      history = meta.history;
      best = meta.best;
      firstEpoch = meta.epoch + 1;
      if (best.epoch >= 0) bestSnap = (await loadCheckpoint(`${o.resume}.best`)).snap;
    }
    let sinceBest = history.length ? history.length - 1 - best.epoch : 0, sincePlateau = sinceBest;
    let stoppedEarly = false;
    const stepsPerEpoch = Math.ceil(train.rows / o.batchSize);
    for (let epoch = firstEpoch; epoch < o.epochs; epoch++) {
      const t0 = performance.now();
      const bar = o.progressLabel === false
        ? null
        : progress(stepsPerEpoch, `${o.progressLabel ?? "train"} epoch ${epoch + 1}/${o.epochs}`);
      let lossSum = 0, lossN = 0, steps = 0;
      for (const { batch, rows } of train.batches(train.order(seed, epoch), o.batchSize)) {
        steps++;
        const read = steps % lossEvery === 0 || steps === stepsPerEpoch;
        const loss = await s.step(batch, rows, lr, read); // throws, naming the step, on NaN/Inf
        if (loss !== null) {
          lossSum += loss;
          lossN++;
        }
        bar?.tick(1, loss !== null ? `loss ${loss.toFixed(4)}` : undefined);
      }
      const ev = await evaluateTable(s, val);
      const rec: EpochRecord = {
        epoch,
        trainLoss: lossSum / Math.max(1, lossN),
        valAuc: ev.auc,
        valLogloss: ev.logloss,
        lr,
        seconds: (performance.now() - t0) / 1000,
        steps,
      };
      if (o.valSlices) {
        rec.valSliceAuc = Object.fromEntries(
          sliceMetrics({ labels: val.labels, probs: ev.probs }, o.valSlices).map((r) => [r.slice, r.auc]),
        );
      }
      bar?.done(`val AUC ${ev.auc.toFixed(4)}`);
      history.push(rec);
      o.onEpoch?.(rec);
      if (ev.auc > best.auc) {
        best = { epoch, auc: ev.auc };
        bestSnap = await s.snapshot();
        bestVal = ev;
        sinceBest = sincePlateau = 0;
        if (o.checkpoint) {
          await saveCheckpoint(`${o.checkpoint}.best`, bestSnap, { epoch, lr, history, best });
        }
      } else {
        sinceBest++;
        sincePlateau++;
        if (o.reduceOnPlateau && sincePlateau >= o.reduceOnPlateau.patience) {
          lr = Math.max(o.reduceOnPlateau.minLr ?? 0, lr * o.reduceOnPlateau.factor);
          sincePlateau = 0;
        }
      }
      if (o.checkpoint) await saveCheckpoint(o.checkpoint, await s.snapshot(), { epoch, lr, history, best });
      if (o.patience !== undefined && sinceBest >= o.patience) {
        stoppedEarly = epoch < o.epochs - 1;
        break;
      }
    }
    if (bestSnap && best.epoch !== history[history.length - 1]?.epoch) s.load(bestSnap);
    return { history, bestEpoch: best.epoch, bestValAuc: best.auc, bestVal, stoppedEarly };
  });
}
