// The order sibling sets are offered for ranking: at random (the draw's own order), or the sets a
// reward model is least sure about first (docs/decisions/0018). The uncertainty of a set is computed
// in SQL from stored reward scores (app/models/labeling/uncertainty.server.ts); this is the choice.
import { pickOne, type Rng } from "./rng";

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

/**
 * The candidate to offer among `items`: the least sure one (lowest key; ties at random); items
 * with no key yet (replies not scored) only when no item has one, then at random as before.
 */
export function pickLeastSure<T>(items: readonly T[], keyOf: (item: T) => number | null | undefined, rng: Rng): T | undefined {
  let best: number | null = null;
  let ties: T[] = [];
  for (const item of items) {
    const k = keyOf(item);
    if (k === null || k === undefined || !Number.isFinite(k)) continue;
    if (best === null || k < best) {
      best = k;
      ties = [item];
    } else if (k === best) ties.push(item);
  }
  return ties.length ? pickOne(ties, rng) : pickOne(items, rng);
}
