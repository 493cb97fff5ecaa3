// Ranking tasks: every labeler's raw ranking is kept; when a sibling set has its rankings the
// consensus is computed and stored, and the tree moves on when all its sets are done.
import { siblingSets } from "~/domain/trees/tree-facts.ts";
import { projectConfig } from "./config.server.ts";
import { scoreSiblingSet } from "./consensus.server.ts";
import { badInput, conflict } from "./errors.server.ts";
import { checkRankingOrder } from "./ranking-order.ts";
import { treeFacts } from "./snapshot.server.ts";
import { completeTask, ownTask, withOpenTask, type TaskRef } from "./tasks.server.ts";
import { advanceTree } from "./tree-state.server.ts";
import { NOW } from "./sql.server.ts";

export interface RankingInput {
  /** Groups of sibling ids, best first (ties: groups of several, where allowed). */
  order?: unknown;
  /** All replies are bad: no order is taken. */
  notRankable?: boolean;
  /** Optional report that goes with "not rankable". */
  report?: string | null;
}

const MAX_REPORT = 2000;

export async function submitRanking(
  projectId: string,
  /** The task id, or the task already read with getOwnTask. */
  taskId: TaskRef,
  userId: string,
  input: RankingInput,
): Promise<{ setComplete: boolean }> {
  const config = await projectConfig(projectId);
  const task = await ownTask(projectId, taskId, userId);
  let order: string[][] = [];
  if (!input.notRankable) {
    const checked = checkRankingOrder(input.order, task.siblingIds, config.tiesAllowed);
    if (!checked.ok) throw badInput(checked.message, { order: checked.message });
    order = checked.order;
  }
  const report = (input.report ?? "").trim();
  if (report.length > MAX_REPORT) throw badInput(`The report is longer than ${MAX_REPORT} characters.`, { report: "too long" });

  return withOpenTask(task, ["rank"], {}, async (tx, t, tree) => {
    const parentId = t.messageId!;
    const inserted = await tx.$queryRaw<Array<{ id: string }>>`
      INSERT INTO rankings (id, parent_message_id, user_id, task_id, "order", not_rankable, created_at)
      VALUES (gen_random_uuid(), ${parentId}::uuid, ${userId}::uuid, ${t.id}::uuid, ${JSON.stringify(order)}::jsonb,
              ${!!input.notRankable}, ${NOW})
      ON CONFLICT (parent_message_id, user_id) DO NOTHING RETURNING id`;
    if (inserted.length === 0) throw conflict("You already ranked these replies.");
    await tx.$executeRaw`
      UPDATE messages SET ranking_count = ranking_count + 1 WHERE id = ANY(${t.siblingIds}::uuid[])`;
    if (input.notRankable && report) {
      await tx.$executeRaw`
        INSERT INTO reports (id, message_id, user_id, reason, text, created_at)
        VALUES (gen_random_uuid(), ${parentId}::uuid, ${userId}::uuid, 'not_rankable', ${report}, ${NOW})
        ON CONFLICT (message_id, user_id, reason) DO NOTHING`;
    }
    await completeTask(tx, t.id);

    const messages = (await treeFacts(tx, [tree!.id], null)).facts.get(tree!.id) ?? [];
    const set = siblingSets(messages, config).find((s) => s.parentId === parentId);
    const setComplete = !!set && set.completedRankings >= config.rankingsPerSiblingSet;
    if (setComplete) {
      await scoreSiblingSet(tx, tree!.id, set.parentId, set.childIds);
      await advanceTree(tx, tree!, config);
    }
    return { setComplete };
  });
}
