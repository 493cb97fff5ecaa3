// Each worker process refreshes a key with a TTL; /health reads the freshest one.
import os from "node:os";
import type { Redis } from "ioredis";
import { HEARTBEAT_INTERVAL_MS, HEARTBEAT_STALE_MS, WORKER_HEARTBEAT_KEY } from "~/jobs/queues.ts";

export function startHeartbeat(redis: Redis, prefix: string, queues: string[]): () => Promise<void> {
  const id = `${os.hostname()}:${process.pid}`;
  const key = `${prefix}:${WORKER_HEARTBEAT_KEY}:${id}`;
  const startedAt = new Date().toISOString();
  const beat = () =>
    redis
      .set(key, JSON.stringify({ id, pid: process.pid, queues, startedAt, at: new Date().toISOString() }), "PX", HEARTBEAT_STALE_MS)
      .catch((error) => console.error("heartbeat failed:", error.message));
  void beat();
  const timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
  return async () => {
    clearInterval(timer);
    await redis.del(key).catch(() => undefined);
  };
}
