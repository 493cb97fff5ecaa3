// The model registry: policies and reward models, validated before anything is stored, with
// lineage (parent model, training run, export snapshots) and one active policy per project.
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import type { ModelSummary } from "../../inference/validate.ts";
import { prisma } from "~/db.server.ts";
import { Prisma } from "~/generated/prisma/client.ts";
import type { ModelKind } from "~/generated/prisma/enums.ts";
import { recordAudit } from "./audit.server.ts";

const run = promisify(execFile);

export class ModelRegistryError extends Error {
  constructor(message: string, readonly status = 400) {
    super(message);
  }
}

export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Validates a model directory in a child process (the web server never loads onnxruntime):
 * files, graph, I/O names, dims, tokenizer/vocab agreement and one forward pass. A reward model
 * is a sequence classifier (input_ids, attention_mask → logits [B, 1]).
 */
export async function validateModelDirectory(dir: string, kind: "policy" | "reward" = "policy"): Promise<ModelSummary> {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) throw new ModelRegistryError(`${dir} is not a directory.`);
  try {
    const { stdout } = await run(process.execPath, ["--import", "tsx", "inference/scripts/validate-model.ts", abs, kind], {
      maxBuffer: 8 * 1024 * 1024,
      timeout: 120_000,
    });
    return JSON.parse(stdout) as ModelSummary;
  } catch (error) {
    const e = error as { code?: number; stderr?: string; message: string };
    if (e.code === 2 && e.stderr) throw new ModelRegistryError(e.stderr.trim());
    throw new ModelRegistryError(`Validation of ${dir} failed: ${(e.stderr || e.message).trim().slice(0, 2000)}`);
  }
}

export type RegisterModelInput = {
  name: string;
  kind: ModelKind;
  path: string;
  parentId?: string | null;
  projectId?: string | null;
  trainingRunId?: string | null;
  sourceExportIds?: string[];
  createdById?: string | null;
};

export async function registerModel(input: RegisterModelInput) {
  if (!MODEL_NAME_PATTERN.test(input.name))
    throw new ModelRegistryError("Name must be 1–64 letters, digits, dots, dashes or underscores, starting with a letter or digit.");
  if (input.kind !== "policy" && input.kind !== "reward")
    throw new ModelRegistryError(`Only policy and reward models can be registered from a directory; ${input.kind} models come from their trainer.`);
  if (await prisma.modelVersion.findUnique({ where: { name: input.name }, select: { id: true } }))
    throw new ModelRegistryError(`A model named "${input.name}" already exists.`, 409);
  if (input.parentId && !(await prisma.modelVersion.findUnique({ where: { id: input.parentId }, select: { id: true } })))
    throw new ModelRegistryError("The parent model does not exist.", 404);

  const dir = path.resolve(input.path);
  const summary = await validateModelDirectory(dir, input.kind);
  try {
    return await prisma.modelVersion.create({
      data: {
        name: input.name,
        kind: input.kind,
        path: dir,
        architecture: summary.architecture,
        files: { modelFile: summary.modelFile, sha256: summary.sha256, list: summary.files } as Prisma.InputJsonValue,
        config: {
          modelType: summary.modelType,
          layers: summary.layers,
          heads: summary.heads,
          kvHeads: summary.kvHeads,
          dModel: summary.dModel,
          headDim: summary.headDim,
          hasPositionIds: summary.hasPositionIds,
          mergedDecoder: summary.mergedDecoder,
          bosTokenId: summary.bosTokenId,
          eosTokenIds: summary.eosTokenIds,
          padTokenId: summary.padTokenId,
        },
        tokenizer: { vocabSize: summary.tokenizerVocabSize, chatTemplate: summary.chatTemplate },
        vocabSize: summary.vocabSize,
        contextLength: summary.contextLength,
        paramCount: BigInt(summary.parameterCount),
        parentId: input.parentId ?? null,
        projectId: input.projectId ?? null,
        trainingRunId: input.trainingRunId ?? null,
        sourceExportIds: input.sourceExportIds ?? [],
        createdById: input.createdById ?? null,
      },
    });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002")
      throw new ModelRegistryError(`A model named "${input.name}" already exists.`, 409);
    throw error;
  }
}

/**
 * Makes `modelVersionId` the project's active sampler policy (null: none); sampling runs started
 * from then on use it. `actorId`: who promoted it, for the audit log (null from the command line
 * and the demo seed).
 */
export async function setActivePolicy(projectId: string, modelVersionId: string | null, actorId: string | null = null) {
  if (modelVersionId) {
    const model = await prisma.modelVersion.findUnique({ where: { id: modelVersionId }, select: { kind: true, status: true, name: true } });
    if (!model) throw new ModelRegistryError("No such model.", 404);
    if (model.kind !== "policy") throw new ModelRegistryError(`${model.name} is a ${model.kind} model; only a policy can be a project's active policy.`);
    if (model.status !== "ready") throw new ModelRegistryError(`${model.name} is archived.`);
  }
  await prisma.$transaction(async (tx) => {
    // The row lock orders concurrent promotions, so each audit entry names the policy it replaced.
    const [before] = await tx.$queryRaw<{ active_policy_id: string | null }[]>`SELECT active_policy_id FROM projects WHERE id = ${projectId}::uuid FOR UPDATE`;
    if (!before) throw new ModelRegistryError("No such project.", 404);
    const project = await tx.project.update({ where: { id: projectId }, data: { activePolicyId: modelVersionId }, select: { slug: true } });
    const model = modelVersionId ? await tx.modelVersion.findUniqueOrThrow({ where: { id: modelVersionId }, select: { name: true } }) : null;
    await recordAudit(tx, {
      actorId,
      action: "model.promoted",
      targetType: "project",
      targetId: projectId,
      summary: model ? `${model.name} is the active policy of ${project.slug}` : `${project.slug} has no active policy`,
      details: { modelVersionId, previousModelVersionId: before.active_policy_id },
    });
  });
}

export async function listModels() {
  const rows = await prisma.modelVersion.findMany({
    orderBy: { createdAt: "desc" },
    include: { parent: { select: { name: true } }, activeIn: { select: { slug: true } } },
  });
  return rows.map((m) => ({
    id: m.id,
    name: m.name,
    kind: m.kind,
    status: m.status,
    architecture: m.architecture,
    path: m.path,
    vocabSize: m.vocabSize,
    contextLength: m.contextLength,
    paramCount: Number(m.paramCount),
    parent: m.parent?.name ?? null,
    trainingRunId: m.trainingRunId,
    sourceExportIds: m.sourceExportIds,
    activeIn: m.activeIn.map((p) => p.slug),
    createdAt: m.createdAt.toISOString(),
  }));
}
