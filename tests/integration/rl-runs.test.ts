// PPO, RLOO, GRPO and DPO runs as jobs in a real worker process: an RLOO run started with `npm run cli -- train
// rloo` on a prompts snapshot, scored by a registered reward model, logs TRL's metrics per iteration
// and the held-out evaluations, and registers the policy with its lineage; a PPO run trains its value
// model beside the policy; GRPO keeps its KL in the loss; DPO learns from a pairwise snapshot; the KL guard, a non-finite
// update and a prompts file broken after its export fail a run with their reason and register nothing; a
// cancelled run resumes from its checkpoint to one registered model; inputs a run cannot use (a reward model
// with another vocabulary or chat template among them) are refused before anything is queued.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { queue } from "~/jobs/enqueue.server.ts";
import { exportDir } from "~/models/datasets/exports.server.ts";
import { cancelTrainingRun, createTrainingRun, resumeTrainingRun, runDirs, TrainingRunError } from "~/models/training.server.ts";
import { OASST_CHAT_TEMPLATE } from "../../inference/chat-template.ts";
import { initGpt2Weights } from "../../inference/models/gpt2.ts";
import { writeGpt2ModelDir } from "../../inference/models/gpt2-dir.ts";
import { bytesOnlyTokenizerJson } from "../../inference/tokenizer/byte-level.ts";
import { DEMO_SPECIAL_TOKENS, EOT } from "../../inference/tokenizer/demo-tokenizer.ts";
import { runCli } from "../helpers/cli.ts";
import { startWorkers, waitFor, type RunningProcess } from "../helpers/server.ts";
import { kwaySnapshot, promptsSnapshot, TINY_BASE, tinyRewardModel, trainingProject } from "../helpers/training.ts";

const CONFIG = { iterations: 4, promptsPerIteration: 4, maxNewTokens: 4, lr: 3e-4, epochs: 2, minibatchSize: 4, evalPrompts: 8, evalEvery: 2, checkpointEvery: 2 };
const TRL = ["objective/kl", "objective/entropy", "objective/non_score_reward", "objective/rlhf_reward", "objective/scores", "policy/approxkl_avg", "policy/clipfrac_avg", "loss/policy_avg", "val/num_eos_tokens"];
let worker: RunningProcess;
let setup: Awaited<ReturnType<typeof trainingProject>>;
let prompts: Awaited<ReturnType<typeof promptsSnapshot>>;
let rm: Awaited<ReturnType<typeof tinyRewardModel>>;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rl-runs-"));

beforeAll(async () => {
  setup = await trainingProject("rl-runs");
  prompts = await promptsSnapshot(setup.project.id);
  rm = await tinyRewardModel(setup.project.id, setup.base, "rm-rl-runs");
  worker = startWorkers({ JOB_LOCK_SECONDS: "2", ORT_INTRA_OP_THREADS: "1" });
});

afterAll(async () => {
  await worker?.stop();
  await (await queue("training")).close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function finished(runId: string) {
  for (;;) {
    const run = await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId }, include: { outputModel: true } });
    if (run.status === "succeeded" || run.status === "failed") return run;
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** A failed run left nothing behind: no model registered for it, no model directory, no checkpoints. */
async function leftNothing(runId: string) {
  expect(await prisma.modelVersion.count({ where: { trainingRunId: runId } })).toBe(0);
  expect(fs.existsSync(runDirs(runId).model)).toBe(false);
  expect(fs.existsSync(runDirs(runId).root)).toBe(false);
}

describe("policy runs: PPO, RLOO, GRPO and DPO", () => {
  it("an RLOO run from the CLI logs TRL's metrics and the held-out evaluations, and registers the policy with its lineage", { timeout: 300_000 }, async () => {
    const configFile = path.join(tmp, "rloo.json");
    fs.writeFileSync(configFile, JSON.stringify({ ...CONFIG, samplesPerPrompt: 4 }));
    const cli = await runCli(["train", "rloo", "--project", setup.project.slug, "--export", prompts.id, "--base", setup.base.name, "--reward-model", rm.name, "--config", configFile, "--wait"]);
    if (cli.code !== 0) throw new Error(`train rloo failed (${cli.code}): ${cli.stderr}\n${cli.stdout}\n${worker.output()}`);
    expect(cli.stdout).toMatch(/succeeded: model rloo-rl-runs-/);
    expect(cli.stdout).toMatch(/held-out score -?\d+\.\d{3} → -?\d+\.\d{3} on 8 prompts · KL to the reference \d+\.\d{3} · 4\/4 iterations/);

    const run = await prisma.trainingRun.findFirstOrThrow({ where: { projectId: setup.project.id, kind: "rloo" }, include: { outputModel: true } });
    expect(run.status).toBe("succeeded");
    expect(run.rewardModelId).toBe(rm.id);
    const m = run.metrics as Record<string, number>;
    expect([m.step, m.totalSteps]).toEqual([4, 4]);
    expect(m.tokensPerSecond).toBeGreaterThan(0);
    expect(m.rolloutShare).toBeGreaterThan(0);
    expect(m.rolloutShare).toBeLessThan(1);

    const metrics = await prisma.trainingMetric.findMany({ where: { runId: run.id } });
    const stepsOf = (n: string) => metrics.filter((x) => x.name === n).map((x) => x.step).sort((a, b) => a - b);
    for (const name of TRL) expect(stepsOf(name), name).toEqual([1, 2, 3, 4]);
    expect(stepsOf("loss/value_avg")).toEqual([]);
    expect(stepsOf("eval/scores")).toEqual([0, 2, 4]);
    const evalScore = (step: number) => metrics.find((x) => x.name === "eval/scores" && x.step === step)!.value;
    expect(evalScore(0)).toBeCloseTo(m.evalScoreBefore, 9);
    expect(evalScore(4)).toBeCloseTo(m.evalScoreAfter, 9);
    expect(metrics.find((x) => x.name === "objective/kl" && x.step === 1)!.value).toBe(0);

    const model = run.outputModel!;
    expect(model.kind).toBe("policy");
    expect(model.parentId).toBe(setup.base.id);
    expect(model.sourceExportIds).toEqual([prompts.id]);
    const meta = JSON.parse(fs.readFileSync(path.join(model.path, "rl_run.json"), "utf8")) as { algorithm: string; iterations: number; evaluations: unknown[] };
    expect([meta.algorithm, meta.iterations, meta.evaluations.length]).toEqual(["rloo", 4, 3]);
    expect(fs.existsSync(runDirs(run.id).root)).toBe(false);
    const log = (await (await queue("training")).getJobLogs(`training-${run.id}`)).logs.join("\n");
    expect(log).toContain("read 48 training and 8 held-out prompts");
    expect(log).not.toContain("no validation split");
  });

  it("a PPO run trains a value model beside the policy and logs its loss and clip fraction; without a validation split its log says the evaluation is not held out", { timeout: 300_000 }, async () => {
    // The snapshot's training split alone (an export made with a validation share of 0).
    const trainOnly = await prisma.datasetExport.create({
      data: { projectId: setup.project.id, format: prompts.format, status: "succeeded", filters: {}, config: {}, progress: 1, files: [{ name: "train.jsonl", split: "train", rows: 48 }], rowCounts: { train: 48, validation: 0 } },
    });
    fs.mkdirSync(exportDir(trainOnly.id), { recursive: true });
    fs.copyFileSync(path.join(exportDir(prompts.id), "train.jsonl"), path.join(exportDir(trainOnly.id), "train.jsonl"));
    const run = await createTrainingRun({ projectId: setup.project.id, kind: "ppo", exportIds: [trainOnly.id], baseModelId: setup.base.id, rewardModelId: rm.id, config: { ...CONFIG, iterations: 2 }, createdById: null });
    const done = await finished(run.id);
    if (done.status !== "succeeded") throw new Error(`PPO run ${done.status}: ${done.error}\n${worker.output()}`);
    const log = (await (await queue("training")).getJobLogs(`training-${run.id}`)).logs.join("\n");
    expect(log).toContain("read 48 training and 0 held-out prompts");
    expect(log).toContain("no validation split: the evaluation samples the last training prompts, so its score and KL are not held out");
    const names = new Set((await prisma.trainingMetric.findMany({ where: { runId: run.id, step: 2 } })).map((x) => x.name));
    for (const name of [...TRL, "loss/value_avg", "val/clipfrac_avg", "kl_coef"]) expect(names.has(name), name).toBe(true);
    expect(done.outputModel?.kind).toBe("policy");
  });

  it("a GRPO run keeps the KL in its loss and logs TRL's GRPO names", { timeout: 300_000 }, async () => {
    const run = await createTrainingRun({ projectId: setup.project.id, kind: "grpo", exportIds: [prompts.id], baseModelId: setup.base.id, rewardModelId: rm.id, config: { ...CONFIG, iterations: 2, samplesPerPrompt: 4 }, createdById: null });
    const done = await finished(run.id);
    if (done.status !== "succeeded") throw new Error(`GRPO run ${done.status}: ${done.error}\n${worker.output()}`);
    const names = new Set((await prisma.trainingMetric.findMany({ where: { runId: run.id, step: 2 } })).map((x) => x.name));
    for (const name of [...TRL, "reward", "reward_std", "frac_reward_zero_std", "kl", "completions/mean_length"]) expect(names.has(name), name).toBe(true);
    expect(done.outputModel?.kind).toBe("policy");
  });

  it("a DPO run learns from a kway snapshot's pairs with the SFT policy as its reference, logging TRL's DPO names", { timeout: 300_000 }, async () => {
    const kway = await kwaySnapshot(setup.project.id);
    const run = await createTrainingRun({ projectId: setup.project.id, kind: "dpo", exportIds: [kway.id], baseModelId: setup.base.id, config: { steps: 4, pairsPerBatch: 4, lr: 1e-3, warmupRatio: 0, evalEvery: 2 }, createdById: null });
    const done = await finished(run.id);
    if (done.status !== "succeeded") throw new Error(`DPO run ${done.status}: ${done.error}\n${worker.output()}`);
    const metrics = await prisma.trainingMetric.findMany({ where: { runId: run.id } });
    const stepsOf = (n: string) => metrics.filter((x) => x.name === n).map((x) => x.step).sort((a, b) => a - b);
    for (const name of ["loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected"]) expect(stepsOf(name), name).toEqual([1, 2, 3, 4]);
    expect(stepsOf("eval_rewards/accuracies")).toEqual([2, 4]);
    expect(metrics.find((x) => x.name === "loss" && x.step === 1)!.value).toBeCloseTo(Math.LN2, 4);
    expect(done.outputModel?.kind).toBe("policy");
    expect(done.outputModel?.parentId).toBe(setup.base.id);
    await expect(createTrainingRun({ projectId: setup.project.id, kind: "dpo", exportIds: [prompts.id], baseModelId: setup.base.id, config: {}, createdById: null })).rejects.toThrow(/is prompts_text; a DPO run reads kway or pairwise_trl/);
  });

  it("the KL guard fails a run with the iteration and the reason, registering nothing", { timeout: 300_000 }, async () => {
    const run = await createTrainingRun({ projectId: setup.project.id, kind: "rloo", exportIds: [prompts.id], baseModelId: setup.base.id, rewardModelId: rm.id, config: { ...CONFIG, klLimit: 1e-6 }, createdById: null });
    const done = await finished(run.id);
    expect(done.status).toBe("failed");
    expect(done.error).toMatch(/iteration 2: the KL to the reference is \d+\.\d{3} nats per response, past the limit of 0\.000001/);
    expect(done.outputModel).toBeNull();
    expect(fs.existsSync(runDirs(run.id).model)).toBe(false);
  });

  it("a non-finite update of the policy or the value model fails a run at once with the iteration and the reason, registering nothing", { timeout: 300_000 }, async () => {
    // A poisoned reward model: its scores (~1e30) are finite, so the registry takes it (it refuses one
    // whose test score is NaN), but the update they drive overflows float32.
    const huge = await tinyRewardModel(setup.project.id, setup.base, "rm-huge", { scoreScale: 1e30 });
    const start = (kind: string) =>
      createTrainingRun({ projectId: setup.project.id, kind, exportIds: [prompts.id], baseModelId: setup.base.id, rewardModelId: huge.id, config: { ...CONFIG, samplesPerPrompt: kind === "ppo" ? 1 : 4 }, createdById: null });

    const overflow = await finished((await start("rloo")).id);
    expect(overflow.status).toBe("failed");
    expect(overflow.error).toMatch(/^iteration 1: step 1 refused: .* is not finite/);
    expect(overflow.attempts).toBe(1);
    await leftNothing(overflow.id);

    // PPO's value model starts from the reward model: its returns of ~1e30 overflow the value loss.
    const value = await finished((await start("ppo")).id);
    expect(value.status).toBe("failed");
    expect(value.error).toMatch(/^iteration 1: the value model's step 1 refused: loss is (NaN|Infinity)/);
    expect(value.attempts).toBe(1);
    await leftNothing(value.id);
  });

  it("a prompts file broken after its export (a truncated line, a truncated gzip) fails the run naming the file and line, registering nothing", { timeout: 300_000 }, async () => {
    // Creating a run checks the export's row, not its files: the worker is the first to read them.
    const cut = await promptsSnapshot(setup.project.id);
    const cutFile = path.join(exportDir(cut.id), "train.jsonl");
    const text = fs.readFileSync(cutFile, "utf8");
    fs.writeFileSync(cutFile, text.slice(0, text.length - 10));
    const run = await createTrainingRun({ projectId: setup.project.id, kind: "rloo", exportIds: [cut.id], baseModelId: setup.base.id, rewardModelId: rm.id, config: CONFIG, createdById: null });
    const done = await finished(run.id);
    expect(done.status).toBe("failed");
    expect(done.error).toBe(`export ${cut.id} train.jsonl: ${cutFile} is not a prompts_text file: line 48: not valid JSON`);
    expect(done.attempts).toBe(1);
    await leftNothing(run.id);

    // The exporter's gzip option: train.jsonl.gz, cut short.
    const gz = await promptsSnapshot(setup.project.id);
    const dir = exportDir(gz.id);
    const whole = zlib.gzipSync(fs.readFileSync(path.join(dir, "train.jsonl")));
    fs.rmSync(path.join(dir, "train.jsonl"));
    fs.writeFileSync(path.join(dir, "train.jsonl.gz"), whole.subarray(0, whole.length >> 1));
    await prisma.datasetExport.update({ where: { id: gz.id }, data: { files: [{ name: "train.jsonl.gz", split: "train", rows: 48 }, { name: "validation.jsonl", split: "validation", rows: 8 }] } });
    const gzRun = await createTrainingRun({ projectId: setup.project.id, kind: "ppo", exportIds: [gz.id], baseModelId: setup.base.id, rewardModelId: rm.id, config: CONFIG, createdById: null });
    const gzDone = await finished(gzRun.id);
    expect(gzDone.status).toBe("failed");
    expect(gzDone.error).toMatch(new RegExp(`^export ${gz.id} train\\.jsonl\\.gz: .*train\\.jsonl\\.gz is not valid gzip \\(`));
    expect(gzDone.attempts).toBe(1);
    await leftNothing(gzRun.id);
  });

  it("cancels an RLOO run at an iteration boundary keeping its checkpoint, and resumes it to one registered model", { timeout: 300_000 }, async () => {
    // Cancelled once the worker has it: the first iteration's check most likely sees it, and should it
    // not, the next (at most a second later) still lands mid-run with this many cheap iterations.
    const iterations = 80;
    const config = { ...CONFIG, iterations, promptsPerIteration: 2, samplesPerPrompt: 2, epochs: 1, minibatchSize: 4, evalPrompts: 2, evalEvery: iterations, checkpointEvery: 5 };
    const run = await createTrainingRun({ projectId: setup.project.id, kind: "rloo", exportIds: [prompts.id], baseModelId: setup.base.id, rewardModelId: rm.id, config, createdById: null });
    const row = () => prisma.trainingRun.findUniqueOrThrow({ where: { id: run.id }, include: { outputModel: true } });
    await waitFor(async () => (await row()).status === "running", "the worker to take the run", 60_000);
    await cancelTrainingRun(setup.project.id, run.id);
    await waitFor(async () => (await (await queue("training")).getJob(`training-${run.id}`))?.finishedOn !== undefined, "the worker to stop", 60_000);
    const stopped = await row();
    expect(stopped.status).toBe("cancelled");
    expect(stopped.outputModel).toBeNull();
    const stoppedAt = (stopped.metrics as { iteration: number }).iteration;
    expect(stoppedAt).toBeGreaterThanOrEqual(1);
    expect(stoppedAt).toBeLessThan(iterations);
    expect(fs.readdirSync(path.join(runDirs(run.id).checkpoints, "policy")).some((f) => f.endsWith(".ckpt"))).toBe(true);
    expect(fs.existsSync(runDirs(run.id).model)).toBe(false);
    const scoreBefore = (stopped.metrics as { evalScoreBefore: number }).evalScoreBefore;
    expect(Number.isFinite(scoreBefore)).toBe(true);

    await resumeTrainingRun(setup.project.id, run.id);
    const done = await finished(run.id);
    if (done.status !== "succeeded") throw new Error(`resumed run ${done.status}: ${done.error}\n${worker.output()}`);
    const log = (await (await queue("training")).getJobLogs(`training-${run.id}`)).logs.join("\n");
    expect(log).toContain(`(iteration ${stoppedAt})`);
    expect(log).toMatch(/resumed from .*checkpoint-\d+\.ckpt/);
    expect(await prisma.modelVersion.count({ where: { trainingRunId: run.id } })).toBe(1);
    const metrics = await prisma.trainingMetric.findMany({ where: { runId: run.id, name: "objective/kl" }, orderBy: { step: "asc" } });
    expect(metrics.map((x) => x.step)).toEqual(Array.from({ length: iterations }, (_, i) => i + 1));
    // The evaluation before the first iteration still counts as the run's "before".
    const m = done.metrics as Record<string, number>;
    expect(m.evalScoreBefore).toBe(scoreBefore);
    const meta = JSON.parse(fs.readFileSync(path.join(done.outputModel!.path, "rl_run.json"), "utf8")) as { evaluations: { iteration: number }[] };
    expect(meta.evaluations.map((e) => e.iteration)).toEqual([0, iterations]);
    expect(fs.existsSync(runDirs(run.id).root)).toBe(false);
  });

  it("refuses snapshots of another kind, a missing or wrong reward model, another tokenizer and bad settings, queueing nothing", async () => {
    // Reward models whose tokenizer files come from a model with another chat template, and from one
    // whose vocabulary gives the same ids to other tokens (the special tokens in another order).
    const other = path.resolve(env().DATA_DIR, "models", "other-template");
    writeGpt2ModelDir(other, { config: TINY_BASE, weights: initGpt2Weights(TINY_BASE, 1), tokenizer: bytesOnlyTokenizerJson([...DEMO_SPECIAL_TOKENS]), specialTokens: { bos: EOT, eos: EOT, pad: EOT } });
    const foreign = await tinyRewardModel(setup.project.id, setup.base, "rm-other-template", { tokenizerFrom: other });
    const otherVocabulary = path.resolve(env().DATA_DIR, "models", "other-vocabulary");
    const [eot, prompter, assistant, system] = DEMO_SPECIAL_TOKENS;
    writeGpt2ModelDir(otherVocabulary, { config: TINY_BASE, weights: initGpt2Weights(TINY_BASE, 1), tokenizer: bytesOnlyTokenizerJson([eot, assistant, prompter, system]), specialTokens: { bos: EOT, eos: EOT, pad: EOT }, chatTemplate: OASST_CHAT_TEMPLATE });
    const otherWords = await tinyRewardModel(setup.project.id, setup.base, "rm-other-vocabulary", { tokenizerFrom: otherVocabulary });

    const before = { runs: await prisma.trainingRun.count(), models: await prisma.modelVersion.count() };
    const start = (over: Partial<Parameters<typeof createTrainingRun>[0]>) =>
      createTrainingRun({ projectId: setup.project.id, kind: "ppo", exportIds: [prompts.id], baseModelId: setup.base.id, rewardModelId: rm.id, config: CONFIG, createdById: null, ...over });
    await expect(start({ exportIds: [setup.sft.id] })).rejects.toThrow(/is sft_messages; a PPO run reads prompts_text or prompts_conversational/);
    await expect(start({ rewardModelId: null })).rejects.toThrow(/Choose a reward model: a PPO run scores its samples with one/);
    await expect(start({ rewardModelId: setup.base.id })).rejects.toThrow(/is a policy model; choose a reward model/);
    await expect(start({ kind: "rloo", config: { samplesPerPrompt: 1 } })).rejects.toThrow(/samplesPerPrompt must be between 2 and 64/);
    await expect(start({ rewardModelId: foreign.id })).rejects.toThrow(/has another chat template than base-rl-runs/);

    // The Training page answers a TrainingRunError with its status; the CLI prints it and exits 1.
    for (const kind of ["ppo", "rloo"]) {
      const err = await start({ kind, rewardModelId: otherWords.id }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TrainingRunError);
      expect((err as TrainingRunError).status).toBe(400);
      expect((err as Error).message).toBe("The reward model rm-other-vocabulary has another tokenizer than base-rl-runs: it would read the policy's tokens as other words.");
    }
    const cli = await runCli(["train", "rloo", "--project", setup.project.slug, "--export", prompts.id, "--base", setup.base.name, "--reward-model", otherWords.name]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain("error: The reward model rm-other-vocabulary has another tokenizer than base-rl-runs");
    expect(cli.stdout).not.toMatch(/queued/);

    expect(await prisma.trainingRun.count()).toBe(before.runs);
    expect(await prisma.modelVersion.count()).toBe(before.models);
    expect(await (await queue("training")).getJobCounts("waiting", "delayed", "prioritized", "active")).toEqual({ waiting: 0, delayed: 0, prioritized: 0, active: 0 });
  });
});
