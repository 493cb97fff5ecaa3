// The queue catch-up: every row that wants to run (queued, or running) gets a live job. It finds
// rows requested while the queue store was down, jobs a Redis restart lost (nothing on disk),
// and a resumed row whose previous job has finished. Job ids come from the rows, so any number
// of workers may run it at once and each job is still added once.
import { prisma } from "~/db.server.ts";
import { QUEUES, ROW_TABLE, jobIdFor, type QueueKey } from "./queues.ts";
import { QUEUE_DOWN_NOTE, addJob, bounded, payloadOf, queue } from "./enqueue.server.ts";

export type CatchUp = { checked: number; enqueued: number; failedRows: number };

export async function catchUpQueues(keys: QueueKey[] = Object.keys(QUEUES) as QueueKey[]): Promise<CatchUp> {
  const totals: CatchUp = { checked: 0, enqueued: 0, failedRows: 0 };
  for (const key of keys) {
    const table = ROW_TABLE[key];
    const rows = await prisma.$queryRawUnsafe<{ id: string; status: "queued" | "running" }[]>(
      `SELECT id::text AS id, status::text AS status FROM ${table} WHERE status IN ('queued', 'running') ORDER BY created_at`,
    );
    if (rows.length === 0) continue;
    const q = await queue(key);
    for (const row of rows) {
      totals.checked++;
      const payload = payloadOf(key, row.id);
      const jobId = jobIdFor(key, payload);
      const job = await bounded(`queue ${key}`, q.getJob(jobId));
      const state = job ? await bounded(`queue ${key}`, job.getState()) : "missing";
      if (state === "failed" && row.status === "running") {
        // Failed outside the processor (a worker died with it more often than allowed): the row
        // says so instead of running again.
        totals.failedRows += await prisma.$executeRawUnsafe(
          `UPDATE ${table} SET status = 'failed', error = $2, finished_at = now() WHERE id = $1::uuid AND status = 'running'`,
          row.id,
          `The job failed: ${job?.failedReason ?? "no reason given"}`,
        );
        continue;
      }
      if (state !== "missing" && state !== "unknown" && state !== "completed" && state !== "failed") continue;
      // The row was read before the job's state: a job that finished in between left its row
      // finished too, and wants no new run.
      const [now] = await prisma.$queryRawUnsafe<{ status: string }[]>(`SELECT status::text AS status FROM ${table} WHERE id = $1::uuid`, row.id);
      if (now?.status !== "queued" && now?.status !== "running") continue;
      // A finished job keeps its id until removed; the row wants a new run under that id.
      if (job && (state === "completed" || state === "failed")) await bounded(`queue ${key}`, job.remove());
      await addJob(key, payload);
      totals.enqueued++;
      await prisma.$executeRawUnsafe(`UPDATE ${table} SET error = NULL WHERE id = $1::uuid AND status = 'queued' AND error = $2`, row.id, QUEUE_DOWN_NOTE);
    }
  }
  return totals;
}
