// Every Open-Assistant fixture tree through every export format, each line checked by its consumer schema.
import { describe, expect, it } from "vitest";
import { RankedSetRecordSchema, SftPathRecordSchema, type RankedSetRecord, type SftPathRecord } from "~/domain/datasets/canonical";
import { checkExportLine, type ExportLineFormat } from "~/domain/datasets/consumer-schemas";
import { rankedSetsFromOaTree, sftPathsFromOaTree } from "~/domain/datasets/from-oasst";
import { toHhPreference } from "~/domain/datasets/formats/hh";
import { toKWayRow } from "~/domain/datasets/formats/kway";
import { flattenOaTree, serializeOaFlatMessage } from "~/domain/datasets/formats/oasst";
import { preferencePairs } from "~/domain/datasets/formats/pairs";
import {
  toOpenRlhfPreference,
  toTrlExplicitPreference,
  toTrlImplicitPreference,
  toTrlStandardPreference,
  toUltraFeedbackBinarized,
} from "~/domain/datasets/formats/preference";
import { toPromptOnlyConversational, toPromptOnlyText } from "~/domain/datasets/formats/prompt-only";
import {
  keepsTopK,
  toAlpaca,
  toShareGpt,
  toTrlConversational,
  toTrlConversationalPromptCompletion,
  toTrlPromptCompletion,
} from "~/domain/datasets/formats/sft";
import { parseOaTreeLine } from "~/domain/datasets/oasst-import";
import { parseHhPreferenceLine } from "~/domain/datasets/preference-import";
import { splitForTree } from "~/domain/datasets/split";
import { fixtureLines } from "./records";

const trees = fixtureLines("en_100_tree.jsonl").map((line, i) => {
  const result = parseOaTreeLine(line, i + 1);
  if (result.kind !== "item") throw new Error(`line ${i + 1} does not parse`);
  return result.item.tree;
});
const options = { project_id: "proj", created_at: "2026-01-01T00:00:00Z" };
const sets: RankedSetRecord[] = trees.flatMap((t) => rankedSetsFromOaTree(t, options));
const paths: SftPathRecord[] = trees.flatMap((t) => sftPathsFromOaTree(t, options));

/** Checks each produced line (after a JSON round trip, as a consumer reads it); returns how many. */
function expectAllValid(format: ExportLineFormat, rows: readonly unknown[]): number {
  const failures = rows
    .map((row) => ({ row, check: checkExportLine(format, JSON.parse(JSON.stringify(row))) }))
    .filter(({ check }) => !check.ok);
  expect(failures.slice(0, 3)).toEqual([]);
  return rows.length;
}

describe("fixture trees through every format", () => {
  it("gives valid canonical records", () => {
    expect(sets).toHaveLength(212);
    expect(paths).toHaveLength(546);
    for (const record of sets) expect(RankedSetRecordSchema.safeParse(record).error?.issues ?? []).toEqual([]);
    for (const path of paths) expect(SftPathRecordSchema.safeParse(path).error?.issues ?? []).toEqual([]);
    expect(sets.filter((s) => s.conversation.length === 1)).toHaveLength(99);
    expect(sets.every((s) => s.completions.every((c) => c.role === "assistant"))).toBe(true);
  });

  it("preference formats: all 754 K-choose-2 pairs", () => {
    const pairs = sets.flatMap((s) => preferencePairs(s));
    expect(pairs).toHaveLength(754);
    expectAllValid("trl_preference_implicit", pairs.map(toTrlImplicitPreference));
    expectAllValid("trl_preference_explicit", pairs.map((p) => toTrlExplicitPreference(p, { margin: "rank_gap" })));
    expectAllValid("openrlhf_preference", pairs.map((p) => toOpenRlhfPreference(p)));
    const hh = pairs.map(toHhPreference);
    // Texts quoting "\n\nAssistant:" themselves cannot be written as HH transcripts.
    expect(hh.filter((r) => r === null).length).toBe(
      pairs.filter((p) => [...p.prompt, p.chosen, p.rejected].some((t) => /\n\n(Human|Assistant):/.test(t.text))).length,
    );
    expect(expectAllValid("hh", hh.filter((r) => r !== null))).toBe(751);
    expectAllValid("ultrafeedback_binarized", pairs.map((p) => toUltraFeedbackBinarized(p)));
    const standard = pairs.map((p) => toTrlStandardPreference(p)).filter((r) => r !== null);
    expect(standard.length).toBe(pairs.filter((p) => p.prompt.length === 1).length);
    expectAllValid("trl_preference_standard", standard);
    expect(expectAllValid("kway", sets.map((s) => toKWayRow(s)))).toBe(212);
    expectAllValid("ranked_set_record", sets);
  });

  it("HH export of real pairs imports back to the same texts", () => {
    for (const pair of sets.flatMap((s) => preferencePairs(s, { selection: "best_vs_worst" }))) {
      const row = toHhPreference(pair);
      if (row === null) continue;
      const result = parseHhPreferenceLine(JSON.stringify(row), 1);
      expect(result.kind).toBe("item");
      if (result.kind !== "item") continue;
      expect(result.item.prompt.map((t) => t.text)).toEqual(pair.prompt.map((t) => t.text));
      expect([result.item.chosen.text, result.item.rejected.text]).toEqual([pair.chosen.text, pair.rejected.text]);
    }
  });

  it("SFT formats, and the top-1 filter", () => {
    expectAllValid("trl_sft_conversational", paths.map(toTrlConversational));
    expectAllValid("trl_prompt_completion_conversational", paths.map(toTrlConversationalPromptCompletion));
    expectAllValid("sharegpt", paths.map(toShareGpt));
    expect(expectAllValid("trl_prompt_completion", paths.map(toTrlPromptCompletion).filter((r) => r !== null))).toBe(197);
    expect(expectAllValid("alpaca", paths.map(toAlpaca).filter((r) => r !== null))).toBe(197);
    expectAllValid("sft_path_record", paths);
    expect(paths.filter((p) => keepsTopK(p, { topK: 1 }))).toHaveLength(101);
  });

  it("prompt-only and Open-Assistant message lines", () => {
    const prompts = trees.map((t) => [{ role: t.prompt.role, text: t.prompt.text }]);
    expect(expectAllValid("prompt_only_text", prompts.map(toPromptOnlyText))).toBe(100);
    expectAllValid("prompt_only_conversational", sets.map((s) => toPromptOnlyConversational(s.conversation)));
    const messages = trees.flatMap((t) => flattenOaTree(t));
    expect(expectAllValid("oasst_message", messages.map((m) => serializeOaFlatMessage(m, { nulls: "omit" })))).toBe(1167);
  });

  it("every record of a tree lands in the same split", () => {
    const split = { seed: "fixture", validationRatio: 0.2 };
    const byTree = new Map<string, Set<string>>();
    for (const r of [...sets, ...paths]) {
      byTree.set(r.tree_id, (byTree.get(r.tree_id) ?? new Set()).add(splitForTree(r.tree_id, split)));
    }
    expect([...byTree.values()].every((s) => s.size === 1)).toBe(true);
    const validation = trees.filter((t) => splitForTree(t.message_tree_id, split) === "validation").length;
    expect(validation).toBeGreaterThan(5);
    expect(validation).toBeLessThan(40);
  });
});
