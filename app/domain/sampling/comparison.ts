// Two policies side by side: what a comparison stores per prompt, and the summary computed from
// those stored scores (means and the win rate of B over A by the reward model, ties one half).
import { z } from "zod";
import type { SamplingParams } from "./config.ts";

export const COMPARISON_EXPORT_FORMATS = ["prompts_text", "prompts_conversational"] as const;
export const MAX_COMPARISON_PROMPTS = 200;

export const ComparisonRequestSchema = z.object({
  policyAId: z.string().uuid("Choose policy A."),
  policyBId: z.string().uuid("Choose policy B."),
  rewardModelId: z.string().uuid("Choose a reward model."),
  exportId: z.string().uuid("Choose a prompt snapshot."),
  prompts: z.coerce.number().int("Prompts must be a whole number.").min(1, "Compare on at least 1 prompt.").max(MAX_COMPARISON_PROMPTS, `Compare on at most ${MAX_COMPARISON_PROMPTS} prompts.`),
  seed: z.coerce.number().int("The seed must be a whole number.").min(0, "The seed must be ≥ 0.").max(2 ** 31 - 1, "The seed must be < 2³¹."),
});
export type ComparisonRequest = z.infer<typeof ComparisonRequestSchema>;

export type ComparisonConfig = {
  prompts: number;
  seed: number;
  /** The project's sampling parameters when the comparison was made. */
  params: SamplingParams;
};

export type Turn = { role: "prompter" | "assistant" | "system"; text: string };

export type ComparedReply = {
  text: string;
  /** Generated tokens (the policy's tokenizer), and characters. */
  tokens: number;
  chars: number;
  finishReason: string;
  /** Reward-model score; null when prompt + reply exceed the reward model's context. */
  score: number | null;
};

export type ComparedPrompt = { prompt: Turn[]; seed: number; a: ComparedReply; b: ComparedReply };

export type ComparisonSummary = {
  prompts: number;
  /** Prompts both of whose replies have a score: the win rate counts these. */
  scoredPairs: number;
  meanScoreA: number | null;
  meanScoreB: number | null;
  meanTokensA: number;
  meanTokensB: number;
  meanCharsA: number;
  meanCharsB: number;
  /** Share of scored prompts where B's reply scores higher than A's (a tie counts one half). */
  winRateB: number | null;
  wins: number;
  ties: number;
  losses: number;
};

export type ComparisonResult = {
  /** Which split was read ("validation", or "all" for a snapshot without one). */
  split: string;
  /** Rows of the split left out because a policy's context cannot hold them. */
  skippedPrompts: number;
  provider: string;
  rows: ComparedPrompt[];
  summary: ComparisonSummary;
};

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

export function summarizeComparison(rows: readonly ComparedPrompt[]): ComparisonSummary {
  let wins = 0;
  let ties = 0;
  let losses = 0;
  for (const r of rows) {
    if (r.a.score === null || r.b.score === null) continue;
    if (r.b.score > r.a.score) wins++;
    else if (r.b.score === r.a.score) ties++;
    else losses++;
  }
  const scored = wins + ties + losses;
  const scores = (side: "a" | "b") => rows.map((r) => r[side].score).filter((s): s is number => s !== null);
  return {
    prompts: rows.length,
    scoredPairs: scored,
    meanScoreA: mean(scores("a")),
    meanScoreB: mean(scores("b")),
    meanTokensA: mean(rows.map((r) => r.a.tokens)) ?? 0,
    meanTokensB: mean(rows.map((r) => r.b.tokens)) ?? 0,
    meanCharsA: mean(rows.map((r) => r.a.chars)) ?? 0,
    meanCharsB: mean(rows.map((r) => r.b.chars)) ?? 0,
    winRateB: scored ? (wins + ties / 2) / scored : null,
    wins,
    ties,
    losses,
  };
}

/** A prompt-snapshot row as a conversation: {"prompt": "text"} or {"prompt": [{role, content}]}. */
export function promptTurns(format: string, row: Record<string, unknown>): Turn[] | null {
  const p = row.prompt;
  if (format === "prompts_text") return typeof p === "string" && p.trim() ? [{ role: "prompter", text: p }] : null;
  if (!Array.isArray(p) || p.length === 0) return null;
  const turns: Turn[] = [];
  for (const m of p as Record<string, unknown>[]) {
    const role = m?.role === "user" ? "prompter" : m?.role === "assistant" ? "assistant" : m?.role === "system" ? "system" : null;
    if (!role || typeof m.content !== "string") return null;
    turns.push({ role, text: m.content });
  }
  return turns.at(-1)!.role === "prompter" ? turns : null;
}
