// Model replies in conversation trees: which prompter messages still want one, the
// conversation that leads to each, and inserting sampled replies without ever exceeding a
// parent's reply capacity — under the same tree lock that labelers' replies take.
import { prisma } from "~/db.server.ts";
import { Prisma } from "~/generated/prisma/client.ts";
import { parseSamplingConfig, SamplingRunConfigSchema, type SamplingParams, type SamplingRunConfig } from "~/domain/sampling/config.ts";
import { enqueue } from "~/jobs/enqueue.server.ts";
import { projectConfig } from "./labeling/config.server.ts";
import { NOW } from "./labeling/sql.server.ts";
import { textHash } from "./labeling/text.server.ts";
import { advanceTree, lockTree } from "./labeling/tree-state.server.ts";

export class SamplingError extends Error {
  constructor(message: string, readonly status = 400) {
    super(message);
  }
}

// expires_at holds UTC: compared with now() in a session whose time zone is not UTC, holds of a
// few minutes (docs/decisions/0007) would end hours early or late.
const OPEN_REPLY_TASK = Prisma.sql`t.type IN ('assistant_reply', 'prompter_reply') AND t.state IN ('assigned', 'acknowledged') AND t.expires_at > ${NOW}`;

/** Creates a sampling run row for the project's active policy, then enqueues it. */
export async function createSamplingRun(opts: {
  projectId: string;
  createdById: string | null;
  params?: Partial<SamplingParams>;
  maxParents?: number;
  seed?: number;
}) {
  const project = await prisma.project.findUniqueOrThrow({ where: { id: opts.projectId }, select: { activePolicyId: true, samplingConfig: true } });
  if (!project.activePolicyId) throw new SamplingError("The project has no active policy model: pick one first.", 409);
  const parsed = parseSamplingConfig(project.samplingConfig);
  if (!parsed.success) throw new SamplingError(`The project's sampling config is invalid: ${parsed.errors.join("; ")}`, 409);
  const base = parsed.config;
  const config = SamplingRunConfigSchema.safeParse({
    params: { ...base.params, ...opts.params },
    maxParents: opts.maxParents ?? base.maxParentsPerRun,
    modelRepliesPerParent: Math.max(1, base.modelRepliesPerParent),
    batchPrompts: base.batchPrompts,
    resampleRounds: base.resampleRounds,
    seed: opts.seed ?? Math.floor(Math.random() * 2 ** 31),
  });
  if (!config.success) throw new SamplingError(config.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  const run = await prisma.samplingRun.create({
    data: {
      projectId: opts.projectId,
      modelVersionId: project.activePolicyId,
      config: config.data as Prisma.InputJsonValue,
      createdById: opts.createdById,
    },
  });
  await enqueue("sampling", { samplingRunId: run.id });
  return run;
}

export type SamplingNeed = { parentId: string; treeId: string; missing: number };

/**
 * Prompter messages in growing trees that can still take replies and have fewer than
 * `perParent` replies from `modelVersionId`. Open reply tasks keep their slot for the labeler.
 */
export async function parentsNeedingModelReplies(projectId: string, modelVersionId: string, perParent: number, limit: number): Promise<SamplingNeed[]> {
  const config = await projectConfig(projectId);
  const rows = await prisma.$queryRaw<{ parent_id: string; tree_id: string; missing: number }[]>`
    SELECT p.id AS parent_id, p.tree_id,
      LEAST(
        ${perParent}::int - (SELECT count(*) FROM messages c WHERE c.parent_id = p.id AND NOT c.deleted AND c.model_version_id = ${modelVersionId}::uuid),
        ${config.maxChildrenPerMessage}::int
          - (SELECT count(*) FROM messages c WHERE c.parent_id = p.id AND NOT c.deleted)
          - (SELECT count(*) FROM tasks t WHERE t.message_id = p.id AND ${OPEN_REPLY_TASK})
      )::int AS missing
    FROM messages p
    JOIN message_trees tr ON tr.id = p.tree_id
    WHERE p.project_id = ${projectId}::uuid AND tr.state = 'growing'
      AND p.role = 'prompter' AND NOT p.deleted AND p.review_result = 'accepted' AND p.depth < ${config.maxDepth}::int
    ORDER BY p.created_at
    LIMIT ${limit * 4}::int`;
  return rows
    .filter((r) => r.missing > 0)
    .slice(0, limit)
    .map((r) => ({ parentId: r.parent_id, treeId: r.tree_id, missing: r.missing }));
}

export type Turn = { role: "prompter" | "assistant"; text: string };

/** The conversation from the root to `messageId`, inclusive. */
export async function conversationTo(messageId: string): Promise<Turn[]> {
  const rows = await prisma.$queryRaw<{ role: "prompter" | "assistant"; text: string }[]>`
    WITH RECURSIVE path AS (
      SELECT id, parent_id, role, text, depth FROM messages WHERE id = ${messageId}::uuid
      UNION ALL
      SELECT m.id, m.parent_id, m.role, m.text, m.depth FROM messages m JOIN path ON m.id = path.parent_id
    )
    SELECT role::text AS role, text FROM path ORDER BY depth`;
  return rows;
}

export type SampledReply = {
  text: string;
  seed: number;
  numTokens: number;
  sumLogprob: number;
  meanLogprob: number;
  finishReason: string;
};

/**
 * Inserts sampled replies under `parentId`, as many as still fit: the tree is locked (the lock
 * labelers' replies take too), capacity is re-counted, texts already among the siblings are
 * dropped, and each reply's key makes a re-run of the same run insert nothing twice.
 * Returns the number inserted, the number dropped as duplicates of existing siblings, and how
 * many more model replies the parent could still take.
 */
export async function insertModelReplies(opts: {
  runId: string;
  parentId: string;
  model: { id: string; name: string };
  params: SamplingParams;
  perParent: number;
  replies: SampledReply[];
}): Promise<{ inserted: number; duplicates: number; roomLeft: number }> {
  return prisma.$transaction(async (tx) => {
    const parent = await tx.message.findUniqueOrThrow({
      where: { id: opts.parentId },
      select: { id: true, treeId: true, projectId: true, depth: true, lang: true, deleted: true },
    });
    const tree = await lockTree(tx, parent.treeId);
    if (!tree || tree.state !== "growing" || parent.deleted) return { inserted: 0, duplicates: 0, roomLeft: 0 };
    const config = await projectConfig(parent.projectId, tx);

    const [counts] = await tx.$queryRaw<{ live: number; mine: number; open_tasks: number }[]>`
      SELECT
        (SELECT count(*) FROM messages c WHERE c.parent_id = ${parent.id}::uuid AND NOT c.deleted)::int AS live,
        (SELECT count(*) FROM messages c WHERE c.parent_id = ${parent.id}::uuid AND NOT c.deleted AND c.model_version_id = ${opts.model.id}::uuid)::int AS mine,
        (SELECT count(*) FROM tasks t WHERE t.message_id = ${parent.id}::uuid AND ${OPEN_REPLY_TASK})::int AS open_tasks`;
    let room = Math.min(opts.perParent - counts.mine, config.maxChildrenPerMessage - counts.live - counts.open_tasks);
    if (room <= 0) return { inserted: 0, duplicates: 0, roomLeft: 0 };

    const siblings = await tx.message.findMany({ where: { parentId: parent.id, deleted: false }, select: { textHash: true } });
    const seen = new Set(siblings.map((s) => s.textHash));
    let inserted = 0;
    let duplicates = 0;
    for (const reply of opts.replies) {
      if (room <= 0) break;
      const text = reply.text.trim();
      if (!text) continue;
      const hash = textHash(text);
      if (seen.has(hash)) {
        duplicates++;
        continue;
      }
      const created = await tx.$executeRaw`
        INSERT INTO messages (id, tree_id, project_id, parent_id, depth, role, text, lang, model_version_id, synthetic,
          model_name, sampling_params, seed, logprobs, sampling_run_id, text_hash, import_key, created_at, updated_at)
        VALUES (gen_random_uuid(), ${parent.treeId}::uuid, ${parent.projectId}::uuid, ${parent.id}::uuid, ${parent.depth + 1}::int,
          'assistant', ${text}, ${parent.lang}, ${opts.model.id}::uuid, true, ${opts.model.name},
          ${JSON.stringify(opts.params)}::jsonb, ${BigInt(reply.seed)}, ${JSON.stringify({
            num_tokens: reply.numTokens,
            sum_logprob: reply.sumLogprob,
            mean_logprob: reply.meanLogprob,
            finish_reason: reply.finishReason,
          })}::jsonb, ${opts.runId}::uuid, ${hash}, ${`sample:${opts.runId}:${parent.id}:${reply.seed}`}, now(), now())
        ON CONFLICT (import_key) DO NOTHING`;
      if (created === 0) continue;
      seen.add(hash);
      inserted++;
      room--;
    }
    if (inserted > 0) {
      await tx.$executeRaw`UPDATE messages SET children_count = children_count + ${inserted}::int WHERE id = ${parent.id}::uuid`;
      await advanceTree(tx, tree, config);
    }
    return { inserted, duplicates, roomLeft: room };
  });
}

export function runConfig(json: unknown): SamplingRunConfig {
  return SamplingRunConfigSchema.parse(json);
}

/**
 * For every project with automatic sampling on and an active policy: if trees want model
 * replies and no run is queued or running, start one. The project row lock makes concurrent
 * schedulers (several worker processes) start at most one run per project.
 */
export async function scheduleSamplingRuns(): Promise<string[]> {
  const projects = await prisma.project.findMany({
    where: { archived: false, activePolicyId: { not: null } },
    select: { id: true, activePolicyId: true, samplingConfig: true },
  });
  const started: string[] = [];
  for (const p of projects) {
    const parsed = parseSamplingConfig(p.samplingConfig);
    if (!parsed.success || !parsed.config.enabled || parsed.config.modelRepliesPerParent === 0) continue;
    const needs = await parentsNeedingModelReplies(p.id, p.activePolicyId!, parsed.config.modelRepliesPerParent, 1);
    if (needs.length === 0) continue;
    const runId = await prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT id FROM projects WHERE id = ${p.id}::uuid FOR UPDATE`;
      const busy = await tx.samplingRun.count({ where: { projectId: p.id, status: { in: ["queued", "running"] } } });
      if (busy > 0) return null;
      const run = await tx.samplingRun.create({
        data: {
          projectId: p.id,
          modelVersionId: p.activePolicyId!,
          config: {
            params: parsed.config.params,
            maxParents: parsed.config.maxParentsPerRun,
            modelRepliesPerParent: parsed.config.modelRepliesPerParent,
            batchPrompts: parsed.config.batchPrompts,
            resampleRounds: parsed.config.resampleRounds,
            seed: Math.floor(Math.random() * 2 ** 31),
          } satisfies SamplingRunConfig,
        },
      });
      return run.id;
    });
    if (runId) {
      await enqueue("sampling", { samplingRunId: runId });
      started.push(runId);
    }
  }
  return started;
}

export async function updateSamplingConfig(projectId: string, json: unknown) {
  const parsed = parseSamplingConfig(json);
  if (!parsed.success) throw new SamplingError(parsed.errors.join("; "));
  await prisma.project.update({ where: { id: projectId }, data: { samplingConfig: parsed.config as Prisma.InputJsonValue } });
  return parsed.config;
}

export async function recentSamplingRuns(projectId: string, take = 20) {
  const runs = await prisma.samplingRun.findMany({
    where: { projectId },
    orderBy: { createdAt: "desc" },
    take,
    include: { modelVersion: { select: { name: true } } },
  });
  return runs.map((r) => ({
    id: r.id,
    model: r.modelVersion.name,
    status: r.status,
    progress: r.progress,
    metrics: r.metrics as Record<string, unknown>,
    error: r.error,
    createdAt: r.createdAt.toISOString(),
    finishedAt: r.finishedAt?.toISOString() ?? null,
  }));
}
