// Compact K-way rows for our reward-model trainer: all K completions of a prompt in one example.
import { rankedCompletions, type RankedSetRecord } from "../canonical";
import { toChatMessages, type ChatMessage } from "./chat";
import { DatasetFormatError } from "./errors";
import { preferencePairs, type PairOptions } from "./pairs";

export interface KWayRow {
  id: string;
  tree_id: string;
  lang: string;
  prompt: ChatMessage[];
  /** Ranked completions, best first. */
  completions: { message_id: string; content: string; rank: number; bt_score: number | null }[];
  /** [winner index, loser index] into completions; tied completions make no pair. */
  pairs: [number, number][];
}

/**
 * One row per ranked set so the trainer can put every pair of a prompt in one batch element
 * (InstructGPT); null when the set gives no pairs (all tied, or mostly "not rankable").
 */
export function toKWayRow(record: RankedSetRecord, options: Pick<PairOptions, "maxNotRankableShare"> = {}): KWayRow | null {
  const ranked = rankedCompletions(record);
  if (ranked.some((c) => c.role !== "assistant")) {
    throw new DatasetFormatError(`set ${record.id} ranks user replies: K-way rows need assistant replies`);
  }
  const index = new Map(ranked.map((c, i) => [c.message_id, i]));
  const pairs = preferencePairs(record, { selection: "all", ...options }).map(
    (p) => [index.get(p.chosen.message_id), index.get(p.rejected.message_id)] as [number, number],
  );
  if (pairs.length === 0) return null;
  return {
    id: record.id,
    tree_id: record.tree_id,
    lang: record.lang,
    prompt: toChatMessages(record.conversation),
    completions: ranked.map((c) => ({
      message_id: c.message_id,
      content: c.text,
      rank: c.consensus_rank as number,
      bt_score: c.bt_score ?? null,
    })),
    pairs,
  };
}
