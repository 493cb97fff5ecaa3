// Producers: the row already exists (created in the caller's transaction); this puts its job
// on the queue with jobId derived from the row, so enqueuing twice is harmless.
import type { Queue } from "bullmq";
import { closeJobBackend, jobBackend } from "./backend.server.ts";
import { QUEUES, jobIdFor, type Payload, type QueueKey } from "./queues.ts";

const queues = new Map<QueueKey, Promise<Queue>>();

/** This process's producer for a queue, on the backend chosen in ./backend.server.ts. */
export function queue(key: QueueKey): Promise<Queue> {
  let q = queues.get(key);
  if (!q) {
    q = jobBackend().then((backend) => backend.createQueue(QUEUES[key].name));
    queues.set(key, q);
  }
  return q;
}

export const JOB_ATTEMPTS = 3;
/** Log entries kept per job. */
export const JOB_LOG_LINES = 10_000;

export async function enqueue<K extends QueueKey>(key: K, payload: Payload<K>): Promise<string> {
  const data = QUEUES[key].payload.parse(payload);
  const jobId = jobIdFor(key, data as Payload<K>);
  await (await queue(key)).add(key, data, {
    jobId,
    attempts: JOB_ATTEMPTS,
    backoff: { type: "exponential", delay: 2_000 },
    removeOnComplete: { age: 7 * 24 * 3600 },
    removeOnFail: { age: 30 * 24 * 3600 },
    // The newest lines stay: an external training command logs one entry per output line.
    keepLogs: JOB_LOG_LINES,
  });
  return jobId;
}

/** Closes the queues this process opened and the backend's connections (scripts call it before exiting). */
export async function closeQueues(): Promise<void> {
  const open = [...queues.values()];
  queues.clear();
  await Promise.allSettled(open.map(async (q) => (await q).close()));
  await closeJobBackend();
}
