// Ranking tasks: every labeler's raw ranking is kept; when a sibling set has its rankings the
// consensus is computed and stored, and the tree moves on when all its sets are done.
import type { SessionCheck } from "~/auth/session-check.server.ts";
import type { WorkflowConfig } from "~/domain/projects/workflow.ts";
import { summarizeSiblingSet } from "~/domain/consensus/sibling-set.ts";
import { siblingSets } from "~/domain/trees/tree-facts.ts";
import { isReadyForScoring } from "~/domain/trees/transitions.ts";
import { projectConfig } from "./config.server.ts";
import { readRankingsOfTree, readSetRankings, scoreSiblingSet, scoreTree, storeSetConsensusIfCurrent, storeTreeScoresIfCurrent } from "./consensus.server.ts";
import { badInput, conflict, isUuid } from "./errors.server.ts";
import { checkRankingOrder, rankingGroups } from "./ranking-order.ts";
import { treeFacts } from "./snapshot.server.ts";
import { callerSql, withOpenTask, type TaskRef } from "./tasks.server.ts";
import { NOT_RANKABLE_REASON } from "./moderation.server.ts";
import { advanceTree, advanceTreeNow } from "./tree-state.server.ts";
import { NOW, treeStatesJson } from "./sql.server.ts";
import { db } from "./transaction.server.ts";

export interface RankingInput {
  /** Groups of sibling ids, best first (ties: groups of several, where allowed). */
  order?: unknown;
  /** All replies are bad: no order is taken. */
  notRankable?: boolean;
  /** Optional report that goes with "not rankable". */
  report?: string | null;
}

const MAX_REPORT = 2000;

const RANK_TREE_STATES = treeStatesJson("rank");

/**
 * A ranking in one statement (`submit_ranking`, migrations 20261208110000 and 20261209120000): an
 * order of exactly the task's replies is stored, counted and closes its task. "last" when the set
 * now has the rankings it needs: its consensus and the tree's move then follow (scoreRankedSet).
 * Null when the submit is anything else (a refusal, which the full path words): nothing was
 * written then.
 */
export async function rankingAtOnce(
  projectId: string, taskId: TaskRef, userId: string, rawOrder: unknown, submitKey: string | null, config: WorkflowConfig,
  check?: SessionCheck,
): Promise<{ outcome: "done" | "last"; treeId: string; parentId: string } | null> {
  const id = typeof taskId === "string" ? taskId : taskId.id;
  const order = rankingGroups(rawOrder);
  if (!isUuid(id) || !order?.length) return null;
  const ids = order.flat();
  if (!ids.every(isUuid) || new Set(ids).size !== ids.length) return null;
  if (!config.tiesAllowed && order.some((g) => g.length > 1)) return null;
  const [row] = await db.$queryRaw<Array<{ outcome: "done" | "last" | "slow"; tree_id: string; parent_id: string }>>`
    SELECT r.outcome, r.tree_id, r.parent_id
    FROM submit_ranking(${id}::uuid, ${projectId}::uuid, ${callerSql(userId, check)}, ${JSON.stringify(order)}::jsonb, ${ids}::uuid[],
                        ${RANK_TREE_STATES}::jsonb, ${config.rankingsPerSiblingSet}::int, ${submitKey}::text) r`;
  if (row.outcome === "slow") return null;
  if (row.outcome === "last") {
    // The ranking is stored: what follows failing is logged, not the labeler's error; the tree's
    // scoring and the expiry sweep make up for it.
    await scoreRankedSet(row.tree_id, row.parent_id, config).catch((error: Error) =>
      console.error(`after the last ranking of the replies to ${row.parent_id}: ${error.message}`),
    );
  }
  return { outcome: row.outcome, treeId: row.tree_id, parentId: row.parent_id };
}

/**
 * After a set's last ranking was stored (by its own statement): the tree's messages and rankings
 * are read without its lock. When every set is complete, all are scored and stored with the
 * tree's move by one statement that checks the tree is still in ranking and as read; when it
 * changed (or the maths failed), the tree moves on in a transaction that scores it under its
 * lock. Otherwise the set's consensus is stored unless the set changed meanwhile. A process that
 * dies before leaves the consensus to the tree's scoring and the move to the expiry sweep
 * (advanceStalledTrees). Maths that fails on a set here is left to the tree's scoring, which
 * records it.
 */
export async function scoreRankedSet(treeId: string, parentId: string, config: WorkflowConfig): Promise<void> {
  const [facts, rankings] = await Promise.all([treeFacts(db, [treeId], null), readRankingsOfTree(db, treeId)]);
  const messages = facts.facts.get(treeId) ?? [];
  if (isReadyForScoring(messages, config)) {
    const scored = scoreTree(messages, config, rankings.byParent);
    const outcome = "scores" in scored ? await storeTreeScoresIfCurrent(db, treeId, messages, rankings.ids, scored.scores) : "changed";
    if (outcome === "changed") await advanceTreeNow(treeId, config);
    return;
  }
  const set = siblingSets(messages, config).find((s) => s.parentId === parentId);
  if (!set || set.completedRankings < config.rankingsPerSiblingSet) return;
  const setRankings = rankings.byParent.get(parentId) ?? [];
  try {
    await storeSetConsensusIfCurrent(db, treeId, set.parentId, set.childIds, summarizeSiblingSet(set.childIds, setRankings), setRankings);
  } catch (error) {
    console.error(`consensus of the replies to ${parentId} not stored: ${(error as Error).message}`);
  }
}

export async function submitRanking(
  projectId: string,
  /** The task id, or the task already read with getOwnTask. */
  taskId: TaskRef,
  userId: string,
  input: RankingInput,
  /** The client's idempotency key (see SubmitReplayed). */
  submitKey: string | null = null,
  /** The session check the one statement carries (the JSON API); the full path confirms it first. */
  check?: SessionCheck,
): Promise<{ setComplete: boolean }> {
  const config = await projectConfig(projectId);
  const reportText = (input.report ?? "").trim();
  if (reportText.length > MAX_REPORT) throw badInput(`The report is longer than ${MAX_REPORT} characters.`, { report: "too long" });

  if (!input.notRankable) {
    const atOnce = await rankingAtOnce(projectId, taskId, userId, input.order, submitKey, config, check);
    if (atOnce) return { setComplete: atOnce.outcome === "last" };
  }
  await check?.confirm();

  return withOpenTask(taskId, { projectId, userId, submitKey }, ["rank"], {}, async (tx, t, tree) => {
    // Checked under the task's lock against the siblings the task showed, read only there.
    let order: string[][] = [];
    if (!input.notRankable) {
      const checked = checkRankingOrder(input.order, t.siblingIds, config.tiesAllowed);
      if (!checked.ok) throw badInput(checked.message, { order: checked.message });
      order = checked.order;
    }
    const parentId = t.messageId!;
    const report = input.notRankable ? reportText : "";
    // One statement: the raw ranking, the siblings' ranking counts, the optional report, the
    // task closed; `least` is the fewest rankings any live, accepted sibling now has. Siblings
    // are looked up under their parent: Postgres assumes an array parameter holds ten ids, so
    // by id alone it planned every execution anew.
    const [row] = await tx.$queryRaw<Array<{ inserted: number; least: number | null }>>`
      WITH ins AS (
        INSERT INTO rankings (id, parent_message_id, user_id, task_id, "order", not_rankable, created_at)
        VALUES (gen_random_uuid(), ${parentId}::uuid, ${userId}::uuid, ${t.id}::uuid, ${JSON.stringify(order)}::jsonb,
                ${!!input.notRankable}, ${NOW})
        ON CONFLICT (parent_message_id, user_id) DO NOTHING RETURNING id),
      counted AS (
        UPDATE messages SET ranking_count = ranking_count + 1
        WHERE parent_id = ${parentId}::uuid AND id = ANY(${t.siblingIds}::uuid[]) AND EXISTS (SELECT 1 FROM ins)
        RETURNING ranking_count, deleted, review_result),
      reported AS (
        INSERT INTO reports (id, message_id, user_id, reason, text, created_at)
        SELECT gen_random_uuid(), ${parentId}::uuid, ${userId}::uuid, ${NOT_RANKABLE_REASON}, ${report}, ${NOW}
        WHERE ${report} <> '' AND EXISTS (SELECT 1 FROM ins)
        ON CONFLICT (message_id, user_id, reason) DO NOTHING RETURNING id),
      done AS (
        UPDATE tasks SET state = 'done', done_at = ${NOW}, acknowledged_at = COALESCE(acknowledged_at, ${NOW})
        WHERE id = ${t.id}::uuid AND EXISTS (SELECT 1 FROM ins) RETURNING id)
      SELECT (SELECT count(*) FROM ins)::int AS inserted,
             (SELECT min(ranking_count) FROM counted WHERE NOT deleted AND review_result = 'accepted')::int AS least`;
    if (row.inserted === 0) throw conflict("You already ranked these replies.");

    // The set may be complete: confirm on the tree's facts, then move the tree on (its last set
    // scores every set) or score this set alone.
    let setComplete = false;
    if (row.least !== null && row.least >= config.rankingsPerSiblingSet) {
      // Both read at once (one round trip): the set's rankings are what scoring it needs.
      const [facts, rankings] = await Promise.all([treeFacts(tx, [tree!.id], null), readSetRankings(tx, parentId)]);
      const messages = facts.facts.get(tree!.id) ?? [];
      const set = siblingSets(messages, config).find((s) => s.parentId === parentId);
      setComplete = !!set && set.completedRankings >= config.rankingsPerSiblingSet;
      if (set && setComplete) {
        await advanceTree(tx, tree!, config, messages);
        if (tree!.state === "ranking") await scoreSiblingSet(tx, tree!.id, set.parentId, set.childIds, rankings);
      }
    }
    return { setComplete };
  });
}
