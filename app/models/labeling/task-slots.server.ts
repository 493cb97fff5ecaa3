// The task slots the database keeps per tree (task_slots, docs/decisions/0024-task-slots.md):
// checked against the rules recomputed from scratch, repaired, and freed of lapsed holds.
import { computeNeeds } from "~/domain/tasks/needs.ts";
import type { TaskType } from "~/domain/tasks/task-types.ts";
import { TASK_TYPE_INFO } from "~/domain/tasks/task-types.ts";
import { projectConfig } from "./config.server.ts";
import { toSnapshots, treeFacts } from "./snapshot.server.ts";
import { db } from "./transaction.server.ts";

/** One slot as the draw sees it. */
export interface SlotView {
  type: TaskType;
  places: number;
  siblingIds: string[];
  /** Sorted. */
  excludedUserIds: string[];
}

export interface SlotDifference {
  treeId: string;
  messageId: string;
  kind: string;
  /** What the rules say now; null: no slot. */
  expected: SlotView | null;
  /** What task_slots holds; null: no row. */
  actual: SlotView | null;
}

export interface SlotCheck {
  trees: number;
  slots: number;
  differences: SlotDifference[];
}

/** Trees read per query while checking. */
const CHECK_BATCH = 500;
/** Differences reported at most. */
const MAX_DIFFERENCES = 200;

const same = (a: SlotView | null, b: SlotView | null) =>
  a !== null &&
  b !== null &&
  a.type === b.type &&
  a.places === b.places &&
  a.siblingIds.join() === b.siblingIds.join() &&
  a.excludedUserIds.join() === b.excludedUserIds.join();

const sortedUnique = (ids: Iterable<string | null>) => [...new Set([...ids].filter((id): id is string => id !== null))].sort();

/**
 * Recomputes every slot of the project's task-handing trees from their messages and open tasks
 * (computeNeeds for a user who did nothing) and compares them with the rows the triggers keep.
 * Holds that lapsed since their tree's last change are counted as free here and as taken in the
 * rows until the expiry sweep ends them (expireLapsedTasks); run that first for an exact match.
 */
export async function checkTaskSlots(projectId: string): Promise<SlotCheck> {
  const config = await projectConfig(projectId);
  const differences: SlotDifference[] = [];
  let trees = 0;
  let slots = 0;
  let after = "00000000-0000-0000-0000-000000000000";
  for (;;) {
    const batch = await db.$queryRaw<{ id: string }[]>`
      SELECT t.id FROM message_trees t
      WHERE t.project_id = ${projectId}::uuid AND t.state IN ('initial_prompt_review', 'growing', 'ranking') AND t.id > ${after}::uuid
      ORDER BY t.id LIMIT ${CHECK_BATCH}`;
    if (batch.length === 0) break;
    after = batch[batch.length - 1].id;
    const ids = batch.map((r) => r.id);
    trees += ids.length;

    const read = await treeFacts(db, ids, null);
    const expected = new Map<string, SlotView & { treeId: string; messageId: string; kind: string }>();
    for (const snapshot of toSnapshots(read)) {
      const messages = snapshot.messages;
      const author = new Map(messages.map((m) => [m.id, m.authorUserId]));
      for (const c of computeNeeds({ trees: [snapshot], treeCounts: {}, openPromptTasks: Number.MAX_SAFE_INTEGER }, { userId: "", tasks: [] }, config)) {
        if (!c.messageId) continue;
        const kind = TASK_TYPE_INFO[c.type].kind;
        const excluded =
          kind === "label"
            ? [author.get(c.messageId) ?? null]
            : kind === "reply"
              ? messages.filter((m) => m.parentId === c.messageId).map((m) => m.authorUserId)
              : c.siblingIds.map((id) => author.get(id) ?? null);
        expected.set(`${c.messageId}:${kind}`, {
          treeId: snapshot.id,
          messageId: c.messageId,
          kind,
          type: c.type,
          places: c.remaining,
          siblingIds: kind === "rank" ? c.siblingIds : [],
          excludedUserIds: sortedUnique(excluded),
        });
      }
    }

    const rows = await db.$queryRaw<
      { tree_id: string; message_id: string; kind: string; type: TaskType; places: number; sibling_ids: string[] | null; excluded_user_ids: string[] | null }[]
    >`
      SELECT s.tree_id, s.message_id, s.kind, s.type::text AS type, s.places, s.sibling_ids::text[] AS sibling_ids,
             s.excluded_user_ids::text[] AS excluded_user_ids
      FROM task_slots s WHERE s.tree_id = ANY(${ids}::uuid[])`;
    slots += rows.length;
    const actual = new Map(
      rows.map((r) => [
        `${r.message_id}:${r.kind}`,
        {
          treeId: r.tree_id,
          messageId: r.message_id,
          kind: r.kind,
          type: r.type,
          places: r.places,
          siblingIds: r.sibling_ids ?? [],
          excludedUserIds: sortedUnique(r.excluded_user_ids ?? []),
        },
      ]),
    );
    for (const key of new Set([...expected.keys(), ...actual.keys()])) {
      const e = expected.get(key) ?? null;
      const a = actual.get(key) ?? null;
      if (same(e, a) || differences.length >= MAX_DIFFERENCES) continue;
      const ref = (e ?? a)!;
      const view = (v: typeof e) => (v ? { type: v.type, places: v.places, siblingIds: v.siblingIds, excludedUserIds: v.excludedUserIds } : null);
      differences.push({ treeId: ref.treeId, messageId: ref.messageId, kind: ref.kind, expected: view(e), actual: view(a) });
    }
  }
  return { trees, slots, differences };
}

/** Rewrites the slots of the given trees (or of every task-handing tree of the project) from scratch. */
export async function repairTaskSlots(projectId: string, treeIds?: readonly string[]): Promise<number> {
  const ids =
    treeIds ??
    (
      await db.$queryRaw<{ id: string }[]>`
        SELECT t.id FROM message_trees t
        WHERE t.project_id = ${projectId}::uuid AND t.state IN ('initial_prompt_review', 'growing', 'ranking')`
    ).map((r) => r.id);
  for (let i = 0; i < ids.length; i += CHECK_BATCH) {
    await db.$executeRaw`SELECT refresh_task_slots_of(${ids.slice(i, i + CHECK_BATCH) as string[]}::uuid[])`;
  }
  return ids.length;
}

/**
 * Ends open tasks whose hold lapsed, in every project, which gives their places back to their
 * trees' slots (the tasks trigger refreshes them). Trees another transaction holds are left for
 * the next sweep. Returns how many tasks it ended.
 */
export async function expireLapsedTasks(limit = 1_000): Promise<number> {
  const [row] = await db.$queryRaw<{ n: number }[]>`SELECT expire_lapsed_tasks(${limit}::int) AS n`;
  return row.n;
}
