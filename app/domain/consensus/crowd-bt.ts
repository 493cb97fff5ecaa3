// Bradley–Terry scores with per-labeler reliability (Crowd-BT), fitted by EM.
import { normalizeRanking, type Ranking } from "./ranking";

/*
 * Crowd-BT (Chen, Bennett, Collins-Thompson, Horvitz, "Pairwise ranking aggregation in a
 * crowdsourced setting", WSDM 2013).
 *
 * Model. Item i has a score s_i; under Bradley–Terry the truth prefers i to j with probability
 * σ(s_i − s_j), σ the logistic function. Labeler k reports the true preference with probability
 * η_k (their reliability) and the reverse otherwise:
 *     P(k says i ≻ j) = η_k σ(s_i − s_j) + (1 − η_k) σ(s_j − s_i).
 * η_k near 1 is a careful labeler, 0.5 a coin, below 0.5 one who tends to reverse the truth.
 *
 * Identifiability. Scores are only defined up to a shift, and items that always win would drift
 * to infinity. As in the paper, a virtual anchor item with score 0 is compared with every item,
 * winning λ times and losing λ times; this adds λ Σ_i [log σ(s_i) + log σ(−s_i)] to the
 * log-likelihood, pulls scores gently towards 0 and pins the scale. Reliabilities get a
 * Beta-like prior of α agreeing and β disagreeing pseudo-comparisons (mean above 0.5), which also
 * picks the solution where most labelers are reliable over its mirror image (all η → 1 − η,
 * all s → −s), which fits the data exactly as well.
 *
 * Fitting by EM. A latent z_n says whether comparison n was reported truthfully.
 *  E-step: r_n = η_k σ(Δ_n) / (η_k σ(Δ_n) + (1 − η_k) σ(−Δ_n)), Δ_n = s_winner − s_loser.
 *  M-step for η: η_k = (Σ_{n of k} r_n + α) / (N_k + α + β).
 *  M-step for s: a Bradley–Terry fit where n counts as r_n of a win for its reported winner and
 *  1 − r_n of a win for its loser; Hunter's (2004) MM update γ_i ← W_i / Σ_j N_ij / (γ_i + γ_j)
 *  on γ = e^s, anchor included (W_i counts λ wins against it, N_i0 = 2λ with γ_0 = 1). A few MM
 *  sweeps per iteration make it a generalized EM: the penalised log-likelihood never decreases.
 *
 * Outputs are the scores, ranks (0 = best), reliabilities and, per pair, the confidence
 * P(i beats j) = σ(s_i − s_j), which lies in (0, 1) and satisfies P(i, j) + P(j, i) = 1.
 */

export interface Comparison {
  labelerId: string;
  winner: string;
  loser: string;
  /** Defaults to 1. */
  weight?: number;
}

export interface CrowdBTOptions {
  /** Anchor strength λ: virtual wins and losses of each item against a score-0 item. */
  anchorStrength?: number;
  /** Prior pseudo-comparisons a labeler agrees (α) and disagrees (β) with the truth. */
  reliabilityPrior?: { agree: number; disagree: number };
  /** Starting reliability of every labeler. */
  initialReliability?: number;
  /** Use these reliabilities and do not estimate them (e.g. from a project-wide fit). */
  fixedReliability?: Readonly<Record<string, number>>;
  maxIterations?: number;
  /** Stop when no score moves more than this and no reliability more than this. */
  tolerance?: number;
  /** MM sweeps over the scores per EM iteration. */
  scoreSweeps?: number;
}

export interface CrowdBTResult {
  /** Log-strength per item; the anchor is 0. */
  scores: Record<string, number>;
  /** 0 = best; scores equal within 1e-9 share a rank ("1224" style). */
  ranks: Record<string, number>;
  /** Items best first (ties by `items` order). */
  order: string[];
  /** η per labeler: probability their comparison agrees with the truth. */
  reliability: Record<string, number>;
  /** Penalised log-likelihood at the end (prior and anchor included). */
  objective: number;
  /** Objective after each iteration (non-decreasing). */
  objectiveTrace: number[];
  iterations: number;
  converged: boolean;
}

const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const logSigmoid = (x: number) => (x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x)));
const clampEta = (x: number) => Math.min(1 - 1e-9, Math.max(1e-9, x));

/** P(i beats j) = σ(s_i − s_j). */
export function probabilityBeats(scores: Readonly<Record<string, number>>, i: string, j: string): number {
  const si = scores[i];
  const sj = scores[j];
  if (si === undefined || sj === undefined) throw new Error(`No score for ${si === undefined ? i : j}`);
  return sigmoid(si - sj);
}

/** P(i beats j) for every ordered pair of the given ids (a sibling set). */
export function pairConfidence(
  scores: Readonly<Record<string, number>>,
  ids: readonly string[]
): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const i of ids) {
    out[i] = {};
    for (const j of ids) if (i !== j) out[i][j] = probabilityBeats(scores, i, j);
  }
  return out;
}

/** A ranking as pairwise comparisons: every id of a better group beats every id of a worse one;
 *  ties give no comparison. */
export function rankingToComparisons(labelerId: string, ranking: Ranking): Comparison[] {
  const groups = normalizeRanking(ranking);
  const out: Comparison[] = [];
  for (let g = 0; g < groups.length; g++) {
    for (let h = g + 1; h < groups.length; h++) {
      for (const winner of groups[g]) for (const loser of groups[h]) out.push({ labelerId, winner, loser });
    }
  }
  return out;
}

export function crowdBT(
  items: readonly string[],
  comparisons: readonly Comparison[],
  options: CrowdBTOptions = {}
): CrowdBTResult {
  const lambda = options.anchorStrength ?? 0.5;
  const alpha = options.reliabilityPrior?.agree ?? 2;
  const beta = options.reliabilityPrior?.disagree ?? 1;
  const maxIterations = options.maxIterations ?? 500;
  const tol = options.tolerance ?? 1e-9;
  const sweeps = options.scoreSweeps ?? 3;
  if (!(lambda > 0)) throw new Error("anchorStrength must be positive");
  if (!(alpha >= 0 && beta >= 0)) throw new Error("reliabilityPrior counts must be ≥ 0");

  const n = items.length;
  const idx = new Map(items.map((id, i) => [id, i]));
  if (idx.size !== n) throw new Error("items repeat");
  const labelers = [...new Set(comparisons.map((c) => c.labelerId))];
  const lidx = new Map(labelers.map((id, k) => [id, k]));
  const data = comparisons.map((c) => {
    const w = idx.get(c.winner);
    const l = idx.get(c.loser);
    if (w === undefined || l === undefined) throw new Error(`Unknown item in comparison ${c.winner} > ${c.loser}`);
    if (w === l) throw new Error("An item cannot be compared with itself");
    const weight = c.weight ?? 1;
    if (!(weight > 0)) throw new Error("Comparison weights must be positive");
    return { w, l, k: lidx.get(c.labelerId)!, weight };
  });

  const fixed = options.fixedReliability;
  const eta = labelers.map((id) => clampEta(fixed?.[id] ?? options.initialReliability ?? 0.8));
  const s = new Array<number>(n).fill(0);

  const objective = () => {
    let f = 0;
    for (const d of data) {
      const delta = s[d.w] - s[d.l];
      f += d.weight * Math.log(eta[d.k] * sigmoid(delta) + (1 - eta[d.k]) * sigmoid(-delta));
    }
    for (let i = 0; i < n; i++) f += lambda * (logSigmoid(s[i]) + logSigmoid(-s[i]));
    if (!fixed) for (const e of eta) f += alpha * Math.log(e) + beta * Math.log(1 - e);
    return f;
  };

  const trace: number[] = [];
  let converged = false;
  let iterations = 0;
  const r = new Array<number>(data.length).fill(0);
  for (; iterations < maxIterations && !converged; iterations++) {
    // E-step.
    data.forEach((d, m) => {
      const p = sigmoid(s[d.w] - s[d.l]);
      const agree = eta[d.k] * p;
      r[m] = agree / (agree + (1 - eta[d.k]) * (1 - p));
    });
    // M-step, reliabilities.
    let maxStep = 0;
    if (!fixed) {
      const sumR = new Array<number>(labelers.length).fill(0);
      const count = new Array<number>(labelers.length).fill(0);
      data.forEach((d, m) => {
        sumR[d.k] += d.weight * r[m];
        count[d.k] += d.weight;
      });
      for (let k = 0; k < labelers.length; k++) {
        const next = clampEta((sumR[k] + alpha) / (count[k] + alpha + beta));
        maxStep = Math.max(maxStep, Math.abs(next - eta[k]));
        eta[k] = next;
      }
    }
    // M-step, scores: MM sweeps on γ = e^s with soft wins.
    const wins = new Array<number>(n).fill(lambda);
    data.forEach((d, m) => {
      wins[d.w] += d.weight * r[m];
      wins[d.l] += d.weight * (1 - r[m]);
    });
    for (let sweep = 0; sweep < sweeps; sweep++) {
      const gamma = s.map(Math.exp);
      const denom = gamma.map((g) => (2 * lambda) / (g + 1));
      for (const d of data) {
        const t = d.weight / (gamma[d.w] + gamma[d.l]);
        denom[d.w] += t;
        denom[d.l] += t;
      }
      for (let i = 0; i < n; i++) {
        const next = Math.log(wins[i] / denom[i]);
        maxStep = Math.max(maxStep, Math.abs(next - s[i]));
        s[i] = next;
      }
    }
    trace.push(objective());
    converged = maxStep < tol;
  }

  const scores: Record<string, number> = {};
  items.forEach((id, i) => (scores[id] = s[i]));
  const order = items
    .map((id, i) => ({ id, i }))
    .sort((a, b) => s[b.i] - s[a.i] || a.i - b.i)
    .map((x) => x.id);
  const ranks: Record<string, number> = {};
  order.forEach((id, pos) => {
    const prev = order[pos - 1];
    ranks[id] = pos > 0 && Math.abs(scores[prev] - scores[id]) < 1e-9 ? ranks[prev] : pos;
  });
  const reliability: Record<string, number> = {};
  labelers.forEach((id, k) => (reliability[id] = eta[k]));
  return {
    scores,
    ranks,
    order,
    reliability,
    objective: trace.length ? trace[trace.length - 1] : objective(),
    objectiveTrace: trace,
    iterations,
    converged,
  };
}
