import { describe, expect, it } from "vitest";
import { defaultWorkflowConfig } from "~/domain/projects/workflow";
import { drawTask } from "~/domain/tasks/draw";
import type { TaskCandidate } from "~/domain/tasks/needs";
import { describeRankingOrder, pickLeastSure } from "~/domain/tasks/ranking-priority";
import { seededRng } from "~/domain/tasks/rng";
import { TASK_TYPE_INFO, type TaskType } from "~/domain/tasks/task-types";

const config = defaultWorkflowConfig();
const cand = (type: TaskType, messageId: string): TaskCandidate => ({ type, group: TASK_TYPE_INFO[type].group, treeId: "t", messageId, siblingIds: [], remaining: 1 });
const sets = ["a", "b", "c", "d"].map((id) => cand("rank_assistant_replies", id));
const keys: Record<string, number | null> = { a: 0.9, b: 0.05, c: null, d: 0.4 };

describe("pickLeastSure", () => {
  it("picks the lowest key, ties at random, and falls back to a random pick when nothing has a key", () => {
    const rng = seededRng(3);
    for (let i = 0; i < 50; i++) expect(pickLeastSure(sets, (c) => keys[c.messageId!], rng)!.messageId).toBe("b");
    const tied = new Set<string>();
    for (let i = 0; i < 200; i++) tied.add(pickLeastSure(sets, (c) => (c.messageId === "a" || c.messageId === "d" ? 0.1 : 1), rng)!.messageId!);
    expect([...tied].sort()).toEqual(["a", "d"]);
    const unscored = new Set<string>();
    for (let i = 0; i < 200; i++) unscored.add(pickLeastSure(sets, () => null, rng)!.messageId!);
    expect(unscored.size).toBe(4);
    expect(pickLeastSure([], () => 1, rng)).toBeUndefined();
  });
});

describe("drawTask with a ranking key", () => {
  it("orders the ranking group by the key and leaves the group draw and other groups alone", () => {
    const rng = seededRng(11);
    const labels = [cand("label_assistant_reply", "l1"), cand("label_assistant_reply", "l2")];
    const key = (c: TaskCandidate) => keys[c.messageId!];
    const groups = { ranking: 0, labelReply: 0 } as Record<string, number>;
    const labelPicks = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const c = drawTask([...sets, ...labels], config.drawWeights, rng, "random", key)!;
      groups[c.group]++;
      if (c.group === "ranking") expect(c.messageId).toBe("b");
      else labelPicks.add(c.messageId!);
    }
    // Weights 10 : 5 as without the key.
    expect(groups.ranking / 3000).toBeGreaterThan(0.62);
    expect(groups.ranking / 3000).toBeLessThan(0.71);
    expect(labelPicks.size).toBe(2);
    expect(drawTask(sets, config.drawWeights, rng, "rank_assistant_replies", key)!.messageId).toBe("b");
  });

  it("draws exactly as before without a key (same seed, same picks)", () => {
    const a = seededRng(5);
    const b = seededRng(5);
    for (let i = 0; i < 100; i++) expect(drawTask(sets, config.drawWeights, a)).toBe(drawTask(sets, config.drawWeights, b, "random", undefined));
  });
});

describe("describeRankingOrder", () => {
  it("says what the draw does", () => {
    expect(describeRankingOrder({ mode: "random", rewardModelId: null, secondRewardModelId: null })).toBe("sibling sets are offered for ranking at random");
    expect(describeRankingOrder({ mode: "uncertainty", rewardModelId: "x", secondRewardModelId: null }, { x: "rm-1" })).toBe("sibling sets whose top rm-1 margin is smallest are offered for ranking first");
    expect(describeRankingOrder({ mode: "uncertainty", rewardModelId: "x", secondRewardModelId: "y" }, { x: "rm-1", y: "rm-2" })).toBe("sibling sets that rm-1 and rm-2 order least alike are offered for ranking first");
  });
});
