import { describe, expect, it } from "vitest";
import { checkExportLine } from "~/domain/datasets/consumer-schemas";
import { toHhPreference } from "~/domain/datasets/formats/hh";
import { DatasetFormatError } from "~/domain/datasets/formats/errors";
import { toKWayRow } from "~/domain/datasets/formats/kway";
import { notRankableShare, pairMargin, preferencePairs } from "~/domain/datasets/formats/pairs";
import {
  OPENRLHF_PREFERENCE_ARGS,
  toOpenRlhfPreference,
  toTrlExplicitPreference,
  toTrlImplicitPreference,
  toTrlStandardPreference,
  toUltraFeedbackBinarized,
} from "~/domain/datasets/formats/preference";
import { toPromptOnlyConversational, toPromptOnlyText } from "~/domain/datasets/formats/prompt-only";
import { rankedSet, tiedRankedSet } from "./records";

const ids = (pairs: ReturnType<typeof preferencePairs>) => pairs.map((p) => `${p.chosen.message_id}>${p.rejected.message_id}`);

describe("preference pairs", () => {
  it("all K-choose-2 pairs of the ranked completions, unranked left out", () => {
    const pairs = preferencePairs(rankedSet());
    expect(ids(pairs)).toEqual(["cA>cB", "cA>cC", "cB>cC"]);
    expect(pairs.map((p) => p.rank_gap)).toEqual([1, 2, 1]);
    expect(pairs.map((p) => p.bt_gap)).toEqual([1.25, 2.5, 1.25]);
    expect(pairs.map((p) => p.confidence)).toEqual([1, 1, 2 / 3]);
    expect(pairs[0].prompt.map((t) => t.message_id)).toEqual(["p1", "a1", "p2"]);
  });

  it("skips ties", () => {
    expect(ids(preferencePairs(tiedRankedSet()))).toEqual(["cA>cB", "cA>cC"]);
    expect(ids(preferencePairs(tiedRankedSet(), { selection: "adjacent" }))).toEqual(["cA>cB", "cA>cC"]);
  });

  it("selections", () => {
    expect(ids(preferencePairs(rankedSet(), { selection: "adjacent" }))).toEqual(["cA>cB", "cB>cC"]);
    expect(ids(preferencePairs(rankedSet(), { selection: "best_vs_rest" }))).toEqual(["cA>cB", "cA>cC"]);
    expect(ids(preferencePairs(rankedSet(), { selection: "best_vs_worst" }))).toEqual(["cA>cC"]);
  });

  it("drops sets mostly judged not rankable", () => {
    expect(notRankableShare(rankedSet())).toBeCloseTo(1 / 3);
    expect(preferencePairs(rankedSet({ not_rankable_count: 2 }))).toEqual([]);
    expect(preferencePairs(rankedSet(), { maxNotRankableShare: 0 })).toEqual([]);
    expect(preferencePairs(rankedSet(), { maxNotRankableShare: 0.34 })).toHaveLength(3);
  });

  it("margins: BT difference clamped at 0, or rank gap", () => {
    const [ab, ac] = preferencePairs(rankedSet());
    expect(pairMargin(ab, "bt_score")).toBe(1.25);
    expect(pairMargin(ac, "rank_gap")).toBe(2);
    expect(pairMargin({ ...ab, bt_gap: -0.5 }, "bt_score")).toBe(0);
    expect(() => pairMargin({ ...ab, bt_gap: null }, "bt_score")).toThrow(DatasetFormatError);
  });
});

describe("preference formats", () => {
  const [pair] = preferencePairs(rankedSet());
  const prompt = [
    { role: "user", content: "Name a prime." },
    { role: "assistant", content: "7 is prime." },
    { role: "user", content: "Another one?" },
  ];

  it("TRL implicit prompt", () => {
    const row = toTrlImplicitPreference(pair);
    expect(row).toEqual({
      chosen: [...prompt, { role: "assistant", content: "11." }],
      rejected: [...prompt, { role: "assistant", content: "13 is one." }],
    });
    expect(checkExportLine("trl_preference_implicit", row)).toEqual({ ok: true });
  });

  it("TRL explicit prompt, with and without margin", () => {
    const row = toTrlExplicitPreference(pair, { margin: "bt_score" });
    expect(row).toEqual({
      prompt,
      chosen: [{ role: "assistant", content: "11." }],
      rejected: [{ role: "assistant", content: "13 is one." }],
      margin: 1.25,
    });
    expect("margin" in toTrlExplicitPreference(pair)).toBe(false);
    expect(checkExportLine("trl_preference_explicit", row)).toEqual({ ok: true });
  });

  it("TRL standard strings only for one-turn prompts", () => {
    expect(toTrlStandardPreference(pair)).toBeNull();
    const single = preferencePairs(rankedSet({ id: "p1", conversation: [rankedSet().conversation[0]] }))[0];
    const row = toTrlStandardPreference(single, { margin: "rank_gap" });
    expect(row).toEqual({ prompt: "Name a prime.", chosen: "11.", rejected: "13 is one.", margin: 1 });
    expect(checkExportLine("trl_preference_standard", row)).toEqual({ ok: true });
  });

  it("OpenRLHF rows are the explicit conversational rows, read with documented keys", () => {
    expect(toOpenRlhfPreference(pair, { margin: "rank_gap" })).toEqual(toTrlExplicitPreference(pair, { margin: "rank_gap" }));
    expect(OPENRLHF_PREFERENCE_ARGS.join(" ")).toBe("--prompt_key prompt --chosen_key chosen --rejected_key rejected --apply_chat_template");
    expect(checkExportLine("openrlhf_preference", toOpenRlhfPreference(pair))).toEqual({ ok: true });
  });

  it("Anthropic HH transcripts", () => {
    const row = toHhPreference(pair);
    expect(row).toEqual({
      chosen: "\n\nHuman: Name a prime.\n\nAssistant: 7 is prime.\n\nHuman: Another one?\n\nAssistant: 11.",
      rejected: "\n\nHuman: Name a prime.\n\nAssistant: 7 is prime.\n\nHuman: Another one?\n\nAssistant: 13 is one.",
    });
    expect(checkExportLine("hh", row)).toEqual({ ok: true });
    expect(checkExportLine("hh", { chosen: "Human: x", rejected: "y" }).ok).toBe(false);
    const quoting = { ...pair, rejected: { ...pair.rejected, text: "Sure:\n\nHuman: hi\n\nAssistant: hello" } };
    expect(toHhPreference(quoting)).toBeNull();
  });

  it("UltraFeedback-binarized with rank and BT scores", () => {
    const row = toUltraFeedbackBinarized(pair);
    expect(row.prompt).toBe("Another one?");
    expect(row.prompt_id).toBe("p2");
    expect(row.messages).toEqual(row.chosen);
    expect(row.chosen).toEqual(toTrlImplicitPreference(pair).chosen);
    expect([row.score_chosen, row.score_rejected]).toEqual([3, 2]);
    const bt = toUltraFeedbackBinarized(pair, { score: "bt_score" });
    expect([bt.score_chosen, bt.score_rejected]).toEqual([1.5, 0.25]);
    expect(checkExportLine("ultrafeedback_binarized", row)).toEqual({ ok: true });
    expect(checkExportLine("ultrafeedback_binarized", { ...row, messages: row.rejected }).ok).toBe(false);
  });

  it("chat formats refuse sets of ranked prompter replies", () => {
    const base = rankedSet();
    const prompterSet = rankedSet({
      id: "a1",
      conversation: base.conversation.slice(0, 2),
      completions: base.completions.map((c) => ({
        ...c,
        role: "prompter" as const,
        author: { type: "user" as const, id: "u9" },
        synthetic: false,
        sampling: null,
      })),
    });
    const [p] = preferencePairs(prompterSet);
    expect(() => toTrlImplicitPreference(p)).toThrow(DatasetFormatError);
    expect(() => toHhPreference(p)).toThrow(DatasetFormatError);
    expect(() => toUltraFeedbackBinarized(p)).toThrow(DatasetFormatError);
    expect(() => toKWayRow(prompterSet)).toThrow(DatasetFormatError);
  });
});

describe("K-way rows", () => {
  it("hold every ranked completion, best first, with index pairs", () => {
    const row = toKWayRow(rankedSet());
    expect(row?.completions.map((c) => [c.message_id, c.rank, c.bt_score])).toEqual([
      ["cA", 0, 1.5],
      ["cB", 1, 0.25],
      ["cC", 2, -1],
    ]);
    expect(row?.pairs).toEqual([[0, 1], [0, 2], [1, 2]]);
    expect(row?.prompt).toHaveLength(3);
    expect(checkExportLine("kway", row)).toEqual({ ok: true });
    expect(toKWayRow(tiedRankedSet())?.pairs).toEqual([[0, 1], [0, 2]]);
    expect(toKWayRow(rankedSet(), { maxNotRankableShare: 0 })).toBeNull();
  });

  it("the canonical record itself passes its consumer check", () => {
    expect(checkExportLine("ranked_set_record", rankedSet())).toEqual({ ok: true });
  });
});

describe("prompt-only rows", () => {
  const conversation = rankedSet().conversation;
  it("string form for one turn, conversational for any", () => {
    expect(toPromptOnlyText(conversation.slice(0, 1))).toEqual({ prompt: "Name a prime." });
    expect(toPromptOnlyText(conversation)).toBeNull();
    const row = toPromptOnlyConversational(conversation);
    expect(row.prompt.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    expect(checkExportLine("prompt_only_conversational", row)).toEqual({ ok: true });
    expect(checkExportLine("prompt_only_text", toPromptOnlyText(conversation.slice(0, 1)))).toEqual({ ok: true });
  });

  it("refuses a conversation that ends with an assistant turn", () => {
    expect(() => toPromptOnlyConversational(conversation.slice(0, 2))).toThrow(DatasetFormatError);
  });
});
