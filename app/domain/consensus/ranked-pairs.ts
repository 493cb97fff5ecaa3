// Consensus ranking of one sibling set by Tideman's ranked pairs.
import { normalizeRanking, type Ranking } from "./ranking";

/**
 * Ranked pairs (Tideman 1987), as Open-Assistant uses it for sibling replies:
 *  1. Tally every pair: prefer[a][b] = rankings that put a strictly ahead of b. Tied or missing
 *     items say nothing about that pair.
 *  2. Each pair with a majority (prefer[a][b] > prefer[b][a]) is a victory of strength
 *     margin = prefer[a][b] − prefer[b][a]. Pairs with equal counts are ties and never locked.
 *  3. Sort victories by margin, then by winning votes, then by the order of `items` (winner's
 *     index, then loser's): a fixed order makes the result deterministic when strengths tie.
 *  4. Lock each victory in turn unless it would close a cycle with those locked before.
 *  5. Read the ranking off the locked graph in layers: rank = number of items in earlier layers,
 *     where a layer is the set of items with no locked defeat from an item still unplaced. So
 *     0 = best, a strict consensus gives 0..K−1, and items share a rank only when no chain of
 *     locked victories separates them — their head-to-head was tied ("1224" style ranks).
 * `order` breaks those shared ranks for callers that need a strict order: by net margin over
 * all pairs (Copeland-like), then by `items` order.
 */
export interface RankedPairsResult {
  /** id → rank, 0 = best; tied items share a rank. */
  ranks: Record<string, number>;
  /** All items, best first, shared ranks broken deterministically. */
  order: string[];
  /** Victories locked in, strongest first. */
  locked: Array<{ winner: string; loser: string; margin: number }>;
  /** prefer[a][b]: rankings with a strictly ahead of b. */
  prefer: Record<string, Record<string, number>>;
}

export function rankedPairs(items: readonly string[], rankings: readonly Ranking[]): RankedPairsResult {
  const n = items.length;
  const idx = new Map(items.map((id, i) => [id, i]));
  if (idx.size !== n) throw new Error("items repeat");
  const P = Array.from({ length: n }, () => new Array<number>(n).fill(0));

  for (const ranking of rankings) {
    const groups = normalizeRanking(ranking).map((g) => g.filter((id) => idx.has(id)));
    for (let g = 0; g < groups.length; g++) {
      for (let h = g + 1; h < groups.length; h++) {
        for (const a of groups[g]) for (const b of groups[h]) P[idx.get(a)!][idx.get(b)!]++;
      }
    }
  }

  const victories: Array<{ w: number; l: number; margin: number; votes: number }> = [];
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) {
      if (a !== b && P[a][b] > P[b][a]) victories.push({ w: a, l: b, margin: P[a][b] - P[b][a], votes: P[a][b] });
    }
  }
  victories.sort((x, y) => y.margin - x.margin || y.votes - x.votes || x.w - y.w || x.l - y.l);

  const out: number[][] = Array.from({ length: n }, () => []);
  const reaches = (from: number, to: number): boolean => {
    const stack = [from];
    const seen = new Set<number>([from]);
    while (stack.length) {
      const v = stack.pop()!;
      if (v === to) return true;
      for (const u of out[v]) if (!seen.has(u)) seen.add(u), stack.push(u);
    }
    return false;
  };
  const locked: RankedPairsResult["locked"] = [];
  for (const v of victories) {
    if (reaches(v.l, v.w)) continue; // would close a cycle
    out[v.w].push(v.l);
    locked.push({ winner: items[v.w], loser: items[v.l], margin: v.margin });
  }

  // Layers of the locked DAG (Kahn's algorithm, all sources at once).
  const indegree = new Array<number>(n).fill(0);
  for (let a = 0; a < n; a++) for (const b of out[a]) indegree[b]++;
  const net = items.map((_, a) => P[a].reduce((s, x, b) => s + x - P[b][a], 0));
  const ranks: Record<string, number> = {};
  const order: string[] = [];
  let layer = items.map((_, i) => i).filter((i) => indegree[i] === 0);
  while (layer.length) {
    const rank = order.length;
    layer.sort((a, b) => net[b] - net[a] || a - b);
    const next: number[] = [];
    for (const a of layer) {
      ranks[items[a]] = rank;
      order.push(items[a]);
      for (const b of out[a]) if (--indegree[b] === 0) next.push(b);
    }
    layer = next;
  }

  const prefer: Record<string, Record<string, number>> = {};
  items.forEach((a, i) => {
    prefer[a] = {};
    items.forEach((b, j) => {
      if (i !== j) prefer[a][b] = P[i][j];
    });
  });
  return { ranks, order, locked, prefer };
}
