// Before each integration test file: its own database cloned from the migrated template and
// its own queue prefix (Redis keys, or a schema in that database); both are removed when the file ends.
import crypto from "node:crypto";
import { afterAll, inject } from "vitest";
import { Redis } from "ioredis";
import { databaseName, withAdminClient, withDatabase } from "../../scripts/lib/database.ts";

const template = inject("templateDatabaseUrl");
const suffix = crypto.randomBytes(6).toString("hex");
const dbName = `rlhf_test_${suffix}`;
const databaseUrl = withDatabase(template, dbName);

await withAdminClient(template, (c) => c.query(`CREATE DATABASE "${dbName}" TEMPLATE "${databaseName(template)}"`));

process.env.DATABASE_URL = databaseUrl;
process.env.QUEUE_PREFIX = `test-${suffix}`;
// Chosen here, not probed by each process, so worker processes a test starts use the same queues.
process.env.QUEUE_BACKEND ??= "redis";
process.env.SESSION_SECRET ??= "test-session-secret-0123456789";
process.env.DATA_DIR = `test-output/data-${suffix}`;

afterAll(async () => {
  const g = globalThis as {
    prisma?: { $disconnect(): Promise<void> };
    pgPool?: { end(): Promise<void> };
    sqlClient?: { end(): Promise<void> };
    redis?: Redis;
  };
  await Promise.all([g.prisma?.$disconnect(), g.pgPool?.end(), g.sqlClient?.end()]);
  if (g.redis) {
    const keys = await g.redis.keys(`test-${suffix}:*`);
    if (keys.length) await g.redis.del(...keys);
    await g.redis.quit();
  }
  await withAdminClient(template, (c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
});
