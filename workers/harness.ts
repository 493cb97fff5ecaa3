// Runs a queue's processor around its row: parse the payload, skip finished rows (a retried
// or duplicated job does nothing twice), mark running, report progress to the job and the
// row, and record success or the failure reason on the row.
import { Job, UnrecoverableError, type Worker } from "bullmq";
import type { PrismaClient } from "~/db.server.ts";
import type { JobBackend } from "~/jobs/backend.server.ts";
import { QUEUES, ROW_TABLE, type Payload, type QueueKey } from "~/jobs/queues.ts";

export type JobDeps = { prisma: PrismaClient; dataDir: string; ortThreads: number };

export type JobContext = {
  job: Job;
  /** Fraction done in [0, 1]; written to the job at once and to the row at most twice a second. */
  progress: (fraction: number) => Promise<void>;
  log: (message: string) => void;
};

export type Processor<K extends QueueKey> = (payload: Payload<K>, ctx: JobContext, deps: JobDeps) => Promise<void>;

const ROW_PROGRESS_INTERVAL_MS = 500;

async function rowStatus(deps: JobDeps, table: string, id: string): Promise<string | null> {
  const rows = await deps.prisma.$queryRawUnsafe<{ status: string }[]>(
    `SELECT status::text AS status FROM ${table} WHERE id = $1::uuid`,
    id,
  );
  return rows[0]?.status ?? null;
}

export async function runTrackedJob<K extends QueueKey>(
  key: K,
  job: Job,
  processor: Processor<K>,
  deps: JobDeps,
  maxAttempts: number,
): Promise<void> {
  const parsed = QUEUES[key].payload.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`Invalid ${key} payload: ${parsed.error.message}`);
  const payload = parsed.data as Payload<K>;
  const table = ROW_TABLE[key];
  const rowId = (QUEUES[key].rowIdOf as (p: Payload<K>) => string)(payload);

  const status = await rowStatus(deps, table, rowId);
  if (status === null) throw new UnrecoverableError(`No ${table} row ${rowId}`);
  if (status === "succeeded" || status === "cancelled") return;

  await deps.prisma.$executeRawUnsafe(
    `UPDATE ${table} SET status = 'running', started_at = COALESCE(started_at, now()), attempts = attempts + 1, error = NULL WHERE id = $1::uuid`,
    rowId,
  );

  let lastRowWrite = 0;
  const ctx: JobContext = {
    job,
    log: (message) => void job.log(message).catch(() => undefined),
    progress: async (fraction) => {
      const p = Math.min(1, Math.max(0, fraction));
      await job.updateProgress(Math.round(p * 1000) / 10);
      const now = Date.now();
      if (now - lastRowWrite >= ROW_PROGRESS_INTERVAL_MS || p === 1) {
        lastRowWrite = now;
        await deps.prisma.$executeRawUnsafe(`UPDATE ${table} SET progress = $2 WHERE id = $1::uuid`, rowId, p);
      }
    },
  };

  try {
    await processor(payload, ctx, deps);
    await deps.prisma.$executeRawUnsafe(
      // A run cancelled while it worked stays cancelled.
      `UPDATE ${table} SET status = 'succeeded', progress = 1, finished_at = now(), error = NULL WHERE id = $1::uuid AND status <> 'cancelled'`,
      rowId,
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const final = error instanceof UnrecoverableError || job.attemptsMade + 1 >= maxAttempts;
    await deps.prisma.$executeRawUnsafe(
      `UPDATE ${table} SET status = $2::"JobStatus", error = $3, finished_at = CASE WHEN $2 = 'failed' THEN now() ELSE NULL END WHERE id = $1::uuid AND status <> 'cancelled'`,
      rowId,
      final ? "failed" : "queued",
      final ? message : `attempt ${job.attemptsMade + 1} failed, retrying: ${message}`,
    );
    throw error;
  }
}

export function createQueueWorker<K extends QueueKey>(
  key: K,
  processor: Processor<K>,
  deps: JobDeps,
  opts: { backend: JobBackend; concurrency?: number; maxAttempts?: number; lockSeconds?: number },
): Worker {
  const maxAttempts = opts.maxAttempts ?? 3;
  const lockDuration = (opts.lockSeconds ?? 60) * 1000;
  return opts.backend.createWorker(QUEUES[key].name, (job) => runTrackedJob(key, job, processor, deps, maxAttempts), {
    concurrency: opts.concurrency ?? 1,
    // A job whose worker died is picked up again after the lock expires, by whichever worker
    // checks for stalled jobs next.
    lockDuration,
    stalledInterval: Math.min(30_000, lockDuration / 2),
    maxStalledCount: 2,
  });
}
