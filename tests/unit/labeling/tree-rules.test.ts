import { describe, expect, it } from "vitest";
import { defaultWorkflowConfig } from "~/domain/projects/workflow";
import { seededRng } from "~/domain/tasks/rng";
import { drawLotteryWinners, freeGrowingSlots, type LotteryEntry } from "~/domain/trees/lottery";
import { autoModerationActions } from "~/domain/trees/moderation";
import { acceptanceScore, reviewDecision } from "~/domain/trees/review";
import {
  isReadyForScoring,
  isTreeFullyGrown,
  nextStateAfterGrowth,
  nextStateAfterPromptReview,
  nextStateForBacklog,
} from "~/domain/trees/transitions";
import { growthFacts, siblingSets } from "~/domain/trees/tree-facts";
import { buildTree } from "./tree-builder";

const config = defaultWorkflowConfig();
const ok = { spam: 0, lang_mismatch: 0 };
const spam = { spam: 1 };

describe("review acceptance (OA formula)", () => {
  it("is 1 − (mean spam + mean lang_mismatch)", () => {
    expect(acceptanceScore([])).toBeNull();
    expect(acceptanceScore([ok, ok, ok])).toBe(1);
    expect(acceptanceScore([{ spam: 1 }, { spam: 0 }, { spam: 0, lang_mismatch: 1 }])).toBeCloseTo(1 - (1 / 3 + 1 / 3));
  });

  it("stays pending until enough reviews, and needs a score strictly above the threshold", () => {
    expect(reviewDecision([ok, ok], 3, 0.6)).toEqual({ result: "pending", score: 1 });
    expect(reviewDecision([ok, ok, spam], 3, 0.6).result).toBe("accepted"); // 0.667
    expect(reviewDecision([ok, ok, spam], 3, 2 / 3).result).toBe("rejected"); // equal is not above
    const twoSpam = reviewDecision([ok, spam, spam], 3, 0.6);
    expect(twoSpam.result).toBe("rejected");
    expect(twoSpam.score).toBeCloseTo(1 / 3, 12);
    expect(reviewDecision([ok, ok, ok, spam, spam], 3, 0.6).result).toBe("rejected"); // 0.6
  });
});

describe("nextStateAfterPromptReview", () => {
  it("waits while reviews are missing", () => {
    expect(nextStateAfterPromptReview([ok, ok], config)).toMatchObject({ result: "pending", next: null });
  });

  it("sends accepted prompts to the lottery", () => {
    expect(nextStateAfterPromptReview([ok, ok, ok], config, { growingTrees: 0 })).toMatchObject({
      result: "accepted",
      next: "prompt_lottery_waiting",
      reason: "prompt_accepted",
    });
  });

  it("without the lottery, grows at once when a slot is free and waits otherwise", () => {
    const noLottery = { ...config, promptLottery: { enabled: false, maxWaiting: 250 } };
    expect(nextStateAfterPromptReview([ok, ok, ok], noLottery, { growingTrees: 9 }).next).toBe("growing");
    expect(nextStateAfterPromptReview([ok, ok, ok], noLottery, { growingTrees: 10 }).next).toBe(
      "prompt_lottery_waiting"
    );
    expect(nextStateAfterPromptReview([ok, ok, ok], noLottery).next).toBe("prompt_lottery_waiting");
  });

  it("aborts low-grade prompts", () => {
    expect(nextStateAfterPromptReview([spam, spam, ok], config)).toMatchObject({
      result: "rejected",
      next: "aborted_low_grade",
      reason: "prompt_rejected",
    });
  });
});

// root p0 → a1, a2 (assistant) ; a1 → p3 (prompter) ; p3 → a4
const grown = () =>
  buildTree([
    { id: "p0", parentId: null },
    { id: "a1", parentId: "p0" },
    { id: "a2", parentId: "p0" },
    { id: "p3", parentId: "a1" },
    { id: "a4", parentId: "p3" },
  ]);

describe("growth", () => {
  it("computes live size, pending reviews and open slots", () => {
    const msgs = buildTree([
      { id: "p0", parentId: null },
      { id: "a1", parentId: "p0" },
      { id: "a2", parentId: "p0", reviewResult: "pending", reviewCount: 1 },
      { id: "a3", parentId: "p0", reviewResult: "rejected" },
      { id: "p4", parentId: "a1", deleted: true },
      { id: "a5", parentId: "p4" }, // under a deleted parent: not live
    ]);
    const f = growthFacts(msgs, config);
    expect(f).toMatchObject({ rootLive: true, liveCount: 3, awaitingReview: 1 });
    // p0 holds a1, a2 (a3 rejected): 1 free; a1: its prompter reply was deleted: 1 free.
    expect(f.openSlots).toBe(2);
  });

  it("is fully grown at the goal size once nothing awaits review", () => {
    const small = { ...config, goalTreeSize: 5 };
    expect(isTreeFullyGrown(grown(), small)).toBe(true);
    expect(nextStateAfterGrowth(grown(), small)).toEqual({ next: "ranking", reason: "tree_fully_grown" });
    const pending = grown().map((m) =>
      m.id === "a4" ? { ...m, reviewResult: "pending" as const, reviewCount: 2 } : m
    );
    expect(isTreeFullyGrown(pending, small)).toBe(false);
    expect(isTreeFullyGrown(grown(), config)).toBe(false); // goal 12, slots left
  });

  it("is fully grown when no parent can take a reply and no reply is being written", () => {
    const tiny = { ...config, maxDepth: 1, maxChildrenPerMessage: 2 };
    const msgs = buildTree([
      { id: "p0", parentId: null },
      { id: "a1", parentId: "p0" },
      { id: "a2", parentId: "p0" },
    ]);
    expect(isTreeFullyGrown(msgs, tiny)).toBe(true);
    expect(nextStateAfterGrowth(msgs, tiny)).toEqual({ next: "ranking", reason: "no_open_slots" });
    // Depth allows more, but a reply task is still out somewhere.
    const deeper = { ...tiny, maxDepth: 2, maxPrompterRepliesPerAssistant: 1 };
    const withTask = buildTree([
      { id: "p0", parentId: null },
      { id: "a1", parentId: "p0", openReplyTasks: 1 },
      { id: "a2", parentId: "p0" },
      { id: "p3", parentId: "a2" },
    ]);
    expect(isTreeFullyGrown(withTask, deeper)).toBe(false);
  });

  it("aborts a tree whose prompt was deleted", () => {
    const msgs = grown().map((m) => (m.id === "p0" ? { ...m, deleted: true } : m));
    expect(nextStateAfterGrowth(msgs, config)).toEqual({ next: "aborted_low_grade", reason: "root_deleted" });
    expect(isTreeFullyGrown(msgs, config)).toBe(false);
  });
});

describe("ranking readiness", () => {
  const ranked = (counts: Record<string, number>) => grown().map((m) => ({ ...m, rankingCount: counts[m.id] ?? 0 }));

  it("finds sets of ≥ 2 accepted assistant replies", () => {
    expect(siblingSets(grown(), config)).toEqual([
      { parentId: "p0", childRole: "assistant", childIds: ["a1", "a2"], completedRankings: 0, openRankTasks: 0 },
    ]);
  });

  it("needs rankingsPerSiblingSet rankings of every sibling", () => {
    expect(isReadyForScoring(ranked({ a1: 3, a2: 2 }), config)).toBe(false);
    expect(isReadyForScoring(ranked({ a1: 3, a2: 3 }), config)).toBe(true);
  });

  it("ignores rejected and deleted siblings and sets of one", () => {
    const msgs = ranked({ a1: 3 }).map((m) => (m.id === "a2" ? { ...m, reviewResult: "rejected" as const } : m));
    expect(siblingSets(msgs, config)).toEqual([]);
    expect(isReadyForScoring(msgs, config)).toBe(true);
  });

  it("ranks prompter replies only when the project asks for it", () => {
    const msgs = buildTree([
      { id: "p0", parentId: null },
      { id: "a1", parentId: "p0" },
      { id: "p2", parentId: "a1" },
      { id: "p3", parentId: "a1" },
    ]);
    expect(siblingSets(msgs, config)).toEqual([]);
    const withPrompter = { ...config, rankPrompterReplies: true };
    expect(siblingSets(msgs, withPrompter).map((s) => [s.parentId, s.childRole])).toEqual([["a1", "prompter"]]);
    expect(isReadyForScoring(msgs, withPrompter)).toBe(false);
  });

  it("releases backlog trees with something to rank and closes the rest", () => {
    expect(nextStateForBacklog(grown(), config).next).toBe("ranking");
    expect(
      nextStateForBacklog(
        grown().filter((m) => m.id !== "a2"),
        config
      ).next
    ).toBe("aborted_low_grade");
  });
});

describe("auto moderation", () => {
  it("deletes red-flagged replies, aborts red-flagged prompts, halts much-skipped trees", () => {
    expect(autoModerationActions({ isRoot: false, redFlags: 3, replySkips: 0 }, config)).toEqual([]);
    expect(autoModerationActions({ isRoot: false, redFlags: 4, replySkips: 0 }, config)).toEqual(["delete_message"]);
    expect(autoModerationActions({ isRoot: true, redFlags: 4, replySkips: 30 }, config)).toEqual(["abort_tree"]);
    expect(autoModerationActions({ isRoot: false, redFlags: 0, replySkips: 25 }, config)).toEqual(["halt_tree"]);
    expect(autoModerationActions({ isRoot: false, redFlags: 5, replySkips: 25 }, config)).toEqual([
      "delete_message",
      "halt_tree",
    ]);
  });
});

describe("prompt lottery", () => {
  const at = (minutes: number) => new Date(Date.UTC(2026, 0, 1, 0, minutes));
  const entries: LotteryEntry[] = [
    { treeId: "t1", authorUserId: "u1", createdAt: at(5) },
    { treeId: "t2", authorUserId: "u1", createdAt: at(1) },
    { treeId: "t3", authorUserId: "u1", createdAt: at(3) },
    { treeId: "t4", authorUserId: "u2", createdAt: at(4) },
    { treeId: "t5", authorUserId: null, createdAt: at(2) },
  ];

  it("counts free growing slots", () => {
    expect(freeGrowingSlots(7, config)).toBe(3);
    expect(freeGrowingSlots(12, config)).toBe(0);
  });

  it("takes the oldest prompts first when the lottery is off", () => {
    expect(drawLotteryWinners(entries, 3, { promptLottery: { enabled: false, maxWaiting: 250 } })).toEqual([
      "t2",
      "t5",
      "t3",
    ]);
  });

  it("draws distinct winners, reproducibly with a seed", () => {
    const a = drawLotteryWinners(entries, 5, config, seededRng(7));
    expect([...a].sort()).toEqual(["t1", "t2", "t3", "t4", "t5"]);
    expect(drawLotteryWinners(entries, 2, config, seededRng(7))).toEqual(a.slice(0, 2));
    expect(drawLotteryWinners(entries, 0, config)).toEqual([]);
    expect(drawLotteryWinners(entries, 99, config).length).toBe(5);
  });

  it("picks the author first, so one prolific author does not crowd out the others", () => {
    const many: LotteryEntry[] = [
      ...Array.from({ length: 20 }, (_, i) => ({ treeId: `u1-${i}`, authorUserId: "u1", createdAt: at(i) })),
      { treeId: "u2-0", authorUserId: "u2", createdAt: at(0) },
    ];
    const rng = seededRng(11);
    let u2Wins = 0;
    const draws = 4000;
    for (let i = 0; i < draws; i++) if (drawLotteryWinners(many, 1, config, rng)[0] === "u2-0") u2Wins++;
    // Two authors with equal weight: about half the single-slot draws go to u2 (not 1 in 21).
    expect(u2Wins / draws).toBeGreaterThan(0.45);
    expect(u2Wins / draws).toBeLessThan(0.55);
  });

  it("favours authors with top-ranked replies", () => {
    const two: LotteryEntry[] = [
      { treeId: "a", authorUserId: "good", createdAt: at(0), authorTopRankedReplies: 3 },
      { treeId: "b", authorUserId: "new", createdAt: at(0), authorTopRankedReplies: 0 },
    ];
    const rng = seededRng(3);
    let good = 0;
    const draws = 4000;
    for (let i = 0; i < draws; i++) if (drawLotteryWinners(two, 1, config, rng)[0] === "a") good++;
    expect(good / draws).toBeGreaterThan(0.75); // weight 4 of 5 = 0.8
    expect(good / draws).toBeLessThan(0.85);
  });
});
