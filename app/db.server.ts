// The database clients of a process: the Prisma client (on the pg driver adapter, no native
// query engine) for most work, a plain pg pool for the hot paths (see
// docs/decisions/0005-hot-path-sql.md) and a postgres.js client that can run the labeling
// services' SQL in its place (docs/decisions/0023-labeling-sql-on-postgres-js.md).
import crypto from "node:crypto";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import postgres from "postgres";
import { PrismaClient } from "./generated/prisma/client.ts";
import { env } from "./env.server.ts";

export type { PrismaClient };

const globalForDb = globalThis as unknown as { prisma?: PrismaClient; pgPool?: pg.Pool; sqlClient?: postgres.Sql };

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

/** The clients that can run the labeling services' hand-written SQL. */
export type SqlDriver = "pg" | "postgres";

/** The one place that picks the labeling services' driver: postgres.js, which does the labeling
 *  work at least as fast as pg since the draw is one statement (docs/decisions/0023). */
export const LABELING_SQL_DRIVER: SqlDriver = "postgres";

/** postgres.js type handlers that read every column as the pg pool does (the same parser per
 *  type OID, strings where pg has none) and send parameters as the text they are given:
 *  postgres.js would otherwise JSON-encode strings bound to json columns, read `timestamp` in
 *  local time and `int8` as a string. Built-in types all have OIDs below 16384. */
function pgCompatibleTypes(): Record<string, postgres.PostgresType> {
  // pg reads `text` as it comes, as it does every type it has no parser for.
  const unparsed = pg.types.getTypeParser(pg.types.builtins.TEXT, "text");
  const types: Record<string, postgres.PostgresType> = {};
  for (let oid = 1; oid < 16384; oid++) {
    const parse = rowTypes.getTypeParser(oid, "text") as (value: string) => unknown;
    if (parse !== unparsed) types[`oid${oid}`] = { to: oid, from: [oid], serialize: (text: string) => text, parse };
  }
  return types;
}

export function createSqlClient(databaseUrl = env().DATABASE_URL): postgres.Sql {
  // Sized like the pg pool; idle connections close after 10 s as pg's do. Array types are not
  // fetched: pg parses only the built-in ones, and parameters arrive as text already.
  return postgres(databaseUrl, {
    max: 10,
    idle_timeout: 10,
    connect_timeout: 15,
    fetch_types: false,
    onnotice: () => undefined,
    types: pgCompatibleTypes(),
  });
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
// postgres.js connects on the first query, so a process that runs no labeling SQL opens nothing.
export const sqlClient: postgres.Sql = (globalForDb.sqlClient ??= createSqlClient());
