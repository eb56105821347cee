import { lineShape, parseLogTime } from "../lib/data/csv.ts";
import { assert, assertEquals } from "./assert.ts";

const shape = (s: string) => {
  const b = new TextEncoder().encode(s);
  return lineShape(b, 0, b.length);
};

Deno.test("lineShape counts fields under RFC 4180 quoting", () => {
  assertEquals(shape("a,b,c"), { ok: true, fields: 3 });
  assertEquals(shape('a,"b,c",d'), { ok: true, fields: 3 });
  assertEquals(shape('a,"say ""hi""",d'), { ok: true, fields: 3 });
  assertEquals(shape("a,,"), { ok: true, fields: 3 });
  assertEquals(shape(""), { ok: true, fields: 1 });
  assertEquals(shape('"x",'), { ok: true, fields: 2 });
});

Deno.test("lineShape rejects unterminated and stray quotes", () => {
  assertEquals(shape('a,"b,c').ok, false);
  assertEquals(shape('a,b"c,d').ok, false);
  assertEquals(shape('a,"b"c,d').ok, false);
});

Deno.test("lineShape reports the byte range of a requested field", () => {
  const b = new TextEncoder().encode('1,"x,y",2023/7/10 8:05,1');
  const r = new Int32Array(2);
  lineShape(b, 0, b.length, 2, r);
  assertEquals(new TextDecoder().decode(b.subarray(r[0], r[1])), "2023/7/10 8:05");
  lineShape(b, 0, b.length, 1, r);
  assertEquals(new TextDecoder().decode(b.subarray(r[0], r[1])), "x,y");
});

Deno.test("parseLogTime accepts both AntM2C layouts and rejects impossible dates", () => {
  assertEquals(parseLogTime("2023-07-10 08:05:31"), Date.UTC(2023, 6, 10, 8, 5, 31));
  assertEquals(parseLogTime("2023/7/10 8:05"), Date.UTC(2023, 6, 10, 8, 5, 0));
  assertEquals(parseLogTime("2023/12/31 23:59"), Date.UTC(2023, 11, 31, 23, 59, 0));
  assertEquals(parseLogTime("2024-02-29 00:00:00"), Date.UTC(2024, 1, 29));
  for (const bad of ["2023-02-29 00:00:00", "2023-13-45 99:00:00", "2023/7/32 25:61", "not a time", "20230710", "", "2023-07-10", "2023-7-10 08:05:31", "2023/07/10 8:5", "2023/7/10 24:00"]) {
    assert(Number.isNaN(parseLogTime(bad)), `should reject ${JSON.stringify(bad)}`);
  }
});

Deno.test("headLines shows raw lines without parsing them, broken quotes included", async () => {
  const { headLines } = await import("../lib/data/csv.ts");
  const path = await Deno.makeTempFile();
  await Deno.writeTextFile(path, 'a,b\r\n1,"broken\n2,ok\n');
  assertEquals(headLines(path, 2), ["a,b", '1,"broken']);
});
