// Training runs as jobs in a real worker process: progress and metrics on the row, the trained
// policy registered with its lineage, a worker killed with SIGKILL that resumes from its checkpoint
// to the same weights as an uninterrupted run, cancel and resume, and the inputs a run refuses.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { queue } from "~/jobs/enqueue.server.ts";
import { cancelTrainingRun, createTrainingRun, resumeTrainingRun, runDirs, TrainingRunError } from "~/models/training.server.ts";
import { readGpt2ModelDir } from "../../inference/models/gpt2-dir.ts";
import { runCli } from "../helpers/cli.ts";
import { startWorkers, waitFor, type RunningProcess } from "../helpers/server.ts";
import { trainingProject } from "../helpers/training.ts";

const WORKER_ENV = { JOB_LOCK_SECONDS: "2", ORT_INTRA_OP_THREADS: "1" };
const CONFIG = { learningRate: 3e-3, batchSize: 4, maxLength: 192, maxSteps: 60, evalEvery: 20, checkpointEvery: 10, warmupRatio: 0 };
let worker: RunningProcess;
let setup: Awaited<ReturnType<typeof trainingProject>>;

beforeAll(async () => {
  setup = await trainingProject("runs");
  worker = startWorkers(WORKER_ENV);
});

afterAll(async () => {
  await worker?.stop();
  await (await queue("training")).close();
});

const start = (config = CONFIG) => createTrainingRun({ projectId: setup.project.id, kind: "sft", exportIds: [setup.sft.id], baseModelId: setup.base.id, config, createdById: null });
const row = (id: string) => prisma.trainingRun.findUniqueOrThrow({ where: { id }, include: { outputModel: true } });
async function finished(id: string, timeoutMs = 120_000) {
  await waitFor(async () => ["succeeded", "failed"].includes((await row(id)).status), `run ${id} to finish`, timeoutMs);
  const r = await row(id);
  if (r.status === "failed") throw new Error(`run failed: ${r.error}\n${worker.output()}`);
  return r;
}
const stepOf = async (id: string) => Number(((await row(id)).metrics as { step?: number }).step ?? 0);

describe("training runs in a worker", () => {
  let straight: Awaited<ReturnType<typeof finished>>;

  it("trains, reports progress and per-step metrics, and registers the policy with its lineage", async () => {
    const run = await start();
    expect(run.status).toBe("queued");
    straight = await finished(run.id);
    expect(straight.progress).toBe(1);
    const m = straight.metrics as Record<string, number>;
    expect(m.step).toBe(60);
    expect(m.totalSteps).toBe(60);
    expect(m.tokensPerSecond).toBeGreaterThan(0);
    expect(m.validationLoss).toBeLessThan(5.5); // ln 260 = 5.56 for a uniform guess

    const metrics = await prisma.trainingMetric.findMany({ where: { runId: run.id } });
    const byName = (n: string) => metrics.filter((x) => x.name === n).map((x) => x.step).sort((a, b) => a - b);
    expect(byName("loss")).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(byName("lr")).toHaveLength(60);
    expect(byName("grad_norm")).toHaveLength(60);
    expect(byName("tokens_seen")).toHaveLength(60);
    expect(byName("validation_loss")).toEqual([20, 40, 60]);

    const model = straight.outputModel!;
    expect(model.kind).toBe("policy");
    expect(model.parentId).toBe(setup.base.id);
    expect(model.sourceExportIds).toEqual([setup.sft.id]);
    expect(model.projectId).toBe(setup.project.id);
    expect(fs.existsSync(path.join(model.path, "onnx/model.onnx"))).toBe(true);
    expect(fs.existsSync(runDirs(run.id).root)).toBe(false); // checkpoints go once the model is registered
  });

  it("resumes a run whose worker was killed with SIGKILL from its checkpoint, ending on the same weights", async () => {
    const run = await start();
    // Killed the moment a checkpoint from the middle of the run is on disk: the row's step is
    // written at most every 500 ms, so waiting for it would race a fast machine to the end.
    const midRunCheckpoint = () => {
      try {
        return fs.readdirSync(runDirs(run.id).checkpoints).some((f) => /^checkpoint-0000[2-5]0\.ckpt$/.test(f));
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 120_000;
    while (!midRunCheckpoint() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    worker.child.kill("SIGKILL");
    await worker.stop();
    const killedAt = await stepOf(run.id);
    expect(killedAt).toBeLessThan(60);
    expect(fs.readdirSync(runDirs(run.id).checkpoints).some((f) => f.endsWith(".ckpt"))).toBe(true);

    worker = startWorkers(WORKER_ENV);
    const done = await finished(run.id);
    expect(done.attempts).toBe(2);
    const log = (await (await queue("training")).getJobLogs(`training-${run.id}`)).logs.join("\n");
    expect(log).toMatch(/resumed from .*checkpoint-0000[2-5]0\.ckpt/);
    expect(await prisma.trainingMetric.count({ where: { runId: run.id, name: "loss" } })).toBe(60);

    const a = readGpt2ModelDir(straight.outputModel!.path).weights;
    const b = readGpt2ModelDir(done.outputModel!.path).weights;
    for (const [name, t] of a) expect(Buffer.from((b.get(name)!.data as Float32Array).buffer).equals(Buffer.from((t.data as Float32Array).buffer)), name).toBe(true);
  });

  it("cancels at a step boundary keeping the checkpoint, and resumes to the end", { timeout: 400_000 }, async () => {
    // Long enough that the cancel lands mid-run however fast the machine steps.
    const steps = 300;
    const run = await start({ ...CONFIG, maxSteps: steps, checkpointEvery: 50 });
    await waitFor(async () => (await stepOf(run.id)) >= 3, "the run to start stepping", 60_000);
    await cancelTrainingRun(setup.project.id, run.id);
    await waitFor(async () => (await (await queue("training")).getJob(`training-${run.id}`))?.finishedOn !== undefined, "the worker to stop", 30_000);
    const stopped = await row(run.id);
    expect(stopped.status).toBe("cancelled");
    expect(stopped.outputModel).toBeNull();
    const stoppedAt = Number((stopped.metrics as { step: number }).step);
    expect(stoppedAt).toBeLessThan(steps);
    expect(fs.readdirSync(runDirs(run.id).checkpoints).filter((f) => f.endsWith(".ckpt")).length).toBeGreaterThan(0);
    await expect(cancelTrainingRun(setup.project.id, run.id)).rejects.toThrow(/only a queued or running run can be cancelled/);

    await resumeTrainingRun(setup.project.id, run.id);
    const done = await finished(run.id, 360_000);
    expect(done.outputModel).not.toBeNull();
    const log = (await (await queue("training")).getJobLogs(`training-${run.id}`)).logs.join("\n");
    expect(log).toMatch(/resumed from/);
  });

  it("runs from the CLI: train sft --wait with a progress bar and final metrics, list-runs, cancel-run refusals", async () => {
    const configFile = path.resolve(process.env.DATA_DIR!, "sft-config.json");
    fs.writeFileSync(configFile, JSON.stringify({ ...CONFIG, maxSteps: 20 }));
    const res = await runCli(["train", "sft", "--project", "runs", "--export", setup.sft.id, "--base", setup.base.name, "--config", configFile, "--wait"]);
    expect(res.stderr).toContain("20/20");
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/training run [0-9a-f-]{36} queued/);
    expect(res.stdout).toMatch(/succeeded: model sft-runs-[0-9a-f]{8}/);
    expect(res.stdout).toMatch(/validation loss \d+\.\d{4} · perplexity \d+\.\d{2}/);
    const id = res.stdout.match(/training run ([0-9a-f-]{36})/)![1];

    const list = await runCli(["list-runs", "--project", "runs"]);
    expect(list.stdout).toContain(`${id}\tsft\tsucceeded\t100%\t20/20\tbase=${setup.base.name}`);
    const cancel = await runCli(["cancel-run", "--project", "runs", "--id", id]);
    expect(cancel.code).toBe(1);
    expect(cancel.stderr).toContain("The run is succeeded; only a queued or running run can be cancelled.");
    const wrong = await runCli(["train", "sft", "--project", "runs", "--export", setup.pairs.id, "--base", setup.base.name]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("is pairwise_trl");
  });

  it("refuses an export of the wrong kind, an unknown kind and a config out of range, creating nothing", async () => {
    const before = await prisma.trainingRun.count();
    const make = (over: Partial<Parameters<typeof createTrainingRun>[0]>) =>
      createTrainingRun({ projectId: setup.project.id, kind: "sft", exportIds: [setup.sft.id], baseModelId: setup.base.id, config: CONFIG, createdById: null, ...over });
    await expect(make({ exportIds: [setup.pairs.id] })).rejects.toThrow(/is pairwise_trl; a Supervised fine-tuning run reads sft_messages or sft_paths/);
    const err = await make({ config: { ...CONFIG, learningRate: -1, batchSize: 0 } }).catch((e) => e);
    expect(err).toBeInstanceOf(TrainingRunError);
    expect(Object.keys(err.fields).sort()).toEqual(["batchSize", "learningRate"]);
    await expect(make({ config: { ...CONFIG, maxLength: 4096 } })).rejects.toThrow(/maxLength 4096 exceeds/);
    await expect(make({ kind: "kto" })).rejects.toThrow(/"kto" is not available/);
    expect(await prisma.trainingRun.count()).toBe(before);
  });
});
