/** Summaries of the cleaned table used by notebooks and the run index (from the ETL report, no rescans). */
import type { EtlReport } from "./etl.ts";

type Partition = EtlReport["partitions"][number];

/** Scene indices 0..S−1 of the partitions (the ETL's scene list), so every scene has a column even if empty. */
const sceneIndices = (partitions: Partition[], scenes?: number) =>
  Array.from({ length: scenes ?? Math.max(0, ...partitions.map((p) => p.scene + 1)) }, (_, s) => s);

/** A date × scene grid of rows, clicks or CTR: z[dateIndex][scene]. `scenes`: the report's scene count. */
export function dateSceneGrid(
  partitions: Partition[],
  value: "rows" | "clicks" | "ctr",
  sceneCount?: number,
): { dates: string[]; scenes: number[]; z: number[][] } {
  const scenes = sceneIndices(partitions, sceneCount);
  const dates = [...new Set(partitions.map((p) => p.date))].sort();
  const z = dates.map(() => scenes.map(() => 0));
  const rows = dates.map(() => scenes.map(() => 0));
  for (const p of partitions) {
    const d = dates.indexOf(p.date);
    z[d][p.scene] += value === "rows" ? p.rows : p.clicks;
    rows[d][p.scene] += p.rows;
  }
  if (value === "ctr") {
    for (let d = 0; d < dates.length; d++) {
      for (const s of scenes) {
        z[d][s] = rows[d][s] ? z[d][s] / rows[d][s] : NaN;
      }
    }
  }
  return { dates, scenes, z };
}

/** Rows, clicks, CTR and share of rows per scene. */
export function sceneSummary(
  partitions: Partition[],
  sceneCount?: number,
): { scene: number; rows: number; clicks: number; ctr: number; share: number }[] {
  const total = partitions.reduce((a, p) => a + p.rows, 0);
  return sceneIndices(partitions, sceneCount).map((scene) => {
    const ps = partitions.filter((p) => p.scene === scene);
    const rows = ps.reduce((a, p) => a + p.rows, 0), clicks = ps.reduce((a, p) => a + p.clicks, 0);
    return { scene, rows, clicks, ctr: rows ? clicks / rows : NaN, share: total ? rows / total : NaN };
  });
}

/** Reconciliation table: one row per input file and a total row; written + quarantined = read. */
export function reconciliation(report: EtlReport, maxFiles = Infinity) {
  const files = report.files.slice(0, maxFiles).map((f) => ({
    file: f.file,
    read: f.rowsRead,
    written: f.rowsWritten,
    quarantined: f.rowsQuarantined,
    balanced: f.rowsRead === f.rowsWritten + f.rowsQuarantined ? "yes" : "NO",
  }));
  if (report.files.length > maxFiles) {
    const rest = report.files.slice(maxFiles);
    const sum = (k: "rowsRead" | "rowsWritten" | "rowsQuarantined") => rest.reduce((a, f) => a + f[k], 0);
    files.push({
      file: `… ${rest.length} more files`,
      read: sum("rowsRead"),
      written: sum("rowsWritten"),
      quarantined: sum("rowsQuarantined"),
      balanced: sum("rowsRead") === sum("rowsWritten") + sum("rowsQuarantined") ? "yes" : "NO",
    });
  }
  files.push({
    file: "TOTAL",
    read: report.rowsRead,
    written: report.rowsWritten,
    quarantined: report.rowsQuarantined,
    balanced: report.rowsRead === report.rowsWritten + report.rowsQuarantined ? "yes" : "NO",
  });
  return files;
}
