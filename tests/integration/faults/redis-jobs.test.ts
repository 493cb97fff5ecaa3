// Jobs requested while Redis is down, against the production server and a real worker process,
// both on a Redis of the test's own (started, killed and started again here, nothing on disk).
// While it is down every request that starts a job (exports, an import, a sampling run, a
// playground try-out) answers at once, the row is stored `queued` and says it waits for the
// queue. Once Redis is back, empty, the workers' catch-up puts each row's job on the queue and
// every job runs exactly once.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { QUEUE_DOWN_NOTE } from "~/jobs/enqueue.server.ts";
import { exportsRoot } from "~/models/datasets/exports.server.ts";
import { registerModel, setActivePolicy } from "~/models/model-registry.server.ts";
import { createProject } from "~/models/project.server.ts";
import { buildDemoModel } from "../../../inference/demo-model.ts";
import { startWebServer, startWorkers, waitFor, type RunningProcess } from "../../helpers/server.ts";
import { PrivateRedis } from "../../helpers/private-redis.ts";
import { addToProject, createTestUser } from "../../helpers/users.ts";

const SLUG = "redis-jobs";
const PER_PARENT = 2;
const PROMPTS = ["Name a colour.", "Say hello.", "Count to three.", "What is rain?"];
let redis: PrivateRedis;
let server: Awaited<ReturnType<typeof startWebServer>>;
let workers: RunningProcess;
let manager: Awaited<ReturnType<typeof createTestUser>>;
let admin: Awaited<ReturnType<typeof createTestUser>>;
let projectId = "";
let modelId = "";




beforeAll(async () => {
  const project = await createProject({ slug: SLUG, name: "Redis jobs", workflowConfig: { goalTreeSize: 50, maxChildrenPerMessage: 3 } });
  projectId = project.id;
  manager = await createTestUser({ name: "Man" });
  admin = await createTestUser({ role: "admin", name: "Ada" });
  await addToProject(projectId, manager.user.id, "manager");
  for (const text of PROMPTS) {
    const tree = await prisma.messageTree.create({ data: { projectId, state: "growing" } });
    await prisma.message.create({ data: { treeId: tree.id, projectId, role: "prompter", text, textHash: `h-${tree.id}`, reviewResult: "accepted", reviewCount: 3 } });
  }
  const modelDir = path.resolve(env().DATA_DIR, "models", "small");
  await buildDemoModel(modelDir, { layers: 2, dModel: 64, heads: 2, context: 128, seed: 7 });
  modelId = (await registerModel({ name: "small-policy", kind: "policy", path: modelDir, createdById: admin.user.id })).id;
  await setActivePolicy(projectId, modelId);
  await prisma.project.update({
    where: { id: projectId },
    data: { samplingConfig: { enabled: false, modelRepliesPerParent: PER_PARENT, params: { maxNewTokens: 8, temperature: 1 } } },
  });

  redis = await PrivateRedis.create();
  await redis.start();
  const queues = { REDIS_URL: redis.url, QUEUE_BACKEND: "redis" };
  server = await startWebServer(queues);
  workers = startWorkers({ ...queues, QUEUE_CATCHUP_SECONDS: "2", SAMPLING_SCHEDULE_SECONDS: "0", ORT_INTRA_OP_THREADS: "1" });
}, 180_000);

afterAll(async () => {
  await Promise.all([server?.stop(), workers?.stop()]);
  await redis?.kill();
});

function post(pathname: string, cookie: string, body: URLSearchParams | FormData) {
  return fetch(`${server.url}${pathname}`, {
    method: "POST",
    headers: { Cookie: cookie, Accept: "text/html" },
    body,
    redirect: "manual",
    // Far longer than an answer takes; only a request that hangs on the queue reaches it.
    signal: AbortSignal.timeout(30_000),
  });
}

type Requested = { table: "datasetExport" | "datasetImport" | "samplingRun" | "playgroundGeneration"; kind: string };

/** Every kind of job this test requests, through the pages a user would use. */
async function requestJobs(): Promise<Requested[]> {
  const out: Requested[] = [];
  for (const format of ["prompts_text", "sft_messages"]) {
    const res = await post(`/projects/${SLUG}/datasets`, manager.cookie, new URLSearchParams({ intent: "export", format, validationRatio: "0" }));
    expect(res.status, /role="alert"[^>]*>([^<]*)/.exec(await res.clone().text())?.[1]).toBe(200);
    out.push({ table: "datasetExport", kind: `export ${format}` });
  }
  const upload = new FormData();
  upload.set("format", "prompts");
  upload.set("mode", "reject_file");
  upload.set("file", new File([`Imported prompt one.\nImported prompt two.\n`], "prompts.txt", { type: "text/plain" }));
  const imported = await post(`/projects/${SLUG}/imports`, manager.cookie, upload);
  expect(imported.status).toBe(302);
  out.push({ table: "datasetImport", kind: "import" });

  const sampled = await post(`/projects/${SLUG}/sampling`, manager.cookie, new URLSearchParams({ intent: "sample" }));
  expect(sampled.status, await sampled.clone().text().then((t) => t.slice(0, 300))).toBe(200);
  out.push({ table: "samplingRun", kind: "sampling run" });

  const tried = await post("/admin/playground", admin.cookie, new URLSearchParams({ role: "prompter", text: "Hello there", k: "2", seed: "1", maxNewTokens: "6", modelId }));
  expect(tried.status).toBe(302);
  out.push({ table: "playgroundGeneration", kind: "playground" });
  return out;
}

type Row = { id: string; status: string; attempts: number; error: string | null };
const rowsOf = async (): Promise<Record<Requested["table"], Row[]>> => ({
  datasetExport: await prisma.datasetExport.findMany({ select: { id: true, status: true, attempts: true, error: true } }),
  datasetImport: await prisma.datasetImport.findMany({ select: { id: true, status: true, attempts: true, error: true } }),
  samplingRun: await prisma.samplingRun.findMany({ select: { id: true, status: true, attempts: true, error: true } }),
  playgroundGeneration: await prisma.playgroundGeneration.findMany({ select: { id: true, status: true, attempts: true, error: true } }),
});

describe("jobs requested while Redis is down", () => {
  it("answers at once, keeps each row queued with a note, and runs every job exactly once when Redis is back", async () => {
    await redis.kill();
    const requested = await requestJobs();
    const down = Object.values(await rowsOf()).flat();
    expect(down).toHaveLength(requested.length);
    for (const row of down) expect(row).toMatchObject({ status: "queued", attempts: 0, error: QUEUE_DOWN_NOTE });
    // The pages that list them still answer, and show the note.
    const page = await fetch(`${server.url}/projects/${SLUG}/datasets`, { headers: { Cookie: manager.cookie }, signal: AbortSignal.timeout(30_000) });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("the job queue cannot be reached right now");

    // Back, and empty: the jobs exist only as rows. The workers' catch-up puts them on the queue.
    await redis.start();
    const finished = async () => Object.values(await rowsOf()).flat().every((r) => r.status === "succeeded" || r.status === "failed");
    await waitFor(finished, "every job to finish", 150_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${workers.output().slice(-5_000)}`);
    });
    const after = await rowsOf();
    const all = Object.values(after).flat();
    for (const row of all) expect(row, workers.output().slice(-3_000)).toMatchObject({ status: "succeeded", attempts: 1, error: null });

    // Exactly once, by what each job leaves behind.
    const exportDirs = fs.readdirSync(exportsRoot()).sort();
    expect(exportDirs).toEqual(after.datasetExport.map((r) => r.id).sort());
    expect(await prisma.message.count({ where: { projectId, text: { startsWith: "Imported prompt" } } })).toBe(2);
    const parents = await prisma.message.findMany({ where: { projectId, text: { in: PROMPTS } }, select: { id: true } });
    for (const parent of parents)
      expect(await prisma.message.count({ where: { parentId: parent.id, modelVersionId: modelId } })).toBeLessThanOrEqual(PER_PARENT);
    const replies = await prisma.message.findMany({ where: { projectId, modelVersionId: modelId }, select: { importKey: true } });
    expect(replies.length).toBeGreaterThan(0);
    expect(new Set(replies.map((r) => r.importKey)).size).toBe(replies.length);

    console.log(JSON.stringify({ fault: "redis-killed-during-job-requests", requestedWhileDown: requested.length, kinds: requested.map((r) => r.kind), completed: all.filter((r) => r.status === "succeeded").length, runsPerJob: [...new Set(all.map((r) => r.attempts))] }));
  }, 240_000);
});
