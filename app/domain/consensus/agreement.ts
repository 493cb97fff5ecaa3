// Agreement between labelers: Kendall's tau-b, Krippendorff's alpha, agreement with consensus.
import { rankingFromRanks, rankingPositions, type Ranking } from "./ranking";

/**
 * Kendall's tau-b of two paired score lists (ties allowed in either):
 *   (C − D) / sqrt((n0 − n1)(n0 − n2)),
 * n0 = pairs, n1 / n2 = pairs tied in x / y. Null when either list is constant or shorter than 2.
 */
export function kendallTauB(x: readonly number[], y: readonly number[]): number | null {
  if (x.length !== y.length) throw new Error("kendallTauB needs paired lists of equal length");
  let concordant = 0;
  let discordant = 0;
  let tiedX = 0;
  let tiedY = 0;
  const n = x.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = Math.sign(x[i] - x[j]);
      const dy = Math.sign(y[i] - y[j]);
      if (dx === 0) tiedX++;
      if (dy === 0) tiedY++;
      if (dx !== 0 && dy !== 0) {
        if (dx === dy) concordant++;
        else discordant++;
      }
    }
  }
  const n0 = (n * (n - 1)) / 2;
  const denom = Math.sqrt((n0 - tiedX) * (n0 - tiedY));
  return denom > 0 ? (concordant - discordant) / denom : null;
}

/** Tau-b of two rankings over the ids both contain. */
export function rankingTau(a: Ranking, b: Ranking): number | null {
  const pa = rankingPositions(a);
  const pb = rankingPositions(b);
  const common = [...pa.keys()].filter((id) => pb.has(id));
  return kendallTauB(
    common.map((id) => pa.get(id)!),
    common.map((id) => pb.get(id)!)
  );
}

/** Mean tau-b over all pairs of rankings of one sibling set (pairs with undefined tau skipped). */
export function meanPairwiseTau(rankings: readonly Ranking[]): number | null {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < rankings.length; i++) {
    for (let j = i + 1; j < rankings.length; j++) {
      const t = rankingTau(rankings[i], rankings[j]);
      if (t !== null) (sum += t), count++;
    }
  }
  return count ? sum / count : null;
}

export const ALPHA_LEVELS = ["nominal", "ordinal", "interval", "ratio"] as const;
export type AlphaLevel = (typeof ALPHA_LEVELS)[number];

/**
 * Krippendorff's alpha from units, each the list of values its coders gave (missing values simply
 * left out). Units with fewer than two values are not pairable and are ignored. Follows
 * Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": coincidence matrix
 * o_ck = Σ_u (pairs c,k in u) / (m_u − 1), α = 1 − (n − 1) Σ o_ck δ²_ck / Σ n_c n_k δ²_ck.
 * Null when nothing is pairable or all values are equal (no expected disagreement).
 */
export function alphaFromUnits(units: ReadonlyArray<readonly number[]>, level: AlphaLevel = "ordinal"): number | null {
  const pairable = units.filter((u) => u.length >= 2);
  const values = [...new Set(pairable.flat())].sort((a, b) => a - b);
  const V = values.length;
  if (V === 0) return null;
  const vi = new Map(values.map((v, i) => [v, i]));
  const o = Array.from({ length: V }, () => new Array<number>(V).fill(0));
  for (const u of pairable) {
    const w = 1 / (u.length - 1);
    for (let i = 0; i < u.length; i++) {
      for (let j = 0; j < u.length; j++) if (i !== j) o[vi.get(u[i])!][vi.get(u[j])!] += w;
    }
  }
  const nc = o.map((row) => row.reduce((a, b) => a + b, 0));
  const n = nc.reduce((a, b) => a + b, 0);
  const delta2 = distanceFunction(level, values, nc);
  let observed = 0;
  let expected = 0;
  for (let c = 0; c < V; c++) {
    for (let k = 0; k < V; k++) {
      const d = delta2(c, k);
      observed += o[c][k] * d;
      expected += nc[c] * nc[k] * d;
    }
  }
  if (!(expected > 0)) return null;
  return 1 - ((n - 1) * observed) / expected;
}

function distanceFunction(level: AlphaLevel, values: number[], nc: number[]): (c: number, k: number) => number {
  switch (level) {
    case "nominal":
      return (c, k) => (c === k ? 0 : 1);
    case "interval":
      return (c, k) => (values[c] - values[k]) ** 2;
    case "ratio":
      return (c, k) => {
        const sum = values[c] + values[k];
        return sum === 0 ? 0 : ((values[c] - values[k]) / sum) ** 2;
      };
    case "ordinal": {
      const cumulative = [0];
      for (const x of nc) cumulative.push(cumulative[cumulative.length - 1] + x);
      return (c, k) => {
        const lo = Math.min(c, k);
        const hi = Math.max(c, k);
        return (cumulative[hi + 1] - cumulative[lo] - (nc[c] + nc[k]) / 2) ** 2;
      };
    }
  }
}

/** Krippendorff's alpha from a coders × units matrix; null/undefined/NaN mark missing values. */
export function krippendorffAlpha(
  data: ReadonlyArray<ReadonlyArray<number | null | undefined>>,
  level: AlphaLevel = "ordinal"
): number | null {
  const unitCount = Math.max(0, ...data.map((row) => row.length));
  const units: number[][] = [];
  for (let u = 0; u < unitCount; u++) {
    const vals: number[] = [];
    for (const row of data) {
      const v = row[u];
      if (typeof v === "number" && !Number.isNaN(v)) vals.push(v);
    }
    units.push(vals);
  }
  return alphaFromUnits(units, level);
}

export interface LabelerRanking {
  labelerId: string;
  ranking: Ranking;
}

/**
 * Alpha of a project's rankings: every (sibling set, reply) is a unit and each labeler's value is
 * the rank they gave that reply (number of siblings ahead, 0 = best). Ordinal by default.
 */
export function rankingAlpha(
  sets: ReadonlyArray<{ rankings: readonly LabelerRanking[] }>,
  level: AlphaLevel = "ordinal"
): number | null {
  const units: number[][] = [];
  for (const set of sets) {
    const byItem = new Map<string, number[]>();
    for (const { ranking } of set.rankings) {
      for (const [id, pos] of rankingPositions(ranking)) byItem.set(id, [...(byItem.get(id) ?? []), pos]);
    }
    units.push(...byItem.values());
  }
  return alphaFromUnits(units, level);
}

export interface LabelerAgreement {
  /** Mean tau-b with the consensus over the sets the labeler ranked (null if none defined). */
  meanTau: number | null;
  /** Sets with a defined tau. */
  sets: number;
}

/** How well each labeler agrees with the consensus of the sets they ranked. */
export function labelerAgreement(
  sets: ReadonlyArray<{
    /** Consensus as a ranking, or as id → rank (0 = best). */
    consensus: Ranking | Readonly<Record<string, number>>;
    rankings: readonly LabelerRanking[];
  }>
): Record<string, LabelerAgreement> {
  const acc = new Map<string, { sum: number; sets: number }>();
  for (const set of sets) {
    const consensus: Ranking = Array.isArray(set.consensus)
      ? (set.consensus as Ranking)
      : rankingFromRanks(set.consensus as Record<string, number>);
    for (const { labelerId, ranking } of set.rankings) {
      const entry = acc.get(labelerId) ?? { sum: 0, sets: 0 };
      const t = rankingTau(ranking, consensus);
      if (t !== null) (entry.sum += t), entry.sets++;
      acc.set(labelerId, entry);
    }
  }
  const out: Record<string, LabelerAgreement> = {};
  for (const [id, e] of acc) out[id] = { meanTau: e.sets ? e.sum / e.sets : null, sets: e.sets };
  return out;
}
