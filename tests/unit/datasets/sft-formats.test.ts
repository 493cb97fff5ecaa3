import { describe, expect, it } from "vitest";
import { checkExportLine } from "~/domain/datasets/consumer-schemas";
import {
  keepsTopK,
  toAlpaca,
  toShareGpt,
  toTrlConversational,
  toTrlConversationalPromptCompletion,
  toTrlPromptCompletion,
} from "~/domain/datasets/formats/sft";
import { multiTurnSftPath, sftPath } from "./records";

describe("SFT formats", () => {
  it("TRL conversational keeps every turn", () => {
    const row = toTrlConversational(multiTurnSftPath());
    expect(row).toEqual({
      messages: [
        { role: "user", content: "Name a prime." },
        { role: "assistant", content: "7 is prime." },
        { role: "user", content: "Another one?" },
        { role: "assistant", content: "11." },
      ],
    });
    expect(checkExportLine("trl_sft_conversational", row)).toEqual({ ok: true });
  });

  it("TRL prompt/completion: strings for one turn, message lists for any", () => {
    expect(toTrlPromptCompletion(sftPath())).toEqual({ prompt: "Name a prime.", completion: "7 is prime." });
    expect(toTrlPromptCompletion(multiTurnSftPath())).toBeNull();
    const conversational = toTrlConversationalPromptCompletion(multiTurnSftPath());
    expect(conversational.prompt.map((m) => m.content)).toEqual(["Name a prime.", "7 is prime.", "Another one?"]);
    expect(conversational.completion).toEqual([{ role: "assistant", content: "11." }]);
    expect(checkExportLine("trl_prompt_completion", toTrlPromptCompletion(sftPath()))).toEqual({ ok: true });
    expect(checkExportLine("trl_prompt_completion_conversational", conversational)).toEqual({ ok: true });
  });

  it("Alpaca for single-turn paths only", () => {
    expect(toAlpaca(sftPath())).toEqual({ instruction: "Name a prime.", input: "", output: "7 is prime." });
    expect(toAlpaca(multiTurnSftPath())).toBeNull();
    expect(checkExportLine("alpaca", toAlpaca(sftPath()))).toEqual({ ok: true });
  });

  it("ShareGPT uses human/gpt", () => {
    const row = toShareGpt(multiTurnSftPath());
    expect(row.conversations.map((t) => t.from)).toEqual(["human", "gpt", "human", "gpt"]);
    expect(row.conversations[3].value).toBe("11.");
    expect(checkExportLine("sharegpt", row)).toEqual({ ok: true });
  });

  it("top-k keeps paths whose assistant turns are all ranked below k", () => {
    const path = sftPath();
    expect(keepsTopK(path, { topK: 1 })).toBe(true);
    const second = { ...path, messages: [path.messages[0], { ...path.messages[1], rank: 1 }] };
    expect(keepsTopK(second, { topK: 1 })).toBe(false);
    expect(keepsTopK(second, { topK: 2 })).toBe(true);
  });

  it("top-k: an unranked reply passes alone, not among unranked siblings unless asked", () => {
    expect(keepsTopK(multiTurnSftPath(), { topK: 1 })).toBe(true); // a2 is unranked but alone
    const path = sftPath();
    const unrankedAmongThree = { ...path, messages: [path.messages[0], { ...path.messages[1], rank: null }] };
    expect(keepsTopK(unrankedAmongThree, { topK: 1 })).toBe(false);
    expect(keepsTopK(unrankedAmongThree, { topK: 1, keepUnrankedSiblings: true })).toBe(true);
    expect(() => keepsTopK(path, { topK: 0 })).toThrow(RangeError);
  });

  it("consumer schemas catch wrong shapes", () => {
    expect(checkExportLine("trl_sft_conversational", { messages: [{ role: "user", content: "hi" }] })).toEqual({
      ok: false,
      issues: ["messages end with an assistant turn"],
    });
    expect(checkExportLine("alpaca", { instruction: "x", output: "y" }).ok).toBe(false);
    expect(checkExportLine("sharegpt", { conversations: [{ from: "user", value: "x" }] }).ok).toBe(false);
  });
});
