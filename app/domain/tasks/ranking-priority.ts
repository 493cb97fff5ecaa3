// The order sibling sets are offered for ranking: at random (the draw's own order), or the sets a
// reward model is least sure about first (docs/decisions/0018). The draw computes a set's
// uncertainty in SQL from stored reward scores (set_uncertainty, migration 20261207100000).

export const RANKING_ORDERS = ["random", "uncertainty"] as const;
export type RankingOrderMode = (typeof RANKING_ORDERS)[number];

export interface RankingOrder {
  mode: RankingOrderMode;
  /** uncertainty: the reward model whose scores order the sets. */
  rewardModelId: string | null;
  /** uncertainty: a second reward model; the sets the two order least alike come first. */
  secondRewardModelId: string | null;
}

export const RANDOM_RANKING_ORDER: RankingOrder = { mode: "random", rewardModelId: null, secondRewardModelId: null };

/** One line for the settings page and the audit log. */
export function describeRankingOrder(order: RankingOrder, names: Record<string, string> = {}): string {
  if (order.mode === "random" || !order.rewardModelId) return "sibling sets are offered for ranking at random";
  const a = names[order.rewardModelId] ?? order.rewardModelId;
  if (!order.secondRewardModelId) return `sibling sets whose top ${a} margin is smallest are offered for ranking first`;
  const b = names[order.secondRewardModelId] ?? order.secondRewardModelId;
  return `sibling sets that ${a} and ${b} order least alike are offered for ranking first`;
}
