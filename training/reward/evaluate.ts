// How well a reward model orders preference pairs, beside the two length baselines on the same pairs
// ("the longer reply wins", "the shorter reply wins"), with a calibration table: for pairs whose score
// difference falls in a bucket, how often the model is right against how often σ(|Δ|) says it should be.

import { readFileSync } from "node:fs";
import path from "node:path";
import { PreferenceDataError, readPreferenceFile, type PreferenceFormat, type RankedSet } from "./data";
import { encodeRankedSets, modelDirTokenizer, RewardEncoder } from "./encode";
import { RewardScorer } from "./score";

export interface CalibrationBucket {
  /** |r_a − r_b| in [from, to); to is null for the last, open-ended bucket. */
  from: number;
  to: number | null;
  pairs: number;
  /** Share of the bucket's pairs the model orders as people did. */
  accuracy: number | null;
  /** Mean σ(|Δ|): the accuracy a calibrated Bradley–Terry model would have there. */
  predicted: number | null;
}

export interface RewardEvaluation {
  /** Share of pairs where the preferred reply scores higher (an exact tie counts one half). */
  accuracy: number;
  pairs: number;
  /** Mean r_preferred − r_other. */
  mean_margin: number;
  /** The baselines on the same pairs, lengths in characters (equal lengths count one half). */
  longer_wins_accuracy: number;
  shorter_wins_accuracy: number;
  calibration: CalibrationBucket[];
  /** Over every scored completion. */
  reward_mean: number;
  reward_std: number;
  /** Completions too long to score (dropped with their pairs), as in training. */
  over_length_pairs: number;
}

/** Bucket edges of |Δ| (the last bucket is open-ended). */
export const CALIBRATION_EDGES = [0, 0.25, 0.5, 1, 2, 4];

export interface ScoredPair {
  /** Scores of the preferred and the other reply. */
  win: number;
  lose: number;
  winChars: number;
  loseChars: number;
}

export function evaluatePairs(pairs: readonly ScoredPair[], rewards: ArrayLike<number>, overLengthPairs = 0): RewardEvaluation {
  const half = (a: number, b: number) => (a > b ? 1 : a === b ? 0.5 : 0);
  let right = 0;
  let longer = 0;
  let shorter = 0;
  let margin = 0;
  const buckets = CALIBRATION_EDGES.map((from, i) => ({ from, to: CALIBRATION_EDGES[i + 1] ?? null, n: 0, right: 0, predicted: 0 }));
  for (const p of pairs) {
    const d = p.win - p.lose;
    const ok = half(p.win, p.lose);
    right += ok;
    margin += d;
    longer += half(p.winChars, p.loseChars);
    shorter += half(p.loseChars, p.winChars);
    const b = buckets.findLast((x) => Math.abs(d) >= x.from)!;
    b.n++;
    b.right += ok;
    b.predicted += 1 / (1 + Math.exp(-Math.abs(d)));
  }
  const n = pairs.length;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < rewards.length; i++) sum += rewards[i];
  const mean = rewards.length ? sum / rewards.length : 0;
  for (let i = 0; i < rewards.length; i++) sq += (rewards[i] - mean) ** 2;
  const share = (x: number) => (n ? x / n : 0);
  return {
    accuracy: share(right),
    pairs: n,
    mean_margin: share(margin),
    longer_wins_accuracy: share(longer),
    shorter_wins_accuracy: share(shorter),
    calibration: buckets.map((b) => ({ from: b.from, to: b.to, pairs: b.n, accuracy: b.n ? b.right / b.n : null, predicted: b.n ? b.predicted / b.n : null })),
    reward_mean: mean,
    reward_std: rewards.length ? Math.sqrt(sq / rewards.length) : 0,
    over_length_pairs: overLengthPairs,
  };
}

/**
 * Scores every completion of the sets once and evaluates all their pairs (each differently ranked
 * pair of a set: the K·(K−1)/2 of a kway row, the one pair of a pairwise line).
 */
export async function evaluateRewardModel(sets: readonly RankedSet[], encoder: RewardEncoder, scorer: RewardScorer, maxLength: number): Promise<RewardEvaluation> {
  const encoded = encodeRankedSets(sets, encoder, maxLength);
  const sequences = encoded.sets.flatMap((e) => e.sequences);
  const rewards = await scorer.score(sequences);
  const pairs: ScoredPair[] = [];
  let at = 0;
  for (const e of encoded.sets) {
    const texts = e.completionIndex.map((i) => e.set.completions[i].text);
    for (let i = 0; i < e.ranks.length; i++) {
      for (let j = 0; j < e.ranks.length; j++) {
        if (e.ranks[i] < e.ranks[j]) pairs.push({ win: rewards[at + i], lose: rewards[at + j], winChars: [...texts[i]].length, loseChars: [...texts[j]].length });
      }
    }
    at += e.sequences.length;
  }
  return evaluatePairs(pairs, rewards, encoded.overLengthPairs);
}

export interface FileEvaluation extends RewardEvaluation {
  /** Lines of the file that gave no pair, by reason. */
  skipped: Record<string, number>;
}

/**
 * Evaluates a reward-model directory on a preference file: the model's own tokenizer and chat
 * template, sequences up to its context length (longer ones dropped and counted).
 */
export async function evaluateRewardDir(modelDir: string, file: string, format: PreferenceFormat, opts: { maxLength?: number; intraOpThreads?: number } = {}): Promise<FileEvaluation> {
  const read = readPreferenceFile(file, format);
  if (read.sets.length === 0) throw new PreferenceDataError(`${file} holds no preference pair`);
  const scorer = await RewardScorer.fromDir(modelDir, { intraOpThreads: opts.intraOpThreads });
  try {
    const hf = JSON.parse(readFileSync(path.join(modelDir, "config.json"), "utf8")) as { n_positions?: number };
    const maxLength = opts.maxLength ?? hf.n_positions ?? 1024;
    const evaluation = await evaluateRewardModel(read.sets, new RewardEncoder(modelDirTokenizer(modelDir)), scorer, maxLength);
    return { ...evaluation, skipped: read.skipped };
  } finally {
    await scorer.dispose();
  }
}
