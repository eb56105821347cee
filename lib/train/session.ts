/**
 * A compiled model bound to a backend: parameter and optimizer-state tensors that persist between steps,
 * one `step()` per batch, `predict()` with the eval graph. On WebGPU the updated tensors stay in GPU buffers
 * and are fed straight back; on CPU backends sparse tables are updated in place, row by row.
 */
import { atName, initValues, type PackedSequence, realName } from "../graph/nn.ts";
import { compile, type ModelFn, type TrainConfig } from "../graph/program.ts";
import {
  type CompiledModel,
  firstName,
  flatStateName,
  flatStateSize,
  invName,
  type IOSpec,
  lastName,
  newName,
  packState,
  permName,
  rowsName,
  stateName,
  uniqName,
  unpackState,
} from "../graph/program.ts";
import { Rng } from "../util/rng.ts";
import type { Backend, Feeds, OrtTensor, Session } from "./backend.ts";
import { timed } from "../util/profile.ts";

/** A batch: one typed array per input (float32 or int64), rows first. */
export type Batch = Record<string, Float32Array | BigInt64Array>;

export interface Snapshot {
  step: number;
  values: Record<string, Float32Array>; // params and optimizer state by name
}

/**
 * Unique ids of several id arrays (concatenated in order) and each id's index among them; every id must be a
 * row of the table, which has `rows` rows (an id outside it is refused by name).
 */
export function uniqueInverse(
  arrays: BigInt64Array[],
  rows: number,
): { uniq: BigInt64Array; inv: BigInt64Array } {
  // ids below 2^24 (any embedding table that fits in memory): a slot per id, on the ids' low words
  if (rows > 1 << 24) return uniqueInverseMap(arrays, rows);
  if (slots.length < rows) slots = new Int32Array(Math.max(rows, 2 * slots.length));
  const inv = new BigInt64Array(arrays.reduce((a, x) => a + x.length, 0)), invWords = words(inv);
  const uniq: number[] = [];
  let k = 0;
  for (const a of arrays) {
    const w = words(a);
    for (let i = 0; i < a.length; i++, k++) {
      const id = w[2 * i];
      if (w[2 * i + 1] !== 0 || id < 0 || id >= rows) throw outside(a[i], rows);
      let j = slots[id] - 1;
      if (j < 0) {
        j = uniq.length;
        slots[id] = j + 1;
        uniq.push(id);
      }
      invWords[2 * k] = j;
    }
  }
  const out = new BigInt64Array(uniq.length), outWords = words(out);
  for (let j = 0; j < uniq.length; j++) {
    outWords[2 * j] = uniq[j];
    slots[uniq[j]] = 0;
  }
  return { uniq: out, inv };
}

const outside = (id: bigint, rows: number) => new Error(`id ${id} outside a table of ${rows} rows`);

/** uniqueInverse for tables of more than 2^24 rows, with a map. */
function uniqueInverseMap(
  arrays: BigInt64Array[],
  rows: number,
): { uniq: BigInt64Array; inv: BigInt64Array } {
  const index = new Map<bigint, number>();
  const inv = BigInt64Array.from(arrays.flatMap((a) => [...a]), (id) => {
    if (id < 0n || id >= BigInt(rows)) throw outside(id, rows);
    let j = index.get(id);
    if (j === undefined) index.set(id, j = index.size);
    return BigInt(j);
  });
  return { uniq: BigInt64Array.from(index.keys()), inv };
}

/** uniqueInverse's scratch: 1 + an id's position among the unique ids, 0 when not seen yet (reset after use). */
let slots = new Int32Array(0);

/**
 * The 32-bit words of an int64 array (low word first: every platform onnxruntime runs on is little-endian).
 * Ids, positions and counts here are whole numbers in [0, 2³¹), so reading and writing the low word avoids
 * making a BigInt per element, which dominates a train step's host time otherwise.
 */
const words = (a: BigInt64Array) => new Int32Array(a.buffer, a.byteOffset, a.length * 2);

/**
 * The looked-up ids sorted by their unique row, without reordering within a row (a counting sort of `inv`),
 * and each unique row's first and last position in that order: what the race-free "segment" sum reads.
 */
export function segments(
  inv: BigInt64Array,
  unique: number,
): { perm: BigInt64Array; first: BigInt64Array; last: BigInt64Array } {
  const first = new BigInt64Array(unique), last = new BigInt64Array(unique);
  const [firstW, lastW, invW] = [words(first), words(last), words(inv)];
  const count = new Int32Array(unique);
  for (let i = 0; i < inv.length; i++) count[invW[2 * i]]++;
  const next = new Int32Array(unique);
  for (let u = 0, at = 0; u < unique; u++) {
    firstW[2 * u] = at;
    next[u] = at;
    at += count[u];
    lastW[2 * u] = at - 1;
  }
  const perm = new BigInt64Array(inv.length), permW = words(perm);
  for (let i = 0; i < inv.length; i++) permW[2 * next[invW[2 * i]]++] = i;
  return { perm, first, last };
}

/**
 * The real positions of a batch's sequences, as a packing train graph reads them (ModelBuilder.realPositions):
 * per packed sequence, each position row·L + l where its mask is non-zero, row-major, and every id input's
 * values there. Each array is [P], P the sequence's real behaviours in the batch.
 */
export function packSequences(packed: PackedSequence[], batch: Batch): Record<string, BigInt64Array> {
  const out: Record<string, BigInt64Array> = {};
  for (const { mask: name, ids } of packed) {
    const mask = batch[name] as Float32Array | undefined;
    if (!mask) throw new Error(`batch has no "${name}"`);
    let P = 0;
    for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) P++;
    const at = new BigInt64Array(P), atW = words(at);
    for (let i = 0, k = 0; i < mask.length; i++) if (mask[i] !== 0) atW[2 * k++] = i;
    out[atName(name)] = at;
    for (const id of ids) {
      const from = batch[id] as BigInt64Array | undefined;
      if (from?.length !== mask.length) throw new Error(`batch has no "${id}" shaped like "${name}"`);
      const fromW = words(from), real = new BigInt64Array(P), realW = words(real);
      for (let k = 0; k < P; k++) {
        const i = atW[2 * k];
        realW[2 * k] = fromW[2 * i];
        realW[2 * k + 1] = fromW[2 * i + 1];
      }
      out[realName(id)] = real;
    }
  }
  return out;
}

/**
 * The inputs of a train step that the host derives from `batch`: its packed sequences, and each sparse table's
 * unique ids with how to sum their gradient rows.
 */
export function hostInputs(
  model: CompiledModel,
  batch: Batch,
): { uniqs: Map<string, BigInt64Array>; inputs: Record<string, { data: BigInt64Array; dims: number[] }> } {
  const uniqs = new Map<string, BigInt64Array>();
  const inputs: Record<string, { data: BigInt64Array; dims: number[] }> = {};
  const packed = packSequences(model.packed, batch);
  for (const [name, data] of Object.entries(packed)) inputs[name] = { data, dims: [data.length] };
  const ids = (name: string) => (packed[name] ?? batch[name]) as BigInt64Array;
  for (const t of model.sparse) {
    const { uniq, inv } = uniqueInverse(t.idsInputs.map(ids), t.rows);
    uniqs.set(t.param, uniq);
    inputs[uniqName(t.param)] = { data: uniq, dims: [uniq.length, 1] };
    if (model.sparseSum === "scatter") inputs[invName(t.param)] = { data: inv, dims: [inv.length, 1] };
    else {
      const { perm, first, last } = segments(inv, uniq.length);
      inputs[permName(t.param)] = { data: perm, dims: [perm.length] };
      inputs[firstName(t.param)] = { data: first, dims: [uniq.length] };
      inputs[lastName(t.param)] = { data: last, dims: [uniq.length] };
    }
  }
  return { uniqs, inputs };
}

/** Backend tensors for the inputs `specs` of a batch of `rows` rows (symbolic dims become `rows`). */
export function batchFeeds(
  backend: Backend,
  batch: Batch,
  rows: number,
  specs: Pick<IOSpec, "name" | "shape" | "dtype">[],
): Feeds {
  const feeds: Feeds = {};
  for (const spec of specs) {
    const data = batch[spec.name];
    if (!data) throw new Error(`batch has no "${spec.name}"`);
    const dims = spec.shape.map((d) => typeof d === "number" ? d : rows);
    feeds[spec.name] = spec.dtype === "int64"
      ? backend.tensor("int64", data as BigInt64Array, dims)
      : backend.tensor("float32", data as Float32Array, dims);
  }
  return feeds;
}

export class TrainSession {
  /** Current param and state tensors (host or device). */
  values = new Map<string, OrtTensor>();
  /** Host arrays of sparse tables and their state (CPU backends update these in place). */
  host = new Map<string, Float32Array>();
  stepCount = 0;
  private constructor(
    readonly model: CompiledModel,
    readonly backend: Backend,
    readonly train: Session,
    readonly evalSession: Session,
  ) {}

  get writeBack(): "graph" | "host" {
    return this.model.writeBack;
  }

  /** Compile `model` the way `backend` needs (its write-back and sparse sum) and bind it: the one way in for training code. */
  static async build(
    model: ModelFn,
    backend: Backend,
    cfg: Omit<TrainConfig, keyof Backend["compile"]>,
    o: { seed?: number; strict?: boolean } = {},
  ): Promise<TrainSession> {
    return await timed(
      "training",
      () => TrainSession.create(compile(model, { ...cfg, ...backend.compile }), backend, o),
    );
  }

  /** Bind an already compiled model (tests compile variants by hand); refuses graphs the backend cannot run. */
  static async create(
    model: CompiledModel,
    backend: Backend,
    o: { seed?: number; strict?: boolean } = {},
  ): Promise<TrainSession> {
    if (
      backend.name === "webgpu" && model.sparse.length &&
      (model.writeBack === "host" || model.sparseSum === "segment")
    ) {
      throw new Error(
        "webgpu keeps tables on the GPU and has no float64: build the session with TrainSession.build, which compiles for the backend",
      );
    }
    const deviceOutputs = backend.name === "webgpu"
      ? model.trainOutputs.filter((n) => n.startsWith("new:"))
      : undefined;
    const train = await backend.session(model.train, { deviceOutputs, strict: o.strict });
    const evalSession = await backend.session(model.eval, { strict: o.strict });
    const s = new TrainSession(model, backend, train, evalSession);
    const rng = Rng.derive(o.seed ?? 1, "init");
    const values: Record<string, Float32Array> = {};
    for (const p of model.params) {
      const name = p.tensor.name!;
      values[name] = initValues(p, rng);
      if (p.buffer) continue; // running statistics: no optimizer state
      for (const k of model.stateKinds) values[stateName(name, k)] = new Float32Array(values[name].length);
    }
    s.load({ step: 0, values });
    return s;
  }

  private shapeOf(name: string): number[] {
    if (this.model.stateKinds.some((k) => flatStateName(k) === name)) {
      return [flatStateSize(this.model)];
    }
    const p = this.model.params.find((q) =>
      q.tensor.name === name || this.model.stateKinds.some((k) => stateName(q.tensor.name!, k) === name)
    );
    if (!p) throw new Error(`unknown param or state ${name}`);
    return p.shape;
  }

  private isSparse(name: string): boolean {
    return this.model.sparse.some((t) =>
      t.param === name || this.model.stateKinds.some((k) => stateName(t.param, k) === name)
    );
  }

  /** Replace all params and optimizer state (a checkpoint, or initial values). */
  load(snap: Snapshot): void {
    this.stepCount = snap.step;
    this.values.clear();
    this.host.clear();
    for (const [name, v] of Object.entries(packState(this.model, snap.values))) {
      const data = Float32Array.from(v);
      if (this.isSparse(name) && this.writeBack === "host") this.host.set(name, data);
      this.values.set(name, this.backend.tensor("float32", data, this.shapeOf(name)));
    }
  }

  /** Download all params and optimizer state. */
  async snapshot(): Promise<Snapshot> {
    const values: Record<string, Float32Array> = {};
    for (const [name, t] of this.values) {
      values[name] = Float32Array.from(await this.backend.read(t) as Float32Array);
    }
    return { step: this.stepCount, values: unpackState(this.model, values) };
  }

  /** Just the parameters and buffers (for the inference model). */
  async paramValues(): Promise<Map<string, Float32Array>> {
    const snap = await this.snapshot();
    return new Map(this.model.params.map((p) => [p.tensor.name!, snap.values[p.tensor.name!]]));
  }

  private batchFeeds(batch: Batch, rows: number, specs: IOSpec[]): Feeds {
    return batchFeeds(this.backend, batch, rows, specs);
  }

  /**
   * One optimizer step on a batch of `rows` rows (the batch must hold every train input: features, "label",
   * and "weight"/"mask" when compiled with them). Returns the loss when `readLoss` (a device read), else null.
   */
  async step(batch: Batch, rows: number, lr: number, readLoss = true): Promise<number | null> {
    this.stepCount++;
    const specs = this.model.trainInputs.filter((s) => batch[s.name] !== undefined);
    const feeds = this.batchFeeds(batch, rows, specs);
    feeds.lr = this.backend.tensor("float32", Float32Array.of(lr), []);
    feeds.step = this.backend.tensor("float32", Float32Array.of(this.stepCount), []);
    const { uniqs, inputs } = hostInputs(this.model, batch);
    for (const [name, { data, dims }] of Object.entries(inputs)) {
      feeds[name] = this.backend.tensor("int64", data, dims);
    }
    for (const [name, t] of this.values) feeds[name] = t;
    const out = await this.train.run(feeds);
    for (const name of this.values.keys()) {
      const updated = out[newName(name)];
      if (updated) {
        const old = this.values.get(name)!;
        if (old.location === "gpu-buffer") old.dispose();
        this.values.set(name, updated);
      }
    }
    if (this.writeBack === "host") {
      for (const t of this.model.sparse) {
        const ids = words(uniqs.get(t.param)!), n = ids.length / 2;
        const width = t.dim.reduce((a, b) => a * b, 1);
        for (const name of [t.param, ...this.model.stateKinds.map((k) => stateName(t.param, k))]) {
          const rows = out[rowsName(name)].data as Float32Array;
          const table = this.host.get(name)!;
          // element by element: a subarray per row costs more than copying its few floats
          for (let i = 0, from = 0; i < n; i++) {
            for (let j = 0, to = ids[2 * i] * width; j < width; j++) table[to + j] = rows[from++];
          }
        }
      }
    }
    if (!readLoss) return null;
    const loss = (await this.backend.read(out.loss) as Float32Array)[0];
    if (!Number.isFinite(loss)) throw new Error(`loss became ${loss} at step ${this.stepCount}`);
    return loss;
  }

  /** Click probabilities for a batch with the eval graph ([rows] or [rows × tasks], row-major). */
  async predict(batch: Batch, rows: number): Promise<Float32Array> {
    return (await this.evaluate(batch, rows, ["prob"])).prob;
  }

  /** Named eval-graph outputs for a batch: "prob", "logits", or a model's extras such as "gates". */
  async evaluate(batch: Batch, rows: number, names: string[]): Promise<Record<string, Float32Array>> {
    const feeds = this.batchFeeds(batch, rows, this.model.batchInputs);
    for (const p of this.model.params) feeds[p.tensor.name!] = this.values.get(p.tensor.name!)!;
    const out = await this.evalSession.run(feeds);
    const res: Record<string, Float32Array> = {};
    for (const n of names) {
      if (!out[n]) {
        throw new Error(`the eval graph has no output "${n}" (has ${Object.keys(out).join(", ")})`);
      }
      res[n] = Float32Array.from(await this.backend.read(out[n]) as Float32Array);
    }
    return res;
  }

  async release(): Promise<void> {
    await this.train.release();
    await this.evalSession.release();
  }
}
