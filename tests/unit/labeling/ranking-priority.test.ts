import { describe, expect, it } from "vitest";
import { describeRankingOrder } from "~/domain/tasks/ranking-priority";

describe("describeRankingOrder", () => {
  it("says what the draw does", () => {
    expect(describeRankingOrder({ mode: "random", rewardModelId: null, secondRewardModelId: null })).toBe("sibling sets are offered for ranking at random");
    expect(describeRankingOrder({ mode: "uncertainty", rewardModelId: "x", secondRewardModelId: null }, { x: "rm-1" })).toBe("sibling sets whose top rm-1 margin is smallest are offered for ranking first");
    expect(describeRankingOrder({ mode: "uncertainty", rewardModelId: "x", secondRewardModelId: "y" }, { x: "rm-1", y: "rm-2" })).toBe("sibling sets that rm-1 and rm-2 order least alike are offered for ranking first");
  });
});
