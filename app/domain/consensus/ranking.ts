// How a ranking is represented everywhere in consensus code (the same shape as rankings.order).

/**
 * One labeler's ranking of a sibling set: groups, best first; a group with more than one id is a
 * tie. A bare id is a group of one, so a strict ranking can be written ["a", "b", "c"].
 * Ids missing from a ranking carry no preference about them (a partial ranking).
 */
export type Ranking = ReadonlyArray<string | ReadonlyArray<string>>;

/** Groups of ids, best first, without empty groups; throws on an id listed twice. */
export function normalizeRanking(ranking: Ranking): string[][] {
  const seen = new Set<string>();
  const groups: string[][] = [];
  for (const entry of ranking) {
    const group = typeof entry === "string" ? [entry] : [...entry];
    for (const id of group) {
      if (seen.has(id)) throw new Error(`Ranking lists ${id} twice`);
      seen.add(id);
    }
    if (group.length) groups.push(group);
  }
  return groups;
}

/**
 * Rank of each id: the number of ids placed strictly ahead of it, so 0 is best, a strict ranking
 * of K gives 0..K−1 and tied ids share the rank of their group ("1224" style).
 */
export function rankingPositions(ranking: Ranking): Map<string, number> {
  const positions = new Map<string, number>();
  let ahead = 0;
  for (const group of normalizeRanking(ranking)) {
    for (const id of group) positions.set(id, ahead);
    ahead += group.length;
  }
  return positions;
}

/** Groups from id → rank (lower is better); equal ranks form a tie. */
export function rankingFromRanks(ranks: Readonly<Record<string, number>>): string[][] {
  const byRank = new Map<number, string[]>();
  for (const [id, r] of Object.entries(ranks)) byRank.set(r, [...(byRank.get(r) ?? []), id]);
  return [...byRank.entries()].sort((a, b) => a[0] - b[0]).map(([, ids]) => ids);
}

export function hasTies(ranking: Ranking): boolean {
  return normalizeRanking(ranking).some((g) => g.length > 1);
}

/** Keeps only the given ids (e.g. the siblings still live), preserving order and ties. */
export function restrictRanking(ranking: Ranking, ids: Iterable<string>): string[][] {
  const keep = new Set(ids);
  return normalizeRanking(ranking)
    .map((g) => g.filter((id) => keep.has(id)))
    .filter((g) => g.length > 0);
}
