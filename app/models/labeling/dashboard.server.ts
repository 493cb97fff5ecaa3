// Dashboard figures: open tasks per type, a labeler's contributions and their acceptance, and
// the leaderboard over a period.
import { prisma } from "~/db.server.ts";
import { computeNeeds, countByType } from "~/domain/tasks/needs.ts";
import { TASK_TYPE_INFO, TASK_TYPES, writtenRole, type TaskType } from "~/domain/tasks/task-types.ts";
import type { TreeState } from "~/domain/trees/enums.ts";
import {
  emptyCounts,
  leaderScore,
  periodBounds,
  rankLeaderboard,
  type ContributionCounts,
  type LeaderboardPeriod,
} from "~/domain/leaderboard/score.ts";
import { projectConfig } from "./config.server.ts";
import { writeLimits, type WriteLimit } from "./rate-limits.server.ts";
import { promptCounts, toSnapshots, treeFacts } from "./snapshot.server.ts";
import { OPEN_TASK } from "./sql.server.ts";

/** Task types a labeler can ask for. */
export const CHOOSABLE_TASK_TYPES: TaskType[] = TASK_TYPES.filter((t) => TASK_TYPE_INFO[t].generated);

export interface OpenTaskCounts {
  /** Tasks the project still needs, per type (places not yet handed out). */
  needed: Record<TaskType, number>;
  /** Tasks this labeler would get now, per type, asking until none is left. */
  available: Record<TaskType, number>;
  /** Open tasks this labeler holds, per type: places the draw does not hand them again. */
  held: Record<TaskType, number>;
  /** Message roles this labeler cannot write now (their reply limit is used up), and until when. */
  writeLimits: WriteLimit[];
}

/** Trees the dashboard reads at most: enough for any project a page can sensibly summarise. */
const DASHBOARD_TREES = 2000;

/**
 * What the project needs and what this labeler can take, by the rules the draw applies: the
 * same snapshot of open tasks (holds that ended count as free), one place per target and per
 * labeler, one new prompt at a time, and no writing tasks while the labeler's reply limit for
 * that role is used up.
 */
export async function openTaskCounts(projectId: string, userId: string): Promise<OpenTaskCounts> {
  const config = await projectConfig(projectId);
  const trees = await prisma.$queryRaw<Array<{ id: string; state: TreeState }>>`
    SELECT id, state::text AS state FROM message_trees
    WHERE project_id = ${projectId}::uuid AND state IN ('initial_prompt_review', 'growing', 'ranking')
    ORDER BY state_changed_at LIMIT ${DASHBOARD_TREES}`;
  const [read, counts, limits, heldRows] = await Promise.all([
    treeFacts(
      prisma,
      trees.map((t) => t.id),
      userId,
    ),
    promptCounts(prisma, projectId, userId),
    writeLimits(projectId, userId, config),
    prisma.$queryRaw<Array<{ type: TaskType; n: number }>>`
      SELECT k.type::text AS type, count(*)::int AS n FROM tasks k
      WHERE k.assignee_id = ${userId}::uuid AND k.project_id = ${projectId}::uuid AND ${OPEN_TASK}
      GROUP BY k.type`,
  ]);
  const snapshot = { trees: toSnapshots(read), ...counts };
  const user = { ...read.user, holdsPromptTask: counts.heldByUser > 0 };
  const zero = () => Object.fromEntries(CHOOSABLE_TASK_TYPES.map((t) => [t, 0])) as Record<TaskType, number>;
  const needed = zero();
  for (const c of computeNeeds(snapshot, { userId: "", tasks: [] }, config)) needed[c.type] += c.remaining;
  const available = { ...zero(), ...countByType(computeNeeds(snapshot, user, config)) };
  for (const t of CHOOSABLE_TASK_TYPES) {
    const role = writtenRole(t);
    if (role && limits[role]) available[t] = 0;
  }
  const held = zero();
  for (const r of heldRows) if (r.type in held) held[r.type] = r.n;
  return { needed, available, held, writeLimits: Object.values(limits) };
}

export interface MyContributions {
  prompts: { total: number; accepted: number; rejected: number };
  assistantReplies: { total: number; accepted: number; rejected: number };
  prompterReplies: { total: number; accepted: number; rejected: number };
  labels: number;
  rankings: number;
  topRankedReplies: number;
  /** Share of reviewed messages that were accepted (null before any review finished). */
  acceptance: number | null;
  recent: Array<{ id: string; treeId: string; role: string; text: string; reviewResult: string; consensusRank: number | null; treeState: string; editable: boolean; createdAt: string }>;
}

export async function myContributions(projectId: string, userId: string): Promise<MyContributions> {
  const [msgRows, [counts], recent] = await Promise.all([
    prisma.$queryRaw<Array<{ kind: string; review_result: string; n: number; top: number }>>`
      SELECT CASE WHEN parent_id IS NULL THEN 'prompt' ELSE role::text END AS kind, review_result::text AS review_result,
             count(*)::int AS n, count(*) FILTER (WHERE consensus_rank = 0)::int AS top
      FROM messages WHERE project_id = ${projectId}::uuid AND author_user_id = ${userId}::uuid AND NOT deleted
      GROUP BY 1, 2`,
    prisma.$queryRaw<Array<{ labels: number; rankings: number }>>`
      SELECT (SELECT count(*)::int FROM labels l JOIN messages m ON m.id = l.message_id
                WHERE l.user_id = ${userId}::uuid AND m.project_id = ${projectId}::uuid) AS labels,
             (SELECT count(*)::int FROM rankings r JOIN messages m ON m.id = r.parent_message_id
                WHERE r.user_id = ${userId}::uuid AND m.project_id = ${projectId}::uuid) AS rankings`,
    prisma.$queryRaw<Array<{ id: string; tree_id: string; role: string; text: string; review_result: string; consensus_rank: number | null; tree_state: string; created_at: Date }>>`
      SELECT m.id, m.tree_id, CASE WHEN m.parent_id IS NULL THEN 'prompt' ELSE m.role::text END AS role, left(m.text, 200) AS text,
             m.review_result::text AS review_result, m.consensus_rank, t.state::text AS tree_state, m.created_at
      FROM messages m JOIN message_trees t ON t.id = m.tree_id
      WHERE m.project_id = ${projectId}::uuid AND m.author_user_id = ${userId}::uuid AND NOT m.deleted
      ORDER BY m.created_at DESC LIMIT 20`,
  ]);
  const bucket = (kind: string) => {
    const rows = msgRows.filter((r) => r.kind === kind);
    const n = (result: string) => rows.filter((r) => r.review_result === result).reduce((s, r) => s + r.n, 0);
    return { total: rows.reduce((s, r) => s + r.n, 0), accepted: n("accepted"), rejected: n("rejected") };
  };
  const prompts = bucket("prompt");
  const assistantReplies = bucket("assistant");
  const prompterReplies = bucket("prompter");
  const decided = [prompts, assistantReplies, prompterReplies].reduce((s, b) => s + b.accepted + b.rejected, 0);
  const accepted = prompts.accepted + assistantReplies.accepted + prompterReplies.accepted;
  return {
    prompts,
    assistantReplies,
    prompterReplies,
    labels: counts.labels,
    rankings: counts.rankings,
    topRankedReplies: msgRows.reduce((s, r) => s + r.top, 0),
    acceptance: decided ? accepted / decided : null,
    recent: recent.map((r) => ({
      id: r.id,
      treeId: r.tree_id,
      role: r.role,
      text: r.text,
      reviewResult: r.review_result,
      consensusRank: r.consensus_rank,
      treeState: r.tree_state,
      editable: r.tree_state === "growing" || r.tree_state === "initial_prompt_review",
      createdAt: r.created_at.toISOString(),
    })),
  };
}

export interface LeaderboardRow {
  rank: number;
  userId: string;
  displayName: string;
  score: number;
  counts: ContributionCounts;
}

/**
 * The project's leaderboard for the calendar period containing `at` (UTC). Contributions count
 * in the period they were made; deleted messages do not count. A ranking "agrees" when the reply
 * its labeler put first is the consensus winner.
 */
export async function leaderboard(projectId: string, period: LeaderboardPeriod, at = new Date(), limit = 50): Promise<LeaderboardRow[]> {
  const { start, end } = periodBounds(period, at);
  const from = start?.toISOString() ?? null;
  const to = end?.toISOString() ?? null;
  const rows = await prisma.$queryRaw<Array<Record<string, number> & { user_id: string; display_name: string }>>`
    WITH msgs AS (
      SELECT author_user_id AS user_id,
        count(*) FILTER (WHERE parent_id IS NULL)::int AS prompts,
        count(*) FILTER (WHERE parent_id IS NOT NULL AND role = 'assistant')::int AS assistant_replies,
        count(*) FILTER (WHERE parent_id IS NOT NULL AND role = 'prompter')::int AS prompter_replies,
        count(*) FILTER (WHERE parent_id IS NULL AND review_result = 'accepted')::int AS accepted_prompts,
        count(*) FILTER (WHERE parent_id IS NOT NULL AND role = 'assistant' AND review_result = 'accepted')::int AS accepted_assistant_replies,
        count(*) FILTER (WHERE parent_id IS NOT NULL AND role = 'prompter' AND review_result = 'accepted')::int AS accepted_prompter_replies,
        count(*) FILTER (WHERE consensus_rank = 0)::int AS reply_ranked1,
        count(*) FILTER (WHERE consensus_rank = 1)::int AS reply_ranked2,
        count(*) FILTER (WHERE consensus_rank = 2)::int AS reply_ranked3
      FROM messages
      WHERE project_id = ${projectId}::uuid AND author_user_id IS NOT NULL AND NOT deleted
        AND (${from}::timestamp IS NULL OR created_at >= ${from}::timestamp)
        AND (${to}::timestamp IS NULL OR created_at < ${to}::timestamp)
      GROUP BY author_user_id),
    lbl AS (
      SELECT l.user_id, count(*) FILTER (WHERE NOT l.full_form)::int AS labels_simple,
             count(*) FILTER (WHERE l.full_form)::int AS labels_full
      FROM labels l JOIN messages m ON m.id = l.message_id
      WHERE m.project_id = ${projectId}::uuid
        AND (${from}::timestamp IS NULL OR l.created_at >= ${from}::timestamp)
        AND (${to}::timestamp IS NULL OR l.created_at < ${to}::timestamp)
      GROUP BY l.user_id),
    rnk AS (
      SELECT r.user_id, count(*)::int AS rankings,
             count(*) FILTER (WHERE NOT r.not_rankable AND best.consensus_rank = 0)::int AS rankings_good
      FROM rankings r JOIN messages p ON p.id = r.parent_message_id
      LEFT JOIN messages best ON best.id = (r."order" -> 0 ->> 0)::uuid
      WHERE p.project_id = ${projectId}::uuid
        AND (${from}::timestamp IS NULL OR r.created_at >= ${from}::timestamp)
        AND (${to}::timestamp IS NULL OR r.created_at < ${to}::timestamp)
      GROUP BY r.user_id),
    people AS (SELECT user_id FROM msgs UNION SELECT user_id FROM lbl UNION SELECT user_id FROM rnk)
    SELECT u.id AS user_id, u.display_name, msgs.prompts, msgs.assistant_replies, msgs.prompter_replies,
      msgs.accepted_prompts, msgs.accepted_assistant_replies, msgs.accepted_prompter_replies,
      msgs.reply_ranked1, msgs.reply_ranked2, msgs.reply_ranked3, lbl.labels_simple, lbl.labels_full, rnk.rankings, rnk.rankings_good
    FROM people JOIN users u ON u.id = people.user_id
    LEFT JOIN msgs ON msgs.user_id = u.id LEFT JOIN lbl ON lbl.user_id = u.id LEFT JOIN rnk ON rnk.user_id = u.id`;
  const scored = rows.map((r) => {
    const counts: ContributionCounts = {
      ...emptyCounts(),
      prompts: r.prompts ?? 0,
      assistantReplies: r.assistant_replies ?? 0,
      prompterReplies: r.prompter_replies ?? 0,
      labelsSimple: r.labels_simple ?? 0,
      labelsFull: r.labels_full ?? 0,
      rankings: r.rankings ?? 0,
      rankingsGood: r.rankings_good ?? 0,
      acceptedPrompts: r.accepted_prompts ?? 0,
      acceptedAssistantReplies: r.accepted_assistant_replies ?? 0,
      acceptedPrompterReplies: r.accepted_prompter_replies ?? 0,
      replyRanked1: r.reply_ranked1 ?? 0,
      replyRanked2: r.reply_ranked2 ?? 0,
      replyRanked3: r.reply_ranked3 ?? 0,
    };
    return { userId: r.user_id, displayName: r.display_name, score: leaderScore(counts), counts };
  });
  return rankLeaderboard(scored).slice(0, limit);
}
