import { describe, expect, it } from "vitest";
import { batchesBySimilarLength } from "~/domain/sampling/batches.ts";

/** The padded slots a batch's cache holds beyond its prompts' own tokens. */
const padding = (batches: number[][]) => batches.reduce((n, b) => n + b.length * Math.max(...b) - b.reduce((s, x) => s + x, 0), 0);

describe("batches of prompts by similar length", () => {
  it("groups each window by length, keeps every prompt once, and cuts batches of the asked size", () => {
    const lengths = [500, 12, 480, 15, 30, 470, 25, 510, 18, 40, 460, 22];
    const batches = batchesBySimilarLength(lengths, (x) => x, 3, 2);
    // Windows of 6 items, in their order; each sorted and cut into batches of 3.
    expect(batches).toEqual([
      [12, 15, 30],
      [470, 480, 500],
      [18, 22, 25],
      [40, 460, 510],
    ]);
    const inOrder = [];
    for (let i = 0; i < lengths.length; i += 3) inOrder.push(lengths.slice(i, i + 3));
    expect(padding(batches)).toBeLessThan(padding(inOrder) / 2);
  });

  it("keeps the order of equally long prompts and leaves a short last batch", () => {
    const items = ["a1", "b1", "a2", "c2", "b2"].map((id) => ({ id, length: Number(id[1]) }));
    expect(batchesBySimilarLength(items, (x) => x.length, 2, 8).map((b) => b.map((x) => x.id))).toEqual([["a1", "b1"], ["a2", "c2"], ["b2"]]);
    expect(batchesBySimilarLength([], (x: number) => x, 4)).toEqual([]);
  });

  it("refuses a batch size or window that is not a positive integer", () => {
    expect(() => batchesBySimilarLength([1], (x) => x, 0)).toThrow(/batch size/);
    expect(() => batchesBySimilarLength([1], (x) => x, 2, 1.5)).toThrow(/window/);
  });
});
