// Queue benchmark: the two backends the product can keep its queues on, in the same run —
// Redis (the anchor) and BullMQ's PostgreSQL backend. Each gets 10,000 empty jobs, added one at a
// time by 4 concurrent producers with the product's job options (app/jobs/enqueue.server.ts), and
// a worker with concurrency 4 and the product's lock settings (workers/harness.ts).
//   jobs/s  = jobs / (first add → last job completed)
//   pickup  = when the processor starts − when the job was created (p50, p99)
// Redis: REDIS_URL or 127.0.0.1:6379, a throw-away key prefix. Postgres: a throw-away database on
// the server of DATABASE_URL (default 127.0.0.1:5432). The last line printed is one JSON object.
import crypto from "node:crypto";
import type { Job, Queue, Worker } from "bullmq";
import { checkRedis, createJobBackend, DEFAULT_REDIS_URL, type JobBackend } from "~/jobs/backend.server.ts";
import { JOB_ATTEMPTS } from "~/jobs/enqueue.server.ts";
import { ensureDatabase, withAdminClient, withDatabase } from "../../scripts/lib/database.ts";

const JOBS = Number(process.env.BENCH_QUEUE_JOBS ?? 10_000);
const CONCURRENCY = 4;
const PRODUCERS = 4;
const LOCK_MS = 60_000; // JOB_LOCK_SECONDS' default

const log = (msg: string) => console.log(`[bench:queue] ${msg}`);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

type Result = { jobsPerS: number; p50: number; p99: number; addsPerS: number };

async function measure(label: string, backend: JobBackend): Promise<Result> {
  const name = "bench";
  const queue: Queue = backend.createQueue(name);
  const pickups: number[] = [];
  let completed = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const worker: Worker = backend.createWorker(
    name,
    async (job: Job) => {
      pickups.push(Date.now() - job.timestamp);
    },
    { concurrency: CONCURRENCY, lockDuration: LOCK_MS, stalledInterval: LOCK_MS / 2, maxStalledCount: 2 },
  );
  worker.on("completed", () => {
    if (++completed === JOBS) resolveDone();
  });
  await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);

  const progress = setInterval(() => log(`${label}: ${completed.toLocaleString("en")} / ${JOBS.toLocaleString("en")} processed`), 2_000);
  const started = performance.now();
  let next = 0;
  let added = 0;
  const producer = async () => {
    while (next < JOBS) {
      const i = next++;
      await queue.add(name, { i }, {
        jobId: `job-${i}`,
        attempts: JOB_ATTEMPTS,
        backoff: { type: "exponential", delay: 2_000 },
        removeOnComplete: { age: 7 * 24 * 3600 },
        removeOnFail: { age: 30 * 24 * 3600 },
      });
      added++;
    }
  };
  await Promise.all(Array.from({ length: PRODUCERS }, producer));
  const addSeconds = (performance.now() - started) / 1000;
  await done;
  const seconds = (performance.now() - started) / 1000;
  clearInterval(progress);
  await worker.close();
  await queue.close();
  await backend.close();

  const sorted = pickups.sort((a, b) => a - b);
  const result = { jobsPerS: round(JOBS / seconds), p50: percentile(sorted, 50), p99: percentile(sorted, 99), addsPerS: round(added / addSeconds) };
  log(`${label}: ${result.jobsPerS} jobs/s (adds ${result.addsPerS}/s), pickup p50 ${result.p50} ms, p99 ${result.p99} ms`);
  return result;
}

const suffix = crypto.randomBytes(4).toString("hex");
const redisUrl = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
await checkRedis(redisUrl).catch((error: Error) => {
  console.error(`bench:queue compares both backends and needs a Redis: ${error.message}`);
  process.exit(1);
});
const serverUrl = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const benchDb = withDatabase(serverUrl, `rlhf_bench_queue_${suffix}`);
await ensureDatabase(benchDb);

log(`${JOBS.toLocaleString("en")} empty jobs, ${PRODUCERS} producers, worker concurrency ${CONCURRENCY}`);
let redis: Result;
let pg: Result;
try {
  redis = await measure("redis (anchor)", createJobBackend({ kind: "redis", redisUrl, reason: "bench" }, { prefix: `bench-${suffix}` }));
  pg = await measure("postgres", createJobBackend({ kind: "postgres", reason: "bench" }, { databaseUrl: benchDb, prefix: `bench_${suffix}` }));
} finally {
  await withAdminClient(benchDb, (c) => c.query(`DROP DATABASE IF EXISTS "rlhf_bench_queue_${suffix}" WITH (FORCE)`));
  // The Redis keys of the run.
  const { Redis } = await import("ioredis");
  const client = new Redis(redisUrl);
  const keys = await client.keys(`bench-${suffix}:*`);
  if (keys.length) await client.del(...keys);
  await client.quit();
}
log(`postgres vs redis: ${round(pg.jobsPerS / redis.jobsPerS, 2)}× the throughput, ${round(pg.p99 / Math.max(1, redis.p99), 1)}× the p99 pickup latency`);
console.log(
  JSON.stringify({
    bench: "queue",
    jobs: JOBS,
    concurrency: CONCURRENCY,
    redis_jobs_per_s: redis.jobsPerS,
    pg_jobs_per_s: pg.jobsPerS,
    redis_p99_ms: redis.p99,
    pg_p99_ms: pg.p99,
    redis_p50_ms: redis.p50,
    pg_p50_ms: pg.p50,
  }),
);
process.exit(0);
