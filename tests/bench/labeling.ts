// Labeling benchmark (`npm run bench:labeling`). First pgbench (TPC-B, scale 10, 8 clients, 20 s)
// on this Postgres server in a scratch database, for a yardstick of what the machine does. Then
// the production build of the app on a free port with a fresh database, a bench project (default
// workflow and draw weights, rate limits lifted) and enough trees, and 64 simulated labelers over
// HTTP for 30 s, each looping: request a task (JSON API) → submit an answer. A submit counts when
// the server acknowledged it (200); latency percentiles are over submits. While it runs,
// pg_stat_activity is sampled to show where the database connections spend their time.
// Options: --labelers N, --seconds S, --pgbench-seconds S, --profile (writes a CPU profile of the
// web server and prints its top functions), --statements (prints the statements Postgres spent
// its time on; needs pg_stat_statements in shared_preload_libraries). The last line printed is
// one JSON object. --keep-database leaves the app's database for a look afterwards.
// After the labeling run, the same labelers run a floor for --floor-seconds: each cycle is two
// task requests the API rejects (400) right after signing the labeler in and reading the body.
// That is the least any request of the JSON API costs on this stack (Remix, the session lookup,
// Node's HTTP), so floor_ratio is the most the labeling loop could reach on this machine.
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parseArgs } from "node:util";
import pg from "pg";
import { databaseName, ensureDatabase, migrateDeploy, withAdminClient, withDatabase } from "../../scripts/lib/database.ts";
import { buildIfStale } from "../../scripts/lib/build.ts";
import { childEnv, freePort, startProcess, waitFor } from "../helpers/server.ts";
import { seedBench } from "./labeling/seed.ts";
import { type Answer, type Labeler, answerFor, percentile, postJson, round, type TaskView } from "./labeling/load.ts";
import { summarizeProfile } from "./profile.ts";

const run = promisify(execFile);
const { values: opts } = parseArgs({
  options: {
    labelers: { type: "string", default: "64" },
    seconds: { type: "string", default: "30" },
    "pgbench-seconds": { type: "string", default: "20" },
    "floor-seconds": { type: "string", default: "10" },
    profile: { type: "boolean", default: false },
    statements: { type: "boolean", default: false },
    "keep-database": { type: "boolean", default: false },
  },
});
const LABELERS = Number(opts.labelers);
const SECONDS = Number(opts.seconds);
const log = (msg: string) => console.log(`[bench:labeling] ${msg}`);

const base = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const suffix = crypto.randomBytes(4).toString("hex");

function pgArgs(url: string): string[] {
  const u = new URL(url);
  return ["-h", u.hostname, "-p", u.port || "5432", "-U", decodeURIComponent(u.username || "postgres")];
}

async function dropDatabase(url: string) {
  await withAdminClient(base, (c) => c.query(`DROP DATABASE IF EXISTS "${databaseName(url)}" WITH (FORCE)`));
}

// ─── 1. pgbench ─────────────────────────────────────────────────────────────

async function pgbench(): Promise<number> {
  const url = withDatabase(base, `rlhf_bench_pgbench_${suffix}`);
  await ensureDatabase(url);
  try {
    log("pgbench -i -s 10");
    await run("pgbench", [...pgArgs(url), "-i", "-s", "10", "-q", databaseName(url)], { maxBuffer: 1 << 24 });
    log(`pgbench -c 8 -j 2 -T ${opts["pgbench-seconds"]} -M prepared`);
    const { stdout } = await run("pgbench", [...pgArgs(url), "-c", "8", "-j", "2", "-T", String(opts["pgbench-seconds"]), "-M", "prepared", databaseName(url)], {
      maxBuffer: 1 << 24,
    });
    const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1]);
    if (!Number.isFinite(tps)) throw new Error(`could not read pgbench's tps from:\n${stdout}`);
    log(`pgbench: ${tps.toFixed(0)} tps`);
    return tps;
  } finally {
    await dropDatabase(url);
  }
}

// ─── 2. The app under load ──────────────────────────────────────────────────

/** CPU per trivial query through the app's Prisma client and through plain pg, measured here. */
async function queryCostProbe(dbUrl: string): Promise<{ prismaMs: number; pgMs: number }> {
  const { createPrismaClient } = await import("~/db.server.ts");
  const prisma = createPrismaClient(dbUrl);
  const pool = new pg.Pool({ connectionString: dbUrl, max: 2 });
  const measure = async (fn: () => Promise<unknown>) => {
    for (let i = 0; i < 50; i++) await fn();
    const before = process.cpuUsage();
    for (let i = 0; i < 500; i++) await fn();
    const used = process.cpuUsage(before);
    return round((used.user + used.system) / 1000 / 500, 3);
  };
  try {
    return { prismaMs: await measure(() => prisma.$queryRaw`SELECT 1`), pgMs: await measure(() => pool.query("SELECT 1")) };
  } finally {
    await prisma.$disconnect();
    await pool.end();
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc; null where /proc is missing. */
function processCpuSeconds(pid: number): number | null {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

/** CPU seconds of every Postgres process (backends, WAL writer, checkpointer…). */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!fs.readFileSync(`/proc/${entry}/comm`, "utf8").startsWith("postgres")) continue;
    } catch {
      continue;
    }
    total += processCpuSeconds(Number(entry)) ?? 0;
  }
  return total;
}

/** CPU seconds used since the call by the web server, this process and Postgres. */
function cpuMeter(webPid: number): () => { web: number; client: number; postgres: number } {
  const before = { web: processCpuSeconds(webPid), client: process.cpuUsage(), postgres: postgresCpuSeconds() };
  return () => {
    const client = process.cpuUsage(before.client);
    return {
      web: (processCpuSeconds(webPid) ?? NaN) - (before.web ?? NaN),
      client: (client.user + client.system) / 1e6,
      // Postgres processes that end during the run (none should) would drop out of the sum.
      postgres: postgresCpuSeconds() - before.postgres,
    };
  };
}

/**
 * The floor: every labeler loops over two requests that the API signs in, reads and rejects with
 * 400, so each cycle pays what every request pays (HTTP, Remix's routing, the session lookup) and
 * nothing of the labeling work.
 */
async function floorRun(labelers: Labeler[], reject: (cookie: string) => Promise<Answer>, webPid: number) {
  const seconds = Number(opts["floor-seconds"]);
  log(`floor: ${labelers.length} labelers for ${seconds} s`);
  const latencies: number[] = [];
  const cpuUsed = cpuMeter(webPid);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const expect400 = async (cookie: string) => {
    const answer = await reject(cookie);
    await answer.text();
    if (answer.status !== 400) throw new Error(`the floor's request got ${answer.status}, not 400`);
  };
  await Promise.all(
    labelers.map(async (l) => {
      while (performance.now() < deadline) {
        await expect400(l.cookie);
        const t = performance.now();
        await expect400(l.cookie);
        if (performance.now() <= deadline) latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = cpuUsed();
  latencies.sort((a, b) => a - b);
  const perCycle = (s: number) => round((1000 * s) / Math.max(1, latencies.length), 2);
  return {
    cyclesPerS: round(latencies.length / elapsed),
    p50Ms: round(percentile(latencies, 0.5)),
    p99Ms: round(percentile(latencies, 0.99)),
    webMs: perCycle(cpu.web),
    postgresMs: perCycle(cpu.postgres),
    clientMs: perCycle(cpu.client),
  };
}

async function appBench(pgbenchTps: number) {
  const dbUrl = withDatabase(base, `rlhf_bench_labeling_${suffix}`);
  await ensureDatabase(dbUrl);
  const server: { stop?: () => Promise<number | null>; output?: () => string } = {};
  const profileDir = path.resolve("test-output", `bench-profile-${suffix}`);
  try {
    log("migrating a fresh database");
    await migrateDeploy(dbUrl);
    process.env.DATABASE_URL = dbUrl;
    process.env.SESSION_SECRET ??= crypto.randomBytes(24).toString("hex");
    const { hashPassword } = await import("~/auth/password.server.ts");
    const seed = await seedBench(
      dbUrl,
      { labelers: LABELERS, rankingTrees: 1500, reviewTrees: 1500, waitingTrees: 600, finishedTrees: 1000 },
      await hashPassword(crypto.randomBytes(12).toString("hex")),
    );
    log(`seeded ${JSON.stringify(seed.trees)} trees, ${LABELERS} labelers`);
    const { createSession } = await import("~/auth/session.server.ts");
    const probe = await queryCostProbe(dbUrl);
    log(`one SELECT 1 costs this process ${probe.prismaMs} ms of CPU through Prisma's $queryRaw, ${probe.pgMs} ms through pg`);
    const labelers: Labeler[] = [];
    for (const id of seed.labelerIds) labelers.push({ id, cookie: (await createSession(id, "bench")).split(";")[0] });

    buildIfStale();
    const port = await freePort();
    const args = opts.profile ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
    const proc = startProcess(
      [...args, "--import", "tsx", "server.ts", "build/server/index.js"],
      childEnv({ PORT: String(port), HOST: "127.0.0.1", DATABASE_URL: dbUrl, SESSION_SECRET: process.env.SESSION_SECRET! }),
    );
    Object.assign(server, proc);
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/health`)).status < 500, "the web server", 60_000);

    const api = `${url}/api/projects/${seed.slug}/tasks`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: LABELERS });
    const post = (target: string, cookie: string, body: unknown) => postJson(agent, target, cookie, body);

    // Warm-up: each labeler once, so connection pools and JIT are not measured.
    await Promise.all(labelers.slice(0, 8).map(async (l) => (await post(api, l.cookie, { type: "random" })).text()));

    const submitMs: number[] = [];
    const requestMs: number[] = [];
    const byType: Record<string, number> = {};
    const statuses: Record<string, number> = {};
    let requests = 0;
    let noTask = 0;
    const activity: Record<string, number> = {};
    let activitySamples = 0;
    const monitor = new pg.Client({ connectionString: dbUrl });
    await monitor.connect();
    let running = true;
    const sampler = (async () => {
      while (running) {
        const { rows } = await monitor.query<{ what: string; n: number }>(
          `SELECT CASE WHEN state = 'active' AND wait_event_type IS NOT NULL THEN 'waiting: ' || wait_event_type || '/' || wait_event
                       ELSE coalesce(state, 'unknown') END AS what, count(*)::int AS n
           FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1`,
        );
        for (const r of rows) activity[r.what] = (activity[r.what] ?? 0) + r.n;
        activitySamples++;
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    if (opts.statements) {
      await monitor.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
      await monitor.query("SELECT pg_stat_statements_reset()");
    }
    log(`${LABELERS} labelers for ${SECONDS} s`);
    const cpuUsed = cpuMeter(proc.child.pid!);
    const started = performance.now();
    const deadline = started + SECONDS * 1000;
    await Promise.all(
      labelers.map(async (l, i) => {
        let n = 0;
        while (performance.now() < deadline) {
          const t0 = performance.now();
          const res = await post(api, l.cookie, { type: "random" });
          requests++;
          requestMs.push(performance.now() - t0);
          if (res.status === 404) {
            noTask++;
            await res.text();
            await new Promise((r) => setTimeout(r, 50));
            continue;
          }
          if (res.status !== 200) {
            statuses[`request ${res.status}`] = (statuses[`request ${res.status}`] ?? 0) + 1;
            await res.text();
            continue;
          }
          const view = (await res.json()) as TaskView;
          const t1 = performance.now();
          const answer = await post(`${api}/${view.task.id}`, l.cookie, answerFor(view, i * 1_000_000 + n++));
          const ms = performance.now() - t1;
          await answer.text();
          if (performance.now() > deadline && answer.status === 200) break; // finished after the bell: not counted
          if (answer.status === 200) {
            submitMs.push(ms);
            byType[view.task.type] = (byType[view.task.type] ?? 0) + 1;
          } else statuses[`submit ${answer.status}`] = (statuses[`submit ${answer.status}`] ?? 0) + 1;
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    const cpu = cpuUsed();
    running = false;
    await sampler;

    if (opts.statements) {
      const { rows } = await monitor.query<{ ms: number; plan_ms: number; calls: number; query: string }>(
        `SELECT round(total_exec_time)::int AS ms, round(total_plan_time)::int AS plan_ms, calls::int,
                left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS query
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
         ORDER BY total_exec_time + total_plan_time DESC LIMIT 15`,
      );
      for (const r of rows) log(`statement: ${r.ms} ms (+${r.plan_ms} ms planning) in ${r.calls} calls: ${r.query}`);
    }
    const { rows: treeRows } = await monitor.query<{ state: string; n: number }>("SELECT state::text, count(*)::int AS n FROM message_trees GROUP BY 1");
    await monitor.end();
    const after = Object.fromEntries(treeRows.map((r) => [r.state, r.n]));
    const floor = await floorRun(labelers, (cookie) => post(api, cookie, { type: "no_such_task" }), proc.child.pid!);

    agent.destroy();
    await proc.stop();
    server.stop = undefined;
    if (process.env.BENCH_SERVER_LOG) console.log(proc.output().slice(0, 4000));
    submitMs.sort((a, b) => a - b);
    requestMs.sort((a, b) => a - b);
    const submitsPerS = submitMs.length / elapsed;
    log(`trees after the run: ${JSON.stringify(after)}`);
    log(`submits by type: ${JSON.stringify(byType)}; other answers: ${JSON.stringify(statuses)}; no task: ${noTask}`);
    log(
      `task requests: ${round(requests / elapsed)}/s, p50 ${round(percentile(requestMs, 0.5))} ms, p99 ${round(percentile(requestMs, 0.99))} ms`,
    );
    const share = Object.entries(activity)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${round(v / activitySamples)}`)
      .join(", ");
    log(`database connections on average: ${share}`);
    const perSubmit = (seconds: number) => round((1000 * seconds) / Math.max(1, submitMs.length), 2);
    log(
      `CPU per acknowledged submit (task request included): web server ${perSubmit(cpu.web)} ms, Postgres ${perSubmit(cpu.postgres)} ms, ` +
        `this load generator ${perSubmit(cpu.client)} ms; the machine has ${os.availableParallelism()} cores for ${round(elapsed)} s`,
    );
    log(
      `floor (two task requests rejected with 400 per cycle): ${floor.cyclesPerS} cycles/s, p50 ${floor.p50Ms} ms, p99 ${floor.p99Ms} ms; ` +
        `CPU per cycle: web server ${floor.webMs} ms, Postgres ${floor.postgresMs} ms, this load generator ${floor.clientMs} ms`,
    );
    if (opts.profile) {
      // One profile per thread; the main thread's is the largest (the other is tsx's loader).
      const file = fs
        .readdirSync(profileDir)
        .filter((f) => f.endsWith(".cpuprofile"))
        .map((f) => path.join(profileDir, f))
        .sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0];
      if (file) for (const line of summarizeProfile(file)) log(`profile: ${line}`);
    }
    return {
      bench: "labeling",
      submits_per_s: round(submitsPerS),
      p50_ms: round(percentile(submitMs, 0.5)),
      p99_ms: round(percentile(submitMs, 0.99)),
      pgbench_tps: round(pgbenchTps),
      ratio: round(submitsPerS / pgbenchTps, 3),
      labelers: LABELERS,
      seconds: round(elapsed),
      submits: submitMs.length,
      task_requests_per_s: round(requests / elapsed),
      task_request_p50_ms: round(percentile(requestMs, 0.5)),
      task_request_p99_ms: round(percentile(requestMs, 0.99)),
      web_cpu_ms_per_submit: perSubmit(cpu.web),
      postgres_cpu_ms_per_submit: perSubmit(cpu.postgres),
      client_cpu_ms_per_submit: perSubmit(cpu.client),
      floor_cycles_per_s: floor.cyclesPerS,
      floor_p99_ms: floor.p99Ms,
      floor_ratio: round(floor.cyclesPerS / pgbenchTps, 3),
      prisma_select1_cpu_ms: probe.prismaMs,
      pg_select1_cpu_ms: probe.pgMs,
    };
  } catch (error) {
    if (server.output) console.error(server.output());
    throw error;
  } finally {
    await server.stop?.();
    if (opts["keep-database"]) log(`database kept: ${dbUrl}`);
    else await dropDatabase(dbUrl);
  }
}

const tps = await pgbench();
const result = await appBench(tps);
console.log(JSON.stringify(result));
process.exit(0);
