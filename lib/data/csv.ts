/**
 * Byte-level CSV records for the ETL, before a chunk is handed to polars.
 *
 * A record is not a line: under RFC 4180 a quoted field may hold line breaks, doubled quotes and delimiters.
 * `scanRecord` finds a record's extent, counts its fields, finds one field's byte range and checks UTF-8 in one
 * pass. A quoting error never swallows later records: the record is cut back to its first physical line,
 * which alone is quarantined, and reading resumes on the next line (so does a quoted field left open for more
 * than MAX_RECORD_BYTES).
 */
const QUOTE = 0x22, COMMA = 0x2c, LF = 0x0a, CR = 0x0d;
/** A quoted field left open longer than this is a broken quote, not a long record. */
export const MAX_RECORD_BYTES = 1 << 20;

export interface Dialect {
  delimiter: number;
  quote: number;
  /** Check UTF-8 (true for utf-8 input; other encodings are decoded per record instead). */
  utf8: boolean;
  /**
   * Inside a quoted field, this byte before the quote or before itself stands for that character (a quote is then
   * not doubled); absent or -1: RFC 4180's doubled quote.
   */
  escape?: number;
  /**
   * GBK or GB18030 bytes: a byte 0x81–0xFE takes the byte or three that complete its character, as the decoder
   * reads them, so a second byte 0x40–0x7E (`|`, `\`, `^`, `~`, letters…) is never a delimiter or quote.
   */
  gb?: boolean;
}
export const CSV_DIALECT: Dialect = { delimiter: COMMA, quote: QUOTE, utf8: true };

export interface RecordScan {
  /** Content end (line break excluded) and where the next record starts. */
  end: number;
  next: number;
  fields: number;
  /** Physical lines the record spans. */
  lines: number;
  /** -1, or the byte (from the record's start) of the first quoting error; the record is then its first line. */
  quoteError: number;
  /** -1, or the byte (from the record's start) of the first invalid UTF-8 sequence. */
  badUtf8: number;
}

/** Length of the valid UTF-8 sequence at b[i] (1–4), 0 if invalid, -1 if it runs past `limit`. */
function utf8Len(b: Uint8Array, i: number, limit: number): number {
  const c = b[i];
  const n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n === 0) return 0;
  if (i + n > limit) return -1;
  for (let k = 1; k < n; k++) if ((b[i + k] & 0xc0) !== 0x80) return 0;
  if (n === 3 && ((c === 0xe0 && b[i + 1] < 0xa0) || (c === 0xed && b[i + 1] > 0x9f))) return 0; // overlong, surrogate
  if (n === 4 && ((c === 0xf0 && b[i + 1] < 0x90) || (c === 0xf4 && b[i + 1] > 0x8f))) return 0;
  return n;
}

/**
 * Length of the GB18030 character at b[i] (a byte >= 0x80) as the WHATWG gb18030 decoder (which also reads gbk)
 * takes it: 2 for a lead byte 0x81–0xFE and a second byte 0x40–0x7E or 0x80–0xFE, 4 for lead, 0x30–0x39, lead,
 * 0x30–0x39; otherwise 1 (the decoder reads what follows on its own). -1 when it runs past `limit` before `eof`.
 */
function gbLen(b: Uint8Array, i: number, limit: number, eof: boolean): number {
  if (b[i] < 0x81 || b[i] > 0xfe) return 1;
  if (i + 1 >= limit) return eof ? 1 : -1;
  const t = b[i + 1];
  if ((t >= 0x40 && t <= 0x7e) || (t >= 0x80 && t <= 0xfe)) return 2;
  if (t < 0x30 || t > 0x39) return 1;
  if (i + 3 >= limit) return eof ? 1 : -1;
  return b[i + 2] >= 0x81 && b[i + 2] <= 0xfe && b[i + 3] >= 0x30 && b[i + 3] <= 0x39 ? 4 : 1;
}

/**
 * Scan the record starting at b[start], with bytes valid up to `limit` (`eof`: nothing follows). Fills `out`
 * and returns true, or returns false when the record may continue past `limit` (read more and call again).
 * `want`/`range`: the byte range of field `want` (quotes excluded; -1 when the record has no such field).
 */
export function scanRecord(
  b: Uint8Array,
  start: number,
  limit: number,
  eof: boolean,
  d: Dialect,
  out: RecordScan,
  want = -1,
  range?: Int32Array,
): boolean {
  const Q = d.quote, D = d.delimiter, E = d.escape ?? -1;
  let i = start, fields = 1, lines = 1, bad = -1, err = -1;
  if (range) range[0] = range[1] = -1;
  for (;;) {
    const fieldStart = i;
    if (i < limit && b[i] === Q) {
      i++;
      let closed = false;
      while (!closed) {
        if (i >= limit) {
          if (!eof) return false;
          err = i - start; // unterminated at the end of the input
          break;
        }
        const c = b[i];
        if (c === E) { // an escaped quote or escape is stepped over as a doubled quote is; else the escape is text
          if (i + 1 >= limit && !eof) return false;
          if (i + 1 < limit && (b[i + 1] === Q || b[i + 1] === E)) {
            i += 2;
            continue;
          }
          i++;
        } else if (c === Q) {
          if (i + 1 >= limit && !eof) return false;
          if (E < 0 && i + 1 < limit && b[i + 1] === Q) {
            i += 2;
            continue;
          }
          i++;
          closed = true;
        } else if (c === LF) {
          lines++;
          i++;
        } else if (c >= 0x80) { // a byte >= 0x80: a whole UTF-8 sequence, or an invalid byte noted (inline: this runs for every byte of text)
          const n = d.utf8 ? utf8Len(b, i, limit) : d.gb ? gbLen(b, i, limit, eof) : 1;
          if (n > 0) i += n;
          else if (n === 0 || eof) {
            if (bad < 0) bad = i - start;
            i++;
          } else return false;
        } else i++;
        if (i - start > MAX_RECORD_BYTES) {
          err = i - start;
          break;
        }
      }
      if (err >= 0) break;
      if (fields - 1 === want && range) {
        range[0] = fieldStart + 1;
        range[1] = i - 1;
      }
      if (i >= limit) {
        if (!eof) return false;
        return finish(limit, limit, fields, lines, -1, bad, out);
      }
      const c = b[i];
      if (c === D) {
        i++;
        fields++;
        if (i >= limit && !eof) return false;
        continue;
      }
      if (c === LF) return finish(i, i + 1, fields, lines, -1, bad, out);
      if (c === CR && (i + 1 < limit ? b[i + 1] === LF : eof)) {
        return finish(i, Math.min(i + 2, limit), fields, lines, -1, bad, out);
      }
      if (c === CR && i + 1 >= limit) return false;
      err = i - start; // a byte after a closing quote
      break;
    }
    for (;;) {
      if (i >= limit) {
        if (!eof) return false;
        if (fields - 1 === want && range) {
          range[0] = fieldStart;
          range[1] = i;
        }
        return finish(i > start && b[i - 1] === CR ? i - 1 : i, i, fields, lines, -1, bad, out);
      }
      const c = b[i];
      if (c === D || c === LF) break;
      if (c === Q) {
        err = i - start;
        break;
      }
      if (c >= 0x80) { // a byte >= 0x80: a whole UTF-8 sequence, or an invalid byte noted (inline: this runs for every byte of text)
        const n = d.utf8 ? utf8Len(b, i, limit) : d.gb ? gbLen(b, i, limit, eof) : 1;
        if (n > 0) i += n;
        else if (n === 0 || eof) {
          if (bad < 0) bad = i - start;
          i++;
        } else return false;
      } else i++;
    }
    if (err >= 0) break;
    if (b[i] === LF) {
      const end = i > start && b[i - 1] === CR ? i - 1 : i;
      if (fields - 1 === want && range) {
        range[0] = fieldStart;
        range[1] = Math.max(fieldStart, end);
      }
      return finish(end, i + 1, fields, lines, -1, bad, out);
    }
    if (fields - 1 === want && range) {
      range[0] = fieldStart;
      range[1] = i;
    }
    i++; // delimiter
    fields++;
    if (i >= limit && !eof) return false;
  }
  // quoting error: the record is its first physical line alone
  const nl = b.indexOf(LF, start);
  if (nl < 0 || nl >= limit) {
    if (!eof && limit - start <= MAX_RECORD_BYTES) return false;
    return finish(limit, limit, fields, 1, err, -1, out);
  }
  return finish(nl > start && b[nl - 1] === CR ? nl - 1 : nl, nl + 1, fields, 1, err, -1, out);
}

/**
 * A well-formed record read with an escape (Dialect.escape) in RFC 4180's form, for a reader that knows only that:
 * inside quoted fields an escaped quote becomes a doubled one and an escaped escape the escape alone.
 */
export function unescapeRecord(b: Uint8Array, start: number, end: number, d: Dialect): Uint8Array {
  const Q = d.quote, D = d.delimiter, E = d.escape!;
  const out = new Uint8Array(2 * (end - start));
  let o = 0, quoted = false, fieldStart = true;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (quoted && c === E && i + 1 < end && (b[i + 1] === Q || b[i + 1] === E)) {
      out[o++] = b[++i];
      if (b[i] === Q) out[o++] = Q;
      continue;
    }
    if (quoted) quoted = c !== Q;
    else quoted = c === Q && fieldStart;
    fieldStart = !quoted && c === D;
    out[o++] = c;
  }
  return out.subarray(0, o);
}

function finish(
  end: number,
  next: number,
  fields: number,
  lines: number,
  quoteError: number,
  badUtf8: number,
  out: RecordScan,
): true {
  out.end = end;
  out.next = next;
  out.fields = fields;
  out.lines = lines;
  out.quoteError = quoteError;
  out.badUtf8 = quoteError >= 0 ? -1 : badUtf8;
  return true;
}

/** Split a header record (already decoded) into trimmed names, dropping a BOM and surrounding quotes. */
export function parseHeader(line: string, delimiter = ",", quote = '"', escape = ""): string[] {
  return splitLine(line.replace(/^\uFEFF/, "").replace(/\r$/, ""), delimiter, quote, escape).map((s) =>
    s.trim()
  );
}

/**
 * One decoded line's fields: split at `delimiter` outside quotes, quotes removed and doubled ones undone (with an
 * `escape`, escaped quotes and escapes inside quotes undone instead).
 */
export function splitLine(line: string, delimiter = ",", quote = '"', escape = ""): string[] {
  const out: string[] = [];
  let field = "", quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted && escape && c === escape && (line[i + 1] === quote || line[i + 1] === escape)) {
      field += line[++i];
    } else if (quoted && !escape && c === quote && line[i + 1] === quote) {
      field += quote;
      i++;
    } else if (c === quote) quoted = !quoted;
    else if (c === delimiter && !quoted) {
      out.push(field);
      field = "";
    } else field += c;
  }
  out.push(field);
  return out;
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
  /** Append an ASCII string followed by `sep` (a CSV field that needs no quoting). */
  field(s: string, sep = COMMA) {
    this.#reserve(s.length + 1);
    for (let k = 0; k < s.length; k++) this.buf[this.length++] = s.charCodeAt(k);
    this.buf[this.length++] = sep;
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

/** True when the file starts with gzip's magic bytes (whatever its name). */
export function isGzip(path: string): boolean {
  using f = Deno.openSync(path);
  const head = new Uint8Array(2);
  return (f.readSync(head) ?? 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
}

const EXPORT =
  "export the table as Parquet or as text (Hive: INSERT OVERWRITE DIRECTORY … STORED AS PARQUET)";
const RECOMPRESS = "decompress it, or compress it with gzip instead";
/** Formats logs come in that ctrlab does not read: their name, first bytes, and what to do instead. */
const UNREAD: {
  name: string;
  magic: number[];
  fix: string;
  also?: (head: Uint8Array, tail: Uint8Array) => boolean;
}[] = [
  // ORC's postscript ends with "ORC" too, just before its length (the file's last byte)
  {
    name: "ORC",
    magic: [0x4f, 0x52, 0x43],
    fix: EXPORT,
    also: (_, t) => String.fromCharCode(...t.slice(-4, -1)) === "ORC",
  },
  {
    name: "Avro",
    magic: [0x4f, 0x62, 0x6a, 0x01],
    fix: EXPORT,
    also: (h) => new TextDecoder().decode(h).includes("avro.schema"),
  },
  { name: "a Hadoop SequenceFile", magic: [0x53, 0x45, 0x51, 0x06], fix: EXPORT },
  { name: "RCFile", magic: [0x52, 0x43, 0x46, 0x01], fix: EXPORT },
  // "BZh", the block size, then the first block's magic (π's digits)
  {
    name: "bzip2",
    magic: [0x42, 0x5a, 0x68],
    fix: RECOMPRESS,
    also: (h) => [0x31, 0x41, 0x59, 0x26, 0x53, 0x59].every((b, k) => h[4 + k] === b),
  },
  { name: "zstd", magic: [0x28, 0xb5, 0x2f, 0xfd], fix: RECOMPRESS },
  { name: "xz", magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], fix: RECOMPRESS },
  { name: "LZ4", magic: [0x04, 0x22, 0x4d, 0x18], fix: RECOMPRESS },
  { name: "Snappy", magic: [0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59], fix: RECOMPRESS },
  { name: "zip", magic: [0x50, 0x4b, 0x03, 0x04], fix: "unzip it" },
];

/**
 * Why a file ctrlab would read as text cannot be read, when its first bytes say it is a format ctrlab does not
 * read (ORC, Avro, a SequenceFile, bzip2, zstd, …): its name and what to do instead; else null.
 */
export function unreadFormat(path: string): string | null {
  using f = Deno.openSync(path);
  const head = new Uint8Array(4096), size = f.statSync().size;
  const n = f.readSync(head) ?? 0;
  const tail = new Uint8Array(Math.min(4, size));
  if (size >= 4) {
    f.seekSync(size - 4, Deno.SeekMode.Start);
    f.readSync(tail);
  }
  const found = UNREAD.find((u) =>
    n >= u.magic.length && u.magic.every((b, k) => head[k] === b) &&
    (u.also?.(head.subarray(0, n), tail) ?? true)
  );
  return found
    ? `${found.name}, which ctrlab does not read (it reads CSV, plain, gzip or .deflate, and Parquet): ${found.fix}`
    : null;
}

/** True when the file is Parquet (starts with "PAR1"). */
export function isParquet(path: string): boolean {
  using f = Deno.openSync(path);
  const head = new Uint8Array(4);
  return (f.readSync(head) ?? 0) === 4 && new TextDecoder().decode(head) === "PAR1";
}

/**
 * How a text file is compressed: gzip (recognised by its magic bytes, whatever its name), zlib when it is named
 * `.deflate` (Hadoop's DefaultCodec, which Hive and Spark write when told to compress and given no codec), or not.
 */
export function compressionOf(path: string): "gzip" | "deflate" | null {
  return isGzip(path) ? "gzip" : path.endsWith(".deflate") ? "deflate" : null;
}

/** The bytes of a file, decompressed when it is compressed (compressionOf), as a stream of chunks. */
export async function* fileBytes(path: string): AsyncGenerator<Uint8Array> {
  const codec = compressionOf(path);
  const file = await Deno.open(path, { read: true });
  const stream = codec ? file.readable.pipeThrough(new DecompressionStream(codec)) : file.readable;
  try {
    for await (const c of stream) yield c;
  } catch (e) {
    throw new Error(
      `${path}: ${codec ? `${codec} stream is corrupt or truncated` : "read failed"}: ${
        (e as Error).message
      }`,
    );
  }
}

/**
 * Stream the records of a byte source with 1-based line numbers and byte offsets (of the decompressed bytes). A
 * UTF-8 byte order mark is not part of the first record (which starts at byte 3), as Hadoop's line reader drops it.
 * `onRecord(bytes, scan, start, lineNo, offset)` must not keep references to `bytes` past the call.
 */
export async function forEachRecord(
  source: AsyncIterable<Uint8Array>,
  d: Dialect,
  onRecord: (bytes: Uint8Array, r: RecordScan, start: number, lineNo: number, offset: number) => void,
  want = -1,
  range?: Int32Array,
): Promise<number> {
  let buf = new Uint8Array(8 << 20);
  let filled = 0, lineNo = 1, offset = 0, records = 0;
  const r: RecordScan = { end: 0, next: 0, fields: 0, lines: 0, quoteError: -1, badUtf8: -1 };
  const it = source[Symbol.asyncIterator]();
  let pending: Uint8Array | null = null, eof = false;
  for (;;) {
    // fill: move what is left to the front and append the source's next chunks
    while (!eof && filled < buf.length) {
      if (!pending) {
        const n = await it.next();
        if (n.done) {
          eof = true;
          break;
        }
        pending = n.value;
      }
      const take = Math.min(pending.length, buf.length - filled);
      buf.set(pending.subarray(0, take), filled);
      filled += take;
      pending = take === pending.length ? null : pending.subarray(take);
    }
    let start = offset === 0 && filled >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
    while (start < filled) {
      if (!scanRecord(buf, start, filled, eof, d, r, want, range)) break;
      onRecord(buf, r, start, lineNo, offset + start);
      records++;
      lineNo += r.lines;
      start = r.next;
    }
    if (eof && start >= filled) return records;
    if (start === 0 && filled === buf.length) { // one record longer than the buffer: grow
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      buf = bigger;
    } else {
      buf.copyWithin(0, start, filled);
      filled -= start;
      offset += start;
    }
  }
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Parse a log_time in either layout seen in AntM2C dumps, `yyyy-MM-dd HH:mm:ss` or `yyyy/M/d H:mm`, from
 * bytes[start, end) to epoch milliseconds (naive local time stored as UTC). NaN when it is neither, or when
 * a part is out of range (month 13, 25:61, 31 June, year 0...). Hand-written because it runs once per raw row.
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
    if (seps[0] !== 0x2d || seps[1] !== 0x2d || seps[2] !== 0x20 || seps[3] !== 0x3a || seps[4] !== 0x3a) {
      return NaN;
    }
    if (digits[1] !== 2 || digits[2] !== 2 || digits[3] !== 2 || digits[4] !== 2 || digits[5] !== 2) {
      return NaN;
    }
  } else if (p === 4) { // yyyy/M/d H:mm
    if (seps[0] !== 0x2f || seps[1] !== 0x2f || seps[2] !== 0x20 || seps[3] !== 0x3a) return NaN;
    if (digits[1] > 2 || digits[2] > 2 || digits[3] > 2 || digits[4] !== 2) return NaN;
  } else return NaN;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (mo < 1 || mo > 12 || d < 1 || d > (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1])) return NaN;
  if (h > 23 || mi > 59 || s > 59 || y === 0) return NaN; // year 0 is before TIME_RANGE_MS
  if (y >= 100) return Date.UTC(y, mo - 1, d, h, mi, s);
  const t = new Date(Date.UTC(2000, mo - 1, d, h, mi, s)); // Date.UTC reads years 0–99 as 1900–1999
  return t.setUTCFullYear(y);
}

/** String convenience over parseLogTimeBytes. */
export function parseLogTime(s: string): number {
  const b = new TextEncoder().encode(s);
  return parseLogTimeBytes(b, 0, b.length);
}

/** A file's first `maxBytes` bytes (gunzipped), or all of it when it is shorter. */
export async function headBytes(path: string, maxBytes = 1 << 20): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let got = 0;
  for await (const c of fileBytes(path)) {
    parts.push(c);
    got += c.length;
    if (got >= maxBytes) break;
  }
  const all = new Uint8Array(got);
  parts.reduce((o, c) => (all.set(c, o), o + c.length), 0);
  return all.subarray(0, maxBytes);
}

/** The first `n` lines of a file, as text (gunzipped, decoded with `encoding`), without parsing them (raw logs may be malformed). */
export async function headLines(
  path: string,
  n: number,
  encoding = "utf-8",
  maxBytes = 1 << 20,
): Promise<string[]> {
  return new TextDecoder(encoding).decode(await headBytes(path, maxBytes)).split("\n").slice(0, n).map((l) =>
    l.replace(/\r$/, "")
  );
}

/** Parse an epoch time in seconds or milliseconds (digits, optional sign, optional fraction) to milliseconds; NaN otherwise. */
export function parseEpochBytes(b: Uint8Array, start: number, end: number, unitMs: number): number {
  let i = start, sign = 1, v = 0, frac = 0, scale = 1, digits = 0;
  if (i < end && (b[i] === 0x2d || b[i] === 0x2b)) {
    if (b[i] === 0x2d) sign = -1;
    i++;
  }
  for (; i < end && b[i] >= 0x30 && b[i] <= 0x39; i++, digits++) v = v * 10 + (b[i] - 0x30);
  if (i < end && b[i] === 0x2e) {
    for (i++; i < end && b[i] >= 0x30 && b[i] <= 0x39; i++) {
      frac = frac * 10 + (b[i] - 0x30);
      scale *= 10;
    }
  }
  if (digits === 0 || i !== end || digits > 16) return NaN;
  return sign * Math.round((v + frac / scale) * unitMs);
}

/** Quote a CSV field when it needs it (RFC 4180). */
export function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
