// Consensus of the labels given to one message: the mean of every labeler's value (0..1), with
// imported aggregates weighted by their labeler count.

/** A message is spam-labelled when the mean of its `spam` answers (0 = no, 1 = yes) is above this: a majority said spam. */
export const SPAM_MAJORITY = 0.5;
export const SPAM_LABEL = "spam";

/** Sum of the values, how many carried a value, and how many labelers (imported counts may carry none). */
export interface LabelTally {
  sum: number;
  valued: number;
  count: number;
}

/** The consensus value of one label, or null when nobody gave it a value. */
export function labelConsensus(tally: LabelTally | undefined): number | null {
  return tally && tally.valued > 0 ? tally.sum / tally.valued : null;
}

/** Whether the message's `spam` consensus says spam. Unlabelled messages are not spam. */
export function isSpamLabelled(spam: LabelTally | undefined): boolean {
  return (labelConsensus(spam) ?? 0) > SPAM_MAJORITY;
}
