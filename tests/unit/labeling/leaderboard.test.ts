import { describe, expect, it } from "vitest";
import {
  DEFAULT_SCORE_WEIGHTS,
  explainScore,
  inPeriod,
  isoWeek,
  leaderScore,
  LEADERBOARD_PERIODS,
  periodBounds,
  rankLeaderboard,
  scoreBreakdown,
} from "~/domain/leaderboard/score";

describe("leader score", () => {
  it("weights contributions as Open-Assistant does", () => {
    expect(leaderScore({ prompts: 10 })).toBe(1);
    expect(leaderScore({ assistantReplies: 1 })).toBe(4);
    expect(leaderScore({ prompterReplies: 1, labelsSimple: 1, labelsFull: 1, rankings: 1 })).toBe(1 + 1 + 2 + 1);
    expect(leaderScore({ replyRanked1: 1, replyRanked2: 1, replyRanked3: 1 })).toBe(13);
    expect(leaderScore({ acceptedAssistantReplies: 2, acceptedPrompts: 3 })).toBe(8.3);
    expect(leaderScore({})).toBe(0);
  });

  it("adds up a full profile and shows where the points come from", () => {
    const counts = {
      prompts: 3,
      assistantReplies: 5,
      prompterReplies: 4,
      labelsSimple: 10,
      labelsFull: 6,
      rankings: 7,
      rankingsGood: 5,
      acceptedPrompts: 2,
      acceptedAssistantReplies: 4,
      acceptedPrompterReplies: 3,
      replyRanked1: 2,
      replyRanked2: 1,
      replyRanked3: 1,
    };
    const parts = scoreBreakdown(counts);
    expect(parts.assistantReplies).toBe(20);
    expect(parts.replyRanked1).toBe(18);
    // 0.3 + 20 + 4 + 10 + 12 + 7 + 5 + 0.2 + 16 + 3 + 18 + 3 + 1
    expect(leaderScore(counts)).toBe(99.5);
  });

  it("takes custom weights", () => {
    expect(leaderScore({ rankings: 4 }, { ...DEFAULT_SCORE_WEIGHTS, rankings: 2.5 })).toBe(10);
  });

  it("ranks users with shared ranks for equal scores", () => {
    const ranked = rankLeaderboard([
      { userId: "c", score: 5 },
      { userId: "a", score: 9 },
      { userId: "d", score: 5 },
      { userId: "b", score: 1 },
    ]);
    expect(ranked.map((r) => [r.userId, r.rank])).toEqual([
      ["a", 1],
      ["c", 2],
      ["d", 2],
      ["b", 4],
    ]);
  });
});

describe("periods", () => {
  const at = new Date("2026-11-28T17:45:00Z"); // a Saturday

  it("bounds the UTC day, ISO week, month and all time, half-open", () => {
    expect(LEADERBOARD_PERIODS).toEqual(["day", "week", "month", "all_time"]);
    expect(periodBounds("day", at)).toEqual({
      start: new Date("2026-11-28T00:00:00Z"),
      end: new Date("2026-11-29T00:00:00Z"),
      key: "2026-11-28",
    });
    expect(periodBounds("week", at)).toEqual({
      start: new Date("2026-11-23T00:00:00Z"),
      end: new Date("2026-11-30T00:00:00Z"),
      key: "2026-W48",
    });
    expect(periodBounds("month", at)).toEqual({
      start: new Date("2026-11-01T00:00:00Z"),
      end: new Date("2026-12-01T00:00:00Z"),
      key: "2026-11",
    });
    expect(periodBounds("all_time", at)).toEqual({ start: null, end: null, key: "all" });
  });

  it("puts a moment in exactly one period of each kind", () => {
    const day = periodBounds("day", at);
    expect(inPeriod(day, new Date("2026-11-28T00:00:00Z"))).toBe(true);
    expect(inPeriod(day, new Date("2026-11-29T00:00:00Z"))).toBe(false);
    expect(inPeriod(periodBounds("all_time", at), new Date(0))).toBe(true);
    const monday = new Date("2026-11-30T00:00:00Z");
    expect(periodBounds("week", monday).start).toEqual(monday);
  });

  it("numbers ISO weeks across year ends", () => {
    expect(isoWeek(new Date("2026-01-01T12:00:00Z"))).toEqual({ year: 2026, week: 1 });
    expect(isoWeek(new Date("2027-01-01T12:00:00Z"))).toEqual({ year: 2026, week: 53 });
    expect(isoWeek(new Date("2024-12-30T12:00:00Z"))).toEqual({ year: 2025, week: 1 });
    expect(isoWeek(new Date("2021-01-03T12:00:00Z"))).toEqual({ year: 2020, week: 53 });
    expect(periodBounds("week", new Date("2027-01-01T08:00:00Z"))).toMatchObject({
      start: new Date("2026-12-28T00:00:00Z"),
      key: "2026-W53",
    });
    expect(periodBounds("month", new Date("2026-12-31T23:59:59Z")).end).toEqual(new Date("2027-01-01T00:00:00Z"));
  });
});

describe("explainScore", () => {
  it("states the weights in use", () => {
    const text = explainScore();
    expect(text).toContain("4 per assistant reply (4 more once accepted)");
    expect(text).toContain("1 per quick review and 2 per full review");
    expect(text).toContain("0.1 per new prompt");
    expect(text).toContain("9, 3 or 1 when the consensus ranks your reply first, second or third");
    const custom = explainScore({ ...DEFAULT_SCORE_WEIGHTS, assistantReplies: 5, replyRanked1: 12 });
    expect(custom).toContain("5 per assistant reply");
    expect(custom).toContain("12, 3 or 1");
  });
});
