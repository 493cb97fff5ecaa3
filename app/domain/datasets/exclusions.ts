// Why an export left data out: the reasons, counted per tree and per message, and the sentence an
// empty export shows. The same reasons, in the same order, are used by the export and its preview.

/** Trees of the project the tree filters did not select, by the first filter each failed. */
export const TREE_EXCLUSIONS = ["state", "language", "created"] as const;
export type TreeExclusion = (typeof TREE_EXCLUSIONS)[number];

/**
 * Messages of the selected trees left out, by the first reason that applies: a message whose
 * parent was left out goes with it ("parent_excluded", checked first, listed last); otherwise its
 * review result (one reason per result not chosen), deletion, model authorship, spam labels and
 * label count are checked in this order.
 */
export const MESSAGE_EXCLUSIONS = [
  "review_rejected",
  "review_pending",
  "review_accepted",
  "deleted",
  "synthetic",
  "spam",
  "min_labels",
  "parent_excluded",
] as const;
export type MessageExclusion = (typeof MESSAGE_EXCLUSIONS)[number];

export interface ExclusionCounts {
  trees: Record<TreeExclusion, number>;
  messages: Record<MessageExclusion, number>;
}

export function emptyExclusions(): ExclusionCounts {
  return {
    trees: Object.fromEntries(TREE_EXCLUSIONS.map((r) => [r, 0])) as Record<TreeExclusion, number>,
    messages: Object.fromEntries(MESSAGE_EXCLUSIONS.map((r) => [r, 0])) as Record<MessageExclusion, number>,
  };
}

const TREE_WORDS: Record<TreeExclusion, string> = {
  state: "in a tree state not chosen",
  language: "in a language not chosen",
  created: "created outside the dates chosen",
};

const MESSAGE_WORDS: Record<MessageExclusion, string> = {
  parent_excluded: "below a message left out",
  review_rejected: "rejected in review",
  review_pending: "not yet reviewed",
  review_accepted: "accepted in review (not chosen)",
  deleted: "deleted",
  synthetic: "written by a model",
  spam: "labelled spam",
  min_labels: "with fewer labels than the minimum",
};

const plural = (n: number, one: string, many: string) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;

function listed(parts: string[]): string {
  return parts.length <= 1 ? (parts[0] ?? "") : `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}`;
}

/** One line on what the filters left out, e.g. "Left out: 12 trees in a tree state not chosen; 3 messages deleted." */
export function describeExclusions(counts: ExclusionCounts): string | null {
  const trees = TREE_EXCLUSIONS.filter((r) => counts.trees[r] > 0).map((r) => `${plural(counts.trees[r], "tree", "trees")} ${TREE_WORDS[r]}`);
  const messages = MESSAGE_EXCLUSIONS.filter((r) => counts.messages[r] > 0).map(
    (r) => `${plural(counts.messages[r], "message", "messages")} ${MESSAGE_WORDS[r]}`,
  );
  const parts = [trees, messages].filter((p) => p.length > 0).map(listed);
  return parts.length === 0 ? null : `Left out: ${parts.join("; ")}.`;
}

export interface EmptyExportFacts {
  /** Trees in the project, and how many the tree filters selected. */
  projectTrees: number;
  selectedTrees: number;
  /** Messages of the selected trees, and how many passed the message filters. */
  messages: number;
  keptMessages: number;
  excluded: ExclusionCounts;
  /** Records that gave no row in this format, by reason (e.g. "multi-turn path"). */
  skipped: Record<string, number>;
  /** What one row of the format is made of, e.g. "preference pairs". */
  rowsAre: string;
}

/** Why an export (or its preview) has no rows, in a sentence or two. */
export function whyEmpty(f: EmptyExportFacts): string {
  if (f.projectTrees === 0) return "The project has no conversation trees yet.";
  const excluded = describeExclusions(f.excluded);
  if (f.selectedTrees === 0) return `No tree matches the tree filters (of ${plural(f.projectTrees, "tree", "trees")} in the project). ${excluded ?? ""}`.trim();
  if (f.keptMessages === 0) return `Every message of the ${plural(f.selectedTrees, "selected tree", "selected trees")} was left out by the message filters. ${excluded ?? ""}`.trim();
  const skipped = Object.entries(f.skipped)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${n.toLocaleString("en")} × ${reason}`);
  const from = `${plural(f.keptMessages, "message", "messages")} in ${plural(f.selectedTrees, "tree", "trees")}`;
  return `The ${from} passed the filters but make no ${f.rowsAre}${skipped.length ? ` (${skipped.join(", ")})` : ""}. ${excluded ?? ""}`.trim();
}
