// A project's parsed workflow config and ranking order, cached per process. Edits through the admin
// service invalidate the cache at once; edits made by another process show within CONFIG_TTL_MS.
import { parseWorkflowConfig, type WorkflowConfig } from "~/domain/projects/workflow.ts";
import type { RankingOrder } from "~/domain/tasks/ranking-priority.ts";
import { LabelingError, notFound } from "./errors.server.ts";
import { db as pool, type SqlDb } from "./transaction.server.ts";

export type Db = Pick<SqlDb, "$queryRaw">;

/** Every task request and submission reads the config: re-reading the row each time would be a
 *  query per call for a value that changes a few times in a project's life. */
const CONFIG_TTL_MS = 2_000;

type Entry = { readAt: number; updatedAt: number; config: WorkflowConfig; rankingOrder: RankingOrder };

const cache = new Map<string, Entry>();

async function projectEntry(projectId: string, db: Db): Promise<Entry> {
  const hit = cache.get(projectId);
  if (hit && Date.now() - hit.readAt < CONFIG_TTL_MS) return hit;
  const rows = await db.$queryRaw<
    { updated_at: Date; workflow_config: unknown; ranking_order: "random" | "uncertainty"; rm: string | null; rm2: string | null }[]
  >`
    SELECT updated_at, workflow_config, ranking_order::text AS ranking_order,
           ranking_reward_model_id::text AS rm, ranking_second_reward_model_id::text AS rm2
    FROM projects WHERE id = ${projectId}::uuid`;
  if (rows.length === 0) throw notFound("No such project.");
  const row = rows[0];
  const updatedAt = row.updated_at.getTime();
  // A reward model deleted from the registry leaves no model to order by: the draw's own order.
  const rankingOrder: RankingOrder =
    row.ranking_order === "uncertainty" && row.rm
      ? { mode: "uncertainty", rewardModelId: row.rm, secondRewardModelId: row.rm2 }
      : { mode: "random", rewardModelId: null, secondRewardModelId: null };
  if (hit && hit.updatedAt === updatedAt) {
    hit.readAt = Date.now();
    hit.rankingOrder = rankingOrder;
    return hit;
  }
  const parsed = parseWorkflowConfig(row.workflow_config);
  if (!parsed.success) {
    // Stored configs are validated on write; this only happens after a hand edit of the row.
    throw new LabelingError("conflict", "The project's workflow config is invalid; a manager must fix it.");
  }
  const entry = { readAt: Date.now(), updatedAt, config: parsed.config, rankingOrder };
  cache.set(projectId, entry);
  return entry;
}

/** The project's workflow config. */
export async function projectConfig(projectId: string, db: Db = pool): Promise<WorkflowConfig> {
  return (await projectEntry(projectId, db)).config;
}

/** How the project's sibling sets are offered for ranking (docs/decisions/0018). */
export async function projectRankingOrder(projectId: string, db: Db = pool): Promise<RankingOrder> {
  return (await projectEntry(projectId, db)).rankingOrder;
}

/** Drops the cached config after a write in this process. */
export function forgetProjectConfig(projectId: string): void {
  cache.delete(projectId);
}
