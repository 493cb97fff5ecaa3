import { describe, expect, it } from "vitest";
import { kendallTauB } from "~/domain/consensus/agreement";
import {
  crowdBT,
  pairConfidence,
  probabilityBeats,
  rankingToComparisons,
  type Comparison,
} from "~/domain/consensus/crowd-bt";
import { summarizeSiblingSet } from "~/domain/consensus/sibling-set";
import { seededRng } from "~/domain/tasks/rng";

const items = ["A", "B", "C", "D"];

describe("rankingToComparisons", () => {
  it("expands a ranking into winner/loser pairs and skips ties", () => {
    expect(rankingToComparisons("k", ["a", ["b", "c"], "d"])).toEqual([
      { labelerId: "k", winner: "a", loser: "b" },
      { labelerId: "k", winner: "a", loser: "c" },
      { labelerId: "k", winner: "a", loser: "d" },
      { labelerId: "k", winner: "b", loser: "d" },
      { labelerId: "k", winner: "c", loser: "d" },
    ]);
  });
});

describe("crowdBT: known answers", () => {
  it("recovers the true order from consistent labelers, who come out reliable", () => {
    const comps = ["k1", "k2", "k3"].flatMap((k) => rankingToComparisons(k, items));
    const r = crowdBT(items, comps);
    expect(r.order).toEqual(items);
    expect(r.ranks).toEqual({ A: 0, B: 1, C: 2, D: 3 });
    for (const k of ["k1", "k2", "k3"]) expect(r.reliability[k]).toBeGreaterThan(0.8);
    expect(r.converged).toBe(true);
    // The anchor makes the symmetric data's scores symmetric around 0.
    expect(r.scores.A).toBeCloseTo(-r.scores.D, 6);
    expect(r.scores.B).toBeCloseTo(-r.scores.C, 6);
  });

  it("finds an adversarial labeler who always reverses: reliability below 0.5, order intact", () => {
    const sets = [items, ["E", "F", "G"], ["H", "I", "J", "K"]];
    const all = sets.flat();
    const comps: Comparison[] = [];
    for (const set of sets) {
      for (const k of ["k1", "k2", "k3"]) comps.push(...rankingToComparisons(k, set));
      comps.push(...rankingToComparisons("troll", [...set].reverse()));
    }
    const r = crowdBT(all, comps);
    expect(r.reliability.troll).toBeLessThan(0.5);
    expect(r.reliability.troll).toBeLessThan(0.2);
    for (const k of ["k1", "k2", "k3"]) expect(r.reliability[k]).toBeGreaterThan(0.8);
    for (const set of sets) {
      const sorted = [...set].sort((a, b) => r.scores[b] - r.scores[a]);
      expect(sorted).toEqual(set);
    }
  });

  it("matches the Bradley–Terry MLE when reliabilities are fixed at 1 and the anchor is negligible", () => {
    // A beats B 3 times, B beats A once: MLE of s_A − s_B is ln 3.
    const comps: Comparison[] = [
      ...Array.from({ length: 3 }, () => ({ labelerId: "k", winner: "X", loser: "Y" })),
      { labelerId: "k", winner: "Y", loser: "X" },
    ];
    const r = crowdBT(["X", "Y"], comps, { fixedReliability: { k: 1 }, anchorStrength: 1e-7, maxIterations: 5000 });
    expect(r.scores.X - r.scores.Y).toBeCloseTo(Math.log(3), 4);
    expect(probabilityBeats(r.scores, "X", "Y")).toBeCloseTo(0.75, 4);
    expect(r.reliability).toEqual({ k: 1 - 1e-9 });
  });

  it("counts comparison weights like repeated comparisons", () => {
    const repeated: Comparison[] = [
      ...Array.from({ length: 3 }, () => ({ labelerId: "k", winner: "X", loser: "Y" })),
      { labelerId: "k", winner: "Y", loser: "X" },
    ];
    const weighted: Comparison[] = [
      { labelerId: "k", winner: "X", loser: "Y", weight: 3 },
      { labelerId: "k", winner: "Y", loser: "X" },
    ];
    const a = crowdBT(["X", "Y"], repeated);
    const b = crowdBT(["X", "Y"], weighted);
    expect(b.scores.X).toBeCloseTo(a.scores.X, 8);
    expect(b.reliability.k).toBeCloseTo(a.reliability.k, 8);
  });
});

describe("crowdBT: properties", () => {
  it("gives confidences strictly inside (0, 1) that are symmetric", () => {
    const comps = ["k1", "k2"].flatMap((k) => rankingToComparisons(k, items));
    comps.push(...rankingToComparisons("k3", ["B", "A", "D", "C"]));
    const r = crowdBT(items, comps);
    const conf = pairConfidence(r.scores, items);
    for (const i of items) {
      for (const j of items) {
        if (i === j) continue;
        expect(conf[i][j]).toBeGreaterThan(0);
        expect(conf[i][j]).toBeLessThan(1);
        expect(conf[i][j] + conf[j][i]).toBeCloseTo(1, 12);
      }
    }
    expect(conf.A.D).toBeGreaterThan(conf.A.B);
    expect(() => probabilityBeats(r.scores, "A", "nope")).toThrow(/No score/);
  });

  it("never lowers the penalised log-likelihood from one EM iteration to the next", () => {
    const rng = seededRng(99);
    const comps: Comparison[] = [];
    for (let n = 0; n < 200; n++) {
      const i = Math.floor(rng() * 4);
      let j = Math.floor(rng() * 3);
      if (j >= i) j++;
      const [w, l] = rng() < 0.7 === i < j ? [items[i], items[j]] : [items[j], items[i]];
      comps.push({ labelerId: `k${n % 5}`, winner: w, loser: l });
    }
    const r = crowdBT(items, comps);
    for (let t = 1; t < r.objectiveTrace.length; t++) {
      expect(r.objectiveTrace[t]).toBeGreaterThanOrEqual(r.objectiveTrace[t - 1] - 1e-9);
    }
  });

  it("ranks labelers by their simulated reliability and recovers true scores", () => {
    const rng = seededRng(12345);
    const truth: Record<string, number> = { a: 2, b: 1.2, c: 0.5, d: 0, e: -0.7, f: -1.5 };
    const ids = Object.keys(truth);
    const eta: Record<string, number> = { careful: 0.95, good: 0.9, okay: 0.8, coin: 0.5, troll: 0.1 };
    const comps: Comparison[] = [];
    for (const [k, e] of Object.entries(eta)) {
      for (let n = 0; n < 120; n++) {
        const i = ids[Math.floor(rng() * ids.length)];
        let j = ids[Math.floor(rng() * ids.length)];
        while (j === i) j = ids[Math.floor(rng() * ids.length)];
        const truthSaysI = rng() < 1 / (1 + Math.exp(-(truth[i] - truth[j])));
        const reportsTruth = rng() < e;
        const iWins = truthSaysI === reportsTruth;
        comps.push({ labelerId: k, winner: iWins ? i : j, loser: iWins ? j : i });
      }
    }
    const r = crowdBT(ids, comps);
    const est = r.reliability;
    expect(est.careful).toBeGreaterThan(est.coin);
    expect(est.good).toBeGreaterThan(est.coin);
    expect(est.okay).toBeGreaterThan(est.coin);
    expect(est.coin).toBeGreaterThan(est.troll);
    expect(est.troll).toBeLessThan(0.5);
    const tau = kendallTauB(
      ids.map((id) => truth[id]),
      ids.map((id) => r.scores[id])
    )!;
    expect(tau).toBeGreaterThan(0.85);
  });

  it("validates its input", () => {
    expect(() => crowdBT(["a"], [{ labelerId: "k", winner: "a", loser: "b" }])).toThrow(/Unknown item/);
    expect(() => crowdBT(["a", "b"], [{ labelerId: "k", winner: "a", loser: "a" }])).toThrow(/itself/);
    expect(() => crowdBT(["a", "b"], [], { anchorStrength: 0 })).toThrow(/anchorStrength/);
    const empty = crowdBT(["a", "b"], []);
    expect(empty.scores).toEqual({ a: 0, b: 0 });
    expect(empty.ranks).toEqual({ a: 0, b: 0 });
  });
});

describe("summarizeSiblingSet", () => {
  it("fills a sibling_consensus row from the labelers' rankings", () => {
    const s = summarizeSiblingSet(
      ["r1", "r2", "r3"],
      [
        { labelerId: "u1", order: [["r2"], ["r1"], ["r3"]] },
        { labelerId: "u2", order: [["r2"], ["r3"], ["r1"]] },
        { labelerId: "u3", order: [["r2"], ["r1"], ["r3"], ["deleted-reply"]] },
        { labelerId: "u4", order: [], notRankable: true },
      ]
    );
    expect(s.ranks).toEqual({ r2: 0, r1: 1, r3: 2 });
    expect(s.order).toEqual(["r2", "r1", "r3"]);
    expect(s.btScores.r2).toBeGreaterThan(s.btScores.r1);
    expect(s.btScores.r1).toBeGreaterThan(s.btScores.r3);
    expect(s.pairConfidence.r2.r3 + s.pairConfidence.r3.r2).toBeCloseTo(1, 12);
    expect(Object.keys(s.pairConfidence.r1).sort()).toEqual(["r2", "r3"]);
    // Pairwise taus: (u1,u2) 1/3, (u1,u3) 1, (u2,u3) 1/3.
    expect(s.kendallTau).toBeCloseTo(5 / 9, 12);
    expect(s.rankingCount).toBe(3);
    expect(s.notRankableCount).toBe(1);
  });

  it("uses project-wide reliabilities when given", () => {
    const rankings = [
      { labelerId: "trusted", order: [["x"], ["y"]] },
      { labelerId: "doubtful", order: [["y"], ["x"]] },
    ];
    const s = summarizeSiblingSet(["x", "y"], rankings, { reliability: { trusted: 0.95, doubtful: 0.3 } });
    expect(s.ranks).toEqual({ x: 0, y: 0 }); // ranked pairs sees a 1:1 tie
    expect(s.btScores.x).toBeGreaterThan(s.btScores.y); // Crowd-BT trusts the reliable labeler
  });
});
