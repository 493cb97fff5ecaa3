// Training jobs: one run per job, any kind. Reads the run's row, hands its runner a context
// (config, snapshots, base model, directories, progress, metrics, cancellation), registers the
// trained model with its lineage, and after a failure that will not be retried removes what the
// run wrote. The row holds the reason; the job holds the log.
import fs from "node:fs";
import { UnrecoverableError } from "bullmq";
import { trainingKindSpec, type TrainingKindName } from "~/domain/training/kinds.ts";
import { exportDir } from "~/models/datasets/exports.server.ts";
import { ModelRegistryError, registerModel } from "~/models/model-registry.server.ts";
import { runDirs } from "~/models/training.server.ts";
import type { Processor } from "../harness.ts";
import { TrainingInputError, type RunDataset, type TrainingRunContext, type TrainingRunner } from "../training/runner.ts";
import { rewardRunner } from "../training/reward.ts";
import { dpoRunner } from "../training/dpo.ts";
import { externalRunner } from "../training/external.ts";
import { grpoRunner, ppoRunner, rlooRunner } from "../training/rl.ts";
import { sftRunner } from "../training/sft.ts";

/** The trainer of each kind; a new kind adds its runner here and its spec in app/domain/training/kinds.ts. */
export const TRAINING_RUNNERS: Partial<Record<TrainingKindName, TrainingRunner>> = { sft: sftRunner, reward: rewardRunner, dpo: dpoRunner, ppo: ppoRunner, rloo: rlooRunner, grpo: grpoRunner, external: externalRunner };

const CANCEL_CHECK_MS = 1_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ROW_WRITE_MS = 500;

export const training: Processor<"training"> = async ({ trainingRunId }, ctx, deps) => {
  const { prisma } = deps;
  const run = await prisma.trainingRun.findUnique({
    where: { id: trainingRunId },
    include: { datasets: { include: { export: true } }, baseModel: true, rewardModel: true, project: { select: { slug: true } } },
  });
  if (!run) throw new UnrecoverableError(`No training run ${trainingRunId}`);
  // Registered already (the worker died just after): nothing left to do.
  if (await prisma.modelVersion.findUnique({ where: { trainingRunId }, select: { id: true } })) return;

  const dirs = runDirs(run.id, deps.dataDir);
  const removeOutputs = () => {
    fs.rmSync(dirs.root, { recursive: true, force: true });
    fs.rmSync(dirs.model, { recursive: true, force: true });
    fs.rmSync(`${dirs.model}.partial`, { recursive: true, force: true });
  };
  const attempts = ctx.job.opts.attempts ?? 1;
  try {
    const spec = trainingKindSpec(run.kind);
    const runner = TRAINING_RUNNERS[run.kind as TrainingKindName];
    if (!spec || !runner) throw new TrainingInputError(`this worker has no trainer for ${run.kind} runs`);
    let config: Record<string, number>;
    try {
      config = spec.parseConfig(run.config);
    } catch (error) {
      throw new TrainingInputError((error as Error).message);
    }
    const datasets: RunDataset[] = run.datasets.map(({ export: e }) => {
      const dir = exportDir(e.id, deps.dataDir);
      if (e.deletedAt || !fs.existsSync(dir)) throw new TrainingInputError(`the files of export ${e.id} were deleted`);
      return { exportId: e.id, format: e.format, dir, files: e.files as { name: string; split: string }[] };
    });
    fs.mkdirSync(dirs.checkpoints, { recursive: true });
    const previousCheckpoint = run.checkpoint;
    await prisma.trainingRun.update({ where: { id: run.id }, data: { checkpoint: { dir: dirs.checkpoints } } });

    let lastCancelCheck = 0;
    let cancelled = false;
    let lastRowWrite = 0;
    const context: TrainingRunContext = {
      runId: run.id,
      config,
      datasets,
      command: run.command,
      rawConfig: run.config,
      previousCheckpoint,
      async recordCheckpoint(fields) {
        await prisma.$executeRaw`UPDATE training_runs SET checkpoint = COALESCE(checkpoint, '{}'::jsonb) || ${JSON.stringify(fields)}::jsonb WHERE id = ${run.id}::uuid`;
      },
      baseModel: run.baseModel ? { id: run.baseModel.id, name: run.baseModel.name, path: run.baseModel.path } : null,
      rewardModel: run.rewardModel ? { id: run.rewardModel.id, name: run.rewardModel.name, path: run.rewardModel.path } : null,
      checkpointDir: dirs.checkpoints,
      outputDir: dirs.model,
      ortThreads: deps.ortThreads,
      log: ctx.log,
      async progress(p) {
        await ctx.progress(p.step / p.totalSteps);
        const now = Date.now();
        if (now - lastRowWrite < ROW_WRITE_MS && p.step < p.totalSteps) return;
        lastRowWrite = now;
        const summary = { step: p.step, totalSteps: p.totalSteps, tokensPerSecond: Math.round(p.tokensPerSecond), etaSeconds: Math.round(p.etaSeconds), ...p.latest };
        await prisma.$executeRaw`UPDATE training_runs SET metrics = metrics || ${JSON.stringify(summary)}::jsonb, checkpoint = COALESCE(checkpoint, '{}'::jsonb) || jsonb_build_object('dir', ${dirs.checkpoints}::text, 'step', ${p.step}::int) WHERE id = ${run.id}::uuid`;
      },
      async logMetrics(step, values) {
        const names = Object.keys(values).filter((k) => Number.isFinite(values[k]));
        if (!names.length) return;
        await prisma.$executeRaw`
          INSERT INTO training_metrics (run_id, step, name, value)
          SELECT ${run.id}::uuid, ${step}::int, n, v FROM unnest(${names}::text[], ${names.map((k) => values[k])}::float8[]) AS t(n, v)
          ON CONFLICT (run_id, name, step) DO UPDATE SET value = EXCLUDED.value, at = now()`;
      },
      async modelsThatWrote(messageIds) {
        const ids = messageIds.filter((id) => UUID.test(id));
        if (ids.length === 0) return [];
        const rows = await prisma.$queryRaw<{ name: string; path: string; messages: bigint }[]>`
          SELECT mv.name, mv.path, count(*) AS messages FROM messages m JOIN model_versions mv ON mv.id = m.model_version_id
          WHERE m.id = ANY(${ids}::uuid[]) GROUP BY mv.name, mv.path ORDER BY count(*) DESC`;
        return rows.map((r) => ({ name: r.name, path: r.path, messages: Number(r.messages) }));
      },
      async shouldStop() {
        const now = Date.now();
        if (cancelled || now - lastCancelCheck < CANCEL_CHECK_MS) return cancelled;
        lastCancelCheck = now;
        const row = await prisma.trainingRun.findUnique({ where: { id: run.id }, select: { status: true } });
        cancelled = row?.status === "cancelled";
        return cancelled;
      },
    };

    ctx.log(`${run.kind} run ${run.id} (attempt ${ctx.job.attemptsMade + 1}) starts`);
    const outcome = await runner.run(context);
    await prisma.$executeRaw`UPDATE training_runs SET metrics = metrics || ${JSON.stringify(outcome.metrics)}::jsonb WHERE id = ${run.id}::uuid`;
    const status = (await prisma.trainingRun.findUnique({ where: { id: run.id }, select: { status: true } }))?.status;
    if (outcome.status === "stopped" || status === "cancelled") {
      // Cancelled: the checkpoint stays for a resume; a model written meanwhile is not registered.
      fs.rmSync(dirs.model, { recursive: true, force: true });
      ctx.log("cancelled; the last checkpoint is kept");
      return;
    }
    const kind = outcome.output ?? spec.output;
    const model = await registerModel({
      name: `${run.command ?? run.kind}-${run.project?.slug ?? "run"}`.slice(0, 55) + `-${run.id.slice(0, 8)}`,
      kind,
      path: dirs.model,
      parentId: run.baseModelId,
      projectId: run.projectId,
      trainingRunId: run.id,
      sourceExportIds: run.datasets.map((d) => d.exportId),
      createdById: run.createdById,
    }).catch((error) => {
      // What an outside command wrote is input: a model the registry refuses fails the run at once.
      if (run.kind === "external" && error instanceof ModelRegistryError) throw new TrainingInputError(`the model the command ${run.command} wrote is not a usable ${kind} model: ${error.message}`);
      throw error;
    });
    ctx.log(`registered ${model.name}`);
    // The model is what remains of a finished run; its checkpoints are not needed any more.
    fs.rmSync(dirs.root, { recursive: true, force: true });
  } catch (error) {
    const final = error instanceof TrainingInputError || error instanceof UnrecoverableError || ctx.job.attemptsMade + 1 >= attempts;
    if (final) {
      removeOutputs();
      throw error instanceof UnrecoverableError ? error : new UnrecoverableError((error as Error).message);
    }
    throw error;
  }
};
