// The job harness on a queue backend (each backend's test file runs this suite): progress on
// job and row, retries, unrecoverable failures, duplicate enqueues, a stalled job taken over by
// another worker, and a worker process that stops cleanly.
import { UnrecoverableError, type Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { jobBackend, type JobBackend, type QueueBackendKind } from "~/jobs/backend.server.ts";
import { addJob, closeQueues, enqueue, queue } from "~/jobs/enqueue.server.ts";
import { catchUpQueues } from "~/jobs/catch-up.server.ts";
import * as health from "~/routes/health.ts";
import { createQueueWorker, type JobDeps, type Processor } from "../../../workers/harness.ts";
import { call } from "../../helpers/users.ts";
import { startWorkers, waitFor } from "../../helpers/server.ts";

export function jobSuite(kind: QueueBackendKind) {
process.env.QUEUE_BACKEND = kind;
const deps: JobDeps = { prisma, dataDir: "test-output", ortThreads: 1 };
const workers: Worker[] = [];
let backend: JobBackend;

beforeAll(async () => {
  backend = await jobBackend();
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
  await closeQueues();
});

function startExportWorker(processor: Processor<"export">, lockSeconds?: number) {
  const w = createQueueWorker("export", processor, deps, { backend, maxAttempts: 3, lockSeconds });
  workers.push(w);
  return w;
}

it(`runs on the ${kind} backend`, () => {
  expect(backend.kind).toBe(kind);
});

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
    const jobId = await addJob("export", { exportId: ok.id });
    expect(await addJob("export", { exportId: ok.id })).toBe(jobId); // same row → same job
    const done = await waitForStatus(ok.id, "succeeded");
    expect(done.progress).toBe(1);
    expect(done.attempts).toBe(1);
    expect(done.startedAt).not.toBeNull();
    expect(done.finishedAt).not.toBeNull();
    expect(seenProgress).toEqual([0.5]);
    expect(calls.get(ok.id)).toBe(1);
    expect((await (await queue("export")).getJob(jobId))?.progress).toBe(100);

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
    const q = await queue("export");
    await q.add("export", { exportId: row.id }, { jobId: `replay-${row.id}` });
    await waitFor(async () => (await q.getJob(`replay-${row.id}`))?.finishedOn !== undefined, "replayed job");
    expect(ran).toBe(false);
    await worker.close();
  });

  it("hands a job whose worker stopped answering to another worker, which finishes it once", async () => {
    const row = await newExportRow();
    const runs: string[] = [];
    // The first worker takes the job and then goes silent: force-closed, it stops renewing the lock.
    const silent = startExportWorker(async () => {
      runs.push("silent");
      await new Promise<never>(() => undefined);
    }, 1);
    await silent.waitUntilReady();
    await enqueue("export", { exportId: row.id });
    await waitFor(async () => runs.length === 1, "the first worker to take the job");
    await silent.close(true);

    const rescuer = startExportWorker(async (_payload, ctx) => {
      runs.push("rescuer");
      await ctx.progress(1);
    }, 1);
    await rescuer.waitUntilReady();
    const done = await waitForStatus(row.id, "succeeded");
    expect(runs).toEqual(["silent", "rescuer"]);
    expect(done.attempts).toBe(2);
    expect(done.progress).toBe(1);
    await rescuer.close();
  });

  it("catches up: a row whose job never reached the queue and a resumed row get one job each, however often it runs", async () => {
    const calls = new Map<string, number>();
    const worker = startExportWorker(async ({ exportId }) => {
      calls.set(exportId, (calls.get(exportId) ?? 0) + 1);
    });
    await worker.waitUntilReady();
    const lost = await newExportRow(); // as if its add had not reached the queue
    const resumed = await newExportRow();
    await enqueue("export", { exportId: resumed.id });
    await waitForStatus(resumed.id, "succeeded");
    // Back to queued, while its finished job still holds the id.
    await prisma.datasetExport.update({ where: { id: resumed.id }, data: { status: "queued", finishedAt: null } });

    expect((await catchUpQueues(["export"])).enqueued).toBe(2);
    expect((await catchUpQueues(["export"])).enqueued).toBe(0);
    await waitForStatus(lost.id, "succeeded");
    await waitForStatus(resumed.id, "succeeded");
    expect((await catchUpQueues(["export"])).checked).toBe(0);
    expect(Object.fromEntries(calls)).toEqual({ [lost.id]: 1, [resumed.id]: 2 });
    await worker.close();
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
      expect(res.body).toMatchObject({ status: "ok", database: { ok: true }, queues: { ok: true, backend: kind }, workers: { ok: true, count: 1 } });
      expect(proc.output()).toContain(kind === "redis" ? " on Redis at " : "BullMQ's Postgres backend");
    } finally {
      const code = await proc.stop();
      expect(code, proc.output()).toBe(0);
      expect(proc.output()).toContain("workers stopped");
    }
    const after = await call(() => health.loader());
    expect((after.body as { workers: { ok: boolean; count: number } }).workers).toMatchObject({ ok: false, count: 0 });
  });
});
}
