// Liveness of the parts: web (this answer), database, Redis, and the freshest worker heartbeat.
import { json } from "@remix-run/node";
import { access as accessOf } from "~/auth/permissions.ts";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { HEARTBEAT_STALE_MS, WORKER_HEARTBEAT_KEY } from "~/jobs/queues.ts";
import { redis } from "~/redis.server.ts";

export const access = accessOf.public();

async function timed<T>(fn: () => Promise<T>): Promise<{ ok: true; ms: number; value: T } | { ok: false; error: string }> {
  const start = performance.now();
  try {
    const value = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timed out after 2 s")), 2_000)),
    ]);
    return { ok: true, ms: Math.round((performance.now() - start) * 10) / 10, value };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

export async function loader() {
  const database = await timed(() => prisma.$queryRaw`SELECT 1`);
  const redisCheck = await timed(() => redis().ping());
  const beats = await timed(async () => {
    const prefix = `${env().QUEUE_PREFIX}:${WORKER_HEARTBEAT_KEY}:`;
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await redis().scan(cursor, "MATCH", `${prefix}*`, "COUNT", 100);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
    const values = keys.length ? await redis().mget(keys) : [];
    return values.filter((v): v is string => !!v).map((v) => JSON.parse(v) as { id: string; at: string; queues: string[] });
  });

  const workers = beats.ok ? beats.value : [];
  const newest = workers.reduce<number | null>((acc, w) => Math.max(acc ?? 0, Date.parse(w.at)), null);
  const workerAgeMs = newest === null ? null : Date.now() - newest;
  const workersOk = workerAgeMs !== null && workerAgeMs < HEARTBEAT_STALE_MS;

  const body = {
    status: database.ok && redisCheck.ok && workersOk ? "ok" : "degraded",
    web: { ok: true },
    database: database.ok ? { ok: true, ms: database.ms } : database,
    redis: redisCheck.ok ? { ok: true, ms: redisCheck.ms } : redisCheck,
    workers: { ok: workersOk, count: workers.length, lastHeartbeatMsAgo: workerAgeMs, queues: [...new Set(workers.flatMap((w) => w.queues))] },
  };
  return json(body, { status: database.ok && redisCheck.ok ? 200 : 503, headers: { "Cache-Control": "no-store" } });
}
