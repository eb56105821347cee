/**
 * Training data as typed arrays: a table (polars DataFrame, e.g. read from the Parquet training table) is
 * packed once into row-major columns per model input; each epoch draws a seeded permutation and fills
 * reused batch buffers with just the batch's rows — no per-batch copy of the table.
 */
import pl from "nodejs-polars";
import { Rng } from "../util/rng.ts";
import type { Batch } from "./session.ts";

export interface InputColumns {
  /** Numeric feature columns, packed in this order into input "dense" [B, n]. */
  dense: string[];
  /** Integer id columns → int64 inputs: { input name: column }. */
  ids: Record<string, string>;
  /** One label column (single task, or scenes as tasks), or several (multi-label: one tower per column). */
  label: string | string[];
  /** Per-task loss weights (multiplied into the task mask). */
  taskWeights?: number[];
  /**
   * Scenes as tasks: label and mask become [B, tasks]; row i's label sits in column task[i] and only that
   * entry is unmasked (multi-scenario training: each tower learns from its own rows).
   */
  task?: { column: string; tasks: number };
  /** Per-row loss weights → input "weight" [B]. */
  weight?: string;
  /** Extra float columns, each its own input [B, 1]: { input name: column }. */
  floats?: Record<string, string>;
  /**
   * Rows of a fixed table looked up by an integer column at batch time (e.g. text embeddings keyed by text
   * id): input [B, width]. Only the index is packed per row; the table is shared, never copied per row.
   */
  lookups?: Record<string, { column: string; table: Float32Array | BigInt64Array; width: number }>;
}

interface Packed {
  data: Float32Array | BigInt64Array;
  width: number;
  /** Lookup inputs: `data` is unused; row r's values are table[index[r]]. */
  lookup?: { index: Int32Array; table: Float32Array | BigInt64Array };
}

export class TableData {
  readonly columns = new Map<string, Packed>();
  /** Task id per row when training scenes as tasks. */
  readonly task?: Int32Array;
  /** The binary label per row (whatever the task layout). */
  readonly labels: Float32Array;

  private constructor(readonly rows: number, readonly spec: InputColumns) {
    this.labels = new Float32Array(rows);
  }

  static fromDataFrame(df: pl.DataFrame, spec: InputColumns): TableData {
    const t = new TableData(df.height, spec);
    const n = df.height;
    const labelCols = Array.isArray(spec.label) ? spec.label : [spec.label];
    const missing = [
      ...spec.dense,
      ...Object.values(spec.ids),
      ...labelCols,
      ...(spec.task ? [spec.task.column] : []),
      ...(spec.weight ? [spec.weight] : []),
      ...Object.values(spec.floats ?? {}),
      ...Object.values(spec.lookups ?? {}).map((l) => l.column),
    ]
      .filter((c) => !df.columns.includes(c));
    if (missing.length) throw new Error(`training table lacks column(s) ${missing.join(", ")}`);
    if (spec.dense.length) {
      const d = spec.dense.length;
      const dense = new Float32Array(n * d);
      spec.dense.forEach((c, j) => {
        const v = df.getColumn(c).cast(pl.Float32).toTypedArray() as Float32Array;
        for (let i = 0; i < n; i++) dense[i * d + j] = v[i];
      });
      t.columns.set("dense", { data: dense, width: d });
    }
    for (const [input, c] of Object.entries(spec.ids)) {
      const v = df.getColumn(c).cast(pl.Int64).toTypedArray() as BigInt64Array;
      t.columns.set(input, { data: BigInt64Array.from(v), width: 1 });
    }
    const labelOf = (c: string) => df.getColumn(c).cast(pl.Float32).toTypedArray() as Float32Array;
    t.labels.set(labelOf(labelCols[0]));
    const tw = (k: number) => spec.taskWeights?.[k] ?? 1;
    if (labelCols.length > 1) {
      // multi-label: every row carries every task's label
      const T = labelCols.length;
      const label = new Float32Array(n * T), mask = new Float32Array(n * T);
      labelCols.forEach((c, k) => {
        const v = labelOf(c);
        for (let i = 0; i < n; i++) {
          label[i * T + k] = v[i];
          mask[i * T + k] = tw(k);
        }
      });
      t.columns.set("label", { data: label, width: T });
      t.columns.set("mask", { data: mask, width: T });
    } else if (spec.task) {
      const task = Int32Array.from(
        df.getColumn(spec.task.column).cast(pl.Int32).toTypedArray() as Int32Array,
      );
      (t as { task?: Int32Array }).task = task;
      const T = spec.task.tasks;
      const label = new Float32Array(n * T), mask = new Float32Array(n * T);
      for (let i = 0; i < n; i++) {
        if (task[i] < 0 || task[i] >= T) throw new Error(`row ${i}: task ${task[i]} outside 0..${T - 1}`);
        label[i * T + task[i]] = t.labels[i];
        mask[i * T + task[i]] = tw(task[i]);
      }
      t.columns.set("label", { data: label, width: T });
      t.columns.set("mask", { data: mask, width: T });
    } else t.columns.set("label", { data: t.labels, width: 1 });
    if (spec.weight) {
      t.columns.set("weight", {
        data: df.getColumn(spec.weight).cast(pl.Float32).toTypedArray() as Float32Array,
        width: 1,
      });
    }
    for (const [input, c] of Object.entries(spec.floats ?? {})) {
      t.columns.set(input, {
        data: Float32Array.from(df.getColumn(c).cast(pl.Float32).toTypedArray() as Float32Array),
        width: 1,
      });
    }
    for (const [input, l] of Object.entries(spec.lookups ?? {})) {
      const index = Int32Array.from(df.getColumn(l.column).cast(pl.Int32).toTypedArray() as Int32Array);
      const rowsInTable = l.table.length / l.width;
      const bad = index.findIndex((v) => v < 0 || v >= rowsInTable);
      if (bad >= 0) {
        throw new Error(
          `row ${bad}: ${l.column} = ${index[bad]} outside the ${rowsInTable}-row table of input "${input}"`,
        );
      }
      const data = l.table instanceof BigInt64Array ? new BigInt64Array(0) : new Float32Array(0); // the batch buffer's type
      t.columns.set(input, { data, width: l.width, lookup: { index, table: l.table } });
    }
    return t;
  }

  /** Row order for an epoch: a permutation seeded by (seed, epoch), so a resumed run replays it exactly. */
  order(seed: number, epoch: number, shuffle = true): Uint32Array {
    const idx = Uint32Array.from({ length: this.rows }, (_, i) => i);
    return shuffle ? Rng.derive(seed, `epoch-${epoch}`).shuffle(idx) : idx;
  }

  /** Batches over `order`; the yielded buffers are reused, so consume each before asking for the next. */
  *batches(order: Uint32Array, batchSize: number): Generator<{ batch: Batch; rows: number; start: number }> {
    const buffers: Batch = {};
    for (const [name, c] of this.columns) {
      buffers[name] = c.data instanceof BigInt64Array
        ? new BigInt64Array(batchSize * c.width)
        : new Float32Array(batchSize * c.width);
    }
    for (let start = 0; start < order.length; start += batchSize) {
      const rows = Math.min(batchSize, order.length - start);
      const batch: Batch = {};
      for (const [name, c] of this.columns) {
        const buf = buffers[name];
        const w = c.width;
        if (c.lookup) {
          const { index, table } = c.lookup;
          for (let r = 0; r < rows; r++) {
            (buf as Float32Array).set(
              table.subarray(index[order[start + r]] * w, index[order[start + r]] * w + w) as Float32Array,
              r * w,
            );
          }
        } else if (w === 1) { for (let r = 0; r < rows; r++) buf[r] = c.data[order[start + r]]; }
        else {for (let r = 0; r < rows; r++) {
            (buf as Float32Array).set(
              (c.data as Float32Array).subarray(order[start + r] * w, order[start + r] * w + w),
              r * w,
            );
          }}
        batch[name] = rows === batchSize ? buf : buf.subarray(0, rows * w) as Float32Array | BigInt64Array;
      }
      yield { batch, rows, start };
    }
  }
}
