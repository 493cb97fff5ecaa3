// SQL driver benchmark (`npm run bench:sql-driver`): the labeling services on node-postgres (pg)
// and on postgres.js, measured in one run (docs/decisions/0023-labeling-sql-on-postgres-js.md).
// A fresh scratch database is seeded as for `npm run bench:labeling`; then N simulated labelers
// call the services directly, in this process, each looping: requestTask → describeTask → the
// submit its task asks for (answered as the labeling benchmark's labelers answer), as the JSON API
// does minus HTTP and the session. The drivers take turns (pg, postgres, pg, postgres, …) for S
// seconds each, so both share the machine's noise, after --warm-up seconds on each; each turn
// starts with a second of unmeasured warm-up. A cycle is a task drawn and its answer
// acknowledged. CPU per cycle is this process's (process.cpuUsage) and that of the database's
// backends (from /proc).
// Then the exports' COPY path: the same binary `COPY … TO STDOUT` of message rows, read by the
// exporter's decoder on a pg connection, and as bytes through pg-copy-streams and postgres.js.
// Options: --labelers N, --seconds S, --rounds R (turns per driver), --warm-up S, --copy-rounds R,
// --keep-database. The last line printed is one JSON object.
import crypto from "node:crypto";
import fs from "node:fs";
import { parseArgs } from "node:util";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import postgres from "postgres";
import { databaseName, ensureDatabase, migrateDeploy, withAdminClient, withDatabase } from "../../scripts/lib/database.ts";
import { benchPeople, seedBench } from "./labeling/seed.ts";
import { answerFor, percentile, round, type TaskView } from "./labeling/load.ts";

const { values: opts } = parseArgs({
  options: {
    labelers: { type: "string", default: "32" },
    seconds: { type: "string", default: "15" },
    rounds: { type: "string", default: "2" },
    "copy-rounds": { type: "string", default: "3" },
    "warm-up": { type: "string", default: "5" },
    "keep-database": { type: "boolean", default: false },
  },
});
const LABELERS = Number(opts.labelers);
const SECONDS = Number(opts.seconds);
const ROUNDS = Number(opts.rounds);
const COPY_ROUNDS = Number(opts["copy-rounds"]);
const WARM_UP = Number(opts["warm-up"]);
const DRIVERS = ["pg", "postgres"] as const;
type Driver = (typeof DRIVERS)[number];
const log = (msg: string) => console.log(`[bench:sql-driver] ${msg}`);

const base = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const dbUrl = withDatabase(base, `rlhf_bench_sql_driver_${crypto.randomBytes(4).toString("hex")}`);

/** CPU seconds each backend of the benchmark's database has used so far, from /proc (other
 *  work on the server does not count; a backend that ends during a turn drops out). */
async function backendCpuSeconds(monitor: pg.Client): Promise<Map<number, number>> {
  const { rows } = await monitor.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
  );
  const seconds = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      seconds.set(pid, (Number(fields[11]) + Number(fields[12])) / 100); // utime, stime in clock ticks (USER_HZ = 100)
    } catch {
      // The backend ended between the listing and the read.
    }
  }
  return seconds;
}

interface Turn {
  driver: Driver;
  cycles: number;
  seconds: number;
  cpuMs: number;
  postgresCpuMs: number;
  submitMs: number[];
  refused: number;
  noTask: number;
}

await ensureDatabase(dbUrl);
try {
  log("migrating a fresh database");
  await migrateDeploy(dbUrl);
  process.env.DATABASE_URL = dbUrl;
  process.env.SESSION_SECRET ??= crypto.randomBytes(24).toString("hex");
  const { hashPassword } = await import("~/auth/password.server.ts");
  const people = benchPeople(LABELERS, await hashPassword(crypto.randomBytes(12).toString("hex")));
  const seed = await seedBench(dbUrl, { rankingTrees: 1500, reviewTrees: 1500, waitingTrees: 600, finishedTrees: 1000, authors: 40 }, people, log);
  log(`seeded ${JSON.stringify(seed.trees)} trees, ${LABELERS} labelers`);

  // Imported only now: the database clients read DATABASE_URL when first loaded.
  const { pgPool, prisma, sqlClient } = await import("~/db.server.ts");
  const { useLabelingDriver } = await import("~/models/labeling/transaction.server.ts");
  const { TASK_TYPE_INFO } = await import("~/domain/tasks/task-types.ts");
  const { LabelingError } = await import("~/models/labeling/errors.server.ts");
  const { describeTask } = await import("~/models/labeling/task-view.server.ts");
  const { getOwnTask, requestTask } = await import("~/models/labeling/tasks.server.ts");
  const { submitLabels } = await import("~/models/labeling/labels.server.ts");
  const { submitRanking } = await import("~/models/labeling/rankings.server.ts");
  const { submitPrompt, submitReply } = await import("~/models/labeling/writing.server.ts");
  const projectId = seed.projectId;
  const monitor = new pg.Client({ connectionString: dbUrl });
  // Dropping the database after a failure ends this connection: the failure is what to show.
  monitor.on("error", () => undefined);
  await monitor.connect();

  /** One labeler's cycles until `deadline`; the submit goes as the JSON API sends it. */
  async function labeler(userId: string, index: number, deadline: number, turn: Turn | null): Promise<void> {
    let n = 0;
    while (performance.now() < deadline) {
      const task = await requestTask({ projectId, userId, type: "random", acknowledge: true });
      if (!task) {
        if (turn) turn.noTask++;
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const view = (await describeTask(task, userId)) as unknown as TaskView;
      const answer = answerFor(view, index * 1_000_000 + n++) as { text?: string; labels?: Record<string, number>; order?: string[][] };
      const t = performance.now();
      try {
        switch (TASK_TYPE_INFO[task.type].kind) {
          case "label":
            await submitLabels(projectId, task.id, userId, answer.labels ?? {});
            break;
          case "rank":
            await submitRanking(projectId, task.id, userId, { order: answer.order });
            break;
          case "prompt":
            await submitPrompt(projectId, await getOwnTask(projectId, task.id, userId), userId, { text: answer.text });
            break;
          case "reply":
            await submitReply(projectId, await getOwnTask(projectId, task.id, userId), userId, { text: answer.text });
            break;
        }
      } catch (error) {
        if (!(error instanceof LabelingError)) throw error;
        if (turn) turn.refused++;
        continue;
      }
      if (turn && performance.now() <= deadline) {
        turn.cycles++;
        turn.submitMs.push(performance.now() - t);
      }
    }
  }

  async function warmUp(driver: Driver, seconds: number): Promise<void> {
    useLabelingDriver(driver);
    const until = performance.now() + seconds * 1000;
    await Promise.all(people.labelerIds.map((id, i) => labeler(id, i, until, null)));
  }

  async function labelingTurn(driver: Driver): Promise<Turn> {
    await warmUp(driver, 1);
    const turn: Turn = { driver, cycles: 0, seconds: 0, cpuMs: 0, postgresCpuMs: 0, submitMs: [], refused: 0, noTask: 0 };
    const cpu = process.cpuUsage();
    const backendsBefore = await backendCpuSeconds(monitor);
    const started = performance.now();
    const deadline = started + SECONDS * 1000;
    await Promise.all(people.labelerIds.map((id, i) => labeler(id, i, deadline, turn)));
    turn.seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    turn.cpuMs = (used.user + used.system) / 1000;
    for (const [pid, seconds] of await backendCpuSeconds(monitor)) turn.postgresCpuMs += (seconds - (backendsBefore.get(pid) ?? 0)) * 1000;
    return turn;
  }

  // Caches, plans and compiled code warm up on both drivers before anything is measured.
  for (const driver of DRIVERS) await warmUp(driver, WARM_UP);
  const turns: Turn[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const driver of DRIVERS) {
      const turn = await labelingTurn(driver);
      turns.push(turn);
      const sorted = [...turn.submitMs].sort((a, b) => a - b);
      log(
        `labeling on ${driver}: ${round(turn.cycles / turn.seconds)} cycles/s, CPU per cycle ${round(turn.cpuMs / turn.cycles, 3)} ms here, ` +
          `${round(turn.postgresCpuMs / turn.cycles, 3)} ms in its Postgres backends; submit p50 ${round(percentile(sorted, 0.5))} ms, p99 ${round(percentile(sorted, 0.99))} ms; ` +
          `refused ${turn.refused}, no task ${turn.noTask}`,
      );
    }
  }

  // ─── The exports' COPY path ────────────────────────────────────────────────
  // Message rows as the export reads them (binary; ids as text, timestamps and enums binary),
  // twenty times over so that one COPY runs long enough to measure. Three readers: the exporter's
  // decoder on a pg connection (rows out), and for the transport alone, pg-copy-streams on pg and
  // postgres.js's readable stream, both counting bytes.
  const { copyRows } = await import("~/models/datasets/pg-copy.server.ts");
  const copyQuery = `SELECT m.tree_id, m.id::text, m.parent_id::text, m.text, m.lang, m.created_at, m.synthetic, m.deleted, m.depth
    FROM messages m CROSS JOIN generate_series(1, 20)`;
  const copySql = `COPY (${copyQuery}) TO STDOUT (FORMAT binary)`;
  const copyColumns = ["uuid", "text", "text", "text", "text", "timestamp", "bool", "bool", "int4"] as const;
  const pgClient = new pg.Client({ connectionString: dbUrl });
  await pgClient.connect();
  const countBytes = async (stream: AsyncIterable<Buffer>) => {
    let bytes = 0;
    for await (const chunk of stream) bytes += chunk.length;
    return bytes;
  };
  const readers = {
    "pg, decoded": async () => {
      let rows = 0;
      for await (const batch of copyRows(pgClient, copyQuery, copyColumns)) rows += batch.length;
      return rows;
    },
    "pg, bytes": () => countBytes(pgClient.query(copyTo(copySql))),
    // A connection of its own each time: postgres.js 3.4 can leave the socket paused after a COPY
    // whose last rows arrive with its end (porsager/postgres#499), and the next query then hangs.
    "postgres, bytes": async () => {
      const client = postgres(dbUrl, { max: 1, onnotice: () => undefined });
      try {
        return await countBytes((await client.unsafe(copySql).readable()) as AsyncIterable<Buffer>);
      } finally {
        await client.end({ timeout: 1 });
      }
    },
  };
  type Reader = keyof typeof readers;
  const copyRuns: Record<string, { out: number; ms: number; cpuMs: number }[]> = {};
  for (let i = 0; i < COPY_ROUNDS; i++) {
    for (const [name, read] of Object.entries(readers)) {
      const cpu = process.cpuUsage();
      const started = performance.now();
      const out = await read();
      const used = process.cpuUsage(cpu);
      (copyRuns[name] ??= []).push({ out, ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 });
    }
  }
  await pgClient.end();
  const copyBest = (name: Reader) => copyRuns[name].reduce((a, b) => (b.ms < a.ms ? b : a));
  const copyRowCount = copyBest("pg, decoded").out;
  if (copyBest("pg, bytes").out !== copyBest("postgres, bytes").out) throw new Error(`the two COPY streams differ: ${JSON.stringify(copyRuns)}`);
  for (const name of Object.keys(readers) as Reader[]) {
    const best = copyBest(name);
    log(`COPY on ${name}: ${copyRowCount} rows in ${round(best.ms, 0)} ms, CPU here ${round(best.cpuMs, 0)} ms (the faster of ${COPY_ROUNDS})`);
  }

  const total = (driver: Driver) => {
    const mine = turns.filter((t) => t.driver === driver);
    const cycles = mine.reduce((s, t) => s + t.cycles, 0);
    const seconds = mine.reduce((s, t) => s + t.seconds, 0);
    const submitMs = mine.flatMap((t) => t.submitMs).sort((a, b) => a - b);
    return {
      cyclesPerS: cycles / seconds,
      cpuMs: mine.reduce((s, t) => s + t.cpuMs, 0) / cycles,
      postgresCpuMs: mine.reduce((s, t) => s + t.postgresCpuMs, 0) / cycles,
      p99: percentile(submitMs, 0.99),
    };
  };
  const [onPg, onPostgres] = [total("pg"), total("postgres")];
  const [copyDecoded, copyPg, copyPostgres] = [copyBest("pg, decoded"), copyBest("pg, bytes"), copyBest("postgres, bytes")];
  await Promise.all([prisma.$disconnect(), pgPool.end(), sqlClient.end(), monitor.end()]);
  console.log(
    JSON.stringify({
      bench: "sql-driver",
      labelers: LABELERS,
      seconds_per_turn: SECONDS,
      rounds: ROUNDS,
      pg_cycles_per_s: round(onPg.cyclesPerS),
      postgres_cycles_per_s: round(onPostgres.cyclesPerS),
      cycles_ratio: round(onPostgres.cyclesPerS / onPg.cyclesPerS, 3),
      pg_cpu_ms_per_cycle: round(onPg.cpuMs, 3),
      postgres_cpu_ms_per_cycle: round(onPostgres.cpuMs, 3),
      cpu_ratio: round(onPostgres.cpuMs / onPg.cpuMs, 3),
      pg_server_cpu_ms_per_cycle: round(onPg.postgresCpuMs, 3),
      postgres_server_cpu_ms_per_cycle: round(onPostgres.postgresCpuMs, 3),
      pg_submit_p99_ms: round(onPg.p99),
      postgres_submit_p99_ms: round(onPostgres.p99),
      copy_rows: copyRowCount,
      copy_decoded_pg_ms: round(copyDecoded.ms, 0),
      copy_decoded_pg_cpu_ms: round(copyDecoded.cpuMs, 0),
      copy_bytes_pg_ms: round(copyPg.ms, 0),
      copy_bytes_pg_cpu_ms: round(copyPg.cpuMs, 0),
      copy_bytes_postgres_ms: round(copyPostgres.ms, 0),
      copy_bytes_postgres_cpu_ms: round(copyPostgres.cpuMs, 0),
    }),
  );
} finally {
  if (opts["keep-database"]) log(`database kept: ${dbUrl}`);
  else await withAdminClient(base, (c) => c.query(`DROP DATABASE IF EXISTS "${databaseName(dbUrl)}" WITH (FORCE)`));
}
process.exit(0);
