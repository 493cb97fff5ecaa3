// Training runs: the row (config, datasets, base model) is written first, then its job on the
// `training` queue; a worker runs it (never the web server). Cancel stops it at the next step
// boundary keeping its checkpoint; resume queues it again from that checkpoint.
import path from "node:path";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import type { Prisma } from "~/generated/prisma/client.ts";
import { bounded, enqueue, queue, QueueUnavailable } from "~/jobs/enqueue.server.ts";
import { jobIdFor } from "~/jobs/queues.ts";
import { TRAINING_KINDS, trainingKindSpec } from "~/domain/training/kinds.ts";
import { tokenizerDifference } from "../../inference/loader/tokenizer-checks.ts";
import { ConfigError } from "../../training/sft-config.ts";
import { z } from "zod";

export class TrainingRunError extends Error {
  constructor(
    message: string,
    readonly status = 400,
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Where a run keeps its checkpoints, and where its trained model goes. */
export function runDirs(runId: string, dataDir = env().DATA_DIR) {
  const root = path.resolve(dataDir, "runs", runId);
  return { root, checkpoints: path.join(root, "checkpoints"), model: path.resolve(dataDir, "models", `run-${runId}`) };
}

export type CreateTrainingRunInput = {
  projectId: string;
  kind: string;
  exportIds: string[];
  baseModelId: string | null;
  /** PPO and RLOO: the registered reward model that scores the rollouts (its tokenizer must be the base's). */
  rewardModelId?: string | null;
  config: unknown;
  createdById: string | null;
};

export async function createTrainingRun(input: CreateTrainingRunInput) {
  const spec = trainingKindSpec(input.kind);
  if (!spec) throw new TrainingRunError(`Training kind "${input.kind}" is not available; choose one of: ${Object.keys(TRAINING_KINDS).join(", ")}.`);
  let config: Record<string, number>;
  try {
    config = spec.parseConfig(input.config ?? {});
  } catch (error) {
    if (error instanceof ConfigError) throw new TrainingRunError(`Config: ${Object.entries(error.fields).map(([k, v]) => `${k} ${v}`).join("; ")}.`, 400, error.fields);
    throw error;
  }
  const exportIds = [...new Set(input.exportIds)];
  if (exportIds.length === 0) throw new TrainingRunError("Choose at least one export snapshot.");
  const exports = await prisma.datasetExport.findMany({ where: { id: { in: exportIds }, projectId: input.projectId } });
  for (const id of exportIds) {
    const e = exports.find((x) => x.id === id);
    if (!e) throw new TrainingRunError(`Export ${id} is not one of this project's snapshots.`, 404);
    if (e.status !== "succeeded" || e.deletedAt) throw new TrainingRunError(`Export ${id} has no files to train on (it is ${e.deletedAt ? "deleted" : e.status}).`);
    if (!spec.exportFormats.includes(e.format))
      throw new TrainingRunError(`Export ${id} is ${e.format}; a ${spec.label} run reads ${spec.exportFormats.join(" or ")}.`);
  }
  if (!input.baseModelId) throw new TrainingRunError("Choose a base model.");
  const base = await prisma.modelVersion.findUnique({ where: { id: input.baseModelId } });
  if (!base) throw new TrainingRunError("The base model does not exist.", 404);
  if (base.kind !== "policy") throw new TrainingRunError(`The base model ${base.name} is a ${base.kind} model; ${spec.label} starts from a policy (language model).`);
  if (base.architecture !== "GPT2LMHeadModel" && (base.config as { modelType?: string }).modelType !== "gpt2")
    throw new TrainingRunError(`The base model ${base.name} is ${base.architecture}; the trainer trains GPT-2 family models.`);
  if (config.maxLength !== undefined && config.maxLength > base.contextLength)
    throw new TrainingRunError(`Config: maxLength ${config.maxLength} exceeds ${base.name}'s context of ${base.contextLength} tokens.`, 400, { maxLength: `exceeds the base model's context of ${base.contextLength}` });

  let rewardModelId: string | null = null;
  if (spec.rewardModel) {
    if (!input.rewardModelId) throw new TrainingRunError(`Choose a reward model: a ${spec.label} run scores its samples with one.`);
    const rm = await prisma.modelVersion.findUnique({ where: { id: input.rewardModelId } });
    if (!rm) throw new TrainingRunError("The reward model does not exist.", 404);
    if (rm.kind !== "reward") throw new TrainingRunError(`${rm.name} is a ${rm.kind} model; choose a reward model.`);
    if (rm.status !== "ready") throw new TrainingRunError(`The reward model ${rm.name} is ${rm.status}.`);
    let diff: ReturnType<typeof tokenizerDifference>;
    try {
      diff = tokenizerDifference(base.path, rm.path);
    } catch (error) {
      throw new TrainingRunError(`The tokenizers of ${base.name} and ${rm.name} cannot be compared: ${(error as Error).message}.`);
    }
    if (diff === "vocabulary") throw new TrainingRunError(`The reward model ${rm.name} has another tokenizer than ${base.name}: it would read the policy's tokens as other words.`);
    if (diff === "chat template")
      throw new TrainingRunError(`The reward model ${rm.name} has another chat template than ${base.name}: it would see prompts laid out differently than it learned them.`);
    rewardModelId = rm.id;
  }

  const run = await prisma.$transaction(async (tx) => {
    const row = await tx.trainingRun.create({
      data: { projectId: input.projectId, kind: spec.kind, config: config as Prisma.InputJsonValue, baseModelId: base.id, rewardModelId, createdById: input.createdById },
    });
    await tx.trainingRunDataset.createMany({ data: exportIds.map((exportId) => ({ runId: row.id, exportId, purpose: "train" })) });
    return row;
  });
  await enqueue("training", { trainingRunId: run.id });
  return run;
}

const LIST_SELECT = {
  id: true,
  kind: true,
  status: true,
  progress: true,
  metrics: true,
  error: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
  baseModel: { select: { id: true, name: true } },
  rewardModel: { select: { id: true, name: true } },
  createdBy: { select: { displayName: true, email: true } },
  datasets: { select: { exportId: true, export: { select: { format: true, createdAt: true } } } },
  outputModel: { select: { id: true, name: true } },
} as const;

export async function listTrainingRuns(projectId: string) {
  return prisma.trainingRun.findMany({ where: { projectId }, orderBy: { createdAt: "desc" }, take: 100, select: LIST_SELECT });
}

/** Whether `runId` can name a run at all; anything else is "no such run" before Postgres sees it. */
const isRunId = (runId: string) => z.string().uuid().safeParse(runId).success;

export async function getTrainingRun(projectId: string, runId: string) {
  if (!isRunId(runId)) return null;
  return prisma.trainingRun.findFirst({ where: { id: runId, projectId }, select: { ...LIST_SELECT, config: true, attempts: true, checkpoint: true } });
}

/** Metric curves: name → [steps, values]. */
export async function trainingCurves(runId: string): Promise<Record<string, [number[], number[]]>> {
  const rows = await prisma.trainingMetric.findMany({ where: { runId }, orderBy: [{ name: "asc" }, { step: "asc" }], select: { name: true, step: true, value: true } });
  const out: Record<string, [number[], number[]]> = {};
  for (const r of rows) {
    const c = (out[r.name] ??= [[], []]);
    c[0].push(r.step);
    c[1].push(r.value);
  }
  return out;
}

/** The worker's log lines of the run's job (newest attempt included). */
export async function trainingRunLog(runId: string): Promise<string[]> {
  try {
    const { logs } = await bounded("queue training", queue("training").then((q) => q.getJobLogs(jobIdFor("training", { trainingRunId: runId }), 0, 499)));
    return logs;
  } catch (error) {
    if (error instanceof QueueUnavailable) return ["(The job's log lives in the job queue, which cannot be reached right now.)"];
    throw error;
  }
}

/**
 * Queued: it will not start. Running: the worker stops at the next step boundary, saving a
 * checkpoint, and leaves the row cancelled.
 */
export async function cancelTrainingRun(projectId: string, runId: string) {
  if (!isRunId(runId)) throw new TrainingRunError("No such training run.", 404);
  return prisma.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<{ status: string }[]>`SELECT status::text AS status FROM training_runs WHERE id = ${runId}::uuid AND project_id = ${projectId}::uuid FOR UPDATE`;
    if (!rows[0]) throw new TrainingRunError("No such training run.", 404);
    if (rows[0].status !== "queued" && rows[0].status !== "running") throw new TrainingRunError(`The run is ${rows[0].status}; only a queued or running run can be cancelled.`, 409);
    await tx.$executeRaw`UPDATE training_runs SET status = 'cancelled', finished_at = now() WHERE id = ${runId}::uuid`;
  });
}

/** A cancelled or failed run goes back on the queue and continues from its last checkpoint. */
export async function resumeTrainingRun(projectId: string, runId: string) {
  if (!isRunId(runId)) throw new TrainingRunError("No such training run.", 404);
  const jobId = jobIdFor("training", { trainingRunId: runId });
  // Whether its previous job still runs can only be asked of the queue.
  const previous = await bounded("queue training", queue("training").then(async (q) => {
    const job = await q.getJob(jobId);
    return { job, state: job ? await job.getState() : null };
  })).catch((error: unknown) => {
    if (error instanceof QueueUnavailable) throw new TrainingRunError("The job queue cannot be reached right now, so the run cannot be resumed yet; try again once it is back.", 503);
    throw error;
  });
  const job = previous.job;
  if (previous.state === "active") throw new TrainingRunError("The run is still stopping at its next step; resume it in a moment.", 409);
  await prisma.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<{ status: string }[]>`SELECT status::text AS status FROM training_runs WHERE id = ${runId}::uuid AND project_id = ${projectId}::uuid FOR UPDATE`;
    if (!rows[0]) throw new TrainingRunError("No such training run.", 404);
    if (rows[0].status !== "cancelled" && rows[0].status !== "failed") throw new TrainingRunError(`The run is ${rows[0].status}; only a cancelled or failed run can be resumed.`, 409);
    await tx.$executeRaw`UPDATE training_runs SET status = 'queued', error = NULL, finished_at = NULL WHERE id = ${runId}::uuid`;
  });
  // The finished job keeps its id until removed; a new one with the same id carries on.
  // Left to the queue catch-up when the queue went away meanwhile: the row is queued.
  await bounded("queue training", Promise.resolve(job?.remove())).catch(() => undefined);
  await enqueue("training", { trainingRunId: runId });
}
