// Fixed-window rate limits kept in Postgres: one atomic upsert per hit, so limits hold
// across every web process without extra infrastructure.
import { pgPool, preparedName } from "~/db.server.ts";

export type RateLimit = { count: number; windowSeconds: number };
export type RateLimitResult = { allowed: boolean; remaining: number; retryAfterSeconds: number };

// Every task request and reply counts a hit, so it runs on the plain pg pool (see
// docs/decisions/0005-hot-path-sql.md). The pool reads window_start as UTC, like Prisma did.
const HIT_SQL = `
  INSERT INTO rate_limit_buckets (key, window_start, count)
  VALUES ($1, now(), 1)
  ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN rate_limit_buckets.window_start < now() - make_interval(secs => $2)
                 THEN 1 ELSE rate_limit_buckets.count + 1 END,
    window_start = CASE WHEN rate_limit_buckets.window_start < now() - make_interval(secs => $2)
                 THEN now() ELSE rate_limit_buckets.window_start END
  RETURNING count, window_start`;
const HIT_STATEMENT = preparedName(HIT_SQL);

const RESET_SQL = "DELETE FROM rate_limit_buckets WHERE key = $1";
const RESET_STATEMENT = preparedName(RESET_SQL);

/** Counts one hit on `key` and says whether it is within `limit`. */
export async function hitRateLimit(key: string, limit: RateLimit): Promise<RateLimitResult> {
  const { rows } = await pgPool.query<{ count: number; window_start: Date }>({
    name: HIT_STATEMENT,
    text: HIT_SQL,
    values: [key, limit.windowSeconds],
  });
  const { count, window_start } = rows[0];
  // Clamped to the window: window_start is now() rounded to the millisecond, which can be a
  // fraction of a millisecond ahead of this process's clock.
  const retryAfterSeconds = Math.min(
    limit.windowSeconds,
    Math.max(1, Math.ceil((window_start.getTime() + limit.windowSeconds * 1000 - Date.now()) / 1000)),
  );
  return { allowed: count <= limit.count, remaining: Math.max(0, limit.count - count), retryAfterSeconds };
}

export async function resetRateLimit(key: string): Promise<void> {
  await pgPool.query({ name: RESET_STATEMENT, text: RESET_SQL, values: [key] });
}

const PEEK_SQL = "SELECT key, count, window_start FROM rate_limit_buckets WHERE key = ANY($1::text[])";
const PEEK_STATEMENT = preparedName(PEEK_SQL);

/** Where each key stands, without counting a hit: whether one more hit would be allowed, and
 *  otherwise when it would be. */
export async function peekRateLimits(entries: ReadonlyArray<{ key: string; limit: RateLimit }>): Promise<RateLimitResult[]> {
  const { rows } = await pgPool.query<{ key: string; count: number; window_start: Date }>({
    name: PEEK_STATEMENT,
    text: PEEK_SQL,
    values: [entries.map((e) => e.key)],
  });
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const now = Date.now();
  return entries.map(({ key, limit }) => {
    const row = byKey.get(key);
    const windowEnd = row ? row.window_start.getTime() + limit.windowSeconds * 1000 : 0;
    const used = row && windowEnd > now ? row.count : 0;
    return {
      allowed: used < limit.count,
      remaining: Math.max(0, limit.count - used),
      retryAfterSeconds: used < limit.count ? 0 : Math.min(limit.windowSeconds, Math.max(1, Math.ceil((windowEnd - now) / 1000))),
    };
  });
}
