// Policy comparisons: the row (two policies, a reward model, a prompt snapshot, how many prompts,
// the seed and the project's sampling parameters) is written first, then its job; a worker samples
// and scores (workers/processors/comparison.ts). Input a comparison cannot use is refused here.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { prisma } from "~/db.server.ts";
import type { Prisma } from "~/generated/prisma/client.ts";
import {
  COMPARISON_EXPORT_FORMATS,
  ComparisonRequestSchema,
  type ComparisonConfig,
  type ComparisonResult,
} from "~/domain/sampling/comparison.ts";
import { defaultSamplingConfig, parseSamplingConfig } from "~/domain/sampling/config.ts";
import { enqueue } from "~/jobs/enqueue.server.ts";

export class ComparisonError extends Error {
  constructor(message: string, readonly status = 400) {
    super(message);
  }
}

type ModelRow = { id: string; name: string; kind: string; status: string; path: string; tokenizer: unknown };

/** What decides how a text becomes tokens: tokenizer.json's bytes and the chat template. */
function tokenizerIdentity(model: ModelRow): string {
  const file = path.join(model.path, "tokenizer.json");
  if (!fs.existsSync(file)) throw new ComparisonError(`${model.name} has no tokenizer.json in ${model.path}.`, 409);
  const hash = crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
  return `${hash}:${(model.tokenizer as { chatTemplate?: string | null } | null)?.chatTemplate ?? ""}`;
}

export async function createComparison(input: { projectId: string; createdById: string | null; request: unknown }) {
  const parsed = ComparisonRequestSchema.safeParse(input.request);
  if (!parsed.success) throw new ComparisonError(parsed.error.issues.map((i) => i.message).join(" "));
  const req = parsed.data;

  const models = await prisma.modelVersion.findMany({
    where: { id: { in: [req.policyAId, req.policyBId, req.rewardModelId] } },
    select: { id: true, name: true, kind: true, status: true, path: true, tokenizer: true },
  });
  const model = (id: string, role: string) => {
    const m = models.find((x) => x.id === id);
    if (!m) throw new ComparisonError(`${role}: no such model.`, 404);
    if (m.status !== "ready") throw new ComparisonError(`${role}: ${m.name} is archived.`);
    return m;
  };
  const a = model(req.policyAId, "Policy A");
  const b = model(req.policyBId, "Policy B");
  const judge = model(req.rewardModelId, "Reward model");
  for (const [role, m] of [["Policy A", a], ["Policy B", b]] as const)
    if (m.kind !== "policy") throw new ComparisonError(`${role}: ${m.name} is a ${m.kind} model, not a policy.`);
  if (judge.kind !== "reward") throw new ComparisonError(`Reward model: ${judge.name} is a ${judge.kind} model, not a reward model.`);
  const judgeTokens = tokenizerIdentity(judge);
  for (const m of a.id === b.id ? [a] : [a, b])
    if (tokenizerIdentity(m) !== judgeTokens)
      throw new ComparisonError(`The reward model ${judge.name} tokenizes differently from ${m.name} (tokenizer.json or chat template differ): it cannot score that policy's replies.`);

  const snapshot = await prisma.datasetExport.findFirst({ where: { id: req.exportId, projectId: input.projectId } });
  if (!snapshot) throw new ComparisonError("No such prompt snapshot in this project.", 404);
  if (!(COMPARISON_EXPORT_FORMATS as readonly string[]).includes(snapshot.format))
    throw new ComparisonError(`The snapshot is ${snapshot.format}; a comparison reads ${COMPARISON_EXPORT_FORMATS.join(" or ")} snapshots.`);
  if (snapshot.status !== "succeeded" || snapshot.deletedAt)
    throw new ComparisonError(`The snapshot has no files to read (it is ${snapshot.deletedAt ? "deleted" : snapshot.status}).`, 409);

  const project = await prisma.project.findUniqueOrThrow({ where: { id: input.projectId }, select: { samplingConfig: true } });
  const sampling = parseSamplingConfig(project.samplingConfig);
  const config: ComparisonConfig = { prompts: req.prompts, seed: req.seed, params: (sampling.success ? sampling.config : defaultSamplingConfig()).params };
  const row = await prisma.policyComparison.create({
    data: {
      projectId: input.projectId,
      policyAId: a.id,
      policyBId: b.id,
      rewardModelId: judge.id,
      exportId: snapshot.id,
      config: config as unknown as Prisma.InputJsonValue,
      createdById: input.createdById,
    },
  });
  await enqueue("comparison", { comparisonId: row.id });
  return row;
}

const SELECT = {
  id: true,
  status: true,
  progress: true,
  error: true,
  config: true,
  createdAt: true,
  finishedAt: true,
  exportId: true,
  policyA: { select: { id: true, name: true } },
  policyB: { select: { id: true, name: true } },
  rewardModel: { select: { id: true, name: true } },
  export: { select: { format: true } },
  createdBy: { select: { displayName: true } },
} as const;

export async function listComparisons(projectId: string) {
  const [rows, wins] = await Promise.all([
    prisma.policyComparison.findMany({ where: { projectId }, orderBy: { createdAt: "desc" }, take: 50, select: SELECT }),
    // Only the summary's win rate, not every reply of every comparison.
    prisma.$queryRaw<{ id: string; win_rate_b: number | null }[]>`
      SELECT id, (result->'summary'->>'winRateB')::float8 AS win_rate_b FROM policy_comparisons
      WHERE project_id = ${projectId}::uuid AND result IS NOT NULL ORDER BY created_at DESC LIMIT 50`,
  ]);
  const winRate = new Map(wins.map((w) => [w.id, w.win_rate_b]));
  return rows.map((r) => ({
    ...r,
    config: r.config as unknown as ComparisonConfig,
    winRateB: winRate.get(r.id) ?? null,
    createdAt: r.createdAt.toISOString(),
    finishedAt: r.finishedAt?.toISOString() ?? null,
  }));
}

export async function getComparison(projectId: string, id: string) {
  const row = await prisma.policyComparison.findFirst({ where: { id, projectId }, select: { ...SELECT, result: true } });
  return (
    row && {
      ...row,
      config: row.config as unknown as ComparisonConfig,
      result: row.result as unknown as ComparisonResult | null,
      createdAt: row.createdAt.toISOString(),
      finishedAt: row.finishedAt?.toISOString() ?? null,
    }
  );
}
