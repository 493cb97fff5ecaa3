// Preference rows for TRL, OpenRLHF and UltraFeedback-binarized consumers, one per PreferencePair.
import { toChatMessages, type ChatMessage } from "./chat";
import { DatasetFormatError } from "./errors";
import { assertAssistantPair, pairMargin, type MarginSource, type PreferencePair } from "./pairs";

export interface MarginOptions {
  /** Adds a "margin" key computed from this source (see pairMargin); no key when omitted. */
  margin?: MarginSource;
}

/** TRL implicit prompt: {"chosen": [...prompt, reply], "rejected": [...prompt, reply]}. */
export interface TrlImplicitPreferenceRow {
  chosen: ChatMessage[];
  rejected: ChatMessage[];
}

/** TRL explicit prompt, conversational: {"prompt": [...], "chosen": [reply], "rejected": [reply]}. */
export interface TrlExplicitPreferenceRow {
  prompt: ChatMessage[];
  chosen: ChatMessage[];
  rejected: ChatMessage[];
  margin?: number;
}

/** TRL explicit prompt, standard (plain strings). */
export interface TrlStandardPreferenceRow {
  prompt: string;
  chosen: string;
  rejected: string;
  margin?: number;
}

export interface UltraFeedbackBinarizedRow {
  prompt: string;
  prompt_id: string;
  chosen: ChatMessage[];
  rejected: ChatMessage[];
  messages: ChatMessage[];
  score_chosen: number;
  score_rejected: number;
}

function withMargin<T extends object>(row: T, pair: PreferencePair, options: MarginOptions): T & { margin?: number } {
  return options.margin === undefined ? row : { ...row, margin: pairMargin(pair, options.margin) };
}

export function toTrlImplicitPreference(pair: PreferencePair): TrlImplicitPreferenceRow {
  assertAssistantPair(pair);
  const prompt = toChatMessages(pair.prompt);
  return {
    chosen: [...prompt, ...toChatMessages([pair.chosen])],
    rejected: [...prompt, ...toChatMessages([pair.rejected])],
  };
}

export function toTrlExplicitPreference(pair: PreferencePair, options: MarginOptions = {}): TrlExplicitPreferenceRow {
  assertAssistantPair(pair);
  return withMargin(
    {
      prompt: toChatMessages(pair.prompt),
      chosen: toChatMessages([pair.chosen]),
      rejected: toChatMessages([pair.rejected]),
    },
    pair,
    options,
  );
}

/** Plain-string form; null when the prompt has several turns (no string form keeps them apart). */
export function toTrlStandardPreference(pair: PreferencePair, options: MarginOptions = {}): TrlStandardPreferenceRow | null {
  assertAssistantPair(pair);
  if (pair.prompt.length !== 1) return null;
  return withMargin({ prompt: pair.prompt[0].text, chosen: pair.chosen.text, rejected: pair.rejected.text }, pair, options);
}

/**
 * OpenRLHF reward-model / DPO rows: the TRL explicit conversational row, read with
 * OPENRLHF_PREFERENCE_ARGS (prompt as a message list, chosen/rejected as the reply lists;
 * OpenRLHF reads an optional "margin" key itself).
 */
export const toOpenRlhfPreference = toTrlExplicitPreference;

export const OPENRLHF_PREFERENCE_ARGS = [
  "--prompt_key", "prompt",
  "--chosen_key", "chosen",
  "--rejected_key", "rejected",
  "--apply_chat_template",
] as const;

/**
 * How UltraFeedback scores are filled in: "rank" gives K − rank (K = ranked completions in the
 * set, so the best gets K and higher is better); "bt_score" uses the Bradley–Terry scores.
 */
export type UltraFeedbackScore = "rank" | "bt_score";

/**
 * UltraFeedback-binarized row. prompt is the last user turn; chosen, rejected and messages are
 * the whole conversations (messages = chosen). prompt_id is the sibling set id (one id per prompt).
 */
export function toUltraFeedbackBinarized(
  pair: PreferencePair,
  options: { score?: UltraFeedbackScore } = {},
): UltraFeedbackBinarizedRow {
  const { chosen, rejected } = toTrlImplicitPreference(pair);
  const score = (c: PreferencePair["chosen"]): number => {
    if (options.score === "bt_score") {
      if (c.bt_score === undefined) {
        throw new DatasetFormatError(`set ${pair.set_id}: score from bt_score needs a bt_score on both completions`);
      }
      return c.bt_score;
    }
    return pair.ranked_count - (c.consensus_rank as number);
  };
  return {
    prompt: pair.prompt[pair.prompt.length - 1].text,
    prompt_id: pair.set_id,
    chosen,
    rejected,
    messages: chosen,
    score_chosen: score(pair.chosen),
    score_rejected: score(pair.rejected),
  };
}
