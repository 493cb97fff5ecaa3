// The demo project's content: real Open-Assistant trees, shaped so that a newcomer meets every
// task type at once. Finished trees keep their consensus ranks (exports and the tree browser
// have data); others are cut back to the state a live project would have them in.
import { hash } from "node:crypto";
import type { OaMessageNode, OaMessageTree } from "../datasets/oasst-schema";
import type { TreeState } from "../trees/enums";

/** How many trees go into each working state; the rest of the file is ready for export. */
export interface DemoPlan {
  /** Prompts alone, waiting for their reviews (label_initial_prompt). */
  initialPromptReview: number;
  /** Partly grown trees with replies to write and to review. Keep ≤ maxActiveTrees. */
  growing: number;
  /** Whole trees without rankings (rank_assistant_replies, rank_prompter_replies). */
  ranking: number;
}

export const DEMO_PLAN: DemoPlan = { initialPromptReview: 12, growing: 10, ranking: 20 };

/** Ids of demo messages: derived from the Open-Assistant id, so the same file can still be
 *  imported into another project (imports keep Open-Assistant ids) and seeding stays idempotent. */
export function demoMessageId(oaId: string): string {
  const h = hash("sha256", `rlhf-studio-demo:${oaId}`, "hex");
  // RFC 9562 version 8 (custom), variant 10.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const accepted = (n: OaMessageNode): OaMessageNode => ({ ...n, review_result: true, rank: null, replies: [] });
const pending = (n: OaMessageNode): OaMessageNode => ({ ...n, review_result: null, review_count: 0, rank: null, replies: [] });
const withReplies = (n: OaMessageNode, replies: OaMessageNode[]): OaMessageNode => ({ ...n, replies });

function renumber(node: OaMessageNode, parentId: string | null): OaMessageNode {
  const id = demoMessageId(node.message_id);
  return { ...node, message_id: id, parent_id: parentId, replies: node.replies.map((r) => renumber(r, id)) };
}

const live = (n: OaMessageNode) => n.deleted !== true && n.review_result !== false;
const kids = (n: OaMessageNode) => n.replies.filter(live);

/** Sibling sets of ≥ 2 replies of each role in a whole tree. */
function siblingSetCounts(root: OaMessageNode): { assistant: number; prompter: number } {
  const out = { assistant: 0, prompter: 0 };
  const visit = (n: OaMessageNode) => {
    const k = kids(n);
    if (k.length >= 2) out[k[0].role]++;
    k.forEach(visit);
  };
  visit(root);
  return out;
}

/**
 * A growing tree (limits of the default workflow: depth 3, three replies per message, one user
 * reply per assistant reply) cut from a real one:
 *
 *   prompt ✓
 *   ├ assistant ✓ ── user ✓ ─┬ assistant (to review)
 *   │                        └ assistant (to review)     + room for one more assistant reply
 *   ├ assistant ✓ ── user (to review)
 *   └ assistant ✓                                         room for a user reply
 *
 * With two replies to the prompt, the third place is left open for an assistant reply.
 * Null when the tree lacks the branches for it.
 */
export function growingShape(root: OaMessageNode): OaMessageNode | null {
  const replies = kids(root);
  const deepIndex = replies.findIndex((a) => kids(a).some((p) => kids(p).length >= 2));
  if (deepIndex < 0 || replies.length < 2) return null;
  const deep = replies[deepIndex];
  const user = kids(deep).find((p) => kids(p).length >= 2)!;
  const shaped = [withReplies(accepted(deep), [withReplies(accepted(user), kids(user).slice(0, 2).map(pending))])];
  const rest = replies.filter((_, i) => i !== deepIndex);
  if (replies.length >= 3) {
    const userBranch = rest.find((a) => kids(a).length > 0);
    if (userBranch) shaped.push(withReplies(accepted(userBranch), [pending(kids(userBranch)[0])]));
    const leaf = rest.find((a) => a !== userBranch);
    if (leaf) shaped.push(accepted(leaf));
  } else {
    shaped.push(accepted(rest[0]));
  }
  return withReplies(accepted(root), shaped);
}

/** The whole tree, every message accepted, no ranks yet. */
function rankingShape(root: OaMessageNode): OaMessageNode {
  const visit = (n: OaMessageNode): OaMessageNode => withReplies(accepted(n), kids(n).map(visit));
  return visit(root);
}

export interface DemoTree {
  tree: OaMessageTree;
  state: TreeState;
}

/**
 * Assigns the file's trees to states, in file order: trees with the most sibling sets of user
 * replies go to ranking first (for projects that rank user replies too), trees with the branches
 * for it grow, prompts wait for review, and every other tree is ready for export as it was.
 */
export function planDemoTrees(trees: readonly OaMessageTree[], plan: DemoPlan = DEMO_PLAN): DemoTree[] {
  const out: DemoTree[] = [];
  const used = new Set<number>();
  const take = (i: number, state: TreeState, prompt: OaMessageNode) => {
    used.add(i);
    const shaped = renumber(prompt, null);
    out.push({ state, tree: { message_tree_id: shaped.message_id, tree_state: state, prompt: shaped } });
  };

  const byPrompterSets = trees
    .map((t, i) => ({ i, sets: siblingSetCounts(t.prompt) }))
    .filter((x) => x.sets.assistant > 0)
    .sort((a, b) => b.sets.prompter - a.sets.prompter || a.i - b.i);
  for (const { i } of byPrompterSets.slice(0, plan.ranking)) take(i, "ranking", rankingShape(trees[i].prompt));

  // Trees with all three branches first: each offers every kind of reply and review.
  const growable = trees
    .map((t, i) => ({ i, shaped: used.has(i) ? null : growingShape(t.prompt) }))
    .filter((x): x is { i: number; shaped: OaMessageNode } => x.shaped !== null)
    .sort((a, b) => b.shaped.replies.length - a.shaped.replies.length || a.i - b.i);
  for (const { i, shaped } of growable.slice(0, plan.growing)) take(i, "growing", shaped);

  let review = 0;
  trees.forEach((t, i) => {
    if (used.has(i) || review >= plan.initialPromptReview) return;
    take(i, "initial_prompt_review", pending(t.prompt));
    review++;
  });

  trees.forEach((t, i) => {
    if (!used.has(i)) take(i, "ready_for_export", t.prompt);
  });
  return out;
}
