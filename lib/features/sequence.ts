/**
 * The behaviour sequence feature (DIN's input): for each impression, the user's last N clicked items and their
 * scenes, strictly before the impression's day — most recent first, padded with id 0 and mask 0. One sequence
 * per (user, day): every impression of a user on a day shares it, so the table stores an index per row and the
 * sequences once.
 *
 * Item ids go through the training vocabulary (index 0 = out of vocabulary), like the item id feature, so a
 * clicked item first seen after the training days is a known "unknown item" in the sequence, not padding.
 */
import pl from "nodejs-polars";
import { lookupJoin } from "../util/frame.ts";
import { sortByIds } from "./table.ts";
import { timed } from "../util/profile.ts";

export interface SequenceOptions {
  /** Sequence length N (default 20). */
  length?: number;
  /** The leaky variant that also sees the impression's own day — only for the leakage audit. */
  includeCurrentDay?: boolean;
}

export interface BehaviourSequences {
  length: number;
  /** (user_id, day, seq_idx, seq_len): join on user_id and day. */
  keys: pl.DataFrame;
  /** [sequences × length], row-major: item vocabulary index, scene, and 1 for a real click / 0 for padding. */
  items: BigInt64Array;
  scenes: BigInt64Array;
  mask: Float32Array;
}

const int32 = (df: pl.DataFrame, c: string) => df.getColumn(c).cast(pl.Int32).toTypedArray() as Int32Array;

/** `events`: row_id, user_id, item_id, scene, label, day (row_id order is time order). */
export function behaviourSequences(
  events: pl.DataFrame,
  itemVocab: pl.DataFrame,
  o: SequenceOptions = {},
): BehaviourSequences {
  return timed("features", () => {
    const L = o.length ?? 20;
    // users as dense integer codes in one order for both sides (ids are strings)
    const codes = sortByIds(events.select("user_id").unique(), "user_id").withRowIndex("user_code");
    const clicks = events.filter(pl.col("label").eq(pl.lit(1))).select(
      "row_id",
      "user_id",
      "item_id",
      "scene",
      "day",
    )
      .join(itemVocab.select("item_id", pl.col("idx").alias("item_idx")), { on: "item_id", how: "left" })
      .withColumns(pl.col("item_idx").fillNull(0)).join(codes, { on: "user_id" }).sort([
        "user_code",
        "row_id",
      ]);
    const [cu, cd, ci, cs] = ["user_code", "day", "item_idx", "scene"].map((c) => int32(clicks, c));
    const coded = events.select("user_id", "day").unique().join(codes, { on: "user_id" }).sort([
      "user_code",
      "day",
    ]);
    const [ku, kd] = [int32(coded, "user_code"), int32(coded, "day")];
    const keys = coded.drop("user_code");
    const S = keys.height;
    const items = new BigInt64Array(S * L),
      scenes = new BigInt64Array(S * L),
      mask = new Float32Array(S * L),
      lengths = new Int32Array(S);
    const before = o.includeCurrentDay ? (d: number, D: number) => d <= D : (d: number, D: number) => d < D;
    let p = 0, userStart = 0;
    for (let k = 0; k < S; k++) {
      const u = ku[k], D = kd[k];
      if (k === 0 || ku[k - 1] !== u) {
        while (p < cu.length && cu[p] < u) p++;
        userStart = p;
      }
      while (p < cu.length && cu[p] === u && before(cd[p], D)) p++;
      const n = Math.min(L, p - userStart);
      lengths[k] = n;
      for (let j = 0; j < n; j++) { // most recent first
        items[k * L + j] = BigInt(ci[p - 1 - j]);
        scenes[k * L + j] = BigInt(cs[p - 1 - j]);
        mask[k * L + j] = 1;
      }
    }
    const index = pl.Series("seq_idx", Int32Array.from({ length: S }, (_, i) => i));
    return { length: L, keys: keys.withColumns(index, pl.Series("seq_len", lengths)), items, scenes, mask };
  });
}

/** `df` (in its row order) with its rows' sequence index (column seq_idx) and real-click count (column seq_len). */
export function withSequenceIndex(df: pl.DataFrame, seq: BehaviourSequences): pl.DataFrame {
  return lookupJoin(
    df,
    seq.keys,
    ["user_id", "day"],
    "seq_idx",
    "behaviour sequence (build the sequences from events that include them)",
  );
}

/** Per split: rows, mean real clicks per sequence, share with no earlier click, share with a full sequence. */
export function sequenceCoverage(
  frames: Record<string, pl.DataFrame>,
  length: number,
): Record<string, number | string>[] {
  return Object.entries(frames).map(([split, df]) => {
    const r = df.select(
      pl.col("seq_len").mean().alias("mean"),
      pl.col("seq_len").eq(pl.lit(0)).mean().alias("empty"),
      pl.col("seq_len").eq(pl.lit(length)).mean().alias("full"),
    ).toRecords()[0] as Record<string, number>;
    return {
      split,
      rows: df.height,
      "mean clicks in sequence": r.mean,
      "share empty (no earlier click)": r.empty,
      [`share full (${length})`]: r.full,
    };
  });
}
