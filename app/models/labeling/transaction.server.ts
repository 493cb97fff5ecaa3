// The labeling services' SQL runs on the driver app/db.server.ts picks (docs/decisions/
// 0005-hot-path-sql.md, 0023-labeling-sql-on-postgres-js.md): `db` for single statements,
// `inTransaction` for transactions on one pooled connection. Both take the same Prisma.sql
// templates as Prisma's $queryRaw, so queries read alike either way.
import type pg from "pg";
import type postgres from "postgres";
import { LABELING_SQL_DRIVER, pgPool, preparedName, sqlClient, type SqlDriver } from "~/db.server.ts";
import { Prisma } from "~/generated/prisma/client.ts";

type Query = TemplateStringsArray | Prisma.Sql;

/** What the labeling queries need of a database handle: raw SQL in, rows or a row count out.
 *  Prisma's client and transaction client fit it too. */
export interface SqlDb {
  $queryRaw<T = unknown>(query: Query, ...values: unknown[]): Promise<T>;
  $executeRaw(query: Query, ...values: unknown[]): Promise<number>;
}

export type Tx = SqlDb;

function arrayLiteral(values: readonly unknown[]): string {
  const items = values.map((value) => {
    if (Array.isArray(value)) return arrayLiteral(value);
    const text = parameterText(value);
    return text === null ? "NULL" : `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  });
  return `{${items.join(",")}}`;
}

/** A parameter as the text both drivers send: what pg makes of a value, except that dates are
 *  bound as UTC (as Prisma does; timestamp columns hold UTC) and bigints exactly. */
function parameterText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return arrayLiteral(value);
  if (Buffer.isBuffer(value)) return `\\x${value.toString("hex")}`;
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function toSql(query: Query, values: unknown[]): Prisma.Sql {
  return query instanceof Prisma.Sql ? query : Prisma.sql(query, ...values);
}

/** A SqlDb over a pg pool or one checked-out connection. */
export function sqlDb(client: pg.Pool | pg.PoolClient): SqlDb {
  const run = (query: Query, values: unknown[]) => {
    const sql = toSql(query, values);
    return client.query({ name: preparedName(sql.text), text: sql.text, values: sql.values.map(parameterText) });
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

/** A SqlDb over a postgres.js client or transaction. Statements are prepared per connection,
 *  as the pg handle's named statements are. */
export function postgresDb(sql: postgres.Sql | postgres.TransactionSql): SqlDb {
  const run = (query: Query, values: unknown[]) => {
    const statement = toSql(query, values);
    return sql.unsafe(statement.text, statement.values.map(parameterText), { prepare: true });
  };
  return {
    async $queryRaw<T>(query: Query, ...values: unknown[]) {
      return (await run(query, values)) as T;
    },
    async $executeRaw(query: Query, ...values: unknown[]) {
      return (await run(query, values)).count ?? 0;
    },
  };
}

/**
 * Runs `fn` in one transaction (READ COMMITTED, the server default) on one pooled pg connection;
 * any error rolls it back. Waiting for a connection is bounded by the pool's connect timeout,
 * sized for bursts of labelers: failing early would drop a labeler's work.
 */
async function pgTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
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

/** The same on postgres.js: `begin` reserves a connection, rolls back on any error and drops a
 *  connection that broke. */
function postgresTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
  return sqlClient.begin((tx) => fn(postgresDb(tx))) as Promise<T>;
}

interface LabelingSql {
  db: SqlDb;
  inTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
}

const drivers: Record<SqlDriver, LabelingSql> = {
  pg: { db: sqlDb(pgPool), inTransaction: pgTransaction },
  postgres: { db: postgresDb(sqlClient), inTransaction: postgresTransaction },
};

let current = drivers[LABELING_SQL_DRIVER];

/** Moves the labeling services to another driver; the driver benchmark runs both in one process. */
export function useLabelingDriver(driver: SqlDriver): void {
  current = drivers[driver];
}

/** Single statements (autocommit). */
export const db: SqlDb = {
  $queryRaw: (query, ...values) => current.db.$queryRaw(query, ...values),
  $executeRaw: (query, ...values) => current.db.$executeRaw(query, ...values),
};

/** Runs `fn` in one transaction on one pooled connection; any error rolls it back. */
export function inTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
  return current.inTransaction(fn);
}
