// Consensus of sibling sets in the database: raw rankings in, sibling_consensus rows and
// per-reply consensus_rank out. The maths is app/domain/consensus.
import type { WorkflowConfig } from "~/domain/projects/workflow.ts";
import { summarizeSiblingSet, type SiblingConsensusSummary, type SiblingRanking } from "~/domain/consensus/sibling-set.ts";
import { TRANSITION_REASONS } from "~/domain/trees/state-machine.ts";
import { siblingSets, type TreeMessageFacts } from "~/domain/trees/tree-facts.ts";
import { Prisma } from "~/generated/prisma/client.ts";
import { NOW } from "./sql.server.ts";
import type { Tx } from "./transaction.server.ts";

/** The raw rankings of each of the given parents' reply sets, oldest first. */
async function setRankings(tx: Tx, parentIds: readonly string[]): Promise<Map<string, SiblingRanking[]>> {
  // One parent (a set's last ranking) by equality: a generic plan assumes an array holds ten.
  const match =
    parentIds.length === 1
      ? Prisma.sql`parent_message_id = ${parentIds[0]}::uuid`
      : Prisma.sql`parent_message_id = ANY(${parentIds as string[]}::uuid[])`;
  const rows = await tx.$queryRaw<Array<{ parent_message_id: string; user_id: string; order: string[][]; not_rankable: boolean }>>`
    SELECT parent_message_id, user_id, "order", not_rankable FROM rankings WHERE ${match} ORDER BY created_at`;
  const byParent = new Map<string, SiblingRanking[]>(parentIds.map((id) => [id, []]));
  for (const r of rows) byParent.get(r.parent_message_id)?.push({ labelerId: r.user_id, order: r.order, notRankable: r.not_rankable });
  return byParent;
}

/**
 * The set's consensus row and its replies' consensus ranks, in one statement. `onlyIfCurrent`:
 * written only while the tree is in ranking and the set is as it was scored (the same accepted
 * replies, the same number of rankings), for a caller that does not hold the tree's lock.
 */
async function storeSetConsensus(
  tx: Tx,
  treeId: string,
  parentId: string,
  siblingIds: readonly string[],
  summary: SiblingConsensusSummary,
  rankings: readonly SiblingRanking[],
  onlyIfCurrent = false,
): Promise<void> {
  const ranks = JSON.stringify(summary.ranks);
  const current = onlyIfCurrent
    ? Prisma.sql`EXISTS (SELECT 1 FROM message_trees t WHERE t.id = ${treeId}::uuid AND t.state = 'ranking')
        AND (SELECT count(*) FROM rankings r WHERE r.parent_message_id = ${parentId}::uuid) = ${rankings.length}
        AND ARRAY(SELECT c.id FROM messages c WHERE c.parent_id = ${parentId}::uuid AND NOT c.deleted AND c.review_result = 'accepted' ORDER BY c.id)
            = ARRAY(SELECT x FROM unnest(${siblingIds as string[]}::uuid[]) x ORDER BY x)`
    : Prisma.sql`true`;
  // Replies by parent as well as by id: Postgres assumes an array parameter holds ten ids, so by
  // id alone the generic plan looked dearer than a custom one and every execution was planned anew.
  await tx.$executeRaw`
    WITH current AS (SELECT ${current} AS yes),
    stored AS (
      INSERT INTO sibling_consensus (parent_message_id, tree_id, ranks, bt_scores, pair_confidence, kendall_tau, ranking_count, not_rankable_count, computed_at)
      SELECT ${parentId}::uuid, ${treeId}::uuid, ${ranks}::jsonb, ${JSON.stringify(summary.btScores)}::jsonb,
             ${JSON.stringify(summary.pairConfidence)}::jsonb, ${summary.kendallTau}, ${rankings.length},
             ${rankings.filter((r) => r.notRankable).length}, ${NOW}
      FROM current WHERE current.yes
      ON CONFLICT (parent_message_id) DO UPDATE SET ranks = EXCLUDED.ranks, bt_scores = EXCLUDED.bt_scores,
        pair_confidence = EXCLUDED.pair_confidence, kendall_tau = EXCLUDED.kendall_tau,
        ranking_count = EXCLUDED.ranking_count, not_rankable_count = EXCLUDED.not_rankable_count, computed_at = EXCLUDED.computed_at
      RETURNING parent_message_id)
    UPDATE messages m SET consensus_rank = (${ranks}::jsonb ->> m.id::text)::int, updated_at = ${NOW}
    WHERE m.parent_id = ${parentId}::uuid AND m.id = ANY(${siblingIds as string[]}::uuid[]) AND (SELECT yes FROM current)`;
}

/** storeSetConsensus without the tree's lock: written only if the set is still as scored. */
export function storeSetConsensusIfCurrent(
  db: Tx,
  treeId: string,
  parentId: string,
  siblingIds: readonly string[],
  summary: SiblingConsensusSummary,
  rankings: readonly SiblingRanking[],
): Promise<void> {
  return storeSetConsensus(db, treeId, parentId, siblingIds, summary, rankings, true);
}

/** The raw rankings of the replies to `parentId`, oldest first. */
export async function readSetRankings(tx: Tx, parentId: string): Promise<SiblingRanking[]> {
  return (await setRankings(tx, [parentId])).get(parentId)!;
}

/** Computes and stores the consensus of the replies to `parentId` (an upsert: safe to repeat),
 *  from its rankings as read under the tree's lock (read here when not given). */
export async function scoreSiblingSet(
  tx: Tx,
  treeId: string,
  parentId: string,
  siblingIds: readonly string[],
  setRankingsRead?: SiblingRanking[],
): Promise<SiblingConsensusSummary> {
  const rankings = setRankingsRead ?? (await readSetRankings(tx, parentId));
  const summary = summarizeSiblingSet(siblingIds, rankings);
  await storeSetConsensus(tx, treeId, parentId, siblingIds, summary, rankings);
  return summary;
}

/** The consensus of every sibling set of a tree, ready to store (storeTreeConsensus). */
export type TreeScores = Array<{ parentId: string; childIds: string[]; summary: SiblingConsensusSummary; rankings: SiblingRanking[] }>;

/** The rankings of every sibling set of the tree, by parent (one statement). */
export async function readTreeRankings(tx: Tx, messages: readonly TreeMessageFacts[], config: WorkflowConfig): Promise<Map<string, SiblingRanking[]>> {
  const sets = siblingSets(messages, config);
  return sets.length ? setRankings(tx, sets.map((s) => s.parentId)) : new Map();
}

/**
 * The consensus of every sibling set of a tree that waits for scoring, from its rankings, or why
 * the maths failed on them (the tree then goes to scoring_failed, nothing written).
 */
export function scoreTree(
  messages: readonly TreeMessageFacts[],
  config: WorkflowConfig,
  rankingsOf: ReadonlyMap<string, SiblingRanking[]>,
): { scores: TreeScores } | { failure: string } {
  const scores: TreeScores = [];
  for (const set of siblingSets(messages, config)) {
    const rankings = rankingsOf.get(set.parentId) ?? [];
    try {
      scores.push({ parentId: set.parentId, childIds: set.childIds, summary: summarizeSiblingSet(set.childIds, rankings), rankings });
    } catch (error) {
      return { failure: (error as Error).message };
    }
  }
  return { scores };
}

/** Every ranking of the tree's reply sets, by parent (oldest first), and their ids. */
export async function readRankingsOfTree(db: Tx, treeId: string): Promise<{ byParent: Map<string, SiblingRanking[]>; ids: string[] }> {
  const rows = await db.$queryRaw<Array<{ id: string; parent_message_id: string; user_id: string; order: string[][]; not_rankable: boolean }>>`
    SELECT r.id, r.parent_message_id, r.user_id, r."order", r.not_rankable
    FROM messages m JOIN rankings r ON r.parent_message_id = m.id
    WHERE m.tree_id = ${treeId}::uuid ORDER BY r.created_at`;
  const byParent = new Map<string, SiblingRanking[]>();
  for (const r of rows) {
    const set = byParent.get(r.parent_message_id) ?? [];
    set.push({ labelerId: r.user_id, order: r.order, notRankable: r.not_rankable });
    byParent.set(r.parent_message_id, set);
  }
  return { byParent, ids: rows.map((r) => r.id) };
}

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Stores a tree's scores and moves it to ready_for_export in one statement (store_tree_scores),
 * for a caller that scored it without the tree's lock: only while the tree is in ranking and its
 * messages and rankings are those the scores were computed from. "not_ranking": the tree moved on
 * (another set's last ranking scored it) or was halted; "changed": it changed since it was read.
 * Nothing is written in either case.
 */
export async function storeTreeScoresIfCurrent(
  db: Tx,
  treeId: string,
  messages: readonly TreeMessageFacts[],
  rankingIds: readonly string[],
  scores: TreeScores,
): Promise<"stored" | "not_ranking" | "changed"> {
  const read = [...messages].sort((a, b) => byId(a.id, b.id)).map((m) => [m.id, m.deleted, m.reviewResult, m.rankingCount]);
  const sets = scores.map(({ parentId, childIds, summary, rankings }) => ({
    parent: parentId,
    children: childIds,
    ranks: summary.ranks,
    bt_scores: summary.btScores,
    pair_confidence: summary.pairConfidence,
    kendall_tau: summary.kendallTau,
    rankings: rankings.length,
    not_rankable: rankings.filter((r) => r.notRankable).length,
  }));
  const [row] = await db.$queryRaw<Array<{ outcome: "stored" | "not_ranking" | "changed" }>>`
    SELECT store_tree_scores(${treeId}::uuid, ${JSON.stringify(read)}::jsonb, ${[...rankingIds].sort(byId)}::uuid[],
                             ${JSON.stringify(sets)}::jsonb, ${[TRANSITION_REASONS.rankingsComplete, TRANSITION_REASONS.scored]}::text[]) AS outcome`;
  return row.outcome;
}

/** Stores a tree's scores, a statement per set, sent together. */
export async function storeTreeConsensus(tx: Tx, treeId: string, scores: TreeScores): Promise<void> {
  await Promise.all(scores.map((r) => storeSetConsensus(tx, treeId, r.parentId, r.childIds, r.summary, r.rankings)));
}
