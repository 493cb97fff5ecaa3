// The message tree state machine as data, and the one function that changes a tree's state.
import { TREE_STATES, type TreeState } from "./enums";

export { TREE_STATES, type TreeState } from "./enums";

/** One sentence per state. */
export const TREE_STATE_DESCRIPTIONS: Record<TreeState, string> = {
  initial_prompt_review: "The initial prompt was submitted and waits for its peer reviews.",
  prompt_lottery_waiting: "The prompt was accepted and waits for a free growing slot (the prompt lottery).",
  growing: "Labelers write and review replies until the tree reaches its goal size or has no open slot.",
  ranking: "Labelers rank every set of sibling replies.",
  ready_for_scoring: "Every sibling set has its rankings; consensus ranks are being computed.",
  ready_for_export: "Consensus ranks are stored; the tree is complete and exportable.",
  aborted_low_grade: "The prompt was rejected by review or moderation; the tree is closed.",
  halted_by_moderator: "A moderator (or the skip limit) paused the tree; resuming returns it to where it was.",
  scoring_failed: "Computing the consensus failed; scoring can be retried.",
  backlog_ranking: "An imported tree waits to be released into ranking.",
};

/** New trees start here; imports may start in backlog_ranking or ready_for_export. */
export const INITIAL_TREE_STATE: TreeState = "initial_prompt_review";

/** States with no way out: the tree's workflow is over. */
export const TERMINAL_STATES: readonly TreeState[] = ["ready_for_export", "aborted_low_grade"];

/**
 * States that hold one of the project's maxActiveTrees slots. Only growing trees do (as in
 * Open-Assistant): the cap keeps reply work concentrated, and trees waiting for rankings must not
 * stop new prompts from growing.
 */
export const ACTIVE_STATES: readonly TreeState[] = ["growing"];

/** States in which the tree hands out tasks (prompt reviews, replies and reply reviews, rankings). */
export const TASK_STATES: readonly TreeState[] = ["initial_prompt_review", "growing", "ranking"];

const HALTABLE: TreeState[] = TREE_STATES.filter((s) => s !== "halted_by_moderator" && !TERMINAL_STATES.includes(s));

/** Allowed transitions: from → to. Halted trees resume to the state they were halted in. */
export const TRANSITIONS: Record<TreeState, readonly TreeState[]> = {
  initial_prompt_review: ["prompt_lottery_waiting", "growing", "aborted_low_grade", "halted_by_moderator"],
  prompt_lottery_waiting: ["growing", "aborted_low_grade", "halted_by_moderator"],
  growing: ["ranking", "aborted_low_grade", "halted_by_moderator"],
  ranking: ["ready_for_scoring", "aborted_low_grade", "halted_by_moderator"],
  ready_for_scoring: ["ready_for_export", "scoring_failed", "aborted_low_grade", "halted_by_moderator"],
  scoring_failed: ["ready_for_scoring", "ranking", "aborted_low_grade", "halted_by_moderator"],
  backlog_ranking: ["ranking", "aborted_low_grade", "halted_by_moderator"],
  halted_by_moderator: [...HALTABLE, "aborted_low_grade"],
  ready_for_export: [],
  aborted_low_grade: [],
};

export const isTerminalState = (s: TreeState) => TERMINAL_STATES.includes(s);
export const isActiveState = (s: TreeState) => ACTIVE_STATES.includes(s);
export const canTransition = (from: TreeState, to: TreeState) => TRANSITIONS[from].includes(to);

/** Reasons recorded with transitions made by the workflow itself. Moderators may give free text. */
export const TRANSITION_REASONS = {
  promptAccepted: "prompt_accepted",
  promptRejected: "prompt_rejected",
  lotteryWon: "lottery_won",
  treeFullyGrown: "tree_fully_grown",
  noOpenSlots: "no_open_slots",
  rootDeleted: "root_deleted",
  rankingsComplete: "rankings_complete",
  scored: "scored",
  scoringFailed: "scoring_failed",
  scoringRetry: "scoring_retry",
  backlogReleased: "backlog_released",
  redFlags: "red_flags",
  skipLimit: "skip_limit",
  moderatorHalt: "moderator_halt",
  moderatorResume: "moderator_resume",
  moderatorAbort: "moderator_abort",
} as const;

/** The part of a tree the state machine reads. */
export interface TreeStateRecord {
  id: string;
  state: TreeState;
  /** Where a halted tree returns to on resume (null when not halted). */
  stateBeforeHalt: TreeState | null;
}

/** A row for tree_state_events; the database adds the id and the time. */
export interface TreeStateEventRecord {
  treeId: string;
  /** Null for the event that records a tree's creation. */
  fromState: TreeState | null;
  toState: TreeState;
  reason: string;
  actorId: string | null;
}

export interface StateChange {
  state: TreeState;
  stateBeforeHalt: TreeState | null;
  /** Whether the tree now holds an active slot. */
  active: boolean;
  event: TreeStateEventRecord;
}

export class IllegalTransitionError extends Error {
  readonly code = "illegal_transition" as const;
  constructor(readonly treeId: string, readonly from: TreeState, readonly to: TreeState, detail?: string) {
    super(`Tree ${treeId} cannot go from ${from} to ${to}${detail ? `: ${detail}` : ""}`);
    this.name = "IllegalTransitionError";
  }
}

/**
 * Validates a transition and returns the tree's new state and the event to persist.
 * Throws IllegalTransitionError when the table forbids it, or when a halted tree would resume
 * anywhere but the state it was halted in (aborting a halted tree is always allowed).
 */
export function enterState(
  tree: TreeStateRecord,
  to: TreeState,
  reason: string,
  actorId: string | null = null
): StateChange {
  const from = tree.state;
  if (!reason.trim()) throw new Error("A state change needs a reason");
  if (!canTransition(from, to)) throw new IllegalTransitionError(tree.id, from, to);
  if (
    from === "halted_by_moderator" &&
    to !== "aborted_low_grade" &&
    tree.stateBeforeHalt !== null &&
    to !== tree.stateBeforeHalt
  ) {
    throw new IllegalTransitionError(tree.id, from, to, `it was halted in ${tree.stateBeforeHalt}`);
  }
  return {
    state: to,
    stateBeforeHalt: to === "halted_by_moderator" ? from : null,
    active: isActiveState(to),
    event: { treeId: tree.id, fromState: from, toState: to, reason, actorId },
  };
}

/**
 * The first event of a tree. New trees start in initial_prompt_review; an import may start a tree
 * in the state its source recorded (e.g. ready_for_export, or backlog_ranking to rank it here).
 */
export function treeCreatedEvent(
  treeId: string,
  state: TreeState = INITIAL_TREE_STATE,
  reason = "created",
  actorId: string | null = null,
): TreeStateEventRecord {
  return { treeId, fromState: null, toState: state, reason, actorId };
}

/** Pauses a tree (moderator action or skip limit). */
export function haltTree(tree: TreeStateRecord, reason: string, actorId: string | null = null): StateChange {
  return enterState(tree, "halted_by_moderator", reason, actorId);
}

/** Returns a halted tree to the state it was halted in. */
export function resumeTree(tree: TreeStateRecord, reason: string, actorId: string | null = null): StateChange {
  if (tree.state !== "halted_by_moderator") {
    throw new IllegalTransitionError(tree.id, tree.state, tree.state, "only a halted tree can be resumed");
  }
  if (!tree.stateBeforeHalt) {
    throw new IllegalTransitionError(tree.id, tree.state, tree.state, "the state before the halt is unknown");
  }
  return enterState(tree, tree.stateBeforeHalt, reason, actorId);
}

/** Closes a tree for good as low grade. */
export function abortTree(tree: TreeStateRecord, reason: string, actorId: string | null = null): StateChange {
  return enterState(tree, "aborted_low_grade", reason, actorId);
}
