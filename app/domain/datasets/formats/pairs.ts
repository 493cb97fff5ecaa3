// Pairwise preferences derived from a ranked sibling set's consensus.
import { rankedCompletions, type ConversationTurn, type RankedCompletion, type RankedSetRecord } from "../canonical";
import { DatasetFormatError } from "./errors";

/**
 * Which (winner, loser) pairs to emit: "all" is every K-choose-2 pair with different ranks;
 * "adjacent" pairs each rank group with the next one; "best_vs_rest" the best group against every
 * other completion; "best_vs_worst" the best group against the worst group.
 */
export type PairSelection = "all" | "adjacent" | "best_vs_rest" | "best_vs_worst";

export interface PairOptions {
  selection?: PairSelection;
  /**
   * Sets where more than this share of the rankings ticked "not rankable" give no pairs
   * (their order says little). Default 0.5; 0 drops any set with a not-rankable vote, 1 keeps all.
   */
  maxNotRankableShare?: number;
}

export interface PreferencePair {
  set_id: string;
  tree_id: string;
  lang: string;
  prompt: ConversationTurn[];
  chosen: RankedCompletion;
  rejected: RankedCompletion;
  /** Number of ranked completions in the set (K without the unranked ones). */
  ranked_count: number;
  /** rejected rank − chosen rank (≥ 1). */
  rank_gap: number;
  /** chosen BT score − rejected BT score, when both have one. */
  bt_gap: number | null;
  /** The consensus confidence recorded for this pair, if any. */
  confidence: number | null;
}

export function notRankableShare(record: RankedSetRecord): number {
  return record.ranking_count === 0 ? 0 : record.not_rankable_count / record.ranking_count;
}

// Module-level helpers rather than closures: this runs for every ranked set of an export.
const rankOf = (c: RankedCompletion) => c.consensus_rank as number;

/** Whether the (winner, loser) pair is one `selection` emits; `groupRanks` lists the sets' ranks, best first. */
function selected(selection: PairSelection, groupRanks: readonly number[], w: RankedCompletion, l: RankedCompletion): boolean {
  const winner = rankOf(w);
  const loser = rankOf(l);
  if (winner >= loser) return false; // ties and reversed order
  switch (selection) {
    case "all":
      return true;
    case "adjacent":
      return groupRanks[groupRanks.indexOf(winner) + 1] === loser;
    case "best_vs_rest":
      return winner === groupRanks[0];
    case "best_vs_worst":
      return winner === groupRanks[0] && loser === groupRanks[groupRanks.length - 1];
  }
}

export function preferencePairs(record: RankedSetRecord, options: PairOptions = {}): PreferencePair[] {
  const selection = options.selection ?? "all";
  const maxShare = options.maxNotRankableShare ?? 0.5;
  if (notRankableShare(record) > maxShare) return [];

  const ranked = rankedCompletions(record);
  const groupRanks = [...new Set(ranked.map(rankOf))];
  const confidencePairs = record.consensus.confidence?.pairs ?? [];
  const pairs: PreferencePair[] = [];
  for (let i = 0; i < ranked.length; i++) {
    for (let j = i + 1; j < ranked.length; j++) {
      const w = ranked[i];
      const l = ranked[j];
      if (!selected(selection, groupRanks, w, l)) continue;
      const confidence = confidencePairs.find((p) => p.winner_id === w.message_id && p.loser_id === l.message_id);
      pairs.push({
        set_id: record.id,
        tree_id: record.tree_id,
        lang: record.lang,
        prompt: record.conversation,
        chosen: w,
        rejected: l,
        ranked_count: ranked.length,
        rank_gap: rankOf(l) - rankOf(w),
        bt_gap: w.bt_score !== undefined && l.bt_score !== undefined ? w.bt_score - l.bt_score : null,
        confidence: confidence?.value ?? null,
      });
    }
  }
  return pairs;
}

/**
 * Margin for reward-model losses of the form −log σ(r_chosen − r_rejected − margin) (TRL's
 * RewardTrainer, OpenRLHF's "margin" key):
 * - "bt_score": the Bradley–Terry score difference, on the same logit scale as the loss;
 *   clamped at 0 so a pair whose BT order disagrees with the consensus is never pushed backwards.
 * - "rank_gap": the difference of consensus ranks (1 for neighbours), a coarse scale-free option.
 */
export type MarginSource = "bt_score" | "rank_gap";

export function pairMargin(pair: PreferencePair, source: MarginSource): number {
  if (source === "rank_gap") return pair.rank_gap;
  if (pair.bt_gap === null) {
    throw new DatasetFormatError(`set ${pair.set_id}: margin from bt_score needs a bt_score on both completions`);
  }
  return Math.max(0, pair.bt_gap);
}

export function assertAssistantPair(pair: PreferencePair): void {
  if (pair.chosen.role !== "assistant" || pair.rejected.role !== "assistant") {
    throw new DatasetFormatError(`set ${pair.set_id} ranks user replies: chat preference formats need assistant replies`);
  }
}
