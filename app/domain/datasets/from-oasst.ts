// Canonical records from an Open-Assistant tree (imported data, which carries ranks but no rankings).
import {
  DATASET_SCHEMA_VERSION,
  type CompletionAuthor,
  type ConversationTurn,
  type RankedCompletion,
  type RankedSetRecord,
  type SftMessage,
  type SftPathRecord,
} from "./canonical";
import type { OaMessageNode, OaMessageTree } from "./oasst-schema";

export interface FromOasstOptions {
  project_id: string;
  /** Used as a ranked set's created_at when its parent message has no created_date. */
  created_at: string;
}

/** Deleted replies and replies that failed review are left out, with their subtrees. */
function keptReplies(node: OaMessageNode): OaMessageNode[] {
  return node.replies.filter((r) => r.deleted !== true && r.review_result !== false);
}

function isKept(node: OaMessageNode): boolean {
  return node.deleted !== true && node.review_result !== false;
}

function authorOf(node: OaMessageNode): CompletionAuthor {
  if (node.synthetic === true && node.model_name !== null) {
    return { type: "model", model_version_id: null, model_name: node.model_name };
  }
  return { type: "external", id: node.user_id };
}

const turnOf = (n: OaMessageNode): ConversationTurn => ({ message_id: n.message_id, role: n.role, text: n.text });

/** Competition ranks from Open-Assistant ranks: the number of siblings with a strictly better rank. */
function competitionRanks(nodes: readonly OaMessageNode[]): Map<string, number> {
  const ranked = nodes.filter((n) => n.rank !== null);
  return new Map(
    ranked.map((n) => [n.message_id, ranked.filter((o) => (o.rank as number) < (n.rank as number)).length]),
  );
}

/** One record per kept parent with at least two ranked kept replies; method "imported". */
export function rankedSetsFromOaTree(tree: OaMessageTree, options: FromOasstOptions): RankedSetRecord[] {
  const lang = tree.prompt.lang ?? "und";
  const out: RankedSetRecord[] = [];
  const visit = (node: OaMessageNode, path: ConversationTurn[]) => {
    const conversation = [...path, turnOf(node)];
    const replies = keptReplies(node);
    const ranks = competitionRanks(replies);
    if (ranks.size >= 2) {
      const completions: RankedCompletion[] = replies.map((r) => ({
        ...turnOf(r),
        author: authorOf(r),
        synthetic: r.synthetic === true,
        sampling: null,
        consensus_rank: ranks.get(r.message_id) ?? null,
        ...(r.labels ? { labels: r.labels } : {}),
      }));
      const groups = new Map<number, string[]>();
      for (const [id, rank] of ranks) groups.set(rank, [...(groups.get(rank) ?? []), id]);
      out.push({
        schema_version: DATASET_SCHEMA_VERSION,
        id: node.message_id,
        tree_id: tree.message_tree_id,
        project_id: options.project_id,
        lang,
        conversation,
        completions,
        consensus: {
          method: "imported",
          ranks: Object.fromEntries(ranks),
          ties: [...groups.values()].filter((g) => g.length > 1),
          confidence: null,
          kendall_tau: null,
        },
        rankings: [],
        ranking_count: 0,
        not_rankable_count: 0,
        created_at: node.created_date ?? options.created_at,
      });
    }
    for (const r of replies) visit(r, conversation);
  };
  if (isKept(tree.prompt)) visit(tree.prompt, []);
  return out;
}

/**
 * One path per assistant reply that ends a conversation: an assistant message none of whose
 * kept prompter replies has a kept assistant reply. Shorter paths are prefixes of these and
 * would only repeat turns.
 */
export function sftPathsFromOaTree(tree: OaMessageTree, options: Pick<FromOasstOptions, "project_id">): SftPathRecord[] {
  const lang = tree.prompt.lang ?? "und";
  const out: SftPathRecord[] = [];
  const visit = (node: OaMessageNode, siblingCount: number, path: SftMessage[]) => {
    const replies = keptReplies(node);
    const messages = [
      ...path,
      {
        message_id: node.message_id,
        role: node.role,
        text: node.text,
        rank: node.rank,
        synthetic: node.synthetic === true,
        model_name: node.model_name,
        review_result: node.review_result,
        sibling_count: siblingCount,
      },
    ];
    const continues = replies.some((r) => keptReplies(r).length > 0);
    if (node.role === "assistant" && !continues) {
      out.push({
        schema_version: DATASET_SCHEMA_VERSION,
        id: node.message_id,
        tree_id: tree.message_tree_id,
        project_id: options.project_id,
        lang,
        messages,
      });
    }
    for (const r of replies) visit(r, replies.length, messages);
  };
  if (isKept(tree.prompt)) visit(tree.prompt, 1, []);
  return out;
}
