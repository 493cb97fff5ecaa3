// Cheap SQL snapshots of trees for the task rules: messages with their open-task counts, and
// what one user already did or holds about each message, in one query.
import { Prisma } from "~/generated/prisma/client.ts";
import type { WorkflowConfig } from "~/domain/projects/workflow.ts";
import type { TreeSnapshot, UserContext, UserTaskRef } from "~/domain/tasks/needs.ts";
import { isTaskType } from "~/domain/tasks/task-types.ts";
import type { TreeState } from "~/domain/trees/enums.ts";
import type { TreeMessageFacts } from "~/domain/trees/tree-facts.ts";
import type { Db } from "./config.server.ts";
import { OPEN_TASK, sqlTypes } from "./sql.server.ts";

type FactRow = {
  id: string;
  tree_id: string;
  parent_id: string | null;
  role: "prompter" | "assistant";
  depth: number;
  author_user_id: string | null;
  deleted: boolean;
  review_result: "pending" | "accepted" | "rejected";
  review_count: number;
  ranking_count: number;
  open_label: number;
  open_reply: number;
  open_rank: number;
  my_types: string[] | null;
  my_label: boolean;
  my_ranking: boolean;
};

export interface TreeFactsResult {
  /** Tree id → its messages as the rules read them. */
  facts: Map<string, TreeMessageFacts[]>;
  /** The user's past and open work on these trees (empty without a user). */
  user: UserContext;
}

/**
 * Messages of the given trees with counts of open label / reply / rank tasks about each, and,
 * for `userId`, the tasks they did, skipped or hold, the messages they labeled and the parents
 * whose replies they ranked.
 */
export async function treeFacts(db: Db, treeIds: readonly string[], userId: string | null): Promise<TreeFactsResult> {
  const user: UserContext = { userId: userId ?? "", tasks: [], labeledMessageIds: [], rankedParentIds: [] };
  const facts = new Map<string, TreeMessageFacts[]>();
  if (treeIds.length === 0) return { facts, user };
  const rows = await db.$queryRaw<FactRow[]>`
    SELECT m.id, m.tree_id, m.parent_id, m.role::text AS role, m.depth, m.author_user_id, m.deleted,
           m.review_result::text AS review_result, m.review_count, m.ranking_count,
           COALESCE(o.open_label, 0)::int AS open_label, COALESCE(o.open_reply, 0)::int AS open_reply,
           COALESCE(o.open_rank, 0)::int AS open_rank, o.my_types,
           (${userId}::uuid IS NOT NULL AND EXISTS (
             SELECT 1 FROM labels l WHERE l.message_id = m.id AND l.user_id = ${userId}::uuid)) AS my_label,
           (${userId}::uuid IS NOT NULL AND EXISTS (
             SELECT 1 FROM rankings r WHERE r.parent_message_id = m.id AND r.user_id = ${userId}::uuid)) AS my_ranking
    FROM messages m
    LEFT JOIN LATERAL (
      SELECT count(*) FILTER (WHERE ${OPEN_TASK} AND k.type IN ${sqlTypes("label")}) AS open_label,
             count(*) FILTER (WHERE ${OPEN_TASK} AND k.type IN ${sqlTypes("reply")}) AS open_reply,
             count(*) FILTER (WHERE ${OPEN_TASK} AND k.type IN ${sqlTypes("rank")}) AS open_rank,
             array_agg(k.type::text) FILTER (WHERE k.assignee_id = ${userId}::uuid
               AND (k.state IN ('done', 'skipped') OR (${OPEN_TASK}))) AS my_types
      FROM tasks k WHERE k.message_id = m.id
    ) o ON true
    WHERE m.tree_id = ANY(${treeIds as string[]}::uuid[])
    ORDER BY m.depth, m.created_at`;

  const tasks: UserTaskRef[] = [];
  const labeled: string[] = [];
  const ranked: string[] = [];
  for (const r of rows) {
    const list = facts.get(r.tree_id) ?? [];
    list.push({
      id: r.id,
      parentId: r.parent_id,
      role: r.role,
      depth: r.depth,
      authorUserId: r.author_user_id,
      deleted: r.deleted,
      reviewResult: r.review_result,
      reviewCount: r.review_count,
      rankingCount: r.ranking_count,
      openLabelTasks: r.open_label,
      openReplyTasks: r.open_reply,
      openRankTasks: r.open_rank,
    });
    facts.set(r.tree_id, list);
    for (const t of r.my_types ?? []) if (isTaskType(t)) tasks.push({ type: t, messageId: r.id });
    if (r.my_label) labeled.push(r.id);
    if (r.my_ranking) ranked.push(r.id);
  }
  return { facts, user: { userId: userId ?? "", tasks, labeledMessageIds: labeled, rankedParentIds: ranked } };
}

export interface CandidateTreeQuery {
  projectId: string;
  userId: string;
  lang: string | null;
  /** Tree states to look in (initial_prompt_review, growing, ranking). */
  states: ReadonlySet<TreeState>;
  /** Trees per state at most; the oldest that still need something from this user. */
  perState: number;
  config: Pick<WorkflowConfig, "reviewsPerPrompt" | "rankingsPerSiblingSet" | "rankPrompterReplies">;
}

/**
 * Ids and states of the trees worth a closer look for this user: growing trees (few: the
 * project caps them), and the oldest trees in review or ranking that plausibly still need this
 * user's work. The filter is a superset check; computeNeeds applies the exact rules.
 */
export async function candidateTrees(db: Db, q: CandidateTreeQuery): Promise<Array<{ id: string; state: TreeState }>> {
  const lang = q.lang ? Prisma.sql`AND t.lang = ${q.lang}` : Prisma.empty;
  const parts: Prisma.Sql[] = [];
  if (q.states.has("growing")) {
    parts.push(Prisma.sql`(SELECT t.id, 'growing' AS state FROM message_trees t
      WHERE t.project_id = ${q.projectId}::uuid AND t.state = 'growing' ${lang}
      ORDER BY t.state_changed_at LIMIT ${Math.max(q.perState, 50)})`);
  }
  if (q.states.has("initial_prompt_review")) {
    parts.push(Prisma.sql`(SELECT t.id, 'initial_prompt_review' AS state FROM message_trees t
      JOIN messages r ON r.tree_id = t.id AND r.parent_id IS NULL
      WHERE t.project_id = ${q.projectId}::uuid AND t.state = 'initial_prompt_review' ${lang}
        AND NOT r.deleted AND r.review_result = 'pending'
        AND r.author_user_id IS DISTINCT FROM ${q.userId}::uuid
        AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.message_id = r.id AND l.user_id = ${q.userId}::uuid)
        AND NOT EXISTS (SELECT 1 FROM tasks k WHERE k.message_id = r.id AND k.assignee_id = ${q.userId}::uuid
          AND k.type = 'label_initial_prompt' AND (k.state IN ('done', 'skipped') OR (${OPEN_TASK})))
        AND r.review_count + (SELECT count(*) FROM tasks k WHERE k.message_id = r.id
          AND k.type = 'label_initial_prompt' AND ${OPEN_TASK}) < ${q.config.reviewsPerPrompt}
      ORDER BY t.state_changed_at LIMIT ${q.perState})`);
  }
  if (q.states.has("ranking")) {
    const parentRole = q.config.rankPrompterReplies ? Prisma.empty : Prisma.sql`AND p.role = 'prompter'`;
    parts.push(Prisma.sql`(SELECT t.id, 'ranking' AS state FROM message_trees t
      WHERE t.project_id = ${q.projectId}::uuid AND t.state = 'ranking' ${lang}
        AND EXISTS (
          SELECT 1 FROM messages p
          JOIN LATERAL (
            SELECT count(*) AS n, min(c.ranking_count) AS least,
                   bool_or(c.author_user_id = ${q.userId}::uuid) AS mine
            FROM messages c WHERE c.parent_id = p.id AND NOT c.deleted AND c.review_result = 'accepted'
          ) s ON true
          WHERE p.tree_id = t.id AND NOT p.deleted ${parentRole}
            AND s.n >= 2 AND NOT COALESCE(s.mine, false)
            AND NOT EXISTS (SELECT 1 FROM rankings x WHERE x.parent_message_id = p.id AND x.user_id = ${q.userId}::uuid)
            AND NOT EXISTS (SELECT 1 FROM tasks k WHERE k.message_id = p.id AND k.assignee_id = ${q.userId}::uuid
              AND k.type IN ${sqlTypes("rank")} AND (k.state IN ('done', 'skipped') OR (${OPEN_TASK})))
            AND s.least + (SELECT count(*) FROM tasks k WHERE k.message_id = p.id
              AND k.type IN ${sqlTypes("rank")} AND ${OPEN_TASK}) < ${q.config.rankingsPerSiblingSet})
      ORDER BY t.state_changed_at LIMIT ${q.perState})`);
  }
  if (parts.length === 0) return [];
  return db.$queryRaw<Array<{ id: string; state: TreeState }>>`${Prisma.join(parts, " UNION ALL ")}`;
}

/** Trees per state and initial-prompt tasks out, for how many new prompts the project takes. */
export async function promptCounts(
  db: Db,
  projectId: string,
): Promise<{ treeCounts: Partial<Record<TreeState, number>>; openPromptTasks: number }> {
  const rows = await db.$queryRaw<Array<{ key: string; n: number }>>`
    SELECT t.state::text AS key, count(*)::int AS n FROM message_trees t
    WHERE t.project_id = ${projectId}::uuid
      AND t.state IN ('growing', 'initial_prompt_review', 'prompt_lottery_waiting')
    GROUP BY t.state
    UNION ALL
    SELECT 'open_prompt_tasks', count(*)::int FROM tasks k
    WHERE k.project_id = ${projectId}::uuid AND k.type = 'initial_prompt' AND ${OPEN_TASK}`;
  const treeCounts: Partial<Record<TreeState, number>> = {};
  let openPromptTasks = 0;
  for (const r of rows) {
    if (r.key === "open_prompt_tasks") openPromptTasks = r.n;
    else treeCounts[r.key as TreeState] = r.n;
  }
  return { treeCounts, openPromptTasks };
}

/** Snapshots of the given trees for computeNeeds. */
export function toSnapshots(trees: ReadonlyArray<{ id: string; state: TreeState }>, facts: Map<string, TreeMessageFacts[]>): TreeSnapshot[] {
  return trees.map((t) => ({ id: t.id, state: t.state, messages: facts.get(t.id) ?? [] }));
}
