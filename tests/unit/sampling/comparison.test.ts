// The comparison summary from stored scores (ties count one half, unscored prompts are left out of
// the win rate but not out of the lengths) and prompt-snapshot rows read as conversations.
import { describe, expect, it } from "vitest";
import { promptTurns, summarizeComparison, type ComparedPrompt } from "~/domain/sampling/comparison.ts";

const reply = (score: number | null, tokens: number, text = "x".repeat(tokens)) => ({ text, tokens, chars: text.length, finishReason: "eos", score });
const row = (a: ReturnType<typeof reply>, b: ReturnType<typeof reply>, seed = 0): ComparedPrompt => ({ prompt: [{ role: "prompter", text: "hi" }], seed, a, b });

describe("summarizeComparison", () => {
  it("counts a tie as one half and leaves prompts without both scores out of the win rate", () => {
    const s = summarizeComparison([
      row(reply(1, 4), reply(2, 6)), // B wins
      row(reply(3, 2), reply(3, 2)), // tie
      row(reply(0.5, 8), reply(-1, 10)), // A wins
      row(reply(null, 20), reply(5, 4)), // not scored
    ]);
    expect(s).toMatchObject({ prompts: 4, scoredPairs: 3, wins: 1, ties: 1, losses: 1 });
    expect(s.winRateB).toBeCloseTo(0.5, 12);
    expect(s.meanScoreA).toBeCloseTo((1 + 3 + 0.5) / 3, 12);
    expect(s.meanScoreB).toBeCloseTo((2 + 3 - 1 + 5) / 4, 12);
    expect(s.meanTokensA).toBe((4 + 2 + 8 + 20) / 4);
    expect(s.meanCharsB).toBe((6 + 2 + 10 + 4) / 4);
  });

  it("has no win rate when nothing was scored", () => {
    expect(summarizeComparison([row(reply(null, 1), reply(2, 1))])).toMatchObject({ winRateB: null, scoredPairs: 0, meanScoreA: null, meanScoreB: 2 });
  });

  it("is 1 when B always scores higher", () => {
    expect(summarizeComparison([row(reply(0, 1), reply(1, 1)), row(reply(-2, 1), reply(-1, 1))]).winRateB).toBe(1);
  });
});

describe("promptTurns", () => {
  it("reads prompts_text and prompts_conversational rows", () => {
    expect(promptTurns("prompts_text", { prompt: "Why is the sky blue?" })).toEqual([{ role: "prompter", text: "Why is the sky blue?" }]);
    expect(
      promptTurns("prompts_conversational", {
        prompt: [
          { role: "user", content: "Hi" },
          { role: "assistant", content: "Hello!" },
          { role: "user", content: "Tell me a joke." },
        ],
      }),
    ).toEqual([
      { role: "prompter", text: "Hi" },
      { role: "assistant", text: "Hello!" },
      { role: "prompter", text: "Tell me a joke." },
    ]);
  });

  it("refuses rows that are not prompts of the format", () => {
    expect(promptTurns("prompts_text", { prompt: [{ role: "user", content: "Hi" }] })).toBeNull();
    expect(promptTurns("prompts_text", { prompt: "  " })).toBeNull();
    expect(promptTurns("prompts_conversational", { prompt: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello" }] })).toBeNull();
    expect(promptTurns("prompts_conversational", { prompt: [{ role: "moderator", content: "Hi" }] })).toBeNull();
    expect(promptTurns("prompts_conversational", { prompt: "Hi" })).toBeNull();
  });
});
