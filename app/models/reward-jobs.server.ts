// A reward model's work, started from the project or the model page: scoring a project's replies
// (stored per message and model version, shown on the tree page) and evaluating it on an export
// snapshot. The row is written first, then its job on the `reward` queue; a worker runs it.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { prisma } from "~/db.server.ts";
import { enqueue } from "~/jobs/enqueue.server.ts";
import { EXPORT_READERS } from "../../training/reward/data.ts";
import type { RewardEvaluation } from "../../training/reward/evaluate.ts";

export class RewardJobError extends Error {
  constructor(message: string, readonly status = 400) {
    super(message);
  }
}

/** Export formats a reward model can be evaluated on. */
export const PREFERENCE_EXPORT_FORMATS = Object.keys(EXPORT_READERS);

function tokenizerDigest(dir: string): string | null {
  const file = path.join(dir, "tokenizer.json");
  return fs.existsSync(file) ? createHash("sha256").update(fs.readFileSync(file)).digest("hex") : null;
}

async function readyRewardModel(modelVersionId: string) {
  const model = await prisma.modelVersion.findUnique({ where: { id: modelVersionId } });
  if (!model) throw new RewardJobError("No such model.", 404);
  if (model.kind !== "reward") throw new RewardJobError(`${model.name} is a ${model.kind} model; scores and evaluations need a reward model.`);
  if (model.status !== "ready") throw new RewardJobError(`${model.name} is archived.`);
  if (!tokenizerDigest(model.path)) throw new RewardJobError(`${model.name} has no tokenizer.json in ${model.path}.`);
  return model;
}

/**
 * Scores every reply of the project's trees with a reward model. Refused when the reward model's
 * tokenizer differs from that of a model whose replies are in the project or of its active policy:
 * its scores would be read on other tokens than those models produce (and PPO trains on).
 */
export async function startRewardScoring(projectId: string, modelVersionId: string, createdById: string | null) {
  const model = await rewardModelForProject(projectId, modelVersionId);
  const row = await prisma.rewardJob.create({ data: { kind: "score", modelVersionId: model.id, projectId, createdById } });
  await enqueue("reward", { rewardJobId: row.id });
  return row;
}

/** The ready reward model if it can score this project's replies (see startRewardScoring), or a RewardJobError that says why not. */
export async function rewardModelForProject(projectId: string, modelVersionId: string) {
  const model = await readyRewardModel(modelVersionId);
  const project = await prisma.project.findUnique({ where: { id: projectId }, select: { activePolicyId: true } });
  if (!project) throw new RewardJobError("No such project.", 404);
  const authors = await prisma.$queryRaw<{ id: string }[]>`
    SELECT DISTINCT model_version_id::text AS id FROM messages WHERE project_id = ${projectId}::uuid AND model_version_id IS NOT NULL`;
  const policyIds = [...new Set([...authors.map((a) => a.id), ...(project.activePolicyId ? [project.activePolicyId] : [])])];
  const digest = tokenizerDigest(model.path);
  for (const policy of await prisma.modelVersion.findMany({ where: { id: { in: policyIds } }, select: { name: true, path: true } })) {
    const other = tokenizerDigest(policy.path);
    if (other && other !== digest)
      throw new RewardJobError(`${model.name}'s tokenizer differs from ${policy.name}'s, whose replies this project holds or samples; score with a reward model trained on ${policy.name}'s tokenizer.`);
  }
  return model;
}

/** Evaluates a reward model on a finished kway or pairwise export snapshot (its validation split when it has one). */
export async function startRewardEvaluation(modelVersionId: string, exportId: string, createdById: string) {
  const model = await readyRewardModel(modelVersionId);
  const snapshot = await prisma.datasetExport.findUnique({ where: { id: exportId }, select: { id: true, format: true, status: true, deletedAt: true } });
  if (!snapshot) throw new RewardJobError("No such export snapshot.", 404);
  if (!PREFERENCE_EXPORT_FORMATS.includes(snapshot.format))
    throw new RewardJobError(`Export ${snapshot.id} is ${snapshot.format}; a reward model is evaluated on ${PREFERENCE_EXPORT_FORMATS.join(", ")}.`);
  if (snapshot.status !== "succeeded" || snapshot.deletedAt) throw new RewardJobError(`Export ${snapshot.id} has no files (it is ${snapshot.deletedAt ? "deleted" : snapshot.status}).`);
  const row = await prisma.rewardJob.create({ data: { kind: "evaluate", modelVersionId: model.id, exportId: snapshot.id, createdById } });
  await enqueue("reward", { rewardJobId: row.id });
  return row;
}

export type SnapshotEvaluation = RewardEvaluation & { split: "validation" | "train"; sets: number; skipped: Record<string, number>; format: string };
export type ProjectScoring = { replies: number; scored: number; overLength: number; orphaned: number; maxLength: number; tokens: number; seconds: number };

/** A reward model's jobs, newest first. */
export async function listRewardJobs(modelVersionId: string) {
  const rows = await prisma.rewardJob.findMany({
    where: { modelVersionId },
    orderBy: { createdAt: "desc" },
    take: 50,
    include: { project: { select: { slug: true, name: true } }, export: { select: { id: true, format: true, createdAt: true } }, createdBy: { select: { displayName: true } } },
  });
  return rows.map((r) => ({
    ...r,
    evaluation: r.kind === "evaluate" ? (r.result as unknown as SnapshotEvaluation | null) : null,
    scoring: r.kind === "score" ? (r.result as unknown as ProjectScoring | null) : null,
  }));
}

export async function latestProjectScoring(projectId: string) {
  const row = await prisma.rewardJob.findFirst({
    where: { projectId, kind: "score" },
    orderBy: { createdAt: "desc" },
    include: { modelVersion: { select: { name: true } } },
  });
  return row && { id: row.id, model: row.modelVersion.name, status: row.status, progress: row.progress, error: row.error, result: row.result as unknown as ProjectScoring | null };
}

export type RewardAgreement = {
  modelVersionId: string;
  model: string;
  /** Differently ranked sibling pairs of finished trees whose replies both have a score. */
  pairs: number;
  sets: number;
  trees: number;
  /** Share of those pairs the model orders as the consensus does (equal scores count one half). */
  agreement: number;
  /** "The longer reply wins" on the same pairs. */
  longerWins: number;
  scoredAt: Date;
};

/**
 * How often each reward model that scored this project's replies agrees with the human consensus
 * order (each reply's consensus rank), pairwise over the ranked sibling sets of finished trees.
 */
export async function rewardAgreement(projectId: string): Promise<RewardAgreement[]> {
  const rows = await prisma.$queryRaw<{ model_version_id: string; model: string; pairs: bigint; sets: bigint; trees: bigint; agree: number; longer: number; scored_at: Date }[]>`
    WITH scored AS (
      SELECT m.parent_id, m.tree_id, m.consensus_rank AS rank, length(m.text) AS chars, s.model_version_id, s.score, s.scored_at
      FROM messages m
      JOIN message_trees t ON t.id = m.tree_id
      JOIN reward_scores s ON s.message_id = m.id
      WHERE t.project_id = ${projectId}::uuid AND t.state = 'ready_for_export' AND m.consensus_rank IS NOT NULL AND m.parent_id IS NOT NULL AND NOT m.deleted
    )
    SELECT a.model_version_id::text, mv.name AS model, count(*) AS pairs, count(DISTINCT a.parent_id) AS sets, count(DISTINCT a.tree_id) AS trees,
      sum(CASE WHEN a.score > b.score THEN 1 WHEN a.score = b.score THEN 0.5 ELSE 0 END)::float8 AS agree,
      sum(CASE WHEN a.chars > b.chars THEN 1 WHEN a.chars = b.chars THEN 0.5 ELSE 0 END)::float8 AS longer,
      max(greatest(a.scored_at, b.scored_at)) AS scored_at
    FROM scored a
    JOIN scored b ON b.parent_id = a.parent_id AND b.model_version_id = a.model_version_id AND a.rank < b.rank
    JOIN model_versions mv ON mv.id = a.model_version_id
    GROUP BY a.model_version_id, mv.name
    ORDER BY max(greatest(a.scored_at, b.scored_at)) DESC`;
  return rows.map((r) => ({
    modelVersionId: r.model_version_id,
    model: r.model,
    pairs: Number(r.pairs),
    sets: Number(r.sets),
    trees: Number(r.trees),
    agreement: r.agree / Number(r.pairs),
    longerWins: r.longer / Number(r.pairs),
    scoredAt: r.scored_at,
  }));
}

/** Scores of a tree's messages: model name → message id → score. */
export async function treeRewardScores(treeId: string): Promise<{ model: string; scores: Record<string, number> }[]> {
  const rows = await prisma.rewardScore.findMany({
    where: { message: { treeId } },
    select: { messageId: true, score: true, modelVersion: { select: { name: true } } },
    orderBy: { modelVersion: { name: "asc" } },
  });
  const out = new Map<string, Record<string, number>>();
  for (const r of rows) {
    const m = out.get(r.modelVersion.name) ?? {};
    m[r.messageId] = r.score;
    out.set(r.modelVersion.name, m);
  }
  return [...out].map(([model, scores]) => ({ model, scores }));
}

/** Ready reward models, for the pickers. */
export async function rewardModels() {
  return prisma.modelVersion.findMany({ where: { kind: "reward", status: "ready" }, orderBy: { createdAt: "desc" }, select: { id: true, name: true } });
}

/** Finished preference snapshots of every project, newest first, for the model page's evaluation form. */
export async function preferenceSnapshots() {
  return prisma.datasetExport.findMany({
    where: { format: { in: PREFERENCE_EXPORT_FORMATS }, status: "succeeded", deletedAt: null },
    orderBy: { createdAt: "desc" },
    take: 100,
    select: { id: true, format: true, createdAt: true, rowCounts: true, project: { select: { slug: true } } },
  });
}
