import {
  CSV_DIALECT,
  type Dialect,
  forEachRecord,
  parseEpochBytes,
  parseLogTime,
  type RecordScan,
  scanRecord,
  unescapeRecord,
} from "../lib/data/csv.ts";
import { assert, assertEquals } from "./assert.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const scan = (s: string, want = -1, range?: Int32Array) => {
  const b = enc(s), r = {} as RecordScan;
  assert(scanRecord(b, 0, b.length, true, CSV_DIALECT, r, want, range));
  return {
    fields: r.fields,
    lines: r.lines,
    end: r.end,
    next: r.next,
    quoteError: r.quoteError,
    badUtf8: r.badUtf8,
  };
};

/** Every record of a text as [decoded record, first line, fields, quote error], read through small chunks. */
async function records(
  text: string | Uint8Array,
  chunk = 3,
  d: Dialect = CSV_DIALECT,
): Promise<[string, number, number, boolean][]> {
  const bytes = typeof text === "string" ? enc(text) : text;
  const out: [string, number, number, boolean][] = [];
  const source = (async function* () {
    for (let i = 0; i < bytes.length; i += chunk) yield bytes.slice(i, i + chunk);
  })();
  await forEachRecord(source, d, (b, r, start, line) => {
    out.push([new TextDecoder().decode(b.subarray(start, r.end)), line, r.fields, r.quoteError >= 0]);
  });
  return out;
}

Deno.test("scanRecord counts fields under RFC 4180 quoting", () => {
  assertEquals(scan("a,b,c").fields, 3);
  assertEquals(scan('a,"b,c",d').fields, 3);
  assertEquals(scan('a,"say ""hi""",d').fields, 3);
  assertEquals(scan("a,,").fields, 3);
  assertEquals(scan("").fields, 1);
  assertEquals(scan('"x",').fields, 2);
  assertEquals(scan("a,b\r\nc,d"), { fields: 2, lines: 1, end: 3, next: 5, quoteError: -1, badUtf8: -1 });
});

Deno.test("a quoted field may hold line breaks: one record over several lines", async () => {
  assertEquals(scan('1,"two\nlines",3\nnext').fields, 3);
  assertEquals(scan('1,"two\nlines",3\nnext').lines, 2);
  const got = await records('h1,h2\r\n1,"a\r\nb"\r\n2,"x ""q"" y"\n3,z');
  assertEquals(got, [["h1,h2", 1, 2, false], ['1,"a\r\nb"', 2, 2, false], ['2,"x ""q"" y"', 4, 2, false], [
    "3,z",
    5,
    2,
    false,
  ]]);
});

Deno.test("a broken quote costs only its own line, whatever follows", async () => {
  assert(scan('a,"b,c').quoteError >= 0);
  assert(scan('a,b"c,d').quoteError >= 0);
  assert(scan('a,"b"c,d').quoteError >= 0);
  // an opening quote never closed: the next lines are records of their own, with their own line numbers
  const got = await records('1,"broken,x\n2,"ok",y\n3,z,w\n');
  assertEquals(got, [['1,"broken,x', 1, 2, true], ['2,"ok",y', 2, 3, false], ["3,z,w", 3, 3, false]]);
  // at the end of the input
  assertEquals(await records('1,ok\n2,"open'), [["1,ok", 1, 2, false], ['2,"open', 2, 2, true]]);
});

Deno.test("invalid UTF-8 is found at its byte, valid multi-byte text passes", () => {
  assertEquals(scan("用户,标题").badUtf8, -1);
  const gbk = Uint8Array.of(0x61, 0x2c, 0xc4, 0xe3, 0xba, 0xc3); // "a,你好" in GBK
  const r = {} as RecordScan;
  scanRecord(gbk, 0, gbk.length, true, CSV_DIALECT, r);
  assertEquals(r.badUtf8, 2);
  scanRecord(gbk, 0, gbk.length, true, { ...CSV_DIALECT, utf8: false }, r);
  assertEquals(r.badUtf8, -1);
});

Deno.test("scanRecord reports the byte range of a requested field", () => {
  const b = enc('1,"x,y",2023/7/10 8:05,1');
  const r = new Int32Array(2), out = {} as RecordScan;
  scanRecord(b, 0, b.length, true, CSV_DIALECT, out, 2, r);
  assertEquals(new TextDecoder().decode(b.subarray(r[0], r[1])), "2023/7/10 8:05");
  scanRecord(b, 0, b.length, true, CSV_DIALECT, out, 1, r);
  assertEquals(new TextDecoder().decode(b.subarray(r[0], r[1])), "x,y");
  const tab = enc("u\t1690876800\t1");
  scanRecord(tab, 0, tab.length, true, { ...CSV_DIALECT, delimiter: 9 }, out, 1, r);
  assertEquals(out.fields, 3);
  assertEquals(parseEpochBytes(tab, r[0], r[1], 1000), 1690876800_000);
});

Deno.test("epoch times: seconds and milliseconds, fractions, garbage rejected", () => {
  const p = (s: string, unit: number) => parseEpochBytes(enc(s), 0, enc(s).length, unit);
  assertEquals(p("1690876800", 1000), Date.UTC(2023, 7, 1, 8));
  assertEquals(p("1690876800123", 1), Date.UTC(2023, 7, 1, 8) + 123);
  assertEquals(p("1690876800.5", 1000), Date.UTC(2023, 7, 1, 8) + 500);
  for (const bad of ["", "12a", "1.2.3", "-", "2023-08-01"]) assert(Number.isNaN(p(bad, 1000)), bad);
});

Deno.test("parseLogTime accepts both AntM2C layouts and rejects impossible dates", () => {
  assertEquals(parseLogTime("2023-07-10 08:05:31"), Date.UTC(2023, 6, 10, 8, 5, 31));
  assertEquals(parseLogTime("2023/7/10 8:05"), Date.UTC(2023, 6, 10, 8, 5, 0));
  assertEquals(parseLogTime("2023/12/31 23:59"), Date.UTC(2023, 11, 31, 23, 59, 0));
  assertEquals(parseLogTime("2024-02-29 00:00:00"), Date.UTC(2024, 1, 29));
  // years 1–99 are those years (Date.UTC alone would read them as 1901–1999); year 0 is out of range
  assertEquals(parseLogTime("0023-07-10 08:05:31"), Date.parse("0023-07-10T08:05:31Z"));
  assertEquals(parseLogTime("0004/2/29 0:00"), Date.parse("0004-02-29T00:00:00Z"));
  assertEquals(parseLogTime("0001-01-01 00:00:00"), -62_135_596_800_000);
  for (
    const bad of [
      "2023-02-29 00:00:00",
      "2023-13-45 99:00:00",
      "2023/7/32 25:61",
      "not a time",
      "20230710",
      "",
      "2023-07-10",
      "2023-7-10 08:05:31",
      "2023/07/10 8:5",
      "2023/7/10 24:00",
      "0000-01-01 00:00:00",
      "0100-02-29 00:00:00",
    ]
  ) {
    assert(Number.isNaN(parseLogTime(bad)), `should reject ${JSON.stringify(bad)}`);
  }
});

Deno.test("headLines shows raw lines without parsing them, broken quotes included, gzip or not", async () => {
  const { headLines } = await import("../lib/data/csv.ts");
  const path = await Deno.makeTempFile();
  await Deno.writeTextFile(path, 'a,b\r\n1,"broken\n2,ok\n');
  assertEquals(await headLines(path, 2), ["a,b", '1,"broken']);
  const gz = await Deno.makeTempFile(); // no extension: recognised by its magic bytes
  await Deno.writeFile(
    gz,
    new Uint8Array(
      await new Response(new Blob([enc("x,y\n1,2\n")]).stream().pipeThrough(new CompressionStream("gzip")))
        .arrayBuffer(),
    ),
  );
  assertEquals(await headLines(gz, 2), ["x,y", "1,2"]);
});

Deno.test("an escape (Spark's CSV): inside quotes it steps over a quote or itself, whatever the chunks; unescapeRecord gives RFC 4180", async () => {
  const d: Dialect = { ...CSV_DIALECT, escape: 0x5c }; // a backslash
  const text = String.raw`1,"7\" tablet",x` + "\n" + String.raw`2,"C:\\dir \"q\"",C:\d` + "\n" +
    String.raw`3,"ends \\\"` + "\n" + String.raw`more",y` + "\n" + String.raw`4,"a""b",z` + "\n";
  for (const chunk of [1, 2, 3, 5, 64]) {
    assertEquals(await records(text, chunk, d), [
      [String.raw`1,"7\" tablet",x`, 1, 3, false],
      [String.raw`2,"C:\\dir \"q\"",C:\d`, 2, 3, false],
      [String.raw`3,"ends \\\"` + "\n" + String.raw`more",y`, 3, 3, false],
      [String.raw`4,"a""b",z`, 5, 2, true], // a doubled quote is no longer an escaped one
    ], `chunks of ${chunk}`);
  }
  const rfc = (s: string) => new TextDecoder().decode(unescapeRecord(enc(s), 0, enc(s).length, d));
  assertEquals(rfc(String.raw`2,"C:\\dir \"q\"",C:\d`), String.raw`2,"C:\dir ""q""",C:\d`);
  assertEquals(rfc(String.raw`"\x\\\"",\"`), String.raw`"\x\""",\"`); // an escape before anything else, and outside quotes, is text
});
