// Peer review of a message: acceptance score and the accepted/rejected decision.
import type { ReviewResult } from "./enums";

/** One reviewer's label values for the message (label name → 0..1). */
export type ReviewLabels = Readonly<Record<string, number>>;

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/**
 * Open-Assistant's acceptance score: 1 − (mean spam + mean lang_mismatch). A review without
 * lang_mismatch counts it as 0 (the flag was not raised). Null when there are no reviews.
 */
export function acceptanceScore(reviews: readonly ReviewLabels[]): number | null {
  if (reviews.length === 0) return null;
  const spam = mean(reviews.map((r) => r.spam ?? 0));
  const langMismatch = mean(reviews.map((r) => r.lang_mismatch ?? 0));
  return 1 - (spam + langMismatch);
}

export interface ReviewDecision {
  result: ReviewResult;
  /** Acceptance score over the reviews so far (null without reviews). */
  score: number | null;
}

/**
 * Pending until `required` reviews are in; then accepted when the score is strictly above the
 * threshold, rejected otherwise. Differences below 1e-9 count as equal, so a score that equals
 * the threshold on paper (e.g. 1 − 1/3 vs 2/3) is rejected whatever the rounding.
 */
export function reviewDecision(reviews: readonly ReviewLabels[], required: number, threshold: number): ReviewDecision {
  const score = acceptanceScore(reviews);
  if (reviews.length < required || score === null) return { result: "pending", score };
  return { result: score - threshold > 1e-9 ? "accepted" : "rejected", score };
}
