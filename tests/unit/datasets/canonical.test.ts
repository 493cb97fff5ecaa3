import { describe, expect, it } from "vitest";
import { RankedSetRecordSchema, SftPathRecordSchema, rankedCompletions } from "~/domain/datasets/canonical";
import { multiTurnSftPath, rankedSet, sftPath, tiedRankedSet } from "./records";

const issuesOf = (value: unknown) => {
  const parsed = RankedSetRecordSchema.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("RankedSetRecord", () => {
  it("accepts the hand-made set and its tied variant", () => {
    expect(issuesOf(rankedSet())).toEqual([]);
    expect(issuesOf(tiedRankedSet())).toEqual([]);
  });

  it("orders ranked completions best first and leaves unranked ones out", () => {
    expect(rankedCompletions(rankedSet()).map((c) => c.message_id)).toEqual(["cA", "cB", "cC"]);
    expect(rankedCompletions(tiedRankedSet()).map((c) => c.message_id)).toEqual(["cA", "cB", "cC"]);
  });

  it("requires competition ranks (ties share a rank, the next rank skips)", () => {
    const base = rankedSet();
    const withRanks = (ranks: Record<string, number>, ties: string[][]) => ({
      ...base,
      completions: base.completions.map((c) => ({ ...c, consensus_rank: ranks[c.message_id] ?? null })),
      consensus: { ...base.consensus, ranks, ties, confidence: null },
    });
    // A and B tied for best: C has two completions above it, so its rank is 2, not 1.
    expect(issuesOf(withRanks({ cA: 0, cB: 0, cC: 2 }, [["cA", "cB"]]))).toEqual([]);
    expect(issuesOf(withRanks({ cA: 0, cB: 0, cC: 1 }, [["cA", "cB"]]))).toEqual([
      "consensus.ranks.cC: rank 1 must equal the number of completions ranked better (2)",
    ]);
  });

  it("checks that completion ranks match the consensus and that ties are listed", () => {
    const base = rankedSet();
    const wrongRank = { ...base, completions: base.completions.map((c) => (c.message_id === "cB" ? { ...c, consensus_rank: 2 } : c)) };
    expect(issuesOf(wrongRank)).toContain("completions.1.consensus_rank: consensus_rank 2 differs from consensus.ranks (1)");
    const missingTie = { ...tiedRankedSet(), consensus: { ...tiedRankedSet().consensus, ties: [] } };
    expect(issuesOf(missingTie)).toContain("consensus.ties: ties must list exactly the groups of completions sharing a rank");
  });

  it("checks the conversation and the completions' roles", () => {
    const base = rankedSet();
    expect(issuesOf({ ...base, id: "a1" })).toContain("id: id must be the last conversation turn's message_id");
    const swapped = { ...base, conversation: [base.conversation[1], base.conversation[0], base.conversation[2]] };
    expect(issuesOf(swapped)).toContain("conversation.0.role: turn 0 must be prompter (roles alternate from a prompter root)");
    const prompterReply = { ...base, completions: base.completions.map((c) => ({ ...c, role: "prompter" as const })) };
    expect(issuesOf(prompterReply)).toContain("completions.0.role: completions reply to a prompter and must be assistant");
    const unsynthetic = { ...base, completions: base.completions.map((c) => (c.message_id === "cA" ? { ...c, synthetic: false } : c)) };
    expect(issuesOf(unsynthetic)).toContain("completions.0.synthetic: a model-written completion is synthetic");
  });

  it("checks rankings and counts", () => {
    const base = rankedSet();
    const stray = { ...base, rankings: [{ ...base.rankings[0], order: [["cA"], ["zz"]] }] };
    expect(issuesOf(stray)).toContain("rankings.0.order: ranked id zz is not a completion");
    expect(issuesOf({ ...base, not_rankable_count: 0 })).toContain(
      "not_rankable_count: not_rankable_count must cover the listed not-rankable rankings and not exceed ranking_count",
    );
    expect(issuesOf({ ...base, ranking_count: 2 })).toContain("ranking_count: ranking_count is below the number of rankings listed");
    // Rankings may be left out of an export while the counts stay.
    expect(issuesOf({ ...base, rankings: [] })).toEqual([]);
  });

  it("refuses unknown keys and large numeric seeds", () => {
    expect(issuesOf({ ...rankedSet(), extra: 1 })).toHaveLength(1);
    const base = rankedSet();
    const bigSeed = { ...base, completions: base.completions.map((c) => (c.message_id === "cA" ? { ...c, sampling: { params: {}, seed: 2 ** 60 } } : c)) };
    expect(issuesOf(bigSeed).some((i) => i.includes("seed beyond 2^53"))).toBe(true);
  });
});

describe("SftPathRecord", () => {
  it("accepts single- and multi-turn paths", () => {
    expect(SftPathRecordSchema.safeParse(sftPath()).success).toBe(true);
    expect(SftPathRecordSchema.safeParse(multiTurnSftPath()).success).toBe(true);
  });

  it("refuses a path that does not end with its assistant reply", () => {
    const path = multiTurnSftPath();
    const parsed = SftPathRecordSchema.safeParse({ ...path, id: "p2", messages: path.messages.slice(0, 3) });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.message)).toEqual(["an SFT path ends with an assistant reply"]);
  });
});
