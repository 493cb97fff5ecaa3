// Consensus of sibling sets in the database: raw rankings in, sibling_consensus rows and
// per-reply consensus_rank out. The maths is app/domain/consensus.
import type { WorkflowConfig } from "~/domain/projects/workflow.ts";
import { summarizeSiblingSet, type SiblingConsensusSummary, type SiblingRanking } from "~/domain/consensus/sibling-set.ts";
import { siblingSets, type TreeMessageFacts } from "~/domain/trees/tree-facts.ts";
import { NOW } from "./sql.server.ts";
import type { Tx } from "./transaction.server.ts";

async function setRankings(tx: Tx, parentId: string): Promise<SiblingRanking[]> {
  const rows = await tx.$queryRaw<Array<{ user_id: string; order: string[][]; not_rankable: boolean }>>`
    SELECT user_id, "order", not_rankable FROM rankings WHERE parent_message_id = ${parentId}::uuid ORDER BY created_at`;
  return rows.map((r) => ({ labelerId: r.user_id, order: r.order, notRankable: r.not_rankable }));
}

async function storeSetConsensus(
  tx: Tx,
  treeId: string,
  parentId: string,
  siblingIds: readonly string[],
  summary: SiblingConsensusSummary,
  rankings: readonly SiblingRanking[],
): Promise<void> {
  const ranks = JSON.stringify(summary.ranks);
  await tx.$executeRaw`
    INSERT INTO sibling_consensus (parent_message_id, tree_id, ranks, bt_scores, pair_confidence, kendall_tau, ranking_count, not_rankable_count, computed_at)
    VALUES (${parentId}::uuid, ${treeId}::uuid, ${ranks}::jsonb, ${JSON.stringify(summary.btScores)}::jsonb,
            ${JSON.stringify(summary.pairConfidence)}::jsonb, ${summary.kendallTau}, ${rankings.length},
            ${rankings.filter((r) => r.notRankable).length}, ${NOW})
    ON CONFLICT (parent_message_id) DO UPDATE SET ranks = EXCLUDED.ranks, bt_scores = EXCLUDED.bt_scores,
      pair_confidence = EXCLUDED.pair_confidence, kendall_tau = EXCLUDED.kendall_tau,
      ranking_count = EXCLUDED.ranking_count, not_rankable_count = EXCLUDED.not_rankable_count, computed_at = EXCLUDED.computed_at`;
  // By parent as well as by id: Postgres assumes an array parameter holds ten ids, so by id
  // alone the generic plan looked dearer than a custom one and every execution was planned anew.
  await tx.$executeRaw`
    UPDATE messages m SET consensus_rank = (${ranks}::jsonb ->> m.id::text)::int, updated_at = ${NOW}
    WHERE m.parent_id = ${parentId}::uuid AND m.id = ANY(${siblingIds as string[]}::uuid[])`;
}

/** Computes and stores the consensus of the replies to `parentId` (an upsert: safe to repeat). */
export async function scoreSiblingSet(
  tx: Tx,
  treeId: string,
  parentId: string,
  siblingIds: readonly string[],
): Promise<SiblingConsensusSummary> {
  const rankings = await setRankings(tx, parentId);
  const summary = summarizeSiblingSet(siblingIds, rankings);
  await storeSetConsensus(tx, treeId, parentId, siblingIds, summary, rankings);
  return summary;
}

/**
 * Scores every sibling set of a tree that waits for scoring. False when the maths fails on the
 * stored rankings (the tree then goes to scoring_failed, nothing written); database errors
 * propagate and roll the transaction back.
 */
export async function scoreTree(
  tx: Tx,
  treeId: string,
  messages: readonly TreeMessageFacts[],
  config: WorkflowConfig,
): Promise<boolean> {
  const results: Array<{ parentId: string; childIds: string[]; summary: SiblingConsensusSummary; rankings: SiblingRanking[] }> = [];
  for (const set of siblingSets(messages, config)) {
    const rankings = await setRankings(tx, set.parentId);
    try {
      results.push({ parentId: set.parentId, childIds: set.childIds, summary: summarizeSiblingSet(set.childIds, rankings), rankings });
    } catch (error) {
      console.error(`scoring tree ${treeId} failed: ${(error as Error).message}`);
      return false;
    }
  }
  for (const r of results) await storeSetConsensus(tx, treeId, r.parentId, r.childIds, r.summary, r.rankings);
  return true;
}
