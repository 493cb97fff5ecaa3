// Once per test run: a migrated template database that every test file clones (fast, isolated).
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { ensureDatabase, migrateDeploy, withAdminClient, withDatabase } from "../../scripts/lib/database.ts";

declare module "vitest" {
  export interface ProvidedContext {
    templateDatabaseUrl: string;
  }
}

function migrationsHash(): string {
  const dir = "prisma/migrations";
  const hash = crypto.createHash("sha256");
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name, "migration.sql");
    if (fs.existsSync(file)) hash.update(name).update(fs.readFileSync(file));
  }
  return hash.digest("hex").slice(0, 12);
}

export default async function setup(project: TestProject) {
  const base = process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
  const template = withDatabase(base, `rlhf_test_template_${migrationsHash()}`);
  const created = await ensureDatabase(template);
  if (created) {
    try {
      await migrateDeploy(template);
    } catch (error) {
      await withAdminClient(base, (c) => c.query(`DROP DATABASE IF EXISTS "rlhf_test_template_${migrationsHash()}"`));
      throw error;
    }
  }
  project.provide("templateDatabaseUrl", template);
}
