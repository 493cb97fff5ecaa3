// Redis connections. BullMQ workers need maxRetriesPerRequest: null (blocking commands).
import { Redis } from "ioredis";
import { env } from "./env.server.ts";

export function createRedis(opts: { forWorker?: boolean } = {}): Redis {
  return new Redis(env().REDIS_URL, {
    maxRetriesPerRequest: opts.forWorker ? null : 2,
    connectTimeout: 5_000,
  });
}

const globalForRedis = globalThis as unknown as { redis?: Redis };

/** The web process's shared connection (producers and health checks). */
export function redis(): Redis {
  return (globalForRedis.redis ??= createRedis());
}
