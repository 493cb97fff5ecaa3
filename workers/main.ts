// Worker entrypoint: connects to the queue backend (Redis or Postgres, see
// app/jobs/backend.server.ts) and Postgres, registers a BullMQ worker per queue, keeps a
// heartbeat, and on SIGTERM/SIGINT closes workers, then the queue backend, then Prisma.
import { env } from "~/env.server.ts";
import { loadTrainingCommands } from "~/models/external-commands.server.ts";
import { pgPool, prisma, sqlClient } from "~/db.server.ts";
import { closeJobBackend, jobBackend } from "~/jobs/backend.server.ts";
import type { QueueKey } from "~/jobs/queues.ts";
import { createQueueWorker, type JobDeps } from "./harness.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { disposeModels } from "./model-cache.ts";
import { PROCESSORS } from "./processors/index.ts";
import { startTaskExpirySweep } from "./task-expiry.ts";
import { startRetentionSweep } from "./retention.ts";
import { tolerateDatabaseShutdown } from "~/utils/shutdown.server.ts";
import { startSamplingScheduler } from "./sampling-scheduler.ts";
import { startQueueCatchUp } from "./queue-catch-up.ts";

const config = env();
// A broken commands file stops the workers at start, naming the field, rather than failing runs later.
try {
  const { file, commands } = loadTrainingCommands();
  if (file) console.log(`external training commands from ${file}: ${[...commands.keys()].join(", ") || "(none)"}`);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
const backend = await jobBackend();
const deps: JobDeps = { prisma, dataDir: config.DATA_DIR, ortThreads: config.ORT_INTRA_OP_THREADS };

let stopping = false;
const keys = Object.keys(PROCESSORS) as QueueKey[];
const workers = keys.map((key) => {
  const worker = createQueueWorker(key, PROCESSORS[key] as never, deps, {
    backend,
    concurrency: config.WORKER_CONCURRENCY,
    lockSeconds: config.JOB_LOCK_SECONDS,
  });
  // Connection trouble, one line each; none while stopping (Ctrl+C also stops an embedded Postgres at once).
  worker.on("error", (error) => {
    if (!stopping) console.error(`[${key}] queue connection: ${error.message}`);
  });
  worker.on("failed", (job, error) => console.error(`[${key}] job ${job?.id} failed: ${error.message}`));
  worker.on("completed", (job) => console.log(`[${key}] job ${job.id} done`));
  return worker;
});
const stopHeartbeat = startHeartbeat(prisma, keys);
const stopScheduler = keys.includes("sampling") ? startSamplingScheduler(config.SAMPLING_SCHEDULE_SECONDS) : async () => {};
const stopCatchUp = startQueueCatchUp(keys, config.QUEUE_CATCHUP_SECONDS);
const stopRetention = keys.includes("export") ? startRetentionSweep(config.RETENTION_SWEEP_SECONDS) : async () => {};
const stopTaskExpiry = startTaskExpirySweep(config.TASK_EXPIRY_SWEEP_SECONDS);
console.log(`workers ready: ${keys.join(", ") || "(no queues)"} on ${backend.where}`);

async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  tolerateDatabaseShutdown("workers");
  console.log(`workers: ${signal} received, finishing current jobs…`);
  await Promise.all([stopScheduler(), stopRetention(), stopCatchUp(), stopTaskExpiry()]);
  await Promise.all(workers.map((w) => w.close()));
  await disposeModels();
  await stopHeartbeat();
  await closeJobBackend();
  await Promise.all([prisma.$disconnect(), pgPool.end(), sqlClient.end()]);
  console.log("workers stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
