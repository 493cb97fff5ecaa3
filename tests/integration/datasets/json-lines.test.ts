// The export's JSON line writer gives byte for byte what JSON.stringify gives.
import { describe, expect, it } from "vitest";
import { JsonLinesEncoder } from "~/models/datasets/json-lines.ts";

const tricky = [
  "",
  "plain ascii text",
  'quotes " and \\ backslashes',
  "line\nbreaks\r\nand\ttabs\u0000\u0001\u001f\u007f",
  "naïve café — 数据集 → 😀 ’s",
  "lone \ud800 high and \udc00 low surrogates, and a pair \ud83d\ude00",
  "\u2028\u2029 separators",
  "a".repeat(200),
  `${"long text with a line\nbreak ".repeat(20)}end`,
  // Longer than the encoder's first scratch area for escaping, with escapes all along.
  `${'数据 "quoted"\n'.repeat(9000)}\u0002`,
];

function encodeAll(values: unknown[], capacity = 64): string {
  const encoder = new JsonLinesEncoder(capacity);
  const chunks: Buffer[] = [];
  for (const value of values) {
    encoder.line(value);
    // Small chunks: remembered strings must not be copied from a buffer that was handed over.
    if (encoder.size > 100) chunks.push(Buffer.from(encoder.take()));
  }
  chunks.push(encoder.take());
  return Buffer.concat(chunks).toString("utf8");
}

describe("JsonLinesEncoder", () => {
  it("writes what JSON.stringify writes", () => {
    const long = tricky[8];
    const values = [
      ...tricky.map((text) => ({ text })),
      { n: [0, -0, 1.5, -2e-7, 1e21, Number.NaN, Number.POSITIVE_INFINITY], b: [true, false], z: null },
      { skipped: undefined, f: () => 1, kept: [undefined, () => 1, Symbol("s")] },
      { when: new Date("2026-01-02T03:04:05Z"), nested: { deep: [{ deeper: [tricky[4], { x: tricky[5] }] }] } },
      { "key with \"quote\"": 1, 数据: 2, "": 3, "10": 4, "2": 5 },
      // The same long string many times in a row (copied after the first) and again after a flush.
      { prompt: [long, long], chosen: long, rejected: [long] },
      { again: long },
      [long, tricky[5], long],
      "a top-level string",
      42,
    ];
    expect(encodeAll(values)).toBe(values.map((v) => `${JSON.stringify(v)}\n`).join(""));
    expect(encodeAll(values, 1 << 20)).toBe(values.map((v) => `${JSON.stringify(v)}\n`).join(""));
  });

  it("finds a character to escape at any place and alignment in the string", () => {
    // Every escaped character, at each place of strings of 1 to 40 characters, among ASCII and
    // multi-byte neighbours, written at every offset into the buffer (the scan reads 4 bytes at a time).
    const escaped = ['"', "\\", "\u0000", "\n", "\u001f", "\t", "\b", "\f", "\r", "\u0001"];
    const fillers = ["a", "é", "数", "😀", "~", "\u007f"];
    const values: unknown[] = [];
    for (let length = 1; length <= 40; length++) {
      for (let at = 0; at < length; at++) {
        const filler = fillers[(length + at) % fillers.length];
        const chars = Array.from({ length }, () => filler);
        chars[at] = escaped[(length * 7 + at) % escaped.length];
        values.push(chars.join(""));
        // And a second one further on: escapes are moved into place from the back.
        chars[(at * 5 + 3) % length] = escaped[at % escaped.length];
        values.push(chars.join(""));
      }
      values.push(fillers[length % fillers.length].repeat(length));
    }
    // Lines of 2, 3 and 5 bytes first start the strings at each offset modulo 4.
    for (const before of [[], [0], [""], [0, ""]]) {
      const encoder = new JsonLinesEncoder(1 << 16);
      const all = [...before, ...values];
      for (const value of all) encoder.line(value);
      expect(encoder.take().toString("utf8")).toBe(all.map((v) => `${JSON.stringify(v)}\n`).join(""));
    }
  });

  it("refuses values JSON cannot write", () => {
    const encoder = new JsonLinesEncoder();
    expect(() => encoder.line(undefined)).toThrow(TypeError);
    expect(() => encoder.line({ big: 1n })).toThrow(TypeError);
  });
});
