// Hand-made canonical records shared by the dataset format tests.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { RankedSetRecord, SftPathRecord } from "~/domain/datasets/canonical";
import type { OaMessageFields } from "~/domain/datasets/oasst-schema";

import { OASST_FIXTURES } from "../../helpers/fixtures.ts";

export const FIXTURES = OASST_FIXTURES + path.sep;

export function fixtureLines(name: string): string[] {
  return readFileSync(`${FIXTURES}${name}`, "utf8").split("\n").filter((l) => l !== "");
}

/** A two-turn conversation whose last user turn has four replies: A best, then B, C; D unranked. */
export function rankedSet(overrides: Partial<RankedSetRecord> = {}): RankedSetRecord {
  return {
    schema_version: 1,
    id: "p2",
    tree_id: "p1",
    project_id: "proj",
    lang: "en",
    conversation: [
      { message_id: "p1", role: "prompter", text: "Name a prime." },
      { message_id: "a1", role: "assistant", text: "7 is prime." },
      { message_id: "p2", role: "prompter", text: "Another one?" },
    ],
    completions: [
      {
        message_id: "cA",
        role: "assistant",
        text: "11.",
        author: { type: "model", model_version_id: "mv1", model_name: "tiny-gpt" },
        synthetic: true,
        sampling: { params: { temperature: 0.7, top_p: 1 }, seed: 42 },
        consensus_rank: 0,
        bt_score: 1.5,
      },
      {
        message_id: "cB",
        role: "assistant",
        text: "13 is one.",
        author: { type: "user", id: "u1" },
        synthetic: false,
        sampling: null,
        consensus_rank: 1,
        bt_score: 0.25,
        labels: { helpfulness: { value: 0.75, count: 2 } },
      },
      {
        message_id: "cC",
        role: "assistant",
        text: "Nine.",
        author: { type: "model", model_version_id: "mv1", model_name: "tiny-gpt" },
        synthetic: true,
        sampling: { params: { temperature: 0.7 }, seed: "18446744073709551615" },
        consensus_rank: 2,
        bt_score: -1,
      },
      {
        message_id: "cD",
        role: "assistant",
        text: "Late reply.",
        author: { type: "user", id: "u2" },
        synthetic: false,
        sampling: null,
        consensus_rank: null,
      },
    ],
    consensus: {
      method: "ranked_pairs",
      ranks: { cA: 0, cB: 1, cC: 2 },
      ties: [],
      confidence: {
        scope: "all_pairs",
        pairs: [
          { winner_id: "cA", loser_id: "cB", value: 1 },
          { winner_id: "cA", loser_id: "cC", value: 1 },
          { winner_id: "cB", loser_id: "cC", value: 2 / 3 },
        ],
      },
      kendall_tau: 0.78,
    },
    rankings: [
      { labeler_id: "u3", order: [["cA"], ["cB"], ["cC"]], not_rankable: false, created_at: "2026-01-02T10:00:00Z" },
      { labeler_id: "u4", order: [["cA"], ["cC", "cB"]], not_rankable: false, created_at: "2026-01-02T11:00:00Z" },
      { labeler_id: "u5", order: [], not_rankable: true, created_at: "2026-01-02T12:00:00Z" },
    ],
    ranking_count: 3,
    not_rankable_count: 1,
    created_at: "2026-01-03T00:00:00Z",
    ...overrides,
  };
}

/** The same set with B and C tied at rank 1. */
export function tiedRankedSet(): RankedSetRecord {
  const base = rankedSet();
  return {
    ...base,
    completions: base.completions.map((c) => (c.message_id === "cC" ? { ...c, consensus_rank: 1 } : c)),
    consensus: { ...base.consensus, ranks: { cA: 0, cB: 1, cC: 1 }, ties: [["cB", "cC"]], confidence: null },
  };
}

export function sftPath(overrides: Partial<SftPathRecord> = {}): SftPathRecord {
  return {
    schema_version: 1,
    id: "a1",
    tree_id: "p1",
    project_id: "proj",
    lang: "en",
    messages: [
      { message_id: "p1", role: "prompter", text: "Name a prime.", rank: null, synthetic: false, model_name: null, review_result: true, sibling_count: 1 },
      { message_id: "a1", role: "assistant", text: "7 is prime.", rank: 0, synthetic: true, model_name: "tiny-gpt", review_result: true, sibling_count: 3 },
    ],
    ...overrides,
  };
}

export function multiTurnSftPath(): SftPathRecord {
  const base = sftPath();
  return {
    ...base,
    id: "a2",
    messages: [
      ...base.messages,
      { message_id: "p2", role: "prompter", text: "Another one?", rank: null, synthetic: false, model_name: null, review_result: true, sibling_count: 1 },
      { message_id: "a2", role: "assistant", text: "11.", rank: null, synthetic: false, model_name: null, review_result: null, sibling_count: 1 },
    ],
  };
}

/** A readable UUID: u(12) = 00000000-0000-4000-8000-000000000012. */
export const u = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

/** An Open-Assistant message n replying to `parent` (prompter at the root, assistant otherwise). */
export function oaMessage(n: number, parent: number | null, extra: Partial<OaMessageFields> = {}): OaMessageFields {
  return {
    message_id: u(n),
    parent_id: parent === null ? null : u(parent),
    user_id: null,
    created_date: null,
    text: `text ${n}`,
    role: parent === null ? "prompter" : "assistant",
    lang: "en",
    review_count: 3,
    review_result: true,
    deleted: false,
    rank: null,
    synthetic: false,
    model_name: null,
    emojis: null,
    labels: null,
    ...extra,
  };
}
