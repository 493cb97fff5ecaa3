// Decides a tree's next state from facts about it; enterState() then validates and records it.
import type { WorkflowConfig } from "../projects/workflow";
import type { ReviewResult, TreeState } from "./enums";
import { reviewDecision, type ReviewLabels } from "./review";
import { TRANSITION_REASONS } from "./state-machine";
import { growthFacts, siblingSets, type TreeMessageFacts, type WorkflowLimits } from "./tree-facts";

export interface NextState {
  /** Null when the tree stays where it is. */
  next: TreeState | null;
  reason: string | null;
}

export interface PromptReviewOutcome extends NextState {
  result: ReviewResult;
  score: number | null;
}

/**
 * After a review of the initial prompt: pending until reviewsPerPrompt reviews are in. Accepted
 * prompts wait for the lottery; with the lottery off they grow at once when a slot is free.
 * Rejected prompts abort the tree as low grade.
 */
export function nextStateAfterPromptReview(
  reviews: readonly ReviewLabels[],
  config: Pick<WorkflowConfig, "reviewsPerPrompt" | "acceptanceThreshold" | "promptLottery" | "maxActiveTrees">,
  context: { growingTrees?: number } = {}
): PromptReviewOutcome {
  const { result, score } = reviewDecision(reviews, config.reviewsPerPrompt, config.acceptanceThreshold);
  if (result === "pending") return { result, score, next: null, reason: null };
  if (result === "rejected") {
    return { result, score, next: "aborted_low_grade", reason: TRANSITION_REASONS.promptRejected };
  }
  const slotFree = (context.growingTrees ?? Infinity) < config.maxActiveTrees;
  const next: TreeState = !config.promptLottery.enabled && slotFree ? "growing" : "prompt_lottery_waiting";
  return { result, score, next, reason: TRANSITION_REASONS.promptAccepted };
}

/**
 * A growing tree is fully grown when nothing awaits review and either it reached its goal size or
 * no parent can take another reply (and no reply task is still out).
 */
export function isTreeFullyGrown(messages: readonly TreeMessageFacts[], config: WorkflowLimits): boolean {
  const f = growthFacts(messages, config);
  if (!f.rootLive || f.awaitingReview > 0) return false;
  return f.liveCount >= config.goalTreeSize || (f.openSlots === 0 && f.openReplyTasks === 0);
}

/** Next state of a growing tree: ranking once fully grown; aborted when its prompt was deleted. */
export function nextStateAfterGrowth(messages: readonly TreeMessageFacts[], config: WorkflowLimits): NextState {
  const f = growthFacts(messages, config);
  if (!f.rootLive) return { next: "aborted_low_grade", reason: TRANSITION_REASONS.rootDeleted };
  if (!isTreeFullyGrown(messages, config)) return { next: null, reason: null };
  return {
    next: "ranking",
    reason: f.liveCount >= config.goalTreeSize ? TRANSITION_REASONS.treeFullyGrown : TRANSITION_REASONS.noOpenSlots,
  };
}

/** Every parent with ≥ 2 accepted replies (of a ranked role) has ≥ rankingsPerSiblingSet rankings. */
export function isReadyForScoring(
  messages: readonly TreeMessageFacts[],
  config: WorkflowLimits & Pick<WorkflowConfig, "rankingsPerSiblingSet">
): boolean {
  return siblingSets(messages, config).every((s) => s.completedRankings >= config.rankingsPerSiblingSet);
}

/** Releasing a backlog tree: ranking when it has something to rank, else it is closed. */
export function nextStateForBacklog(messages: readonly TreeMessageFacts[], config: WorkflowLimits): NextState {
  return siblingSets(messages, config).length > 0
    ? { next: "ranking", reason: TRANSITION_REASONS.backlogReleased }
    : { next: "aborted_low_grade", reason: TRANSITION_REASONS.backlogReleased };
}
