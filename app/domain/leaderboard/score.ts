// Leaderboard score (Open-Assistant's formula) and the time periods it is computed over.

/** A user's counts of contributions within one period. */
export interface ContributionCounts {
  prompts: number;
  assistantReplies: number;
  prompterReplies: number;
  labelsSimple: number;
  labelsFull: number;
  rankings: number;
  /** Rankings that agreed with the consensus (the caller decides what agreeing means). */
  rankingsGood: number;
  acceptedPrompts: number;
  acceptedAssistantReplies: number;
  acceptedPrompterReplies: number;
  /** Replies of the user that the consensus ranked first, second, third. */
  replyRanked1: number;
  replyRanked2: number;
  replyRanked3: number;
}

export type ScoreWeights = Readonly<Record<keyof ContributionCounts, number>>;

/** OA's weights: writing an assistant reply is worth most; top-ranked replies earn a bonus. */
export const DEFAULT_SCORE_WEIGHTS: ScoreWeights = {
  prompts: 0.1,
  assistantReplies: 4,
  prompterReplies: 1,
  labelsSimple: 1,
  labelsFull: 2,
  rankings: 1,
  rankingsGood: 1,
  acceptedPrompts: 0.1,
  acceptedAssistantReplies: 4,
  acceptedPrompterReplies: 1,
  replyRanked1: 9,
  replyRanked2: 3,
  replyRanked3: 1,
};

export const emptyCounts = (): ContributionCounts => ({
  prompts: 0,
  assistantReplies: 0,
  prompterReplies: 0,
  labelsSimple: 0,
  labelsFull: 0,
  rankings: 0,
  rankingsGood: 0,
  acceptedPrompts: 0,
  acceptedAssistantReplies: 0,
  acceptedPrompterReplies: 0,
  replyRanked1: 0,
  replyRanked2: 0,
  replyRanked3: 0,
});

/** Points per kind of contribution. */
export function scoreBreakdown(
  counts: Partial<ContributionCounts>,
  weights: ScoreWeights = DEFAULT_SCORE_WEIGHTS
): Record<keyof ContributionCounts, number> {
  const out = emptyCounts();
  for (const k of Object.keys(out) as Array<keyof ContributionCounts>) out[k] = (counts[k] ?? 0) * weights[k];
  return out;
}

/** The score in one sentence, from the weights in use, for the people it ranks. */
export function explainScore(w: ScoreWeights = DEFAULT_SCORE_WEIGHTS): string {
  const n = (x: number) => String(Math.round(x * 100) / 100);
  return (
    `Points: ${n(w.assistantReplies)} per assistant reply (${n(w.acceptedAssistantReplies)} more once accepted), ` +
    `${n(w.prompterReplies)} per user reply (${n(w.acceptedPrompterReplies)} more once accepted), ` +
    `${n(w.labelsSimple)} per quick review and ${n(w.labelsFull)} per full review, ` +
    `${n(w.rankings)} per ranking (${n(w.rankingsGood)} more when it agrees with the consensus), ` +
    `${n(w.prompts)} per new prompt (${n(w.acceptedPrompts)} more once accepted), ` +
    `and ${n(w.replyRanked1)}, ${n(w.replyRanked2)} or ${n(w.replyRanked3)} when the consensus ranks your reply first, second or third.`
  );
}

/** Σ weight × count, rounded to 2 decimals (0.1-point prompts would otherwise show float noise). */
export function leaderScore(
  counts: Partial<ContributionCounts>,
  weights: ScoreWeights = DEFAULT_SCORE_WEIGHTS
): number {
  const total = Object.values(scoreBreakdown(counts, weights)).reduce((a, b) => a + b, 0);
  return Math.round(total * 100) / 100;
}

/** Standard competition ranks (1, 2, 2, 4) by score, highest first; ties listed by user id. */
export function rankLeaderboard<T extends { userId: string; score: number }>(
  rows: readonly T[]
): Array<T & { rank: number }> {
  const sorted = [...rows].sort((a, b) => b.score - a.score || a.userId.localeCompare(b.userId));
  const out: Array<T & { rank: number }> = [];
  sorted.forEach((row, i) => {
    const rank = i > 0 && sorted[i - 1].score === row.score ? out[i - 1].rank : i + 1;
    out.push({ ...row, rank });
  });
  return out;
}

// ─── Periods ────────────────────────────────────────────────────────────────

export const LEADERBOARD_PERIODS = ["day", "week", "month", "all_time"] as const;
export type LeaderboardPeriod = (typeof LEADERBOARD_PERIODS)[number];

export interface PeriodBounds {
  /** Inclusive start; null for all time. */
  start: Date | null;
  /** Exclusive end; null for all time. */
  end: Date | null;
  /** Stable key of the period, e.g. "2026-11-28", "2026-W48", "2026-11", "all". */
  key: string;
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/**
 * The calendar period (UTC) that contains `at`: the day; the ISO week (Monday 00:00 to Monday);
 * the month; or all time. Half-open [start, end), so an event belongs to exactly one period.
 */
export function periodBounds(period: LeaderboardPeriod, at: Date): PeriodBounds {
  const y = at.getUTCFullYear();
  const m = at.getUTCMonth();
  const d = at.getUTCDate();
  switch (period) {
    case "day": {
      const start = new Date(Date.UTC(y, m, d));
      return { start, end: new Date(Date.UTC(y, m, d + 1)), key: `${y}-${pad(m + 1)}-${pad(d)}` };
    }
    case "week": {
      const sinceMonday = (at.getUTCDay() + 6) % 7;
      const start = new Date(Date.UTC(y, m, d - sinceMonday));
      const end = new Date(Date.UTC(y, m, d - sinceMonday + 7));
      const { year, week } = isoWeek(start);
      return { start, end, key: `${year}-W${pad(week)}` };
    }
    case "month":
      return { start: new Date(Date.UTC(y, m, 1)), end: new Date(Date.UTC(y, m + 1, 1)), key: `${y}-${pad(m + 1)}` };
    case "all_time":
      return { start: null, end: null, key: "all" };
  }
}

/** Whether a moment falls in [start, end) of the period. */
export function inPeriod(bounds: PeriodBounds, t: Date): boolean {
  return (bounds.start === null || t >= bounds.start) && (bounds.end === null || t < bounds.end);
}

/** ISO 8601 week-numbering year and week of a UTC date. */
export function isoWeek(date: Date): { year: number; week: number } {
  const t = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  t.setUTCDate(t.getUTCDate() - ((t.getUTCDay() + 6) % 7) + 3); // the week's Thursday decides the year
  const year = t.getUTCFullYear();
  const week = Math.ceil(((t.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return { year, week };
}
