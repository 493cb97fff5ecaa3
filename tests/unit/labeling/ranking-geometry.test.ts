// Places of a dragged reply in a list of replies of very different heights.
import { describe, expect, it } from "vitest";
import { nearestPlace, placeTops, type Span } from "~/components/labeling/ranking-geometry.ts";
import { seededRng } from "~/domain/tasks/rng.ts";

const GAP = 10;
/** Spans of a vertical list with these heights, starting at `top`. */
function list(heights: number[], top = 100): Span[] {
  const spans: Span[] = [];
  for (const h of heights) {
    spans.push({ top, bottom: top + h });
    top += h + GAP;
  }
  return spans;
}

describe("placeTops", () => {
  it("puts the dragged reply's top where the sorting strategy draws it", () => {
    // A short reply (index 0) and a reply taller than a window (index 1), then two short ones.
    const spans = list([100, 1100, 100, 300]);
    // From index 0: its own top, then bottoms of the others less its own height.
    expect(placeTops(spans, 0)).toEqual([100, 1310 - 100, 1420 - 100, 1730 - 100]);
    // The tall reply dragged: above it the displaced reply's top, below it bottom-aligned.
    expect(placeTops(spans, 1)).toEqual([100, 210, 1420 - 1100, 1730 - 1100]);
  });

  it("keeps places in order and each place nearest to itself, whatever the heights", () => {
    const rng = seededRng(20);
    for (let round = 0; round < 200; round++) {
      const heights = Array.from({ length: 2 + Math.floor(rng() * 8) }, () => 40 + Math.floor(rng() * 2000));
      const spans = list(heights);
      const from = Math.floor(rng() * heights.length);
      const tops = placeTops(spans, from);
      for (let k = 1; k < tops.length; k++) expect(tops[k]).toBeGreaterThan(tops[k - 1]);
      tops.forEach((top, k) => expect(nearestPlace(tops, top)).toBe(k));
    }
  });
});

describe("nearestPlace", () => {
  it("moves a short reply past a tall one only once it covers half of the tall one", () => {
    const tops = placeTops(list([100, 1100, 100]), 0);
    expect(nearestPlace(tops, 100 + 500)).toBe(0);
    expect(nearestPlace(tops, 100 + 600)).toBe(1);
    expect(nearestPlace(tops, 100 + 1110)).toBe(1);
  });

  it("moves a tall reply past a short one after half of the short one", () => {
    const tops = placeTops(list([100, 1100, 100, 100]), 1);
    expect(nearestPlace(tops, 210 + 50)).toBe(1);
    expect(nearestPlace(tops, 210 + 60)).toBe(2);
    // Here, one place down, the tall reply's centre is still nearer its own old centre than any
    // other: centre-based detection (closestCenter) drops it back where it was.
    expect(nearestPlace(tops, 210 + 110)).toBe(2);
    expect(nearestPlace(tops, 210 + 220)).toBe(3);
  });
});
