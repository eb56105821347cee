/**
 * Small synthetic item pictures whose content follows the item's latent topics, so an image channel carries
 * real signal: the main topic sets the shape's colour (a hue per topic) and form (one of six), the second topic
 * (if any) tints the background and adds a small badge; position, size, brightness and pixel noise vary per
 * item. 32×32 RGB PNGs, `images/<item_id>.png`, beside the logs (the real MM-CTR data ships item images).
 */
import { encode } from "fast-png";
import type { Rng } from "../util/rng.ts";

export const IMAGE_SIZE = 32;
const SHAPES = ["disc", "square", "triangle", "ring", "cross", "stripes"] as const;

/** The topic's RGB colour: hues spread around the wheel, stepping by a golden-angle-like stride so neighbours differ. */
export function topicColour(topic: number, topics: number): [number, number, number] {
  const h = ((topic * 7) % topics) / topics * 6, x = 1 - Math.abs((h % 2) - 1);
  const [r, g, b] = h < 1
    ? [1, x, 0]
    : h < 2
    ? [x, 1, 0]
    : h < 3
    ? [0, 1, x]
    : h < 4
    ? [0, x, 1]
    : h < 5
    ? [x, 0, 1]
    : [1, 0, x];
  return [40 + 200 * r, 40 + 200 * g, 40 + 200 * b];
}

function inside(shape: typeof SHAPES[number], u: number, v: number): boolean {
  switch (shape) {
    case "disc":
      return u * u + v * v < 1;
    case "square":
      return Math.abs(u) < 0.85 && Math.abs(v) < 0.85;
    case "triangle":
      return v > -0.8 && v < 0.9 && Math.abs(u) < (v + 0.8) * 0.55;
    case "ring": {
      const r = u * u + v * v;
      return r < 1 && r > 0.4;
    }
    case "cross":
      return (Math.abs(u) < 0.3 && Math.abs(v) < 1) || (Math.abs(v) < 0.3 && Math.abs(u) < 1);
    case "stripes":
      return Math.abs(u) < 1 && Math.abs(v) < 1 && Math.floor((u + 1) * 2.5) % 2 === 0;
  }
}

/** RGB bytes (IMAGE_SIZE² × 3) for an item with this topic mixture. */
export function itemPixels(
  mix: { topics: number[]; weights: number[] },
  topics: number,
  rng: Rng,
): Uint8Array {
  const S = IMAGE_SIZE, out = new Uint8Array(S * S * 3);
  const main = mix.topics[0], second = mix.topics[1];
  const fg = topicColour(main, topics), shape = SHAPES[main % SHAPES.length];
  const bg = second === undefined ? [225, 225, 225] : topicColour(second, topics).map((c) => 150 + c * 0.4);
  const cx = (rng.next() - 0.5) * 0.5,
    cy = (rng.next() - 0.5) * 0.5,
    size = 0.45 + 0.3 * rng.next(),
    light = 0.8 + 0.4 * rng.next();
  const badge = second === undefined ? null : {
    c: topicColour(second, topics),
    x: rng.next() < 0.5 ? -0.72 : 0.72,
    y: rng.next() < 0.5 ? -0.72 : 0.72,
  };
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const px = (x + 0.5) / S * 2 - 1, py = (y + 0.5) / S * 2 - 1;
      let c = bg;
      if (badge && Math.hypot(px - badge.x, py - badge.y) < 0.2) c = badge.c;
      if (inside(shape, (px - cx) / size, (py - cy) / size)) c = fg.map((v) => v * light);
      for (let k = 0; k < 3; k++) {
        out[(y * S + x) * 3 + k] = Math.max(0, Math.min(255, Math.round(c[k] + 18 * rng.normal())));
      }
    }
  }
  return out;
}

export function encodePng(rgb: Uint8Array, size = IMAGE_SIZE): Uint8Array {
  return encode({ width: size, height: size, data: rgb, channels: 3, depth: 8 });
}
