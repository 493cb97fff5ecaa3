// SQL snapshots of trees for the task rules: messages with their open-task counts, and what one
// user already did or holds about each message.
import { Prisma } from "~/generated/prisma/client.ts";
import type { TreeSnapshot, UserContext, UserTaskRef } from "~/domain/tasks/needs.ts";
import { isTaskType } from "~/domain/tasks/task-types.ts";
import type { TreeState } from "~/domain/trees/enums.ts";
import type { TreeMessageFacts } from "~/domain/trees/tree-facts.ts";
import type { Db } from "./config.server.ts";
import { OPEN_TASK, sqlTypes } from "./sql.server.ts";

type FactRow = {
  tree_id: string;
  tree_state: TreeState;
  tree_project_id: string;
  tree_state_before_halt: TreeState | null;
  tree_lang: string;
  id: string;
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

export interface SnapshotTree {
  id: string;
  projectId: string;
  state: TreeState;
  stateBeforeHalt: TreeState | null;
  lang: string;
}

export interface TreeFactsResult {
  /** The trees read, in the order the source gave them. */
  trees: SnapshotTree[];
  /** Tree id → its messages as the rules read them. */
  facts: Map<string, TreeMessageFacts[]>;
  /** The user's past and open work on these trees (empty without a user). */
  user: UserContext;
}

/**
 * Messages of the trees `source` selects (a SELECT of message_trees rows aliased "t"), with counts
 * of open label / reply / rank tasks about each message and, for `userId`, the tasks they did,
 * skipped or hold, the messages in review they labeled and, in trees in ranking, the parents
 * whose replies they ranked.
 */
async function factsOf(db: Db, source: Prisma.Sql, userId: string | null): Promise<TreeFactsResult> {
  // A variant per case rather than `$user IS NOT NULL AND …`: a generic plan cannot fold that
  // test, which kept its estimate above the custom plans' and the statement planned anew each time.
  // Labels matter only on messages in review and rankings only in trees in ranking: the rules
  // look at no others. OFFSET 0 keeps each EXISTS a probe of the unique index; hashed instead,
  // it scanned the whole table on every draw.
  const myLabel = userId
    ? Prisma.sql`m.review_result = 'pending' AND EXISTS (
        SELECT 1 FROM labels l WHERE l.message_id = m.id AND l.user_id = ${userId}::uuid OFFSET 0)`
    : Prisma.sql`false`;
  const myRanking = userId
    ? Prisma.sql`tr.state = 'ranking' AND EXISTS (
        SELECT 1 FROM rankings r WHERE r.parent_message_id = m.id AND r.user_id = ${userId}::uuid OFFSET 0)`
    : Prisma.sql`false`;
  // Tasks are read per tree from the (tree_id, state, assignee_id) index, whose entries answer
  // both questions without visiting the rows of the tree's finished tasks: the open ones (by
  // state), and the user's own (by assignee). A variant per case rather than `$user IS NOT NULL
  // AND …`: a generic plan cannot fold that test, which kept its estimate above the custom
  // plans' and the statement planned anew each time.
  const mine = userId
    ? Prisma.sql`, mine AS (
        SELECT k.message_id, array_agg(k.type::text) AS my_types
        FROM trees tr JOIN tasks k ON k.tree_id = tr.id
        WHERE k.assignee_id = ${userId}::uuid AND (k.state IN ('done', 'skipped') OR (${OPEN_TASK}))
        GROUP BY k.message_id)`
    : Prisma.empty;
  const myTypes = userId ? Prisma.sql`y.my_types` : Prisma.sql`NULL::text[]`;
  const joinMine = userId ? Prisma.sql`LEFT JOIN mine y ON y.message_id = m.id` : Prisma.empty;
  // Messages in one order on every path (replies sampled together share created_at): the rules
  // hand a tree's last reply places to parents in this order.
  const rows = await db.$queryRaw<FactRow[]>`
    WITH trees AS (${source}),
    open AS (
      SELECT k.message_id,
             count(*) FILTER (WHERE k.type IN ${sqlTypes("label")}) AS open_label,
             count(*) FILTER (WHERE k.type IN ${sqlTypes("reply")}) AS open_reply,
             count(*) FILTER (WHERE k.type IN ${sqlTypes("rank")}) AS open_rank
      FROM trees tr JOIN tasks k ON k.tree_id = tr.id
      WHERE ${OPEN_TASK}
      GROUP BY k.message_id)
    ${mine}
    SELECT tr.id AS tree_id, tr.state::text AS tree_state, tr.project_id AS tree_project_id,
           tr.state_before_halt::text AS tree_state_before_halt, tr.lang AS tree_lang,
           m.id, m.parent_id, m.role::text AS role, m.depth, m.author_user_id, m.deleted,
           m.review_result::text AS review_result, m.review_count, m.ranking_count,
           COALESCE(o.open_label, 0)::int AS open_label, COALESCE(o.open_reply, 0)::int AS open_reply,
           COALESCE(o.open_rank, 0)::int AS open_rank, ${myTypes} AS my_types,
           ${myLabel} AS my_label, ${myRanking} AS my_ranking
    FROM trees tr
    JOIN messages m ON m.tree_id = tr.id
    LEFT JOIN open o ON o.message_id = m.id
    ${joinMine}
    ORDER BY m.depth, m.created_at, m.id`;

  const trees = new Map<string, SnapshotTree>();
  const facts = new Map<string, TreeMessageFacts[]>();
  const tasks: UserTaskRef[] = [];
  const labeled: string[] = [];
  const ranked: string[] = [];
  for (const r of rows) {
    if (!trees.has(r.tree_id)) {
      trees.set(r.tree_id, {
        id: r.tree_id,
        projectId: r.tree_project_id,
        state: r.tree_state,
        stateBeforeHalt: r.tree_state_before_halt,
        lang: r.tree_lang,
      });
    }
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
  return {
    trees: [...trees.values()],
    facts,
    user: { userId: userId ?? "", tasks, labeledMessageIds: labeled, rankedParentIds: ranked },
  };
}

const TREE_COLUMNS = Prisma.sql`t.id, t.project_id, t.state, t.state_before_halt, t.lang`;

/** Facts of the given trees. */
export function treeFacts(db: Db, treeIds: readonly string[], userId: string | null): Promise<TreeFactsResult> {
  // One tree (the hot paths) by equality: a generic plan assumes an array holds ten.
  const match =
    treeIds.length === 1 ? Prisma.sql`t.id = ${treeIds[0]}::uuid` : Prisma.sql`t.id = ANY(${treeIds as string[]}::uuid[])`;
  return factsOf(db, Prisma.sql`SELECT ${TREE_COLUMNS} FROM message_trees t WHERE ${match}`, userId);
}

/** Trees per state and initial-prompt tasks out, for how many new prompts the project takes,
 *  and how many of those tasks `userId` holds (one at a time). */
export async function promptCounts(
  db: Db,
  projectId: string,
  userId: string | null = null,
): Promise<{ treeCounts: Partial<Record<TreeState, number>>; openPromptTasks: number; heldByUser: number }> {
  const rows = await db.$queryRaw<Array<{ key: string; n: number }>>`
    SELECT t.state::text AS key, count(*)::int AS n FROM message_trees t
    WHERE t.project_id = ${projectId}::uuid
      AND t.state IN ('growing', 'initial_prompt_review', 'prompt_lottery_waiting')
    GROUP BY t.state
    UNION ALL
    SELECT 'open_prompt_tasks', count(*)::int FROM tasks k
    WHERE k.project_id = ${projectId}::uuid AND k.type = 'initial_prompt' AND ${OPEN_TASK}
    UNION ALL
    SELECT 'held_by_user', count(*)::int FROM tasks k
    WHERE k.assignee_id = ${userId}::uuid AND k.project_id = ${projectId}::uuid AND k.type = 'initial_prompt' AND ${OPEN_TASK}`;
  const treeCounts: Partial<Record<TreeState, number>> = {};
  let openPromptTasks = 0;
  let heldByUser = 0;
  for (const r of rows) {
    if (r.key === "open_prompt_tasks") openPromptTasks = r.n;
    else if (r.key === "held_by_user") heldByUser = r.n;
    else treeCounts[r.key as TreeState] = r.n;
  }
  return { treeCounts, openPromptTasks, heldByUser };
}

/** Snapshots of the read trees for computeNeeds. */
export function toSnapshots(result: Pick<TreeFactsResult, "trees" | "facts">): TreeSnapshot[] {
  return result.trees.map((t) => ({ id: t.id, state: t.state, messages: result.facts.get(t.id) ?? [] }));
}
