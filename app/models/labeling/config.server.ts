// A project's parsed workflow config, cached per process. Edits through the admin service
// invalidate the cache at once; edits made by another process show within CONFIG_TTL_MS.
import { parseWorkflowConfig, type WorkflowConfig } from "~/domain/projects/workflow.ts";
import { LabelingError, notFound } from "./errors.server.ts";
import { db as pool, type SqlDb } from "./transaction.server.ts";

export type Db = Pick<SqlDb, "$queryRaw">;

/** Every task request and submission reads the config: re-reading the row each time would be a
 *  query per call for a value that changes a few times in a project's life. */
const CONFIG_TTL_MS = 2_000;

const cache = new Map<string, { readAt: number; updatedAt: number; config: WorkflowConfig }>();

/** The project's workflow config. */
export async function projectConfig(projectId: string, db: Db = pool): Promise<WorkflowConfig> {
  const hit = cache.get(projectId);
  if (hit && Date.now() - hit.readAt < CONFIG_TTL_MS) return hit.config;
  const rows = await db.$queryRaw<{ updated_at: Date; workflow_config: unknown }[]>`
    SELECT updated_at, workflow_config FROM projects WHERE id = ${projectId}::uuid`;
  if (rows.length === 0) throw notFound("No such project.");
  const updatedAt = rows[0].updated_at.getTime();
  if (hit && hit.updatedAt === updatedAt) {
    hit.readAt = Date.now();
    return hit.config;
  }
  const parsed = parseWorkflowConfig(rows[0].workflow_config);
  if (!parsed.success) {
    // Stored configs are validated on write; this only happens after a hand edit of the row.
    throw new LabelingError("conflict", "The project's workflow config is invalid; a manager must fix it.");
  }
  cache.set(projectId, { readAt: Date.now(), updatedAt, config: parsed.config });
  return parsed.config;
}

/** Drops the cached config after a write in this process. */
export function forgetProjectConfig(projectId: string): void {
  cache.delete(projectId);
}
