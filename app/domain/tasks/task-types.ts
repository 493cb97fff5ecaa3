// Task types and what each one is about: tree state, target message, draw group, label form.
import type { LabelTarget } from "../projects/workflow";
import type { MessageRole, TreeState } from "../trees/enums";

export const TASK_TYPES = [
  "initial_prompt",
  "assistant_reply",
  "prompter_reply",
  "label_initial_prompt",
  "label_assistant_reply",
  "label_prompter_reply",
  "rank_initial_prompts",
  "rank_assistant_replies",
  "rank_prompter_replies",
] as const;
export type TaskType = (typeof TASK_TYPES)[number];

/** Groups the server draws between when it picks the task (keys of drawWeights). */
export const DRAW_GROUPS = ["ranking", "labelReply", "labelPrompt", "reply", "initialPrompt"] as const;
export type DrawGroup = (typeof DRAW_GROUPS)[number];

/** What a task does; a user does each kind at most once per target message. */
export type TaskKind = "prompt" | "reply" | "label" | "rank";

export type LabelForm = "full" | "simple";

export interface TaskTypeInfo {
  kind: TaskKind;
  group: DrawGroup;
  /** State the tree must be in for the task (null: the task creates a tree). */
  treeState: TreeState | null;
  /** What Task.messageId points at. */
  target: "none" | "parent" | "message" | "siblings";
  /** Role of the target message (for label tasks) or of the parent (reply and rank tasks). */
  targetRole: MessageRole | null;
  /** Role of the message written (write tasks) or ranked (rank tasks). */
  producesRole: MessageRole | null;
  /** Which labels apply (label tasks only). */
  labelTarget: LabelTarget | null;
  /** Handed out by computeNeeds. rank_initial_prompts is part of the protocol but prompts of
   *  different trees are not siblings, so no consensus would use it (OA never hands it out). */
  generated: boolean;
  description: string;
}

export const TASK_TYPE_INFO: Record<TaskType, TaskTypeInfo> = {
  initial_prompt: {
    kind: "prompt", group: "initialPrompt", treeState: null, target: "none", targetRole: null,
    producesRole: "prompter", labelTarget: null, generated: true,
    description: "Write a message that starts a new conversation; other labelers review it before anyone replies.",
  },
  assistant_reply: {
    kind: "reply", group: "reply", treeState: "growing", target: "parent", targetRole: "prompter",
    producesRole: "assistant", labelTarget: null, generated: true,
    description: "Reply as the assistant to the user's last message.",
  },
  prompter_reply: {
    kind: "reply", group: "reply", treeState: "growing", target: "parent", targetRole: "assistant",
    producesRole: "prompter", labelTarget: null, generated: true,
    description: "Reply as the user to the assistant's last message.",
  },
  label_initial_prompt: {
    kind: "label", group: "labelPrompt", treeState: "initial_prompt_review", target: "message",
    targetRole: "prompter", producesRole: null, labelTarget: "initial_prompt", generated: true,
    description: "Review and label the first message of a conversation.",
  },
  label_assistant_reply: {
    kind: "label", group: "labelReply", treeState: "growing", target: "message", targetRole: "assistant",
    producesRole: null, labelTarget: "assistant_reply", generated: true,
    description: "Review and label an assistant reply.",
  },
  label_prompter_reply: {
    kind: "label", group: "labelReply", treeState: "growing", target: "message", targetRole: "prompter",
    producesRole: null, labelTarget: "prompter_reply", generated: true,
    description: "Review and label a user reply.",
  },
  rank_initial_prompts: {
    kind: "rank", group: "ranking", treeState: null, target: "siblings", targetRole: null,
    producesRole: "prompter", labelTarget: null, generated: false,
    description: "Rank first messages of conversations against each other.",
  },
  rank_assistant_replies: {
    kind: "rank", group: "ranking", treeState: "ranking", target: "siblings", targetRole: "prompter",
    producesRole: "assistant", labelTarget: null, generated: true,
    description: "Rank the assistant replies to one user message.",
  },
  rank_prompter_replies: {
    kind: "rank", group: "ranking", treeState: "ranking", target: "siblings", targetRole: "assistant",
    producesRole: "prompter", labelTarget: null, generated: true,
    description: "Rank the user replies to one assistant message.",
  },
};

export const taskKind = (type: TaskType): TaskKind => TASK_TYPE_INFO[type].kind;

export function isTaskType(value: unknown): value is TaskType {
  return typeof value === "string" && (TASK_TYPES as readonly string[]).includes(value);
}

/** Role of the message a writing task (prompt or reply) produces; null for other tasks. A new
 *  prompt is a prompter message. */
export const writtenRole = (type: TaskType): MessageRole | null => {
  const info = TASK_TYPE_INFO[type];
  return info.kind === "prompt" || info.kind === "reply" ? info.producesRole : null;
};

/** Type of the reply task under a parent of this role. */
export const replyTaskFor = (parentRole: MessageRole): TaskType =>
  parentRole === "prompter" ? "assistant_reply" : "prompter_reply";

/** Type of the label task for a message. */
export const labelTaskFor = (isRoot: boolean, role: MessageRole): TaskType =>
  isRoot ? "label_initial_prompt" : role === "assistant" ? "label_assistant_reply" : "label_prompter_reply";

/** Type of the ranking task for replies of this role. */
export const rankTaskFor = (childRole: MessageRole): TaskType =>
  childRole === "assistant" ? "rank_assistant_replies" : "rank_prompter_replies";
