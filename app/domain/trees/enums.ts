// Labeling enums, spelled exactly as the Prisma schema's enums.

export const TREE_STATES = [
  "initial_prompt_review",
  "prompt_lottery_waiting",
  "growing",
  "ranking",
  "ready_for_scoring",
  "ready_for_export",
  "aborted_low_grade",
  "halted_by_moderator",
  "scoring_failed",
  "backlog_ranking",
] as const;
export type TreeState = (typeof TREE_STATES)[number];

export const MESSAGE_ROLES = ["prompter", "assistant"] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

/** What people read for a role: "prompter" is Open-Assistant's stored name for the user's turns,
 *  and the exports say "user" too. A conversation's first message is its prompt. */
export function roleName(role: MessageRole | "prompt"): "User" | "Assistant" | "Prompt" {
  return role === "prompt" ? "Prompt" : role === "prompter" ? "User" : "Assistant";
}

/** Outcome of a message's peer review. */
export const REVIEW_RESULTS = ["pending", "accepted", "rejected"] as const;
export type ReviewResult = (typeof REVIEW_RESULTS)[number];

export function isTreeState(value: unknown): value is TreeState {
  return typeof value === "string" && (TREE_STATES as readonly string[]).includes(value);
}
