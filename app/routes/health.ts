// Liveness of the parts: web (this answer), database, the queue backend (Redis or Postgres),
// and the freshest worker heartbeat.
import { json } from "@remix-run/node";
import { access as accessOf } from "~/auth/permissions.ts";
import { prisma } from "~/db.server.ts";
import { jobBackend } from "~/jobs/backend.server.ts";
import { queue } from "~/jobs/enqueue.server.ts";
import { HEARTBEAT_STALE_MS } from "~/jobs/queues.ts";

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
  // A read through the queue backend itself: it fails when its store does.
  const queues = await timed(async () => {
    await (await queue("export")).getJobCounts("waiting");
    return (await jobBackend()).kind;
  });
  const beats = await timed(() =>
    prisma.workerHeartbeat.findMany({ where: { beatAt: { gt: new Date(Date.now() - HEARTBEAT_STALE_MS) } } }),
  );

  const workers = beats.ok ? beats.value : [];
  const newest = workers.reduce<number | null>((acc, w) => Math.max(acc ?? 0, w.beatAt.getTime()), null);
  const workerAgeMs = newest === null ? null : Date.now() - newest;
  const workersOk = workerAgeMs !== null && workerAgeMs < HEARTBEAT_STALE_MS;

  const body = {
    status: database.ok && queues.ok && workersOk ? "ok" : "degraded",
    web: { ok: true },
    database: database.ok ? { ok: true, ms: database.ms } : database,
    queues: queues.ok ? { ok: true, ms: queues.ms, backend: queues.value } : queues,
    workers: { ok: workersOk, count: workers.length, lastHeartbeatMsAgo: workerAgeMs, queues: [...new Set(workers.flatMap((w) => w.queues))] },
  };
  return json(body, { status: database.ok && queues.ok ? 200 : 503, headers: { "Cache-Control": "no-store" } });
}
