// Producers: the row already exists (created in the caller's transaction); this puts its job
// on the queue with jobId derived from the row, so enqueuing twice is harmless. A queue store
// that is down never holds a request: the add is bounded, and a row whose job could not be added
// stays `queued` with a note until the workers' catch-up (./catch-up.server.ts) adds it.
import type { JobsOptions, Queue } from "bullmq";
import { prisma } from "~/db.server.ts";
import { closeJobBackend, jobBackend } from "./backend.server.ts";
import { QUEUES, ROW_TABLE, jobIdFor, type Payload, type QueueKey } from "./queues.ts";

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

export const JOB_OPTIONS: JobsOptions = {
  attempts: JOB_ATTEMPTS,
  backoff: { type: "exponential", delay: 2_000 },
  removeOnComplete: { age: 7 * 24 * 3600 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

/** How long a request waits on the queue store before going on without it. */
export const QUEUE_TIMEOUT_MS = 3_000;

/** What a row says while its job waits for the queue store to come back. */
export const QUEUE_DOWN_NOTE = "Queued: the job queue cannot be reached right now; this starts by itself once it is back.";

export class QueueUnavailable extends Error {}

/**
 * A queue operation bounded in time. While Redis has never answered, BullMQ waits for it
 * without end; once connected, a lost connection fails commands after a few retries. Both
 * become a QueueUnavailable here within `ms`.
 */
export async function bounded<T>(what: string, operation: Promise<T>, ms = QUEUE_TIMEOUT_MS): Promise<T> {
  // An abandoned operation may still fail later; that is expected, not unhandled.
  operation.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new QueueUnavailable(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([operation, timeout]);
  } catch (error) {
    if (error instanceof QueueUnavailable) throw error;
    throw new QueueUnavailable(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    clearTimeout(timer);
  }
}

/** The payload of a row's job (every payload is the row's id under one name). */
export function payloadOf<K extends QueueKey>(key: K, rowId: string): Payload<K> {
  const [field] = Object.keys(QUEUES[key].payload.shape);
  return { [field]: rowId } as Payload<K>;
}

/** Adds the job, or waits at most QUEUE_TIMEOUT_MS for the queue store (QueueUnavailable). */
export async function addJob<K extends QueueKey>(key: K, payload: Payload<K>): Promise<string> {
  const data = QUEUES[key].payload.parse(payload);
  const jobId = jobIdFor(key, data as Payload<K>);
  await bounded(`queue ${key}`, queue(key).then((q) => q.add(key, data, { ...JOB_OPTIONS, jobId })));
  return jobId;
}

/**
 * Puts a row's job on the queue. Returns false when the queue store did not answer: the row
 * then stays `queued`, says so, and the workers' catch-up adds its job once the store is back.
 */
export async function enqueue<K extends QueueKey>(key: K, payload: Payload<K>): Promise<boolean> {
  try {
    await addJob(key, payload);
    return true;
  } catch (error) {
    if (!(error instanceof QueueUnavailable)) throw error;
    const rowId = (QUEUES[key].rowIdOf as (p: Payload<K>) => string)(payload);
    console.error(`[${key}] ${rowId} stays queued until the queue is back (${error.message})`);
    await prisma.$executeRawUnsafe(`UPDATE ${ROW_TABLE[key]} SET error = $2 WHERE id = $1::uuid AND status = 'queued'`, rowId, QUEUE_DOWN_NOTE);
    return false;
  }
}

/** Closes the queues this process opened and the backend's connections (scripts call it before exiting). */
export async function closeQueues(): Promise<void> {
  const open = [...queues.values()];
  queues.clear();
  await Promise.allSettled(open.map(async (q) => (await q).close()));
  await closeJobBackend();
}
