// Where the job queues live. Every Queue and Worker of every process (web, workers, CLI, tests,
// benchmarks) is made here, on one of BullMQ's two backends:
//   - Redis, when REDIS_URL is set or a Redis answers on 127.0.0.1:6379;
//   - otherwise BullMQ's PostgreSQL backend, in the product's own database (schema bullmq_<prefix>).
// `npm start` makes the choice once and hands it to its web and worker processes as QUEUE_BACKEND,
// so they cannot disagree. A REDIS_URL that is set is never silently replaced by Postgres.
import net from "node:net";
import { Queue, Worker, createPostgresBackend, withBackend, type Processor, type WorkerOptions } from "bullmq";
import { Redis } from "ioredis";
import { env } from "~/env.server.ts";

export type QueueBackendKind = "redis" | "postgres";

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

export type WorkerSettings = Omit<WorkerOptions, "connection" | "prefix">;

export type JobBackend = {
  kind: QueueBackendKind;
  /** For people: where the queues are (no passwords). */
  where: string;
  createQueue(name: string): Queue;
  createWorker(name: string, processor: Processor, settings: WorkerSettings): Worker;
  /** Closes the connections this backend opened (queues and workers are closed by their owners). */
  close(): Promise<void>;
};

export type QueueBackendChoice = { kind: "redis"; redisUrl: string; reason: string } | { kind: "postgres"; reason: string };

function answers(url: string, defaultPort: number, timeoutMs = 3_000): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port || defaultPort) });
    socket.setTimeout(timeoutMs);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });
}

/** Throws an error naming REDIS_URL when the Redis it points at does not answer a PING. */
export async function checkRedis(url: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 5_000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new Error(`REDIS_URL is set to ${redact(url)} but Redis does not answer there (${(error as Error).message}). Start that Redis, fix REDIS_URL, or unset it to keep the queues in Postgres.`);
  } finally {
    client.disconnect();
  }
}

/**
 * Decides where the queues live. `embedded` (npm start --embedded) always means Postgres;
 * otherwise QUEUE_BACKEND (set by npm start for its children), then REDIS_URL, then a Redis
 * answering on the default port, then Postgres.
 */
export async function chooseQueueBackend(opts: { embedded?: boolean; source?: NodeJS.ProcessEnv } = {}): Promise<QueueBackendChoice> {
  const source = opts.source ?? process.env;
  if (opts.embedded) return { kind: "postgres", reason: "--embedded" };
  if (source.QUEUE_BACKEND === "postgres") return { kind: "postgres", reason: "QUEUE_BACKEND=postgres" };
  if (source.REDIS_URL) return { kind: "redis", redisUrl: source.REDIS_URL, reason: "REDIS_URL" };
  if (source.QUEUE_BACKEND === "redis") return { kind: "redis", redisUrl: DEFAULT_REDIS_URL, reason: "QUEUE_BACKEND=redis" };
  if (await answers(DEFAULT_REDIS_URL, 6379)) return { kind: "redis", redisUrl: DEFAULT_REDIS_URL, reason: "a Redis answers on 127.0.0.1:6379" };
  return { kind: "postgres", reason: "REDIS_URL is not set and nothing answers on 127.0.0.1:6379" };
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.toString();
}

/** The Postgres schema of a queue prefix: BullMQ's Postgres backend namespaces by schema, not key prefix. */
export function queueSchema(prefix: string): string {
  return `bullmq_${prefix.replace(/[^a-zA-Z0-9_]/g, "_").toLowerCase()}`.slice(0, 63);
}

function redisBackend(redisUrl: string, prefix: string): JobBackend {
  const g = globalThis as unknown as { redis?: Redis; redisWorker?: Redis };
  // Producers fail fast; workers need maxRetriesPerRequest: null (blocking commands).
  const producer = () => (g.redis ??= new Redis(redisUrl, { maxRetriesPerRequest: 2, connectTimeout: 5_000 }));
  const consumer = () => (g.redisWorker ??= new Redis(redisUrl, { maxRetriesPerRequest: null, connectTimeout: 5_000 }));
  return {
    kind: "redis",
    where: `Redis at ${redact(redisUrl)} (key prefix ${prefix})`,
    createQueue: (name) => new Queue(name, { connection: producer(), prefix }),
    createWorker: (name, processor, settings) => new Worker(name, processor, { ...settings, connection: consumer(), prefix }),
    close: async () => {
      const open = [g.redis, g.redisWorker];
      g.redis = g.redisWorker = undefined;
      await Promise.allSettled(open.map((c) => c?.quit()));
    },
  };
}

function postgresBackend(databaseUrl: string, prefix: string): JobBackend {
  const Pg = withBackend(createPostgresBackend);
  const schema = queueSchema(prefix);
  // Each queue and worker owns a small pool (plus one LISTEN connection per worker): six
  // queues in the web process and six workers stay well inside Postgres' 100 connections.
  // `migrate` creates or upgrades BullMQ's schema under its advisory lock, so the first
  // process to start does it and the others wait.
  const connection = () => ({ connectionString: databaseUrl, schema, migrate: true, max: 2 });
  const u = new URL(databaseUrl);
  return {
    kind: "postgres",
    where: `PostgreSQL at ${u.hostname}:${u.port || 5432}${u.pathname} (BullMQ's Postgres backend, schema ${schema})`,
    createQueue: (name) => new Pg.Queue(name, { connection: connection() }) as unknown as Queue,
    createWorker: (name, processor, settings) =>
      new Pg.Worker(name, processor as never, { ...settings, connection: connection() }) as unknown as Worker,
    close: async () => undefined,
  };
}

export function createJobBackend(choice: QueueBackendChoice, opts: { databaseUrl?: string; prefix?: string } = {}): JobBackend {
  const prefix = opts.prefix ?? env().QUEUE_PREFIX;
  return choice.kind === "redis" ? redisBackend(choice.redisUrl, prefix) : postgresBackend(opts.databaseUrl ?? env().DATABASE_URL, prefix);
}

const globalForJobs = globalThis as unknown as { jobBackend?: Promise<JobBackend> };

/** This process's backend, chosen on first use. */
export function jobBackend(): Promise<JobBackend> {
  return (globalForJobs.jobBackend ??= chooseQueueBackend().then((choice) => createJobBackend(choice)));
}

/** Closes this process's backend connections, if it opened any. */
export async function closeJobBackend(): Promise<void> {
  const pending = globalForJobs.jobBackend;
  globalForJobs.jobBackend = undefined;
  if (pending) await (await pending).close();
}
