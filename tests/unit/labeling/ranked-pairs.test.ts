import { describe, expect, it } from "vitest";
import { rankedPairs } from "~/domain/consensus/ranked-pairs";
import {
  hasTies,
  normalizeRanking,
  rankingFromRanks,
  rankingPositions,
  restrictRanking,
  type Ranking,
} from "~/domain/consensus/ranking";

const times = (r: Ranking, n: number): Ranking[] => Array.from({ length: n }, () => r);

describe("ranking representation", () => {
  it("accepts bare ids and groups; positions count the ids strictly ahead", () => {
    expect(normalizeRanking(["a", ["b", "c"], [], "d"])).toEqual([["a"], ["b", "c"], ["d"]]);
    expect(Object.fromEntries(rankingPositions(["a", ["b", "c"], "d"]))).toEqual({ a: 0, b: 1, c: 1, d: 3 });
    expect(rankingFromRanks({ a: 0, b: 1, c: 1, d: 3 })).toEqual([["a"], ["b", "c"], ["d"]]);
    expect(hasTies(["a", "b"])).toBe(false);
    expect(hasTies([["a", "b"]])).toBe(true);
    expect(restrictRanking(["a", ["b", "c"], "d"], ["c", "d"])).toEqual([["c"], ["d"]]);
    expect(() => normalizeRanking(["a", ["b", "a"]])).toThrow(/twice/);
  });
});

describe("ranked pairs: known answers", () => {
  it("Wikipedia's Tennessee capital example: Nashville > Chattanooga > Knoxville > Memphis", () => {
    const cities = ["Memphis", "Nashville", "Chattanooga", "Knoxville"];
    const rankings = [
      ...times(["Memphis", "Nashville", "Chattanooga", "Knoxville"], 42),
      ...times(["Nashville", "Chattanooga", "Knoxville", "Memphis"], 26),
      ...times(["Chattanooga", "Knoxville", "Nashville", "Memphis"], 15),
      ...times(["Knoxville", "Chattanooga", "Nashville", "Memphis"], 17),
    ];
    const r = rankedPairs(cities, rankings);
    expect(r.order).toEqual(["Nashville", "Chattanooga", "Knoxville", "Memphis"]);
    expect(r.ranks).toEqual({ Nashville: 0, Chattanooga: 1, Knoxville: 2, Memphis: 3 });
    expect(r.prefer.Nashville.Memphis).toBe(58);
    expect(r.locked[0]).toEqual({ winner: "Chattanooga", loser: "Knoxville", margin: 66 });
  });

  it("Wikipedia's W/X/Y/Z example with a cycle: W > X > Y > Z", () => {
    const rankings = [
      ...times([..."wxzy"], 7),
      ...times([..."wyxz"], 2),
      ...times([..."xyzw"], 4),
      ...times([..."xzwy"], 5),
      ...times([..."ywxz"], 1),
      ...times([..."yzwx"], 8),
    ];
    const r = rankedPairs([..."wxyz"], rankings);
    expect(r.order).toEqual(["w", "x", "y", "z"]);
    // Margins: x>z 11, w>x 9, z>w 7 (closes w>x>z>w: dropped), x>y 5, y>z 3, w>y 1.
    expect(r.locked.map((l) => `${l.winner}>${l.loser}`)).toEqual(["x>z", "w>x", "x>y", "y>z", "w>y"]);
  });

  it("locks the strongest victories and drops the one closing a cycle", () => {
    // A>B by 3, B>C by 5, C>A by 1: C>A is dropped.
    const rankings = [...times(["A", "B", "C"], 4), ...times(["B", "C", "A"], 3), ...times(["C", "A", "B"], 2)];
    const r = rankedPairs(["A", "B", "C"], rankings);
    expect(r.locked).toEqual([
      { winner: "B", loser: "C", margin: 5 },
      { winner: "A", loser: "B", margin: 3 },
    ]);
    expect(r.order).toEqual(["A", "B", "C"]);
  });

  it("breaks equal-strength cycles by the order of the items, deterministically", () => {
    const rankings: Ranking[] = [
      ["A", "B", "C"],
      ["B", "C", "A"],
      ["C", "A", "B"],
    ];
    expect(rankedPairs(["A", "B", "C"], rankings).order).toEqual(["A", "B", "C"]);
    // Items C, B, A: C>A is considered first, then B>C; A>B would close the cycle.
    expect(rankedPairs(["C", "B", "A"], rankings).order).toEqual(["B", "C", "A"]);
    expect(rankedPairs(["A", "B", "C"], [...rankings].reverse()).order).toEqual(["A", "B", "C"]);
  });

  it("Open-Assistant's own example of four rankings of three replies", () => {
    // ranking.py's __main__: two majorities are tied 2:2, only A > B (3:1) is a victory.
    const A = "c5181083-d3e9-41e7-a935-83fb9fa01488";
    const B = "dcf3d179-0f34-4c15-ae21-b8feb15e422d";
    const C = "d11705af-5575-43e5-b22e-08d155fbaa62";
    const r = rankedPairs(
      [A, B, C],
      [
        [A, B, C],
        [C, A, B],
        [B, A, C],
        [C, A, B],
      ]
    );
    expect(r.locked).toEqual([{ winner: A, loser: B, margin: 2 }]);
    // C is tied with both, so it shares the top rank; B is behind A.
    expect(r.ranks).toEqual({ [A]: 0, [C]: 0, [B]: 2 });
    expect(r.order).toEqual([A, C, B]);
  });

  it("gives unanimous rankings back unchanged", () => {
    const r = rankedPairs(["x", "y", "z", "w"], times(["w", "z", "y", "x"], 3));
    expect(r.order).toEqual(["w", "z", "y", "x"]);
    expect(r.ranks).toEqual({ w: 0, z: 1, y: 2, x: 3 });
  });
});

describe("ranked pairs: ties and partial rankings", () => {
  it("lets tied siblings share a rank when the consensus ties them", () => {
    const r = rankedPairs(
      ["a", "b", "c"],
      [
        ["a", ["b", "c"]],
        ["a", ["b", "c"]],
      ]
    );
    expect(r.ranks).toEqual({ a: 0, b: 1, c: 1 });
    expect(r.order).toEqual(["a", "b", "c"]);
  });

  it("ties two labelers who disagree completely", () => {
    const r = rankedPairs(
      ["a", "b", "c"],
      [
        ["a", "b", "c"],
        ["c", "b", "a"],
      ]
    );
    expect(r.locked).toEqual([]);
    expect(r.ranks).toEqual({ a: 0, b: 0, c: 0 });
    expect(r.order).toEqual(["a", "b", "c"]);
  });

  it("uses only the pairs a partial ranking expresses and ignores unknown ids", () => {
    const r = rankedPairs(
      ["a", "b", "c"],
      [
        ["b", "a"],
        ["c", "b", "zzz"],
        ["c", "a"],
      ]
    );
    expect(r.order).toEqual(["c", "b", "a"]);
    expect(r.prefer.c.zzz).toBeUndefined();
  });

  it("handles no rankings at all and a single item", () => {
    expect(rankedPairs(["a", "b"], []).ranks).toEqual({ a: 0, b: 0 });
    expect(rankedPairs(["a"], [["a"]]).ranks).toEqual({ a: 0 });
    expect(() => rankedPairs(["a", "a"], [])).toThrow(/repeat/);
  });
});
