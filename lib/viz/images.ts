/** A grid of small images with captions, as a self-contained HTML cell output (PNG data URIs, no files). */
import { displayable, escapeHtml } from "./display.ts";

function encodeBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function imageGrid(
  items: { png: Uint8Array; caption: string }[],
  o: { title?: string; size?: number; columns?: number } = {},
) {
  const size = o.size ?? 64, cols = o.columns ?? 10;
  return displayable(() => {
    const cells = items.map((it) =>
      `<figure style="margin:4px;display:inline-block;width:${
        size + 8
      }px;text-align:center;font:11px Helvetica,Arial,sans-serif">` +
      `<img src="data:image/png;base64,${
        encodeBase64(it.png)
      }" width="${size}" height="${size}" style="image-rendering:pixelated;border:1px solid #ccc">` +
      `<figcaption>${escapeHtml(it.caption)}</figcaption></figure>`
    );
    const rows: string[] = [];
    for (let i = 0; i < cells.length; i += cols) rows.push(`<div>${cells.slice(i, i + cols).join("")}</div>`);
    return {
      "text/html": `${
        o.title
          ? `<div style="font-weight:bold;font:bold 13px Helvetica,Arial,sans-serif;margin:4px 0">${
            escapeHtml(o.title)
          }</div>`
          : ""
      }${rows.join("")}`,
      "text/plain": `[${items.length} images${o.title ? `: ${o.title}` : ""}]`,
    };
  });
}
