// The labeling services' SQL handle on both drivers (docs/decisions/0023-labeling-sql-on-postgres-js.md):
// postgres.js reads rows and binds parameters exactly as the pg pool does, and transactions,
// row counts and prepared statements behave alike.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABELING_SQL_DRIVER, pgPool, prisma, sqlClient, type SqlDriver } from "~/db.server.ts";
import { Prisma } from "~/generated/prisma/client.ts";
import { db, inTransaction, postgresDb, sqlDb, useLabelingDriver } from "~/models/labeling/transaction.server.ts";

const handles = { pg: sqlDb(pgPool), postgres: postgresDb(sqlClient) };
const DRIVERS: SqlDriver[] = ["pg", "postgres"];

const bound = new Date("2026-01-02T03:04:05.678Z");
const ids = ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"];

/** One row with a column of each kind the labeling queries read, half of them from parameters. */
const everyKind = Prisma.sql`
  SELECT (now() AT TIME ZONE 'UTC') AS stamp, now() AS stamp_tz, ${bound}::timestamp AS bound_stamp,
         '2026-12-05'::date AS day, 12345678901234::bigint AS big, ${12n}::bigint AS bound_big,
         ARRAY[1, 2]::int8[] AS bigs, 1.50::numeric AS num, 2.5::float8 AS float, ${7}::int AS int,
         ${true}::boolean AS yes, NULL::text AS nothing, '{"a": [1, "b"]}'::jsonb AS jsonb,
         ${JSON.stringify({ x: [1, "y"] })}::jsonb AS bound_jsonb, ${ids}::uuid[] AS uuids,
         ${['a"b', null, "c\\d", "{e,f}"]}::text[] AS texts, 'growing'::"TreeState" AS state,
         ARRAY['growing', 'ranking']::"TreeState"[] AS states, '\\x0102'::bytea AS bytes,
         interval '1 day 2 hours' AS span`;

afterAll(() => useLabelingDriver(LABELING_SQL_DRIVER));

describe("rows and parameters", () => {
  it("postgres.js returns every kind of column as the pg pool does", async () => {
    const [viaPg] = await handles.pg.$queryRaw<Record<string, unknown>[]>(everyKind);
    const [viaPostgres] = await handles.postgres.$queryRaw<Record<string, unknown>[]>(everyKind);
    // The clock columns differ by the time between the two statements.
    expect({ ...viaPostgres, stamp: null, stamp_tz: null }).toEqual({ ...viaPg, stamp: null, stamp_tz: null });
    for (const row of [viaPg, viaPostgres]) {
      expect(row.bound_stamp).toEqual(bound);
      expect(Math.abs((row.stamp as Date).getTime() - (row.stamp_tz as Date).getTime())).toBeLessThan(60_000);
      expect(row.big).toBe(12345678901234n);
      expect(row.bound_big).toBe(12n);
      expect(row.uuids).toEqual(ids);
      expect(row.texts).toEqual(['a"b', null, "c\\d", "{e,f}"]);
      expect(row.bound_jsonb).toEqual({ x: [1, "y"] });
      expect(row.num).toBe("1.50");
      expect(row.state).toBe("growing");
    }
  });

  it.each(DRIVERS)("%s binds a JSON text as the JSON it holds, not as a string", async (driver) => {
    const [row] = await handles[driver].$queryRaw<{ kind: string }[]>`SELECT jsonb_typeof(${JSON.stringify({ a: 1 })}::jsonb) AS kind`;
    expect(row.kind).toBe("object");
  });
});

describe.each(DRIVERS)("transactions on %s", (driver) => {
  beforeAll(async () => {
    useLabelingDriver(driver);
    await prisma.$executeRawUnsafe(`CREATE TABLE IF NOT EXISTS driver_probe (id int PRIMARY KEY)`);
    await prisma.$executeRawUnsafe(`TRUNCATE driver_probe`);
  });

  it("commits, counting the rows a statement changed", async () => {
    const changed = await inTransaction((tx) => tx.$executeRaw`INSERT INTO driver_probe (id) SELECT g FROM generate_series(1, 3) g`);
    expect(changed).toBe(3);
    expect(await db.$executeRaw`UPDATE driver_probe SET id = id + 10 WHERE id > 1`).toBe(2);
    expect(await db.$queryRaw<{ id: number }[]>`SELECT id FROM driver_probe ORDER BY id`).toEqual([{ id: 1 }, { id: 12 }, { id: 13 }]);
    await db.$executeRaw`DELETE FROM driver_probe`;
  });

  it("rolls back on an error thrown by the caller", async () => {
    const failure = new Error("changed my mind");
    await expect(
      inTransaction(async (tx) => {
        await tx.$executeRaw`INSERT INTO driver_probe (id) VALUES (${1})`;
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await db.$queryRaw`SELECT id FROM driver_probe`).toEqual([]);
  });

  it("rolls back on a failed statement and passes its error on", async () => {
    const error = await inTransaction(async (tx) => {
      await tx.$executeRaw`INSERT INTO driver_probe (id) VALUES (${1})`;
      await tx.$executeRaw`INSERT INTO driver_probe (id) VALUES (${1})`;
    }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe("23505");
    expect(await db.$queryRaw`SELECT id FROM driver_probe`).toEqual([]);
  });

  it("prepares each statement on its connection", async () => {
    const statement = Prisma.sql`SELECT count(*)::int AS n FROM driver_probe WHERE id > ${0}`;
    const prepared = await inTransaction(async (tx) => {
      await tx.$queryRaw(statement);
      return tx.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = ${statement.text}`;
    });
    expect(prepared).toEqual([{ n: 1 }]);
  });
});
