/**
 * Score new raw logs (a file in the dataset spec the package was trained on) with a model package: validate it with the ETL (bad rows quarantined and counted,
 * never dropped silently), rebuild every point-in-time feature from the package's history before the file's first
 * record plus the file's own earlier rows, look up vocabularies, embed and whiten the texts, and run the ONNX inference model.
 * The result is one probability per valid record, keyed by the record's ordinal in the file (id).
 */
import pl from "nodejs-polars";
import { runEtl, scanClean } from "../data/etl.ts";
import { joinHistory } from "../features/history.ts";
import { loadEvents, normalizedFeatures, withVocabIndex } from "../features/table.ts";
import {
  embedTexts,
  indexTexts,
  TEXT_SIDES,
  textColumns,
  textExpr,
  withMeanForMissing,
} from "../text/features.ts";
import { fallbackFlags, tableData } from "../train/tables.ts";
import { loadPackage, type ModelPackage, scoreTable } from "./package.ts";

export interface Prediction {
  /** Record ordinal in the scored file (header excluded), as the ETL numbers rows. */
  ids: number[];
  probs: Float32Array;
  rowsRead: number;
  quarantined: number;
  /** Where quarantined records were written (with file, line, column and reason), if any. */
  quarantineFile?: string;
  /** The rebuilt model inputs per scored row (row_id = id + the history offset), for inspection. */
  frame: pl.DataFrame;
}

/** Score `csv` with the package in `pkgDir` (or an already loaded package); optionally write `id,probability` to `out`. */
export async function predictCsv(
  pkg: string | ModelPackage,
  csv: string,
  o: { out?: string } = {},
): Promise<Prediction> {
  const p = typeof pkg === "string" ? await loadPackage(pkg) : pkg;
  const tmp = await Deno.makeTempDir({ prefix: "ctrlab-predict-" });
  try {
    const etl = await runEtl({ input: csv, output: tmp, spec: p.schema.spec, scenes: p.schema.scenes });
    let quarantineFile: string | undefined;
    if (etl.rowsQuarantined && o.out) {
      quarantineFile = `${o.out.replace(/\.csv$/, "")}.quarantine.csv`;
      await Deno.copyFile(`${tmp}/_quarantine.csv`, quarantineFile);
    }
    if (!etl.rowsWritten) {
      throw new Error(`${csv}: no valid rows to score (${etl.rowsQuarantined} quarantined)`);
    }
    const fresh = loadEvents(tmp);
    const history = pl.readParquet(`${p.dir}/history.parquet`);
    // history strictly before the file's first record (a file may start in the middle of a day: the history's
    // earlier rows of that day still count), and new row ids after every history id (same order as in the logs)
    const ms = pl.col("log_time").cast(pl.Datetime("ms")).cast(pl.Int64);
    // (as a float: nodejs-polars reads an Int64 value back through 32 bits)
    const first = fresh.select(ms.min().cast(pl.Float64).alias("t")).getColumn("t").get(0) as number;
    const offset = (history.getColumn("row_id").max() as number) + 1;
    const past = history.filter(ms.lt(pl.lit(first)));
    const renumbered = fresh.withColumns(pl.col("row_id").add(pl.lit(offset)).cast(pl.Int64).alias("row_id"))
      .select(...past.columns);
    const events = pl.concat([
      past,
      renumbered.withColumns(...past.columns.map((c) => pl.col(c).cast(past.getColumn(c).dtype))),
    ])
      .sort("row_id").drop("date", "log_time");
    const m = p.manifest;
    const withIds = withVocabIndex(events, p.vocabs, m.categorical ?? []);
    let frame = (await joinHistory(withIds, {
      priors: m.priors,
      includeCurrentDay: m.includeCurrentDay,
      scenes: m.scenes,
    }))
      .filter(pl.col("row_id").gtEq(pl.lit(offset))).withColumns(...normalizedFeatures(m));
    let text: { user: Float32Array; item: Float32Array; k: number } | undefined;
    if (p.text) {
      const cols = textColumns(tmp);
      const texts = scanClean(tmp).select(
        pl.col("row_id").add(pl.lit(offset)).cast(pl.Int64).alias("row_id"),
        textExpr("user", cols.user),
        textExpr("item", cols.item),
      ).collectSync();
      const tables = {} as Record<"user" | "item", Float32Array>;
      for (const side of TEXT_SIDES) {
        const { texts: distinct, index } = indexTexts(texts, side);
        const vecs = await embedTexts(p.text, side, distinct);
        tables[side] = p.info.coldBelow !== undefined ? withMeanForMissing(vecs, p.text.k) : vecs;
        frame = frame.join(
          texts.select("row_id", `${side}_text`).join(index, { on: `${side}_text`, how: "left" }).select(
            "row_id",
            `${side}_text_idx`,
          ),
          { on: "row_id", how: "left" },
        );
      }
      text = { ...tables, k: p.text.k };
    }
    if (p.info.coldBelow !== undefined) {
      frame = frame.withColumns(...fallbackFlags("test", { coldBelow: p.info.coldBelow }));
    }
    frame = frame.sort("row_id");
    const data = tableData(frame, m, {
      scenesAsTasks: p.info.scenes > 1,
      text,
      fallback: p.info.coldBelow !== undefined,
    });
    const probs = await scoreTable(p, data);
    const ids = (frame.getColumn("row_id").toArray() as number[]).map((r) => Number(r) - offset);
    if (o.out) {
      await Deno.writeTextFile(
        o.out,
        "id,probability\n" + ids.map((id, i) => `${id},${probs[i]}`).join("\n") + "\n",
      );
    }
    return { ids, probs, rowsRead: etl.rowsRead, quarantined: etl.rowsQuarantined, quarantineFile, frame };
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}
