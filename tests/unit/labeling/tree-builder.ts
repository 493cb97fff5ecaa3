// Builds TreeMessageFacts for tests: a root and replies described compactly.
import type { TreeMessageFacts } from "~/domain/trees/tree-facts";

export type MessageSpec = Partial<TreeMessageFacts> & { id: string; parentId: string | null };

/** Fills defaults: accepted, not deleted, 3 reviews, author "author-<id>", depth from the parent,
 *  role alternating from the prompter root. */
export function buildTree(specs: MessageSpec[]): TreeMessageFacts[] {
  const out: TreeMessageFacts[] = [];
  const byId = new Map<string, TreeMessageFacts>();
  for (const s of specs) {
    const parent = s.parentId ? byId.get(s.parentId) : undefined;
    if (s.parentId && !parent) throw new Error(`parent ${s.parentId} must come first`);
    const m: TreeMessageFacts = {
      role: parent ? (parent.role === "prompter" ? "assistant" : "prompter") : "prompter",
      depth: parent ? parent.depth + 1 : 0,
      authorUserId: `author-${s.id}`,
      deleted: false,
      reviewResult: "accepted",
      reviewCount: 3,
      rankingCount: 0,
      openLabelTasks: 0,
      openReplyTasks: 0,
      openRankTasks: 0,
      ...s,
    };
    out.push(m);
    byId.set(m.id, m);
  }
  return out;
}
