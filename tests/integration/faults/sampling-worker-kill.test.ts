// A sampling run in a real worker process, killed (SIGKILL) halfway: another worker process
// takes the job over once its lock expires and finishes the run, and every prompt ends with
// its K model replies exactly once: none lost with the killed process, none added twice.
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { closeQueues } from "~/jobs/enqueue.server.ts";
import { registerModel, setActivePolicy } from "~/models/model-registry.server.ts";
import { createProject } from "~/models/project.server.ts";
import { createSamplingRun } from "~/models/sampling.server.ts";
import { buildDemoModel } from "../../../inference/demo-model.ts";
import { startWorkers, waitFor, type RunningProcess } from "../../helpers/server.ts";
import { createTestUser } from "../../helpers/users.ts";

// A job whose worker stops answering is taken over after two seconds instead of a minute.
const WORKER_ENV = { JOB_LOCK_SECONDS: "2", SAMPLING_SCHEDULE_SECONDS: "0", ORT_INTRA_OP_THREADS: "1" };
const K = 2;
const PROMPTS = 120;
const running: RunningProcess[] = [];
let projectId = "";
let modelId = "";

beforeAll(async () => {
  const project = await createProject({ slug: "sampling-kill", name: "Sampling kill", workflowConfig: { goalTreeSize: 50, maxChildrenPerMessage: 3 } });
  projectId = project.id;
  const admin = await createTestUser({ role: "admin" });
  const modelDir = path.resolve(env().DATA_DIR, "models", "small");
  await buildDemoModel(modelDir, { layers: 2, dModel: 64, heads: 2, context: 128, seed: 7 });
  modelId = (await registerModel({ name: "small-policy", kind: "policy", path: modelDir, createdById: admin.user.id })).id;
  await setActivePolicy(projectId, modelId);
  // Small batches and enough prompts that the run takes several seconds: time to kill it halfway.
  await prisma.project.update({
    where: { id: projectId },
    data: { samplingConfig: { enabled: false, modelRepliesPerParent: K, maxParentsPerRun: 1_000, batchPrompts: 4, params: { maxNewTokens: 24, temperature: 1 } } },
  });
  for (let i = 0; i < PROMPTS; i++) {
    const tree = await prisma.messageTree.create({ data: { projectId, state: "growing" } });
    await prisma.message.create({
      data: { treeId: tree.id, projectId, role: "prompter", text: `Prompt ${i}: tell me something.`, textHash: `h-${tree.id}`, reviewResult: "accepted", reviewCount: 3 },
    });
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(running.map((w) => w.stop()));
  await closeQueues();
});

const modelReplies = () => prisma.message.count({ where: { projectId, modelVersionId: modelId } });

it("takes over a sampling run whose worker was killed, and each prompt gets its K replies exactly once", async () => {
  const first = startWorkers(WORKER_ENV);
  running.push(first);
  const run = await createSamplingRun({ projectId, createdById: null, seed: 1234 });
  await waitFor(async () => (await modelReplies()) >= (PROMPTS * K) / 4, "the run to insert a quarter of its replies", 90_000);
  first.child.kill("SIGKILL");
  await first.stop();

  const interrupted = await prisma.samplingRun.findUniqueOrThrow({ where: { id: run.id } });
  expect(interrupted.status).toBe("running");
  const before = await modelReplies();
  expect(before).toBeLessThan(PROMPTS * K);

  const second = startWorkers(WORKER_ENV);
  running.push(second);
  await waitFor(async () => ["succeeded", "failed"].includes((await prisma.samplingRun.findUniqueOrThrow({ where: { id: run.id } })).status), "the run to finish", 150_000);
  const done = await prisma.samplingRun.findUniqueOrThrow({ where: { id: run.id } });
  expect(done, second.output().slice(-3_000)).toMatchObject({ status: "succeeded", attempts: 2, error: null });

  const replies = await prisma.message.findMany({
    where: { projectId, modelVersionId: modelId },
    select: { parentId: true, text: true, importKey: true, samplingRunId: true },
  });
  const perParent = new Map<string, string[]>();
  for (const r of replies) perParent.set(r.parentId!, [...(perParent.get(r.parentId!) ?? []), r.text]);
  expect(perParent.size).toBe(PROMPTS);
  for (const [parent, texts] of perParent) {
    expect(texts, parent).toHaveLength(K);
    expect(new Set(texts).size, parent).toBe(K);
  }
  expect(new Set(replies.map((r) => r.importKey)).size).toBe(replies.length);
  expect(replies.every((r) => r.samplingRunId === run.id)).toBe(true);
  // The parents' reply counts agree with their replies.
  const counts = await prisma.message.findMany({ where: { projectId, parentId: null }, select: { childrenCount: true } });
  expect(counts.every((c) => c.childrenCount === K)).toBe(true);
  // What the resumed attempt reports covers only what it added.
  expect((done.metrics as { completionsInserted: number }).completionsInserted).toBe(PROMPTS * K - before);
  console.log(JSON.stringify({ fault: "sampling-worker-killed", prompts: PROMPTS, k: K, repliesBeforeKill: before, repliesAfter: replies.length, attempts: done.attempts }));
}, 300_000);
