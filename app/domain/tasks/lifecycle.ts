// A task's life and how long it holds its place: handed out → shown → started → answered, or let
// go. Why holds work this way: docs/decisions/0007-task-reservations.md.
import type { WorkflowConfig } from "../projects/workflow";

export const TASK_STATES = [
  /** Handed out; its page has not been shown yet. */
  "assigned",
  /** Shown to its labeler, who may or may not have started it (startedAt). */
  "acknowledged",
  /** Answered. */
  "done",
  /** Declined: not offered to this labeler again; reply skips count towards halting the tree. */
  "skipped",
  /** Its hold ended before an answer. Recorded lazily: the place was free from the moment the
   *  hold ended. */
  "expired",
  /** The conversation moved to a state that no longer takes this task. */
  "cancelled",
  /** Let go by its labeler before answering: not a skip, and it may be offered to them again. */
  "released",
] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** States in which a task holds its place, for as long as its hold (expiresAt) lasts. */
export const OPEN_TASK_STATES = ["assigned", "acknowledged"] as const satisfies readonly TaskState[];

export const isOpenState = (state: TaskState) => (OPEN_TASK_STATES as readonly TaskState[]).includes(state);

type HoldConfig = Pick<WorkflowConfig, "taskExpiryMinutes" | "unstartedTaskMinutes">;

const MINUTE = 60_000;

/**
 * When a task's hold ends if it is seen (its page is open and visible) at `at`, or started then.
 * A started task holds until taskExpiryMinutes after it was handed out; one not started holds
 * unstartedTaskMinutes past the last time it was seen, and never longer than a started one.
 */
export function holdUntil(
  task: { createdAt: Date; startedAt: Date | null },
  at: Date,
  config: HoldConfig,
  starting = false,
): Date {
  const cap = task.createdAt.getTime() + config.taskExpiryMinutes * MINUTE;
  if (task.startedAt || starting) return new Date(cap);
  return new Date(Math.min(cap, at.getTime() + config.unstartedTaskMinutes * MINUTE));
}

/** How often an open task page says it is still there: three times per unstarted window,
 *  between 30 s and 5 min, so one lost request does not cost the labeler their task. */
export function heartbeatSeconds(config: Pick<WorkflowConfig, "unstartedTaskMinutes">): number {
  return Math.min(300, Math.max(30, Math.floor((config.unstartedTaskMinutes * 60) / 3)));
}
