// Fixed-window rate limits kept in Postgres: one atomic upsert per hit, so limits hold
// across every web process without extra infrastructure.
import { prisma } from "~/db.server.ts";

export type RateLimit = { count: number; windowSeconds: number };
export type RateLimitResult = { allowed: boolean; remaining: number; retryAfterSeconds: number };

/** Counts one hit on `key` and says whether it is within `limit`. */
export async function hitRateLimit(key: string, limit: RateLimit): Promise<RateLimitResult> {
  const rows = await prisma.$queryRaw<{ count: number; window_start: Date }[]>`
    INSERT INTO rate_limit_buckets (key, window_start, count)
    VALUES (${key}, now(), 1)
    ON CONFLICT (key) DO UPDATE SET
      count = CASE WHEN rate_limit_buckets.window_start < now() - make_interval(secs => ${limit.windowSeconds})
                   THEN 1 ELSE rate_limit_buckets.count + 1 END,
      window_start = CASE WHEN rate_limit_buckets.window_start < now() - make_interval(secs => ${limit.windowSeconds})
                   THEN now() ELSE rate_limit_buckets.window_start END
    RETURNING count, window_start`;
  const { count, window_start } = rows[0];
  const retryAfterSeconds = Math.max(
    1,
    Math.ceil((window_start.getTime() + limit.windowSeconds * 1000 - Date.now()) / 1000),
  );
  return { allowed: count <= limit.count, remaining: Math.max(0, limit.count - count), retryAfterSeconds };
}

export async function resetRateLimit(key: string): Promise<void> {
  await prisma.rateLimitBucket.deleteMany({ where: { key } });
}
