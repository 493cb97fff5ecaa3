// The prompt lottery: which accepted prompts start growing when growing slots free up.
import type { WorkflowConfig } from "../projects/workflow";
import { defaultRng, pickOne, weightedIndex, type Rng } from "../tasks/rng";

export interface LotteryEntry {
  treeId: string;
  authorUserId: string | null;
  createdAt: Date;
  /** The author's replies ranked first (this month, say); better authors win more often. */
  authorTopRankedReplies?: number;
}

/** Free growing slots: maxActiveTrees minus the trees growing now. */
export function freeGrowingSlots(growingTrees: number, config: Pick<WorkflowConfig, "maxActiveTrees">): number {
  return Math.max(0, config.maxActiveTrees - growingTrees);
}

/**
 * Picks up to `slots` waiting trees. With the lottery on (OA): first an author, weighted by
 * 1 + their top-ranked replies, so prolific authors do not crowd others out; then one of that
 * author's prompts at random. With it off: oldest first.
 */
export function drawLotteryWinners(
  entries: readonly LotteryEntry[],
  slots: number,
  config: Pick<WorkflowConfig, "promptLottery">,
  rng: Rng = defaultRng
): string[] {
  const n = Math.min(Math.max(0, Math.floor(slots)), entries.length);
  if (!config.promptLottery.enabled) {
    return [...entries]
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.treeId.localeCompare(b.treeId))
      .slice(0, n)
      .map((e) => e.treeId);
  }
  const byAuthor = new Map<string, LotteryEntry[]>();
  for (const e of entries) {
    const key = e.authorUserId ?? "";
    byAuthor.set(key, [...(byAuthor.get(key) ?? []), e]);
  }
  const winners: string[] = [];
  while (winners.length < n) {
    const authors = [...byAuthor.keys()];
    const weights = authors.map((a) => 1 + Math.max(0, byAuthor.get(a)![0].authorTopRankedReplies ?? 0));
    const author = authors[weightedIndex(weights, rng)];
    const pool = byAuthor.get(author)!;
    const pick = pickOne(pool, rng)!;
    winners.push(pick.treeId);
    const rest = pool.filter((e) => e !== pick);
    if (rest.length) byAuthor.set(author, rest);
    else byAuthor.delete(author);
  }
  return winners;
}
