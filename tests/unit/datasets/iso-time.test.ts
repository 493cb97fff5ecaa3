// Export timestamps are written by arithmetic rather than Date#toISOString (a hot path): the text
// must be exactly what toISOString gives, for any date.
import { describe, expect, it } from "vitest";
import { isoTime } from "~/models/datasets/export-source.server.ts";

const iso = (ms: number) => new Date(ms).toISOString();

describe("isoTime", () => {
  it("writes what Date#toISOString writes, at the edges", () => {
    const edges = [
      0,
      -1,
      Date.UTC(1969, 11, 31, 23, 59, 59, 999),
      Date.UTC(2000, 1, 29, 12, 0, 0, 1),
      Date.UTC(2100, 1, 28, 23, 59, 59, 999),
      Date.UTC(2100, 2, 1),
      Date.UTC(2400, 1, 29, 1, 2, 3, 4),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.UTC(10000, 0, 1),
      Date.UTC(-1, 5, 6, 7, 8, 9, 10),
      1_764_374_400_123.9,
    ];
    for (const ms of edges) expect(isoTime(ms), String(ms)).toBe(iso(ms));
  });

  it("writes what Date#toISOString writes, for a hundred thousand dates from 1900 to 2200", () => {
    let seed = 42;
    const next = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const from = Date.UTC(1900, 0, 1);
    const to = Date.UTC(2200, 0, 1);
    const wrong: number[] = [];
    for (let i = 0; i < 100_000; i++) {
      const ms = Math.floor(from + next() * (to - from));
      if (isoTime(ms) !== iso(ms)) wrong.push(ms);
    }
    expect(wrong).toEqual([]);
  });
});
