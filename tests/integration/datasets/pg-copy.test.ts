// The binary COPY reader the exporter streams with, against the real Postgres: values of every
// column kind, rows split across socket reads, errors in the middle, and a consumer that stops.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { env } from "~/env.server.ts";
import { copyRows, enumIndexSql, type CopyColumn, type CopyRow } from "~/models/datasets/pg-copy.server.ts";

let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client({ connectionString: env().DATABASE_URL });
  await client.connect();
});
afterAll(async () => {
  await client.end();
});

async function all(query: string, columns: readonly CopyColumn[]): Promise<CopyRow[]> {
  const rows: CopyRow[] = [];
  for await (const batch of copyRows(client, query, columns)) rows.push(...batch);
  return rows;
}

describe("copyRows", () => {
  it("reads text, booleans, integers and nulls as the plain query gives them", async () => {
    const query = `SELECT i::text, CASE WHEN i % 7 = 0 THEN NULL ELSE repeat('naïve 数据 😀 ', i % 50) || i END, i % 2 = 0, (i * 37 - 1000)::int4
      FROM generate_series(1, 5000) i`;
    const expected = (await client.query<unknown[]>({ text: query, rowMode: "array" })).rows;
    const rows = await all(query, ["text", "text", "bool", "int4"]);
    expect(rows).toEqual(expected);
  });

  it("reads uuids, timestamps, doubles and enum positions from their binary forms", async () => {
    // Runs of one uuid (the repeated value is remembered), nulls between them, timestamps on both
    // sides of Postgres's 2000 epoch, and each value beside its text form to compare with.
    const labels = ["growing", "it's ready", "halted"];
    const query = `SELECT u, u::text, ts, to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), f, f::text, ${enumIndexSql("label", labels)}, label
      FROM (SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE md5((i / 3)::text)::uuid END AS u,
          timestamp '1969-07-20 20:17:40.5' + i * interval '19 days 1 hour 1.001 second' AS ts,
          CASE WHEN i % 11 = 0 THEN NULL ELSE (i - 1500) / 7.0::float8 END AS f,
          (ARRAY['growing', 'it''s ready', 'halted'])[1 + i % 3] AS label
        FROM generate_series(1, 3000) i) v`;
    const rows = await all(query, ["uuid", "text", "timestamp", "text", "float8", "text", { enum: labels }, "text"]);
    expect(rows).toHaveLength(3000);
    for (const [uuid, uuidText, ms, iso, float, floatText, label, labelText] of rows) {
      expect(uuid).toBe(uuidText);
      expect(new Date(ms as number).toISOString()).toBe(iso);
      expect(float).toBe(floatText === null ? null : Number(floatText));
      expect(label).toBe(labelText);
    }
    expect(new Set(rows.map((r) => r[0])).size).toBeGreaterThan(800);
    expect(rows.filter((r) => r[0] === null)).toHaveLength(428);
    expect(Math.min(...rows.map((r) => r[2] as number))).toBeLessThan(0);
  });

  it("refuses an enum position outside the declared labels", async () => {
    await expect(all("SELECT 0 UNION ALL SELECT 3", [{ enum: ["a", "b"] }])).rejects.toThrow(/holds 3, not an index/);
    expect((await client.query("SELECT 'still usable' AS s")).rows[0].s).toBe("still usable");
  });

  it("reassembles rows larger than a socket read, and rows split at every byte of their header", async () => {
    // Rows of 1 byte to 3 MB in a pattern that puts message boundaries everywhere in the reads.
    const query = `SELECT i, repeat(chr(65 + i % 26), CASE WHEN i % 100 = 0 THEN 3000000 ELSE (i * 7919) % 70000 END)
      FROM generate_series(1, 600) i`;
    const rows = await all(query, ["int4", "text"]);
    expect(rows).toHaveLength(600);
    rows.forEach(([i, text], n) => {
      expect(i).toBe(n + 1);
      const length = (n + 1) % 100 === 0 ? 3_000_000 : ((n + 1) * 7919) % 70_000;
      expect((text as string).length).toBe(length);
      expect(text).toBe(String.fromCharCode(65 + ((n + 1) % 26)).repeat(length));
    });
  });

  it("ends at once on an empty result", async () => {
    expect(await all("SELECT 1 WHERE false", ["int4"])).toEqual([]);
  });

  it("throws Postgres's error from the middle of a copy, and the connection goes on", async () => {
    const read: CopyRow[] = [];
    const failing = (async () => {
      for await (const batch of copyRows(client, "SELECT i, 1000 / (20000 - i) FROM generate_series(1, 30000) i", ["int4", "int4"])) read.push(...batch);
    })();
    await expect(failing).rejects.toThrow(/division by zero/);
    expect(read.length).toBeLessThan(20000);
    expect((await client.query("SELECT 41 + 1 AS n")).rows[0].n).toBe(42);
  });

  it("refuses rows whose column count is not the declared one", async () => {
    await expect(all("SELECT 1, 2", ["int4"])).rejects.toThrow(/2 columns, expected 1/);
    expect((await client.query("SELECT 'still usable' AS s")).rows[0].s).toBe("still usable");
  });

  it("leaves the connection usable when the consumer stops early", async () => {
    let seen = 0;
    for await (const batch of copyRows(client, "SELECT i, repeat('x', 1000) FROM generate_series(1, 200000) i", ["int4", "text"])) {
      seen += batch.length;
      if (seen > 1000) break;
    }
    expect(seen).toBeGreaterThan(1000);
    // Queued behind the rest of the copy, which is read and dropped.
    expect((await client.query("SELECT 7 AS n")).rows[0].n).toBe(7);
    expect(await all("SELECT 3", ["int4"])).toEqual([[3]]);
  });
});
