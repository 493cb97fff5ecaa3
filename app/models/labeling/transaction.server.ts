// The labeling services' SQL runs on the plain pg pool (docs/decisions/0005-hot-path-sql.md):
// `db` for single statements, `inTransaction` for transactions on one pooled connection. Both
// take the same Prisma.sql templates as Prisma's $queryRaw, so queries read alike either way.
import type pg from "pg";
import { pgPool, preparedName } from "~/db.server.ts";
import { Prisma } from "~/generated/prisma/client.ts";

type Query = TemplateStringsArray | Prisma.Sql;

/** What the labeling queries need of a database handle: raw SQL in, rows or a row count out.
 *  Prisma's client and transaction client fit it too. */
export interface SqlDb {
  $queryRaw<T = unknown>(query: Query, ...values: unknown[]): Promise<T>;
  $executeRaw(query: Query, ...values: unknown[]): Promise<number>;
}

export type Tx = SqlDb;

// Prisma binds dates as UTC; pg would bind local time. Timestamp columns hold UTC.
function param(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "bigint") return value.toString();
  return value;
}

function toSql(query: Query, values: unknown[]): Prisma.Sql {
  return query instanceof Prisma.Sql ? query : Prisma.sql(query, ...values);
}

/** A SqlDb over a pg pool or one checked-out connection. */
export function sqlDb(client: pg.Pool | pg.PoolClient): SqlDb {
  const run = (query: Query, values: unknown[]) => {
    const sql = toSql(query, values);
    return client.query({ name: preparedName(sql.text), text: sql.text, values: sql.values.map(param) });
  };
  return {
    async $queryRaw<T>(query: Query, ...values: unknown[]) {
      return (await run(query, values)).rows as T;
    },
    async $executeRaw(query: Query, ...values: unknown[]) {
      return (await run(query, values)).rowCount ?? 0;
    },
  };
}

/** Single statements on the pool (autocommit). */
export const db: SqlDb = sqlDb(pgPool);

/**
 * Runs `fn` in one transaction (READ COMMITTED, the server default) on one pooled connection;
 * any error rolls it back. Waiting for a connection is bounded by the pool's connect timeout,
 * sized for bursts of labelers: failing early would drop a labeler's work.
 */
export async function inTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await pgPool.connect();
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    const result = await fn(sqlDb(client));
    await client.query("COMMIT");
    return result;
  } catch (error) {
    try {
      await client.query("ROLLBACK");
    } catch (rollbackError) {
      // The connection is unusable: drop it rather than hand it to the next transaction.
      broken = rollbackError as Error;
    }
    throw error;
  } finally {
    client.release(broken);
  }
}
