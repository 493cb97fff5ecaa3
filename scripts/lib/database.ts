// Database provisioning for the start command and the tests: create the database if it
// is missing, then apply migrations with the Prisma CLI (offline JS engine, see prisma.config.ts).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ""));
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(name)}`;
  return u.toString();
}

/** Runs `fn` with a client on the server's maintenance database. */
export async function withAdminClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(url, "postgres") });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  return withAdminClient(url, async (client) => {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount) return false;
    try {
      await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
    } catch (error) {
      // Another process created it first.
      if ((error as { code?: string }).code !== "42P04") throw error;
    }
    return true;
  });
}

/** `prisma migrate deploy`, retried while another process holds the migration lock (P1002). */
export async function migrateDeploy(url: string, attempts = 6): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await run(process.execPath, ["node_modules/prisma/build/index.js", "migrate", "deploy"], {
        env: { ...process.env, DATABASE_URL: url },
        maxBuffer: 16 * 1024 * 1024,
      });
      return;
    } catch (error) {
      const out = `${(error as { stdout?: string }).stdout ?? ""}${(error as { stderr?: string }).stderr ?? ""}`;
      if (attempt < attempts && out.includes("P1002")) continue;
      throw new Error(`prisma migrate deploy failed for ${databaseName(url)}:\n${out || (error as Error).message}`);
    }
  }
}
