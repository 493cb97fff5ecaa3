// The model registry and the sampling worker against real Postgres, Redis and ONNX models
// built here: validation before registration, K completions into trees, idempotent re-runs,
// capacity under concurrency, bad input failing the run with its reason, the playground.
import fs from "node:fs";
import path from "node:path";
import type { Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { closeQueues, enqueue, queue } from "~/jobs/enqueue.server.ts";
import { registerModel, setActivePolicy } from "~/models/model-registry.server.ts";
import { createProject } from "~/models/project.server.ts";
import { setRankingOrder } from "~/models/ranking-order.server.ts";
import { createSamplingRun, SamplingError } from "~/models/sampling.server.ts";
import { jobBackend } from "~/jobs/backend.server.ts";
import type { PlaygroundResult } from "~/domain/sampling/playground.ts";
import { buildDemoModel } from "../../../inference/demo-model.ts";
import { createQueueWorker, type JobDeps } from "../../../workers/harness.ts";
import { disposeModels } from "../../../workers/model-cache.ts";
import { playground } from "../../../workers/processors/playground.ts";
import { sampling } from "../../../workers/processors/sampling.ts";
import { waitFor } from "../../helpers/server.ts";
import { registeredRewardModel } from "../../helpers/training.ts";
import { createTestUser } from "../../helpers/users.ts";

const backend = await jobBackend();
const deps: JobDeps = { prisma, dataDir: env().DATA_DIR, ortThreads: 1 };
const workers: Worker[] = [];
const modelDir = path.resolve(env().DATA_DIR, "models", "small");
let modelId = "";
let adminId = "";

beforeAll(async () => {
  await buildDemoModel(modelDir, { layers: 2, dModel: 64, heads: 2, context: 128, seed: 7 });
  adminId = (await createTestUser({ role: "admin" })).user.id;
  const model = await registerModel({ name: "small-policy", kind: "policy", path: modelDir, createdById: adminId });
  modelId = model.id;
  for (const [key, processor] of [["sampling", sampling], ["playground", playground]] as const)
    workers.push(createQueueWorker(key, processor as never, deps, { backend, maxAttempts: 2 }));
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
  await closeQueues();
  await disposeModels();
  fs.rmSync(env().DATA_DIR, { recursive: true, force: true });
});

async function growingTree(projectId: string, prompt: string) {
  const tree = await prisma.messageTree.create({ data: { projectId, state: "growing" } });
  const root = await prisma.message.create({
    data: { treeId: tree.id, projectId, role: "prompter", text: prompt, textHash: `h-${tree.id}`, reviewResult: "accepted", reviewCount: 3 },
  });
  return { tree, root };
}

async function samplingProject(slug: string, sampling: Record<string, unknown>, workflow: Record<string, unknown> = {}) {
  const project = await createProject({ slug, name: slug, workflowConfig: { goalTreeSize: 50, maxChildrenPerMessage: 3, ...workflow } });
  await prisma.project.update({ where: { id: project.id }, data: { samplingConfig: { enabled: true, ...sampling } } });
  await setActivePolicy(project.id, modelId);
  return project;
}

async function finished(table: "samplingRun" | "playgroundGeneration", id: string) {
  const read = () => (prisma[table] as typeof prisma.samplingRun).findUniqueOrThrow({ where: { id } });
  await waitFor(async () => ["succeeded", "failed"].includes((await read()).status), `${table} ${id}`, 90_000);
  return read();
}

describe("model registry", () => {
  it("records the validated summary of a registered model", async () => {
    const row = await prisma.modelVersion.findUniqueOrThrow({ where: { id: modelId } });
    expect(row).toMatchObject({ kind: "policy", architecture: "GPT2LMHeadModel", vocabSize: 8192, contextLength: 128 });
    expect(Number(row.paramCount)).toBeGreaterThan(8192 * 64);
    expect((row.files as { sha256: string }).sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ["a truncated .onnx", (dir: string) => {
      const f = path.join(dir, "onnx", "model.onnx");
      fs.truncateSync(f, Math.floor(fs.statSync(f).size / 3));
    }, /model\.onnx/],
    ["a missing tokenizer.json", (dir: string) => fs.rmSync(path.join(dir, "tokenizer.json")), /tokenizer\.json/],
    ["a config that disagrees with the graph", (dir: string) => {
      const f = path.join(dir, "config.json");
      fs.writeFileSync(f, JSON.stringify({ ...JSON.parse(fs.readFileSync(f, "utf8")), n_embd: 96 }));
    }, /n_embd|hidden|96/],
  ])("refuses %s with a reason and stores nothing", async (_what, damage, reason) => {
    const dir = path.resolve(env().DATA_DIR, "models", `broken-${Math.random().toString(36).slice(2)}`);
    fs.cpSync(modelDir, dir, { recursive: true });
    damage(dir);
    const before = await prisma.modelVersion.count();
    await expect(registerModel({ name: path.basename(dir), kind: "policy", path: dir })).rejects.toThrow(reason);
    expect(await prisma.modelVersion.count()).toBe(before);
  });

  it("refuses a duplicate name", async () => {
    await expect(registerModel({ name: "small-policy", kind: "policy", path: modelDir })).rejects.toMatchObject({ status: 409 });
  });
});

describe("sampling worker", () => {
  it("queues scoring by the project's ranking model after a run that added replies, when sets are ranked by uncertainty", async () => {
    const project = await samplingProject("sample-ranked", { modelRepliesPerParent: 2, params: { maxNewTokens: 6, temperature: 1, topP: 1 } });
    const rm = await registeredRewardModel("small-rm", modelDir, project.id);
    await setRankingOrder(project.id, { mode: "uncertainty", rewardModelId: rm.id }, adminId);
    await growingTree(project.id, "Tell me about tides.");
    const run = await createSamplingRun({ projectId: project.id, createdById: adminId, seed: 5 });
    const done = await finished("samplingRun", run.id);
    expect(done.status, done.error ?? "").toBe("succeeded");
    expect((done.metrics as { completionsInserted: number }).completionsInserted).toBeGreaterThan(0);
    const jobs = await prisma.rewardJob.findMany({ where: { projectId: project.id } });
    expect(jobs.map((j) => [j.kind, j.modelVersionId, j.createdById])).toEqual([["score", rm.id, null]]);
    // A run that adds nothing queues nothing more.
    const again = await finished("samplingRun", (await createSamplingRun({ projectId: project.id, createdById: adminId, seed: 5 })).id);
    expect((again.metrics as { completionsInserted: number }).completionsInserted).toBe(0);
    expect(await prisma.rewardJob.count({ where: { projectId: project.id } })).toBe(1);
  });

  it("adds K model replies per prompt with params, seed and logprobs, and a re-run adds nothing", async () => {
    const project = await samplingProject("sample-k", { modelRepliesPerParent: 2, params: { maxNewTokens: 12, temperature: 1, topP: 1 } });
    const trees = await Promise.all([0, 1, 2].map((i) => growingTree(project.id, `Prompt number ${i}: tell me about tides.`)));
    const run = await createSamplingRun({ projectId: project.id, createdById: adminId, seed: 42 });
    const done = await finished("samplingRun", run.id);
    expect(done.status, done.error ?? "").toBe("succeeded");
    expect(done.progress).toBe(1);
    expect(done.metrics).toMatchObject({ parents: 3, provider: "cpu" });

    for (const { root } of trees) {
      const replies = await prisma.message.findMany({ where: { parentId: root.id } });
      const m = done.metrics as { completionsInserted: number; shortfall: number };
      expect(replies.length).toBeGreaterThan(0);
      expect(replies.length).toBeLessThanOrEqual(2);
      for (const r of replies) {
        expect(r).toMatchObject({ role: "assistant", synthetic: true, modelVersionId: modelId, modelName: "small-policy", samplingRunId: run.id, depth: 1 });
        expect(r.samplingParams).toMatchObject({ maxNewTokens: 12, temperature: 1 });
        expect(r.seed).not.toBeNull();
        expect(r.logprobs).toMatchObject({ num_tokens: expect.any(Number), mean_logprob: expect.any(Number) });
        expect(r.text.trim().length).toBeGreaterThan(0);
      }
      expect(new Set(replies.map((r) => r.textHash)).size).toBe(replies.length);
      expect((await prisma.message.findUniqueOrThrow({ where: { id: root.id } })).childrenCount).toBe(replies.length);
      expect(m.completionsInserted + m.shortfall).toBe(6);
    }
    const count = await prisma.message.count({ where: { projectId: project.id, synthetic: true } });

    // The same run's job again: everything it wanted is there, so it inserts nothing.
    await prisma.samplingRun.update({ where: { id: run.id }, data: { status: "queued" } });
    await (await queue("sampling")).add("sampling", { samplingRunId: run.id }, { jobId: `again-${run.id}` });
    const again = await finished("samplingRun", run.id);
    expect(again.status).toBe("succeeded");
    expect(await prisma.message.count({ where: { projectId: project.id, synthetic: true } })).toBe(count);
  });

  it("never fills a parent beyond its capacity, with open reply tasks keeping their slot", async () => {
    const project = await samplingProject("sample-cap", { modelRepliesPerParent: 3, params: { maxNewTokens: 8, temperature: 1.2, topP: 1 } }, { maxChildrenPerMessage: 3 });
    const { tree, root } = await growingTree(project.id, "Why is the sky blue?");
    const labeler = await createTestUser();
    await prisma.message.create({
      data: { treeId: tree.id, projectId: project.id, parentId: root.id, depth: 1, role: "assistant", text: "Rayleigh scattering.", textHash: "human-1", authorUserId: labeler.user.id },
    });
    await prisma.task.create({
      data: { projectId: project.id, type: "assistant_reply", assigneeId: labeler.user.id, treeId: tree.id, messageId: root.id, expiresAt: new Date(Date.now() + 3600_000), state: "acknowledged" },
    });
    // Two runs at once compete for the one free slot.
    const runs = await Promise.all([1, 2].map((seed) => createSamplingRun({ projectId: project.id, createdById: adminId, seed })));
    for (const r of runs) expect((await finished("samplingRun", r.id)).status).toBe("succeeded");
    const children = await prisma.message.count({ where: { parentId: root.id, deleted: false } });
    expect(children).toBe(2); // 1 human + 1 model; the open task holds the third slot
  });

  it("refuses impossible parameters before creating a run, and fails a bad run with its reason", async () => {
    const project = await samplingProject("sample-bad", { params: { maxNewTokens: 8 } });
    await growingTree(project.id, "Hello?");
    const before = await prisma.samplingRun.count();
    await expect(createSamplingRun({ projectId: project.id, createdById: adminId, params: { topP: 0 } })).rejects.toThrow(SamplingError);
    await expect(createSamplingRun({ projectId: project.id, createdById: adminId, params: { temperature: -1 } })).rejects.toThrow(/temperature/);
    expect(await prisma.samplingRun.count()).toBe(before);

    const bad = await prisma.samplingRun.create({
      data: { projectId: project.id, modelVersionId: modelId, config: { params: { temperature: 1 }, maxParents: 0 } },
    });
    await enqueue("sampling", { samplingRunId: bad.id });
    const failed = await finished("samplingRun", bad.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/Invalid sampling config: .*maxParents/);
    expect(failed.attempts).toBe(1);
  });

  it("skips a prompt longer than the context and says why, sampling the others", async () => {
    const project = await samplingProject("sample-long", { modelRepliesPerParent: 1, params: { maxNewTokens: 4, topP: 1 } });
    const { root: long } = await growingTree(project.id, "word ".repeat(400));
    const { root: short } = await growingTree(project.id, "A short question?");
    const run = await createSamplingRun({ projectId: project.id, createdById: adminId, seed: 5 });
    const done = await finished("samplingRun", run.id);
    expect(done.status, done.error ?? "").toBe("succeeded");
    const metrics = done.metrics as { skipped: { parentId: string; reason: string }[] };
    expect(metrics.skipped).toEqual([{ parentId: long.id, reason: expect.stringMatching(/context/) }]);
    expect(await prisma.message.count({ where: { parentId: long.id } })).toBe(0);
    expect(await prisma.message.count({ where: { parentId: short.id } })).toBe(1);
  });
});

describe("playground", () => {
  it("generates K completions with token counts, tok/s and the provider", async () => {
    const row = await prisma.playgroundGeneration.create({
      data: {
        modelVersionId: modelId,
        createdById: adminId,
        input: { conversation: [{ role: "prompter", text: "Write a haiku about ONNX." }], k: 3, seed: 11, params: { temperature: 0.9, topK: 0, topP: 1, repetitionPenalty: 1, maxNewTokens: 10, minNewTokens: 10, stop: [] } },
      },
    });
    await enqueue("playground", { generationId: row.id });
    const done = await finished("playgroundGeneration", row.id);
    expect(done.status, done.error ?? "").toBe("succeeded");
    const result = (done as unknown as { result: PlaygroundResult }).result;
    expect(result.provider).toBe("cpu");
    expect(result.completions.length + result.duplicates).toBe(3);
    for (const c of result.completions) expect(c.numTokens).toBe(10);
    expect(result.tokensPerSecond).toBeGreaterThan(0);
  });
});
