// Facts derived from a tree's messages: live messages, reply slots, sibling sets to rank.
import type { WorkflowConfig } from "../projects/workflow";
import type { MessageRole, ReviewResult } from "./enums";

/**
 * One message of a tree as the rules need it: columns of `messages` plus counts of open
 * (assigned or acknowledged, unexpired) tasks about it, which one grouped query can fill.
 */
export interface TreeMessageFacts {
  id: string;
  parentId: string | null;
  role: MessageRole;
  /** 0 for the initial prompt. */
  depth: number;
  /** Null for model-written or imported messages. */
  authorUserId: string | null;
  deleted: boolean;
  reviewResult: ReviewResult;
  reviewCount: number;
  /** Rankings this message took part in (messages.ranking_count). */
  rankingCount: number;
  /** Open label tasks on this message. */
  openLabelTasks?: number;
  /** Open reply tasks with this message as parent. */
  openReplyTasks?: number;
  /** Open ranking tasks of this message's replies. */
  openRankTasks?: number;
}

export type WorkflowLimits = Pick<
  WorkflowConfig,
  | "goalTreeSize"
  | "maxDepth"
  | "maxChildrenPerMessage"
  | "maxPrompterRepliesPerAssistant"
  | "rankPrompterReplies"
  | "reviewsPerReply"
>;

export interface TreeIndex {
  root: TreeMessageFacts | undefined;
  byId: Map<string, TreeMessageFacts>;
  children: Map<string, TreeMessageFacts[]>;
  /** Not deleted, not rejected, and every ancestor live too. */
  live: Set<string>;
}

export function indexTree(messages: readonly TreeMessageFacts[]): TreeIndex {
  const byId = new Map(messages.map((m) => [m.id, m]));
  const children = new Map<string, TreeMessageFacts[]>();
  let root: TreeMessageFacts | undefined;
  for (const m of messages) {
    if (m.parentId === null) root = m;
    else {
      const list = children.get(m.parentId) ?? [];
      list.push(m);
      children.set(m.parentId, list);
    }
  }
  const live = new Set<string>();
  const visit = (m: TreeMessageFacts) => {
    if (m.deleted || m.reviewResult === "rejected") return;
    live.add(m.id);
    for (const c of children.get(m.id) ?? []) visit(c);
  };
  if (root) visit(root);
  return { root, byId, children, live };
}

/** How many replies a message may have: assistant messages take fewer prompter replies. */
export function replyCapacity(role: MessageRole, config: WorkflowLimits): number {
  return role === "prompter"
    ? config.maxChildrenPerMessage
    : Math.min(config.maxChildrenPerMessage, config.maxPrompterRepliesPerAssistant);
}

export interface ReplySlot {
  parentId: string;
  parentRole: MessageRole;
  /** Replies the parent can still take, not counting open reply tasks. */
  free: number;
  openReplyTasks: number;
}

/** Accepted, live messages above the depth limit that can still take replies. */
export function replySlots(index: TreeIndex, config: WorkflowLimits): ReplySlot[] {
  const slots: ReplySlot[] = [];
  for (const id of index.live) {
    const m = index.byId.get(id)!;
    if (m.reviewResult !== "accepted" || m.depth >= config.maxDepth) continue;
    const liveChildren = (index.children.get(id) ?? []).filter((c) => index.live.has(c.id)).length;
    const free = replyCapacity(m.role, config) - liveChildren;
    if (free > 0) slots.push({ parentId: id, parentRole: m.role, free, openReplyTasks: m.openReplyTasks ?? 0 });
  }
  return slots;
}

export interface GrowthFacts {
  rootLive: boolean;
  /** Live messages, the prompt included (OA's tree size). */
  liveCount: number;
  /** Live messages whose review is still pending. */
  awaitingReview: number;
  /** Free reply places over all parents, ignoring open reply tasks. */
  openSlots: number;
  openReplyTasks: number;
}

export function growthFacts(messages: readonly TreeMessageFacts[], config: WorkflowLimits): GrowthFacts {
  const index = indexTree(messages);
  const slots = replySlots(index, config);
  let awaitingReview = 0;
  let openReplyTasks = 0;
  for (const id of index.live) {
    const m = index.byId.get(id)!;
    if (m.reviewResult === "pending") awaitingReview++;
    openReplyTasks += m.openReplyTasks ?? 0;
  }
  return {
    rootLive: index.root !== undefined && index.live.has(index.root.id),
    liveCount: index.live.size,
    awaitingReview,
    openSlots: slots.reduce((n, s) => n + s.free, 0),
    openReplyTasks,
  };
}

export interface SiblingSet {
  parentId: string;
  /** Role of the replies being ranked. */
  childRole: MessageRole;
  /** Accepted, live replies, in the order given. */
  childIds: string[];
  /** Completed rankings of the set: the fewest any sibling took part in. */
  completedRankings: number;
  openRankTasks: number;
}

/** Sets of ≥ 2 accepted sibling replies that need ranking (assistant replies, and prompter
 *  replies when the project ranks them). */
export function siblingSets(messages: readonly TreeMessageFacts[], config: WorkflowLimits): SiblingSet[] {
  const index = indexTree(messages);
  const sets: SiblingSet[] = [];
  for (const [parentId, kids] of index.children) {
    if (!index.live.has(parentId)) continue;
    const accepted = kids.filter((c) => index.live.has(c.id) && c.reviewResult === "accepted");
    if (accepted.length < 2) continue;
    const childRole = accepted[0].role;
    if (childRole === "prompter" && !config.rankPrompterReplies) continue;
    sets.push({
      parentId,
      childRole,
      childIds: accepted.map((c) => c.id),
      completedRankings: Math.min(...accepted.map((c) => c.rankingCount)),
      openRankTasks: index.byId.get(parentId)!.openRankTasks ?? 0,
    });
  }
  return sets;
}
