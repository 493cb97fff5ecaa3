// Reward-model runs as jobs in a real worker process, started with `npm run cli -- train reward`:
// a kway snapshot of real Open-Assistant ranked sets trains a reward model on the tiny base policy,
// the row and training_metrics carry progress, per-step and per-evaluation metrics, the reward
// model is registered with its lineage, and `eval-reward` on it gives the run's own validation
// figures; inputs a reward run cannot use are refused before anything is queued.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { queue } from "~/jobs/enqueue.server.ts";
import { registerModel } from "~/models/model-registry.server.ts";
import { createTrainingRun, runDirs, TrainingRunError } from "~/models/training.server.ts";
import { runCli } from "../helpers/cli.ts";
import { startWorkers, type RunningProcess } from "../helpers/server.ts";
import { kwaySnapshot, trainingProject } from "../helpers/training.ts";

const CONFIG = { steps: 6, promptsPerBatch: 4, lr: 1e-3, warmupRatio: 0, evalEvery: 3, checkpointEvery: 3 };
let worker: RunningProcess;
let setup: Awaited<ReturnType<typeof trainingProject>>;
let kway: Awaited<ReturnType<typeof kwaySnapshot>>;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "reward-runs-"));

beforeAll(async () => {
  setup = await trainingProject("rm-runs");
  kway = await kwaySnapshot(setup.project.id);
  worker = startWorkers({ JOB_LOCK_SECONDS: "2", ORT_INTRA_OP_THREADS: "1" });
});

afterAll(async () => {
  await worker?.stop();
  await (await queue("training")).close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("reward-model runs", () => {
  it("trains from a kway snapshot via the CLI, logs metrics per step and evaluation, and registers the reward model with its lineage", { timeout: 300_000 }, async () => {
    expect(kway.trainSets).toBeGreaterThanOrEqual(24); // 6 steps of 4 sets stay within one epoch
    const configFile = path.join(tmp, "config.json");
    fs.writeFileSync(configFile, JSON.stringify(CONFIG));
    const cli = await runCli(["train", "reward", "--project", setup.project.slug, "--export", kway.id, "--base", setup.base.name, "--config", configFile, "--wait"]);
    if (cli.code !== 0) throw new Error(`train reward failed (${cli.code}): ${cli.stderr}\n${cli.stdout}\n${worker.output()}`);
    expect(cli.stdout).toMatch(/succeeded: model reward-rm-runs-/);
    expect(cli.stdout).toMatch(/validation accuracy \d\.\d{3} on \d+ pairs \(longer reply wins \d\.\d{3}, shorter \d\.\d{3}\)/);

    const run = await prisma.trainingRun.findFirstOrThrow({ where: { projectId: setup.project.id, kind: "reward" }, include: { outputModel: true } });
    expect(run.status).toBe("succeeded");
    expect(run.progress).toBe(1);
    const m = run.metrics as Record<string, unknown>;
    expect(m.step).toBe(6);
    expect(m.totalSteps).toBe(6);
    expect(m.tokensPerSecond).toBeGreaterThan(0);
    expect(m.evalPairs).toBeGreaterThan(0);
    expect(m.evalAccuracy).toBeGreaterThanOrEqual(0);
    expect(m.evalAccuracy).toBeLessThanOrEqual(1);
    expect((m.longerWinsAccuracy as number) + (m.shorterWinsAccuracy as number)).toBeCloseTo(1, 9);
    expect((m.calibration as { pairs: number }[]).reduce((a, b) => a + b.pairs, 0)).toBe(m.evalPairs);

    const metrics = await prisma.trainingMetric.findMany({ where: { runId: run.id } });
    const stepsOf = (n: string) => metrics.filter((x) => x.name === n).map((x) => x.step).sort((a, b) => a - b);
    for (const name of ["loss", "accuracy", "margin", "lr", "grad_norm", "tokens"]) expect(stepsOf(name), name).toEqual([1, 2, 3, 4, 5, 6]);
    for (const name of ["eval_accuracy", "eval_mean_margin", "eval_pairs", "eval_longer_wins_accuracy", "eval_shorter_wins_accuracy"]) expect(stepsOf(name), name).toEqual([3, 6]);
    expect(metrics.filter((x) => x.name === "eval_pairs").every((x) => x.value === m.evalPairs)).toBe(true);

    const model = run.outputModel!;
    expect(model.kind).toBe("reward");
    expect(model.architecture).toBe("GPT2ForSequenceClassification");
    expect(model.parentId).toBe(setup.base.id);
    expect(model.sourceExportIds).toEqual([kway.id]);
    expect(model.projectId).toBe(setup.project.id);
    const stats = JSON.parse(fs.readFileSync(path.join(model.path, "reward_model.json"), "utf8")) as { reward_mean: number; steps: number; validation: { accuracy: number; pairs: number } };
    expect(stats.steps).toBe(6);
    expect(Math.abs(stats.reward_mean)).toBeLessThan(1e-3); // centred on the training replies
    expect(stats.validation.accuracy).toBe(m.evalAccuracy);
    expect(fs.existsSync(runDirs(run.id).root)).toBe(false);

    // The same figures from the command line on the snapshot's validation file.
    const ev = await runCli(["eval-reward", "--model", model.name, "--file", kway.validationFile, "--format", "kway"]);
    if (ev.code !== 0) throw new Error(`eval-reward failed: ${ev.stderr}`);
    const line = JSON.parse(ev.stdout.trim().split("\n").at(-1)!) as Record<string, number>;
    expect(line.pairs).toBe(m.evalPairs);
    expect(line.accuracy).toBeCloseTo(m.evalAccuracy as number, 9);
    expect(line.mean_margin).toBeCloseTo(m.evalMeanMargin as number, 6);
    expect(line.longer_wins_accuracy).toBeCloseTo(m.longerWinsAccuracy as number, 9);
  });

  it("refuses snapshots of another kind and a reward model as the backbone, queueing nothing", async () => {
    const before = await prisma.trainingRun.count();
    const start = (exportIds: string[], baseModelId: string) => createTrainingRun({ projectId: setup.project.id, kind: "reward", exportIds, baseModelId, config: CONFIG, createdById: null });
    await expect(start([setup.sft.id], setup.base.id)).rejects.toThrow(/is sft_messages; a Reward model run reads kway or pairwise_trl/);
    const reward = await prisma.modelVersion.findFirstOrThrow({ where: { kind: "reward", projectId: setup.project.id } });
    await expect(start([kway.id], reward.id)).rejects.toThrow(TrainingRunError);
    await expect(start([kway.id], reward.id)).rejects.toThrow(/is a reward model; Reward model starts from a policy/);
    await expect(createTrainingRun({ projectId: setup.project.id, kind: "reward", exportIds: [kway.id], baseModelId: setup.base.id, config: { margins: 2 }, createdById: null })).rejects.toThrow(/margins must be between 0 and 1/);
    expect(await prisma.trainingRun.count()).toBe(before);
  });

  it("refuses to register a policy directory as a reward model, naming its outputs", async () => {
    await expect(registerModel({ name: "not-a-reward-model", kind: "reward", path: setup.base.path })).rejects.toThrow(/is not a reward model: .*→ outputs logits \[.*\], present\.0\.key/);
    expect(await prisma.modelVersion.findUnique({ where: { name: "not-a-reward-model" } })).toBeNull();
  });
});
