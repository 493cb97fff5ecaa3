// Each worker process refreshes its row in worker_heartbeats; /health reads the freshest one.
// In Postgres rather than the queue store, so it reads the same on either queue backend.
import os from "node:os";
import type { PrismaClient } from "~/db.server.ts";
import { HEARTBEAT_INTERVAL_MS, HEARTBEAT_STALE_MS } from "~/jobs/queues.ts";

export function startHeartbeat(prisma: PrismaClient, queues: string[]): () => Promise<void> {
  const id = `${os.hostname()}:${process.pid}`;
  const startedAt = new Date();
  const beat = async () => {
    try {
      const now = new Date();
      await prisma.workerHeartbeat.upsert({
        where: { id },
        create: { id, pid: process.pid, queues, startedAt, beatAt: now },
        update: { queues, beatAt: now },
      });
      // Rows of processes that died without saying goodbye.
      await prisma.workerHeartbeat.deleteMany({ where: { beatAt: { lt: new Date(now.getTime() - 10 * HEARTBEAT_STALE_MS) } } });
    } catch (error) {
      console.error("heartbeat failed:", (error as Error).message);
    }
  };
  void beat();
  const timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
  return async () => {
    clearInterval(timer);
    await prisma.workerHeartbeat.delete({ where: { id } }).catch(() => undefined);
  };
}
