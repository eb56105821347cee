/**
 * Byte-level CSV record checks used by the ETL before a chunk is handed to polars.
 *
 * A record is one physical line: AntM2C fields never contain newlines, so a broken quote can damage only
 * its own line and row accounting stays exact (a stock CSV parser would swallow the following lines).
 */
const QUOTE = 0x22, COMMA = 0x2c;

export type LineShape = { ok: true; fields: number } | { ok: false; reason: "broken_quoting"; at: number };

/**
 * Count the fields of bytes[start, end) under RFC 4180 quoting, strictly: a quoted field must close before
 * the end of the line and be followed by a comma or the end; a quote inside an unquoted field is an error.
 */
export function lineShape(b: Uint8Array, start: number, end: number, want = -1, range?: Int32Array): LineShape {
  let fields = 1, i = start;
  if (range) range[0] = range[1] = -1;
  while (i < end) {
    const fieldStart = i;
    if (b[i] === QUOTE) {
      i++;
      for (;;) {
        while (i < end && b[i] !== QUOTE) i++;
        if (i >= end) return { ok: false, reason: "broken_quoting", at: i - start };
        if (i + 1 < end && b[i + 1] === QUOTE) { i += 2; continue; }
        i++; // closing quote
        break;
      }
      if (fields - 1 === want && range) { range[0] = fieldStart + 1; range[1] = i - 1; }
      if (i === end) break;
      if (b[i] !== COMMA) return { ok: false, reason: "broken_quoting", at: i - start };
      i++;
      fields++;
    } else {
      while (i < end && b[i] !== COMMA) {
        if (b[i] === QUOTE) return { ok: false, reason: "broken_quoting", at: i - start };
        i++;
      }
      if (fields - 1 === want && range) { range[0] = fieldStart; range[1] = i; }
      if (i < end) {
        i++;
        fields++;
        if (i === end && fields - 1 === want && range) range[0] = range[1] = end; // trailing empty field
      }
    }
  }
  return { ok: true, fields };
}

/** Split a header line (no quoting expected) into trimmed names, dropping a UTF-8 BOM. */
export function parseHeader(line: string): string[] {
  return line.replace(/^\uFEFF/, "").replace(/\r$/, "").split(",").map((s) => s.trim());
}

/** A growable byte buffer for assembling CSV chunks without per-line allocations. */
export class ByteBuilder {
  buf: Uint8Array;
  length = 0;
  constructor(capacity = 1 << 20) {
    this.buf = new Uint8Array(capacity);
  }
  #reserve(n: number) {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  bytes(src: Uint8Array, start: number, end: number) {
    this.#reserve(end - start);
    this.buf.set(src.subarray(start, end), this.length);
    this.length += end - start;
  }
  /** Append an ASCII string followed by a comma (a CSV field that needs no quoting). */
  field(s: string) {
    this.#reserve(s.length + 1);
    for (let k = 0; k < s.length; k++) this.buf[this.length++] = s.charCodeAt(k);
    this.buf[this.length++] = COMMA;
  }
  byte(x: number) {
    this.#reserve(1);
    this.buf[this.length++] = x;
  }
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
  clear() {
    this.length = 0;
  }
}

/**
 * Stream the lines of a file as byte ranges over a reused buffer, with 1-based line numbers.
 * `onLine(bytes, start, end, lineNo)` must not keep references to `bytes` past the call.
 */
export async function forEachLine(path: string, onLine: (bytes: Uint8Array, start: number, end: number, lineNo: number) => void, chunkSize = 8 << 20): Promise<number> {
  using file = await Deno.open(path, { read: true });
  let buf = new Uint8Array(chunkSize);
  let filled = 0, lineNo = 0;
  for (;;) {
    if (filled === buf.length) { // a line longer than the buffer: grow
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      buf = bigger;
    }
    const n = await file.read(buf.subarray(filled));
    const eof = n === null;
    if (!eof) filled += n;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0 || nl >= filled) break;
      let end = nl;
      if (end > start && buf[end - 1] === 0x0d) end--;
      onLine(buf, start, end, ++lineNo);
      start = nl + 1;
    }
    if (eof) {
      if (start < filled) {
        let end = filled;
        if (buf[end - 1] === 0x0d) end--;
        onLine(buf, start, end, ++lineNo);
      }
      return lineNo;
    }
    buf.copyWithin(0, start, filled);
    filled -= start;
  }
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Parse a log_time in either layout seen in AntM2C dumps, `yyyy-MM-dd HH:mm:ss` or `yyyy/M/d H:mm`, from
 * bytes[start, end) to epoch milliseconds (naive local time stored as UTC). NaN when it is neither, or when
 * a part is out of range (month 13, 25:61, 31 June...). Hand-written because it runs once per raw row.
 */
export function parseLogTimeBytes(b: Uint8Array, start: number, end: number): number {
  const parts = [0, 0, 0, 0, 0, 0];
  const digits = [0, 0, 0, 0, 0, 0];
  const seps = [0, 0, 0, 0, 0];
  let p = 0;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c >= 0x30 && c <= 0x39) {
      parts[p] = parts[p] * 10 + (c - 0x30);
      if (++digits[p] > 4) return NaN;
    } else {
      if (p >= 5 || digits[p] === 0) return NaN;
      seps[p++] = c;
    }
  }
  if (digits[p] === 0) return NaN;
  const [y, mo, d, h, mi, s] = parts;
  if (digits[0] !== 4) return NaN;
  if (p === 5) { // yyyy-MM-dd HH:mm:ss
    if (seps[0] !== 0x2d || seps[1] !== 0x2d || seps[2] !== 0x20 || seps[3] !== 0x3a || seps[4] !== 0x3a) return NaN;
    if (digits[1] !== 2 || digits[2] !== 2 || digits[3] !== 2 || digits[4] !== 2 || digits[5] !== 2) return NaN;
  } else if (p === 4) { // yyyy/M/d H:mm
    if (seps[0] !== 0x2f || seps[1] !== 0x2f || seps[2] !== 0x20 || seps[3] !== 0x3a) return NaN;
    if (digits[1] > 2 || digits[2] > 2 || digits[3] > 2 || digits[4] !== 2) return NaN;
  } else return NaN;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (mo < 1 || mo > 12 || d < 1 || d > (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1])) return NaN;
  if (h > 23 || mi > 59 || s > 59) return NaN;
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

/** String convenience over parseLogTimeBytes. */
export function parseLogTime(s: string): number {
  const b = new TextEncoder().encode(s);
  return parseLogTimeBytes(b, 0, b.length);
}

/** The first `n` lines of a file, as text, without parsing them (raw logs may be malformed). */
export function headLines(path: string, n: number, maxBytes = 1 << 20): string[] {
  using f = Deno.openSync(path);
  const buf = new Uint8Array(maxBytes);
  const got = f.readSync(buf) ?? 0;
  return new TextDecoder().decode(buf.subarray(0, got)).split("\n").slice(0, n).map((l) => l.replace(/\r$/, ""));
}
