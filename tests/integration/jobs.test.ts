// The job harness against real Redis and Postgres: progress on job and row, retries,
// unrecoverable failures, duplicate enqueues, and a worker process that stops cleanly.
import { UnrecoverableError, type Worker } from "bullmq";
import { afterAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { enqueue, queue } from "~/jobs/enqueue.server.ts";
import { createRedis } from "~/redis.server.ts";
import * as health from "~/routes/health.ts";
import { createQueueWorker, type JobDeps, type Processor } from "../../workers/harness.ts";
import { call } from "../helpers/users.ts";
import { startWorkers, waitFor } from "../helpers/server.ts";

const connection = createRedis({ forWorker: true });
const deps: JobDeps = { prisma, dataDir: "test-output", ortThreads: 1 };
const workers: Worker[] = [];

afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
  await queue("export").close();
  await connection.quit();
});

function startExportWorker(processor: Processor<"export">) {
  const w = createQueueWorker("export", processor, deps, { connection, prefix: env().QUEUE_PREFIX, maxAttempts: 3 });
  workers.push(w);
  return w;
}

async function newExportRow() {
  return prisma.datasetExport.create({ data: { format: "test", filters: {}, config: {} } });
}

async function waitForStatus(id: string, status: string) {
  await waitFor(async () => (await prisma.datasetExport.findUniqueOrThrow({ where: { id } })).status === status, `export ${id} ${status}`, 30_000);
  return prisma.datasetExport.findUniqueOrThrow({ where: { id } });
}

describe("job harness", () => {
  it("runs a job once, reports progress to job and row, retries, and records failures", async () => {
    const calls = new Map<string, number>();
    const seenProgress: number[] = [];
    const worker = startExportWorker(async ({ exportId }, ctx) => {
      const n = (calls.get(exportId) ?? 0) + 1;
      calls.set(exportId, n);
      const row = await prisma.datasetExport.findUniqueOrThrow({ where: { id: exportId } });
      const mode = (row.config as { mode?: string }).mode;
      if (mode === "flaky" && n === 1) throw new Error("transient failure");
      if (mode === "bad") throw new UnrecoverableError("the filters name an unknown project");
      await ctx.progress(0.5);
      seenProgress.push((await prisma.datasetExport.findUniqueOrThrow({ where: { id: exportId } })).progress);
      await ctx.progress(1);
    });
    await worker.waitUntilReady();

    const ok = await newExportRow();
    const jobId = await enqueue("export", { exportId: ok.id });
    expect(await enqueue("export", { exportId: ok.id })).toBe(jobId); // same row → same job
    const done = await waitForStatus(ok.id, "succeeded");
    expect(done.progress).toBe(1);
    expect(done.attempts).toBe(1);
    expect(done.startedAt).not.toBeNull();
    expect(done.finishedAt).not.toBeNull();
    expect(seenProgress).toEqual([0.5]);
    expect(calls.get(ok.id)).toBe(1);
    expect((await queue("export").getJob(jobId))?.progress).toBe(100);

    const flaky = await prisma.datasetExport.create({ data: { format: "test", filters: {}, config: { mode: "flaky" } } });
    await enqueue("export", { exportId: flaky.id });
    const retried = await waitForStatus(flaky.id, "succeeded");
    expect(retried.attempts).toBe(2);
    expect(retried.error).toBeNull();

    const bad = await prisma.datasetExport.create({ data: { format: "test", filters: {}, config: { mode: "bad" } } });
    await enqueue("export", { exportId: bad.id });
    const failed = await waitForStatus(bad.id, "failed");
    expect(failed.error).toBe("the filters name an unknown project");
    expect(calls.get(bad.id)).toBe(1);
    await worker.close(); // the next test's worker must be the only consumer
  });

  it("does not run a finished row again when its job is replayed", async () => {
    const row = await newExportRow();
    await prisma.datasetExport.update({ where: { id: row.id }, data: { status: "succeeded", progress: 1 } });
    let ran = false;
    const worker = startExportWorker(async () => {
      ran = true;
    });
    await worker.waitUntilReady();
    await queue("export").add("export", { exportId: row.id }, { jobId: `replay-${row.id}` });
    await waitFor(async () => (await queue("export").getJob(`replay-${row.id}`))?.finishedOn !== undefined, "replayed job");
    expect(ran).toBe(false);
  });
});

describe("worker process", () => {
  it("sends heartbeats seen by /health and exits cleanly on SIGTERM", async () => {
    const proc = startWorkers();
    try {
      await waitFor(async () => {
        const res = await call(() => health.loader());
        return (res.body as { workers: { ok: boolean } }).workers.ok;
      }, "a worker heartbeat", 30_000);
      const res = await call(() => health.loader());
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: "ok", database: { ok: true }, redis: { ok: true }, workers: { ok: true, count: 1 } });
    } finally {
      const code = await proc.stop();
      expect(code, proc.output()).toBe(0);
      expect(proc.output()).toContain("workers stopped");
    }
    const after = await call(() => health.loader());
    expect((after.body as { workers: { ok: boolean; count: number } }).workers).toMatchObject({ ok: false, count: 0 });
  });
});
