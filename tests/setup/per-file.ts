// Before each integration test file: its own database cloned from the migrated template and
// its own Redis key prefix; both are removed when the file ends.
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
process.env.SESSION_SECRET ??= "test-session-secret-0123456789";
process.env.DATA_DIR = `test-output/data-${suffix}`;

afterAll(async () => {
  const g = globalThis as { prisma?: { $disconnect(): Promise<void> }; pgPool?: { end(): Promise<void> }; redis?: Redis };
  await Promise.all([g.prisma?.$disconnect(), g.pgPool?.end()]);
  if (g.redis) {
    const keys = await g.redis.keys(`test-${suffix}:*`);
    if (keys.length) await g.redis.del(...keys);
    await g.redis.quit();
  }
  await withAdminClient(template, (c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
});
