// What a project needs from one user right now: the candidate tasks a draw picks from.
import type { WorkflowConfig } from "../projects/workflow";
import type { TreeState } from "../trees/enums";
import { indexTree, replySlots, siblingSets, type TreeMessageFacts } from "../trees/tree-facts";
import {
  labelTaskFor,
  rankTaskFor,
  replyTaskFor,
  TASK_TYPE_INFO,
  taskKind,
  type DrawGroup,
  type TaskKind,
  type TaskType,
} from "./task-types";

/** One tree in a task-handing state, with its messages (a tree is small: tens of rows). */
export interface TreeSnapshot {
  id: string;
  state: TreeState;
  messages: readonly TreeMessageFacts[];
}

/**
 * The project's trees (of the language asked for) as one query or two can fill them: trees in
 * initial_prompt_review, growing or ranking with their messages and open-task counts, plus counts
 * of trees per state.
 */
export interface NeedsSnapshot {
  trees: readonly TreeSnapshot[];
  treeCounts: Partial<Record<TreeState, number>>;
  /** Initial prompt tasks handed out and not yet answered. */
  openPromptTasks?: number;
}

export interface UserTaskRef {
  type: TaskType;
  messageId: string | null;
}

export interface UserContext {
  userId: string;
  /** The user's tasks that are done, skipped, or still open: none of them is offered again. */
  tasks: readonly UserTaskRef[];
  /** Messages the user labeled (labels table), including labels given outside tasks. */
  labeledMessageIds?: readonly string[];
  /** Parents whose replies the user ranked (rankings table). */
  rankedParentIds?: readonly string[];
  /** The user holds an open initial-prompt task: a labeler writes one new prompt at a time. */
  holdsPromptTask?: boolean;
}

/** A task the project needs and the user may do; its fields map onto the tasks table. */
export interface TaskCandidate {
  type: TaskType;
  group: DrawGroup;
  treeId: string | null;
  /** The parent to reply to, the message to label, or the parent whose replies are ranked. */
  messageId: string | null;
  /** Replies to rank (ranking tasks; shuffle per task before showing them). */
  siblingIds: string[];
  /** How many more tasks of this kind the target needs (reviews, rankings, replies or prompts). */
  remaining: number;
}

export type NeedsConfig = Pick<
  WorkflowConfig,
  | "goalTreeSize"
  | "maxDepth"
  | "maxChildrenPerMessage"
  | "maxPrompterRepliesPerAssistant"
  | "maxActiveTrees"
  | "maxPromptsInReview"
  | "promptLottery"
  | "reviewsPerPrompt"
  | "reviewsPerReply"
  | "rankingsPerSiblingSet"
  | "rankPrompterReplies"
>;

const key = (kind: TaskKind, messageId: string) => `${kind}:${messageId}`;

/**
 * Candidate tasks for one user: prompts to review, replies to write (under which parent, in which
 * role), replies to review, sibling sets to rank, new prompts. Excludes the user's own messages
 * (no self-review, no ranking a set the user wrote into, one reply per user per parent), whatever
 * the user did, skipped or holds open, and targets whose redundancy is met by finished plus open
 * tasks.
 */
export function computeNeeds(snapshot: NeedsSnapshot, user: UserContext, config: NeedsConfig): TaskCandidate[] {
  const seen = new Set<string>();
  for (const t of user.tasks) if (t.messageId) seen.add(key(taskKind(t.type), t.messageId));
  for (const id of user.labeledMessageIds ?? []) seen.add(key("label", id));
  for (const id of user.rankedParentIds ?? []) seen.add(key("rank", id));
  const mine = (m: TreeMessageFacts) => m.authorUserId !== null && m.authorUserId === user.userId;

  const out: TaskCandidate[] = [];
  const push = (
    type: TaskType,
    treeId: string | null,
    messageId: string | null,
    remaining: number,
    siblingIds: string[] = []
  ) => out.push({ type, group: TASK_TYPE_INFO[type].group, treeId, messageId, siblingIds, remaining });

  for (const tree of snapshot.trees) {
    const index = indexTree(tree.messages);
    const root = index.root;
    if (!root) continue;

    if (tree.state === "initial_prompt_review") {
      if (root.deleted || root.reviewResult !== "pending" || mine(root) || seen.has(key("label", root.id))) continue;
      const remaining = config.reviewsPerPrompt - root.reviewCount - (root.openLabelTasks ?? 0);
      if (remaining > 0) push("label_initial_prompt", tree.id, root.id, remaining);
    } else if (tree.state === "growing") {
      if (!index.live.has(root.id)) continue;
      // Reviews of replies.
      for (const id of index.live) {
        const m = index.byId.get(id)!;
        if (m.parentId === null || m.reviewResult !== "pending" || mine(m) || seen.has(key("label", m.id))) continue;
        const remaining = config.reviewsPerReply - m.reviewCount - (m.openLabelTasks ?? 0);
        if (remaining > 0) push(labelTaskFor(false, m.role), tree.id, m.id, remaining);
      }
      // New replies, while the tree is below its goal size counting replies still being written.
      // The tree's places are handed to its parents in tree order, and a parent is offered only
      // while it has places of its own. Whoever takes one of a parent's places leaves every other
      // parent's share as it was, so what the dashboard counts is what the draw hands out; offered
      // every free parent, one labeler could take more replies than the tree has room for.
      let openReplies = 0;
      for (const id of index.live) openReplies += index.byId.get(id)!.openReplyTasks ?? 0;
      let treeRoom = config.goalTreeSize - index.live.size - openReplies;
      for (const slot of replySlots(index, config)) {
        if (treeRoom <= 0) break;
        const places = Math.min(slot.free - slot.openReplyTasks, treeRoom);
        if (places <= 0) continue;
        treeRoom -= places;
        if (seen.has(key("reply", slot.parentId))) continue;
        const repliedAlready = (index.children.get(slot.parentId) ?? []).some(mine);
        if (repliedAlready) continue;
        push(replyTaskFor(slot.parentRole), tree.id, slot.parentId, places);
      }
    } else if (tree.state === "ranking") {
      for (const set of siblingSets(tree.messages, config)) {
        const remaining = config.rankingsPerSiblingSet - set.completedRankings - set.openRankTasks;
        if (remaining <= 0 || seen.has(key("rank", set.parentId))) continue;
        if (set.childIds.some((id) => mine(index.byId.get(id)!))) continue;
        push(rankTaskFor(set.childRole), tree.id, set.parentId, remaining, [...set.childIds]);
      }
    }
  }

  const prompts = initialPromptsNeeded(snapshot, config);
  if (prompts > 0 && !user.holdsPromptTask) push("initial_prompt", null, null, prompts);
  return out;
}

/**
 * New prompts the project can take (OA): free growing slots plus free review places, capped by
 * the room left in the lottery queue, minus prompt tasks already out.
 */
export function initialPromptsNeeded(
  snapshot: Pick<NeedsSnapshot, "treeCounts" | "openPromptTasks">,
  config: Pick<NeedsConfig, "maxActiveTrees" | "maxPromptsInReview" | "promptLottery">
): number {
  const count = (s: TreeState) => snapshot.treeCounts[s] ?? 0;
  const growingFree = Math.max(0, config.maxActiveTrees - count("growing"));
  const reviewFree = Math.max(0, config.maxPromptsInReview - count("initial_prompt_review"));
  const lotteryFree = Math.max(0, config.promptLottery.maxWaiting - count("prompt_lottery_waiting"));
  return Math.max(0, Math.min(growingFree + reviewFree, lotteryFree) - (snapshot.openPromptTasks ?? 0));
}

/** Candidates per task type, for "what can I do" counts in the UI. */
export function countByType(candidates: readonly TaskCandidate[]): Partial<Record<TaskType, number>> {
  const counts: Partial<Record<TaskType, number>> = {};
  for (const c of candidates) counts[c.type] = (counts[c.type] ?? 0) + 1;
  return counts;
}
