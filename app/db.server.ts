// The database clients of a process: the Prisma client (on the pg driver adapter, no native
// query engine) for most work, and a plain pg pool for the hot paths (see
// docs/decisions/0005-hot-path-sql.md).
import crypto from "node:crypto";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "./generated/prisma/client.ts";
import { env } from "./env.server.ts";

export type { PrismaClient };

const globalForDb = globalThis as unknown as { prisma?: PrismaClient; pgPool?: pg.Pool };

export function createPrismaClient(databaseUrl = env().DATABASE_URL): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl, max: 10 }) });
}

const TIMESTAMP_OID = 1114;
const INT8_OID = 20;

/** Parsers matching what Prisma's raw queries return, so rows read either way look alike:
 *  `timestamp` columns hold UTC (pg would read them as local time), `bigint` is a BigInt. */
const rowTypes = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === TIMESTAMP_OID) return (value: string) => new Date(`${value.replace(" ", "T")}Z`);
    if (oid === INT8_OID) return (value: string) => BigInt(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export function createPgPool(databaseUrl = env().DATABASE_URL): pg.Pool {
  // Sized like Prisma's pool: with two cores, more connections only queue work in Postgres.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, types: rowTypes, connectionTimeoutMillis: 15_000, allowExitOnIdle: true });
  // An idle connection dropped by the server must not crash the process; the pool replaces it.
  pool.on("error", (error) => console.error("pg pool: idle client error", error.message));
  return pool;
}

// Statement texts are a small fixed set (values are parameters), so every query after the first
// of its kind finds its name here instead of hashing the text again.
const preparedNames = new Map<string, string>();

/** A name for a hot statement, so each pooled connection parses and plans it once (pg prepares
 *  named statements per connection); the same text always gets the same name. */
export function preparedName(text: string): string {
  let name = preparedNames.get(text);
  if (name === undefined) {
    name = `q_${crypto.createHash("sha1").update(text).digest("base64url")}`;
    preparedNames.set(text, name);
  }
  return name;
}

// Vite's dev server re-imports modules on change: keep one client of each kind per process.
export const prisma: PrismaClient = (globalForDb.prisma ??= createPrismaClient());
export const pgPool: pg.Pool = (globalForDb.pgPool ??= createPgPool());
