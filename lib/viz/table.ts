/** Tables as cell outputs: an HTML table for notebooks and reports, aligned text for terminals. */
import pl from "nodejs-polars";
import { type Displayable, displayable, escapeHtml } from "./display.ts";

export type Row = Record<string, unknown>;

export interface TableOptions {
  title?: string;
  maxRows?: number;
  /** Digits after the decimal point for non-integer numbers (default 4). */
  digits?: number;
}

export function formatCell(v: unknown, digits = 4): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "n/a";
    if (Number.isInteger(v)) return v.toLocaleString("en-US");
    return v.toFixed(digits);
  }
  if (typeof v === "bigint") return v.toLocaleString("en-US");
  if (v instanceof Date) return v.toISOString().replace("T", " ").replace(/\.000Z$|Z$/, "");
  return String(v);
}

const CSS = "border-collapse:collapse;font:13px Helvetica,Arial,sans-serif;margin:6px 0";
const TH = "text-align:right;padding:3px 10px;border-bottom:2px solid #888;background:#f3f5f8";
const TD = "text-align:right;padding:3px 10px;border-bottom:1px solid #e3e3e3";

/** A table from records or a polars DataFrame. */
export function table(
  data: readonly object[] | pl.DataFrame,
  o: TableOptions = {},
): Displayable & { rows: Row[] } {
  const all = (Array.isArray(data) ? data : (data as pl.DataFrame).toRecords()) as Row[];
  const max = o.maxRows ?? 50;
  const rows = all.slice(0, max);
  const cols: string[] = Array.isArray(data)
    ? [...new Set(all.flatMap((r) => Object.keys(r)))]
    : (data as pl.DataFrame).columns;
  const cells = rows.map((r) => cols.map((c) => formatCell(r[c], o.digits)));
  const more = all.length > max ? `${all.length - max} more rows not shown` : "";
  const d = displayable(() => {
    const head = `<tr>${cols.map((c) => `<th style="${TH}">${escapeHtml(c)}</th>`).join("")}</tr>`;
    const body = cells.map((r) =>
      `<tr>${r.map((v) => `<td style="${TD}">${escapeHtml(v)}</td>`).join("")}</tr>`
    ).join("");
    const caption = o.title
      ? `<caption style="text-align:left;font-weight:bold;padding:4px 0">${escapeHtml(o.title)}</caption>`
      : "";
    const html =
      `<table class="ctrlab-table" style="${CSS}">${caption}<thead>${head}</thead><tbody>${body}</tbody></table>` +
      (more ? `<div style="font:12px sans-serif;color:#666">${more}</div>` : "");
    const widths = cols.map((c, k) => Math.max(c.length, ...cells.map((r) => r[k].length)));
    const fmt = (r: string[]) => r.map((v, k) => v.padStart(widths[k])).join("  ");
    const text = [o.title ?? "", fmt(cols), ...cells.map(fmt), more].filter(Boolean).join("\n");
    return { "text/html": html, "text/plain": text };
  });
  return Object.assign(d, { rows: all });
}
