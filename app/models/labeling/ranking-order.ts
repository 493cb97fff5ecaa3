// Checks a submitted ranking against the siblings the task showed: a permutation, ties only
// where the project allows them. Shared by the server and the ranking widget.

export type RankingOrderCheck = { ok: true; order: string[][] } | { ok: false; message: string };

/**
 * `raw` is a list of groups best first (a group of several ids is a tie); bare ids count as
 * groups of one. Every sibling must appear exactly once and nothing else may.
 */
export function checkRankingOrder(raw: unknown, siblingIds: readonly string[], tiesAllowed: boolean): RankingOrderCheck {
  if (!Array.isArray(raw) || raw.length === 0) return { ok: false, message: "The ranking is empty." };
  const order = rankingGroups(raw);
  if (!order) return { ok: false, message: "A ranking is a list of replies (or of groups of tied replies), best first." };
  const flat = order.flat();
  const expected = new Set(siblingIds);
  const seen = new Set<string>();
  for (const id of flat) {
    if (!expected.has(id)) return { ok: false, message: `"${id}" is not one of the replies of this task.` };
    if (seen.has(id)) return { ok: false, message: "A reply appears twice in the ranking." };
    seen.add(id);
  }
  if (seen.size !== expected.size) {
    return { ok: false, message: `Rank all ${expected.size} replies; ${expected.size - seen.size} missing.` };
  }
  if (!tiesAllowed && order.some((g) => g.length > 1)) {
    return { ok: false, message: "This project does not allow ties: put every reply in its own place." };
  }
  return { ok: true, order };
}

/** The groups of a ranking, best first (bare ids as groups of one), or null when it is not a
 *  list of ids and lists of ids. Says nothing of which ids it holds. */
export function rankingGroups(raw: unknown): string[][] | null {
  if (!Array.isArray(raw)) return null;
  const order: string[][] = [];
  for (const entry of raw) {
    const group = typeof entry === "string" ? [entry] : entry;
    if (!Array.isArray(group) || group.length === 0 || !group.every((id) => typeof id === "string")) return null;
    order.push([...(group as string[])]);
  }
  return order;
}
