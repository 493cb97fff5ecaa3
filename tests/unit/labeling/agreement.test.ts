import { describe, expect, it } from "vitest";
import {
  alphaFromUnits,
  kendallTauB,
  krippendorffAlpha,
  labelerAgreement,
  meanPairwiseTau,
  rankingAlpha,
  rankingTau,
} from "~/domain/consensus/agreement";

describe("Kendall tau-b", () => {
  it("matches scipy.stats.kendalltau's documented example (with ties)", () => {
    expect(kendallTauB([12, 2, 1, 12, 2], [1, 4, 7, 1, 0])).toBeCloseTo(-0.47140452079103173, 14);
  });

  it("is 1 for the same order, −1 for the reverse, null when undefined", () => {
    expect(kendallTauB([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1);
    expect(kendallTauB([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
    expect(kendallTauB([1, 1, 1], [1, 2, 3])).toBeNull();
    expect(kendallTauB([1], [1])).toBeNull();
    expect(() => kendallTauB([1, 2], [1])).toThrow();
  });

  it("compares rankings over the ids they share, ties included", () => {
    expect(rankingTau(["a", "b", "c"], ["a", "b", "c"])).toBe(1);
    expect(rankingTau(["a", "b", "c"], ["c", "b", "a"])).toBe(-1);
    // Ties: x = (0,1,1), y = (0,1,2): C = 2, D = 0, one pair tied in x → 2 / sqrt(2·3).
    expect(rankingTau(["a", ["b", "c"]], ["a", "b", "c"])).toBeCloseTo(2 / Math.sqrt(6), 14);
    expect(rankingTau(["a", "b", "z"], ["b", "a", "y"])).toBe(-1);
  });

  it("averages over pairs of rankings of a sibling set", () => {
    expect(
      meanPairwiseTau([
        ["a", "b", "c"],
        ["a", "b", "c"],
        ["c", "b", "a"],
      ])
    ).toBeCloseTo((1 - 1 - 1) / 3, 14);
    expect(meanPairwiseTau([["a", "b"]])).toBeNull();
  });
});

describe("Krippendorff's alpha", () => {
  // Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers ×
  // 12 units, values 1–5, with missing values (rows are observers A–D).
  const N = null;
  const data = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
  ];

  it("reproduces the paper's nominal 0.743, ordinal 0.815, interval 0.849 and ratio 0.797", () => {
    expect(krippendorffAlpha(data, "nominal")!).toBeCloseTo(0.743, 3);
    expect(krippendorffAlpha(data, "ordinal")!).toBeCloseTo(0.815, 3);
    expect(krippendorffAlpha(data, "interval")!).toBeCloseTo(0.849, 3);
    expect(krippendorffAlpha(data, "ratio")!).toBeCloseTo(0.797, 3);
  });

  it("ignores units with a single value and treats NaN/undefined as missing", () => {
    const padded = data.map((row) => [...row, Number.NaN]);
    padded[0][12] = 4; // a unit coded by one observer only is not pairable
    expect(krippendorffAlpha(padded, "nominal")).toBeCloseTo(krippendorffAlpha(data, "nominal")!, 14);
  });

  it("is 1 for perfect agreement and null without variation or pairable units", () => {
    expect(
      alphaFromUnits(
        [
          [1, 1],
          [2, 2, 2],
          [3, 3],
        ],
        "ordinal"
      )
    ).toBe(1);
    expect(
      alphaFromUnits(
        [
          [2, 2],
          [2, 2],
        ],
        "interval"
      )
    ).toBeNull();
    expect(alphaFromUnits([[1], [2]], "nominal")).toBeNull();
    expect(alphaFromUnits([], "nominal")).toBeNull();
  });

  it("is negative for systematic disagreement", () => {
    expect(
      alphaFromUnits(
        [
          [1, 2],
          [2, 1],
          [1, 2],
          [2, 1],
        ],
        "nominal"
      )!
    ).toBeLessThan(0);
  });
});

describe("ranking agreement in a project", () => {
  const agreeing = [
    {
      rankings: [
        { labelerId: "u1", ranking: ["a", "b", "c"] },
        { labelerId: "u2", ranking: ["a", "b", "c"] },
      ],
    },
    {
      rankings: [
        { labelerId: "u1", ranking: ["d", "e"] },
        { labelerId: "u2", ranking: ["d", "e"] },
      ],
    },
  ];

  it("gives ordinal alpha 1 when labelers agree on every set and less when they do not", () => {
    expect(rankingAlpha(agreeing)).toBe(1);
    const mixed = [
      ...agreeing,
      {
        rankings: [
          { labelerId: "u1", ranking: ["f", "g", "h"] },
          { labelerId: "u2", ranking: ["h", "g", "f"] },
        ],
      },
    ];
    const alpha = rankingAlpha(mixed)!;
    expect(alpha).toBeLessThan(1);
    expect(alpha).toBeGreaterThan(0);
    const reversed = [
      {
        rankings: [
          { labelerId: "u1", ranking: ["a", "b", "c"] },
          { labelerId: "u2", ranking: ["c", "b", "a"] },
        ],
      },
    ];
    expect(rankingAlpha(reversed)!).toBeLessThan(0);
  });

  it("scores each labeler against the consensus", () => {
    const sets = [
      {
        consensus: { a: 0, b: 1, c: 2 },
        rankings: [
          { labelerId: "good", ranking: ["a", "b", "c"] },
          { labelerId: "bad", ranking: ["c", "b", "a"] },
        ],
      },
      {
        consensus: ["d", "e"],
        rankings: [
          { labelerId: "good", ranking: ["d", "e"] },
          { labelerId: "bad", ranking: ["d", "e"] },
          { labelerId: "tie", ranking: [["d", "e"]] },
        ],
      },
    ];
    expect(labelerAgreement(sets)).toEqual({
      good: { meanTau: 1, sets: 2 },
      bad: { meanTau: 0, sets: 2 },
      tie: { meanTau: null, sets: 0 },
    });
  });
});
