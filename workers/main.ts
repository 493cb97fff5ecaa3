// Worker entrypoint: connects to Redis and Postgres, registers a BullMQ worker per queue,
// keeps a heartbeat, and on SIGTERM/SIGINT closes workers, then Redis, then Prisma.
import { env } from "~/env.server.ts";
import { pgPool, prisma } from "~/db.server.ts";
import { createRedis } from "~/redis.server.ts";
import type { QueueKey } from "~/jobs/queues.ts";
import { createQueueWorker, type JobDeps } from "./harness.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { disposeModels } from "./model-cache.ts";
import { PROCESSORS } from "./processors/index.ts";
import { startRetentionSweep } from "./retention.ts";
import { startSamplingScheduler } from "./sampling-scheduler.ts";

const config = env();
const connection = createRedis({ forWorker: true });
const deps: JobDeps = { prisma, dataDir: config.DATA_DIR, ortThreads: config.ORT_INTRA_OP_THREADS };

const keys = Object.keys(PROCESSORS) as QueueKey[];
const workers = keys.map((key) => {
  const worker = createQueueWorker(key, PROCESSORS[key] as never, deps, {
    connection,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    lockSeconds: config.JOB_LOCK_SECONDS,
  });
  worker.on("failed", (job, error) => console.error(`[${key}] job ${job?.id} failed: ${error.message}`));
  worker.on("completed", (job) => console.log(`[${key}] job ${job.id} done`));
  return worker;
});
const stopHeartbeat = startHeartbeat(connection, config.QUEUE_PREFIX, keys);
const stopScheduler = keys.includes("sampling") ? startSamplingScheduler(config.SAMPLING_SCHEDULE_SECONDS) : async () => {};
const stopRetention = keys.includes("export") ? startRetentionSweep(config.RETENTION_SWEEP_SECONDS) : async () => {};
console.log(`workers ready: ${keys.join(", ") || "(no queues)"}`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`workers: ${signal} received, finishing current jobs…`);
  await Promise.all([stopScheduler(), stopRetention()]);
  await Promise.all(workers.map((w) => w.close()));
  await disposeModels();
  await stopHeartbeat();
  await connection.quit();
  await Promise.all([prisma.$disconnect(), pgPool.end()]);
  console.log("workers stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
