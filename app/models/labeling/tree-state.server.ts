// Tree state changes in the database: row locks, enterState() persisted with its event, the
// automatic moves (growth done, rankings done, scoring) and the prompt lottery.
//
// Lock order, everywhere: the tree row, then rows of that tree (messages, tasks), then the
// project's growing-slot lock, then waiting trees with SKIP LOCKED. Nothing waits on a tree lock
// while holding the growing-slot lock, so no cycle can form.
import type { WorkflowConfig } from "~/domain/projects/workflow.ts";
import { TASK_TYPE_INFO, TASK_TYPES } from "~/domain/tasks/task-types.ts";
import { drawLotteryWinners, freeGrowingSlots, type LotteryEntry } from "~/domain/trees/lottery.ts";
import { enterState, TRANSITION_REASONS, type TreeState } from "~/domain/trees/state-machine.ts";
import type { TreeMessageFacts } from "~/domain/trees/tree-facts.ts";
import { isReadyForScoring, nextStateAfterGrowth } from "~/domain/trees/transitions.ts";
import { projectConfig } from "./config.server.ts";
import { readTreeRankings, scoreTree, storeTreeConsensus } from "./consensus.server.ts";
import { treeFacts } from "./snapshot.server.ts";
import { NOW } from "./sql.server.ts";
import { db, inTransaction, type Tx } from "./transaction.server.ts";

export type { Tx };

export interface LockedTree {
  id: string;
  projectId: string;
  state: TreeState;
  stateBeforeHalt: TreeState | null;
  lang: string;
}

type TreeRow = { id: string; project_id: string; state: TreeState; state_before_halt: TreeState | null; lang: string };
const toTree = (r: TreeRow): LockedTree => ({
  id: r.id,
  projectId: r.project_id,
  state: r.state,
  stateBeforeHalt: r.state_before_halt,
  lang: r.lang,
});

/**
 * Locks a tree row for the rest of the transaction. FOR NO KEY UPDATE rather than FOR UPDATE:
 * inserts that reference the tree (tasks, messages, events) only take KEY SHARE and need not wait.
 * With skipLocked, returns null instead of waiting when another transaction holds it.
 */
export async function lockTree(tx: Tx, treeId: string, opts: { skipLocked?: boolean } = {}): Promise<LockedTree | null> {
  const rows = opts.skipLocked
    ? await tx.$queryRaw<TreeRow[]>`
        SELECT id, project_id, state::text AS state, state_before_halt::text AS state_before_halt, lang
        FROM message_trees WHERE id = ${treeId}::uuid FOR NO KEY UPDATE SKIP LOCKED`
    : await tx.$queryRaw<TreeRow[]>`
        SELECT id, project_id, state::text AS state, state_before_halt::text AS state_before_halt, lang
        FROM message_trees WHERE id = ${treeId}::uuid FOR NO KEY UPDATE`;
  return rows.length ? toTree(rows[0]) : null;
}

/** Task types that a tree in this state still hands out and accepts. */
const typesFor = (state: TreeState) => TASK_TYPES.filter((t) => TASK_TYPE_INFO[t].treeState === state);

/**
 * Moves the tree with enterState() (which validates the move), records the event, and cancels
 * open tasks the new state no longer accepts. A halt keeps them: they are valid again on resume
 * if they have not expired.
 */
export async function transitionTree(
  tx: Tx,
  tree: LockedTree,
  to: TreeState,
  reason: string,
  actorId: string | null = null,
): Promise<void> {
  const change = enterState(tree, to, reason, actorId);
  // One statement: the move, its event and the cancelled tasks (the slot triggers run once it ends).
  const keep = to === "halted_by_moderator" ? null : typesFor(to);
  await tx.$executeRaw`
    WITH moved AS (
      UPDATE message_trees SET state = ${change.state}::"TreeState",
        state_before_halt = ${change.stateBeforeHalt}::"TreeState", state_changed_at = ${NOW}, updated_at = ${NOW}
      WHERE id = ${tree.id}::uuid RETURNING id),
    event AS (
      INSERT INTO tree_state_events (tree_id, from_state, to_state, reason, actor_id)
      VALUES (${tree.id}::uuid, ${change.event.fromState}::"TreeState", ${change.event.toState}::"TreeState",
              ${change.event.reason}, ${change.event.actorId}::uuid) RETURNING id)
    UPDATE tasks SET state = 'cancelled'
    WHERE tree_id = ${tree.id}::uuid AND state IN ('assigned', 'acknowledged')
      AND ${keep}::text[] IS NOT NULL AND NOT (type::text = ANY(${keep}::text[]))`;
  const leftGrowing = tree.state === "growing";
  tree.stateBeforeHalt = change.stateBeforeHalt;
  tree.state = change.state;
  if (leftGrowing && to !== "growing") await fillGrowingSlots(tx, tree.projectId, null);
}

/**
 * Applies the moves that follow from the tree's facts, as many as apply: a grown tree goes to
 * ranking, a ranked one to scoring, a scored one to export. Call after any change to the tree;
 * `messages`: its facts as the caller just read them under the tree's lock. The moves change
 * only the tree's state and open tasks, which none of the rules below reads, so the facts are
 * read once.
 */
export async function advanceTree(
  tx: Tx,
  tree: LockedTree,
  config: WorkflowConfig,
  messages?: readonly TreeMessageFacts[],
): Promise<void> {
  const facts = messages ?? (await treeFacts(tx, [tree.id], null)).facts.get(tree.id) ?? [];
  for (let step = 0; step < 4; step++) {
    if (tree.state === "growing") {
      const { next, reason } = nextStateAfterGrowth(facts, config);
      if (!next || !reason) return;
      await transitionTree(tx, tree, next, reason);
    } else if (tree.state === "ranking" || tree.state === "ready_for_scoring") {
      if (tree.state === "ranking" && !isReadyForScoring(facts, config)) return;
      // Statements on one connection run in the order they are sent, so the move to scoring and
      // the rankings' read go in one round trip, and so do the scores and the move after them.
      const [, rankingsOf] = await Promise.all([
        tree.state === "ranking" ? transitionTree(tx, tree, "ready_for_scoring", TRANSITION_REASONS.rankingsComplete) : null,
        readTreeRankings(tx, facts, config),
      ]);
      const scored = scoreTree(facts, config, rankingsOf);
      if ("scores" in scored) {
        await Promise.all([storeTreeConsensus(tx, tree.id, scored.scores), transitionTree(tx, tree, "ready_for_export", TRANSITION_REASONS.scored)]);
      } else {
        console.error(`scoring tree ${tree.id} failed: ${scored.failure}`);
        await transitionTree(tx, tree, "scoring_failed", TRANSITION_REASONS.scoringFailed);
      }
      return;
    } else {
      return;
    }
  }
}

async function countGrowing(tx: Tx, projectId: string): Promise<number> {
  const rows = await tx.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM message_trees WHERE project_id = ${projectId}::uuid AND state = 'growing'`;
  return rows[0].n;
}

/** Serialises growing-slot decisions of one project for the rest of the transaction. */
export async function lockGrowingSlots(tx: Tx, projectId: string): Promise<number> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`growing:${projectId}`}, 0))`;
  return countGrowing(tx, projectId);
}

/**
 * Starts waiting prompts while the project has free growing slots: by the prompt lottery, or
 * oldest first when it is off. Waiting trees locked by someone else are left for next time.
 */
export async function fillGrowingSlots(tx: Tx, projectId: string, config: WorkflowConfig | null): Promise<number> {
  const cfg = config ?? (await projectConfig(projectId, tx));
  // Most calls (every accepted prompt) find the slots taken: counted first without the project's
  // lock, which would otherwise make every acceptance in the project wait for the one before it.
  // A slot freed by a transaction that has not committed yet is filled by that transaction's own
  // call, by the next acceptance or tree leaving growing, or by fillAllGrowingSlots.
  if (freeGrowingSlots(await countGrowing(tx, projectId), cfg) === 0) return 0;
  const growing = await lockGrowingSlots(tx, projectId);
  const slots = freeGrowingSlots(growing, cfg);
  if (slots === 0) return 0;
  // Top-ranked replies are counted once per author, not once per waiting prompt: prolific authors
  // have hundreds of prompts waiting, and this runs under the project's growing lock. Each waiting
  // tree's prompt is read through the tree (a join read every prompt of the project), and the
  // counts come from the (project, author, consensus rank, deleted) index alone.
  const waiting = await tx.$queryRaw<Array<{ id: string; author_user_id: string | null; created_at: Date; top: number }>>`
    WITH waiting AS (
      SELECT t.id, r.author_user_id, t.created_at
      FROM (SELECT t.id, t.created_at FROM message_trees t
            WHERE t.project_id = ${projectId}::uuid AND t.state = 'prompt_lottery_waiting'
            ORDER BY t.created_at LIMIT 500) t
      JOIN LATERAL (SELECT r.author_user_id FROM messages r WHERE r.tree_id = t.id AND r.parent_id IS NULL LIMIT 1) r ON true),
    tops AS (
      SELECT x.author_user_id, count(*)::int AS top FROM messages x
      WHERE x.author_user_id = ANY(ARRAY(SELECT DISTINCT author_user_id FROM waiting))
        AND x.project_id = ${projectId}::uuid AND x.consensus_rank = 0 AND NOT x.deleted
      GROUP BY x.author_user_id)
    SELECT w.id, w.author_user_id, w.created_at, COALESCE(tops.top, 0) AS top
    FROM waiting w LEFT JOIN tops ON tops.author_user_id = w.author_user_id
    ORDER BY w.created_at`;
  const entries: LotteryEntry[] = waiting.map((w) => ({
    treeId: w.id,
    authorUserId: w.author_user_id,
    createdAt: w.created_at,
    authorTopRankedReplies: w.top,
  }));
  let started = 0;
  for (const treeId of drawLotteryWinners(entries, entries.length, cfg)) {
    if (started === slots) break;
    const tree = await lockTree(tx, treeId, { skipLocked: true });
    if (!tree || tree.state !== "prompt_lottery_waiting") continue;
    await transitionTree(tx, tree, "growing", TRANSITION_REASONS.lotteryWon);
    started++;
  }
  return started;
}

/** Fills the free growing slots of every project with waiting trees (the expiry sweep runs it):
 *  a slot freed while a prompt was being accepted can be missed by both (see fillGrowingSlots).
 *  Returns how many trees started growing. */
export async function fillAllGrowingSlots(): Promise<number> {
  const projects = await db.$queryRaw<Array<{ id: string }>>`
    SELECT p.id FROM projects p
    WHERE EXISTS (SELECT 1 FROM message_trees t WHERE t.project_id = p.id AND t.state = 'prompt_lottery_waiting')`;
  let started = 0;
  for (const { id } of projects) started += await inTransaction((tx) => fillGrowingSlots(tx, id, null));
  return started;
}

/**
 * Locks the tree and applies the moves that follow from its facts, read right behind the lock in
 * one round trip (statements on one connection run in the order they are sent): after a change
 * stored by its own statement (a reply's last review, a set's last ranking).
 */
export async function advanceTreeNow(treeId: string, config: WorkflowConfig): Promise<void> {
  await inTransaction(async (tx) => {
    const [tree, read] = await Promise.all([lockTree(tx, treeId), treeFacts(tx, [treeId], null)]);
    if (tree) await advanceTree(tx, tree, config, read.facts.get(treeId) ?? []);
  });
}

/**
 * Moves on trees whose move a dead process never made: a reply's last review and a set's last
 * ranking are stored by their own statements and the tree moves in a transaction after them.
 * Such a tree is growing or ranking with nothing to hand out (and, ranking, no task out). Trees
 * another transaction holds are left for the next sweep. Returns how many trees moved.
 */
export async function advanceStalledTrees(): Promise<number> {
  const trees = await db.$queryRaw<Array<{ id: string; project_id: string; state: TreeState }>>`
    SELECT t.id, t.project_id, t.state::text AS state FROM message_trees t
    WHERE t.state IN ('growing', 'ranking')
      AND NOT EXISTS (SELECT 1 FROM task_slots s WHERE s.tree_id = t.id)
      AND (t.state = 'growing' OR NOT EXISTS (
             SELECT 1 FROM tasks k WHERE k.tree_id = t.id AND k.state IN ('assigned', 'acknowledged')))
    LIMIT 500`;
  let moved = 0;
  for (const { id, project_id, state } of trees) {
    const config = await projectConfig(project_id);
    moved += await inTransaction(async (tx) => {
      const tree = await lockTree(tx, id, { skipLocked: true });
      if (tree?.state !== state) return 0;
      await advanceTree(tx, tree, config);
      return tree.state === state ? 0 : 1;
    });
  }
  return moved;
}
