// Everything stored for one sibling set's consensus (the sibling_consensus row), in one call.
import { meanPairwiseTau } from "./agreement";
import { crowdBT, pairConfidence, rankingToComparisons, type CrowdBTOptions } from "./crowd-bt";
import { rankedPairs } from "./ranked-pairs";
import { restrictRanking, type Ranking } from "./ranking";

export interface SiblingRanking {
  labelerId: string;
  /** Groups of sibling ids, best first (rankings.order). */
  order: Ranking;
  /** The labeler ticked "not rankable" (all bad): no order is taken from it. */
  notRankable?: boolean;
}

export interface SiblingConsensusSummary {
  /** Ranked-pairs consensus, id → rank, 0 = best; tied siblings share a rank. */
  ranks: Record<string, number>;
  /** Ranked-pairs order with ties broken deterministically. */
  order: string[];
  /** Crowd-BT scores of the siblings. */
  btScores: Record<string, number>;
  /** P(i beats j) from the Crowd-BT scores, for every ordered pair of siblings. */
  pairConfidence: Record<string, Record<string, number>>;
  /** Mean pairwise Kendall tau-b between the labelers' rankings. */
  kendallTau: number | null;
  /** Rankings that carried an order. */
  rankingCount: number;
  notRankableCount: number;
}

/**
 * Consensus of one sibling set. Rankings are cut down to the given siblings (replies deleted
 * since drop out). Labeler reliabilities from a project-wide Crowd-BT fit can be passed in; with
 * only a few rankings per set they are better estimated across the project than here.
 */
export function summarizeSiblingSet(
  siblingIds: readonly string[],
  rankings: readonly SiblingRanking[],
  options: { reliability?: Readonly<Record<string, number>>; crowdBT?: CrowdBTOptions } = {}
): SiblingConsensusSummary {
  const usable = rankings
    .filter((r) => !r.notRankable)
    .map((r) => ({ labelerId: r.labelerId, order: restrictRanking(r.order, siblingIds) }));
  const rp = rankedPairs(
    siblingIds,
    usable.map((r) => r.order)
  );
  const bt = crowdBT(
    siblingIds,
    usable.flatMap((r) => rankingToComparisons(r.labelerId, r.order)),
    { ...options.crowdBT, ...(options.reliability ? { fixedReliability: options.reliability } : {}) }
  );
  return {
    ranks: rp.ranks,
    order: rp.order,
    btScores: bt.scores,
    pairConfidence: pairConfidence(bt.scores, siblingIds),
    kendallTau: meanPairwiseTau(usable.map((r) => r.order)),
    rankingCount: usable.length,
    notRankableCount: rankings.length - usable.length,
  };
}
