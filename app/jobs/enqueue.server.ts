// Producers: the row already exists (created in the caller's transaction); this puts its job
// on the queue with jobId derived from the row, so enqueuing twice is harmless.
import { Queue } from "bullmq";
import { env } from "~/env.server.ts";
import { redis } from "~/redis.server.ts";
import { QUEUES, jobIdFor, type Payload, type QueueKey } from "./queues.ts";

const queues = new Map<QueueKey, Queue>();

export function queue(key: QueueKey): Queue {
  let q = queues.get(key);
  if (!q) {
    q = new Queue(QUEUES[key].name, { connection: redis(), prefix: env().QUEUE_PREFIX });
    queues.set(key, q);
  }
  return q;
}

export const JOB_ATTEMPTS = 3;

export async function enqueue<K extends QueueKey>(key: K, payload: Payload<K>): Promise<string> {
  const data = QUEUES[key].payload.parse(payload);
  const jobId = jobIdFor(key, data as Payload<K>);
  await queue(key).add(key, data, {
    jobId,
    attempts: JOB_ATTEMPTS,
    backoff: { type: "exponential", delay: 2_000 },
    removeOnComplete: { age: 7 * 24 * 3600 },
    removeOnFail: { age: 30 * 24 * 3600 },
  });
  return jobId;
}

/** Closes the queues this process opened (scripts call it before exiting). */
export async function closeQueues(): Promise<void> {
  const open = [...queues.values()];
  queues.clear();
  await Promise.allSettled(open.map((q) => q.close()));
}
