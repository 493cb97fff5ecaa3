// Labeling benchmark (`npm run bench:labeling`). First pgbench (TPC-B, scale 10, 8 clients, 20 s)
// on this Postgres server in a scratch database, for a yardstick of what the machine does. Then
// two project sizes, each in a fresh database with the same labelers (same users and sessions):
// small (~5,000 trees, ~50,000 messages) and large (--large-scale times the trees of every state,
// ~100,000 trees and ~1,000,000 messages by default). Both have the same mix of tree states: mostly
// finished trees with their history, and enough trees in review, growing and ranking that no group
// of the draw runs dry. Both are seeded first, then the production build of the app runs on each,
// on free ports, and after a few seconds that warm each fresh server up (floor requests, below;
// not counted), 64 simulated labelers run over HTTP for 30 s at each size, each looping: request a
// task (JSON API) → submit an answer. The two sizes take turns in --slices slices each (small,
// large, large, small, small, large, …): the machine's speed drifts by more than the figures'
// other noise within a minute, and taking turns weighs that drift on both sizes alike. A submit
// counts when the server acknowledged it (200); latency percentiles are over submits. While a
// slice runs, pg_stat_activity is sampled to show where the database connections spend their
// time. After the runs the draw (draw_task, the statement behind every task request) is timed
// alone for one labeler at each size, so its growth with size shows apart from the load.
// The same labelers also run a floor on the small size's server for --floor-seconds, in windows
// before the first pair of slices and after every pair, so across the same minutes as the runs it
// is compared with: each cycle is two task requests the API rejects (400) right after signing the
// labeler in and reading the body.
// That is the least any request of the JSON API costs on this stack (Remix, the session lookup,
// Node's HTTP); cycle_to_floor is the labeling loop's rate over the floor's.
// At the large size, with the small size's server stopped, paced labelers follow: people who read and think before each answer
// (--think-seconds, jittered ±50 %), in steps of 50, 100, 200, … labelers (--step-seconds each,
// or longer to collect 300 submits, after one think time for the new ones to spread out), until submit p99 passes 200 ms, the load
// generator falls behind (its event loop shares the machine's cores with the server) or the
// seeded labelers (--paced-max) run out; paced_labelers_at_p99_200ms is the last step that held.
// Options: --labelers N, --seconds S (per size), --slices N, --floor-seconds S, --pgbench-seconds S, --large-scale K, --think-seconds S,
// --step-seconds S, --paced-max N (0: no paced steps), --profile (writes a CPU profile of the web
// server at the small size and prints its top functions), --statements (prints the statements
// Postgres spent its time on at each size; needs pg_stat_statements in shared_preload_libraries),
// --explain (prints the plan of the draw at each size). The last line printed is one
// JSON object. --keep-database leaves the app's databases for a look afterwards.
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import { setMaxListeners } from "node:events";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { parseArgs } from "node:util";
import pg from "pg";
import { defaultWorkflowConfig } from "~/domain/projects/workflow.ts";
import { databaseName, ensureDatabase, migrateDeploy, withAdminClient, withDatabase } from "../../scripts/lib/database.ts";
import { buildIfStale } from "../../scripts/lib/build.ts";
import { childEnv, freePort, startProcess, waitFor, type RunningProcess } from "../helpers/server.ts";
import { benchPeople, seedBench, type BenchPeople, type BenchSeed, type SeedSizes } from "./labeling/seed.ts";
import { type Answer, type Labeler, answerFor, percentile, postJson, round, type TaskView } from "./labeling/load.ts";
import { summarizeProfile } from "./profile.ts";

const run = promisify(execFile);
const { values: opts } = parseArgs({
  options: {
    labelers: { type: "string", default: "64" },
    seconds: { type: "string", default: "30" },
    "pgbench-seconds": { type: "string", default: "20" },
    "floor-seconds": { type: "string", default: "15" },
    slices: { type: "string", default: "4" },
    "large-scale": { type: "string", default: "20" },
    "think-seconds": { type: "string", default: "10" },
    "step-seconds": { type: "string", default: "30" },
    "paced-max": { type: "string", default: "3200" },
    profile: { type: "boolean", default: false },
    statements: { type: "boolean", default: false },
    explain: { type: "boolean", default: false },
    "keep-database": { type: "boolean", default: false },
  },
});
const LABELERS = Number(opts.labelers);
const SECONDS = Number(opts.seconds);
const SLICES = Number(opts.slices);
const PACED_MAX = Number(opts["paced-max"]);
const THINK_MS = Number(opts["think-seconds"]) * 1000;
const STEP_MS = Number(opts["step-seconds"]) * 1000;
/** The submit latency a person waiting on the page should not feel. */
const PACED_P99_MS = 200;
/** Submits a paced step waits for at least, whatever --step-seconds says. */
const MIN_STEP_SUBMITS = 300;
/** Trees per state and authors at the small size; the large size has --large-scale times as many. */
const SMALL: SeedSizes = { finishedTrees: 2700, rankingTrees: 1000, reviewTrees: 1000, waitingTrees: 300, authors: 40 };
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

/** CPU seconds of every Postgres process (backends, WAL writer, checkpointer…) by pid. */
function postgresCpuSeconds(): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!fs.readFileSync(`/proc/${entry}/comm`, "utf8").startsWith("postgres")) continue;
    } catch {
      continue;
    }
    byPid.set(Number(entry), processCpuSeconds(Number(entry)) ?? 0);
  }
  return byPid;
}

/** CPU seconds used since the call by the web server, this process and Postgres. */
function cpuMeter(webPid: number): () => { web: number; client: number; postgres: number } {
  const before = { web: processCpuSeconds(webPid), client: process.cpuUsage(), postgres: postgresCpuSeconds() };
  return () => {
    const client = process.cpuUsage(before.client);
    let postgres = 0;
    // Per process, so that one ending during the run (another database's backend on a shared
    // server) does not take its whole life's CPU off the sum; what it used in the run is lost.
    for (const [pid, seconds] of postgresCpuSeconds()) postgres += seconds - (before.postgres.get(pid) ?? 0);
    return { web: (processCpuSeconds(webPid) ?? NaN) - (before.web ?? NaN), client: (client.user + client.system) / 1e6, postgres };
  };
}

const FLOOR_WARMUP_SECONDS = 3;

/** One window of the floor: its cycles' latencies, its length and the CPU it used. */
interface FloorWindow {
  latencies: number[];
  seconds: number;
  cpu: { web: number; client: number; postgres: number };
}

/**
 * The floor: every labeler loops over two requests that the API signs in, reads and rejects with
 * 400, so each cycle pays what every request pays (HTTP, Remix's routing, the session lookup) and
 * nothing of the labeling work.
 */
async function floorWindow(labelers: Labeler[], reject: (cookie: string) => Promise<Answer>, webPid: number, seconds: number, label: string): Promise<FloorWindow> {
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
  const window = { latencies, seconds: (performance.now() - started) / 1000, cpu: cpuUsed() };
  log(`${label}: ${round(latencies.length / window.seconds)} floor cycles/s over ${round(window.seconds)} s`);
  return window;
}

/** The floor's figures over its windows (run around and between the slices of the labeling run they
 *  are compared with, so that the machine's drift during the run weighs on both sides alike). */
function floorFigures(windows: FloorWindow[]) {
  const latencies = windows.flatMap((w) => w.latencies).sort((a, b) => a - b);
  const seconds = windows.reduce((a, w) => a + w.seconds, 0);
  const sum = (k: keyof FloorWindow["cpu"]) => windows.reduce((a, w) => a + w.cpu[k], 0);
  const perCycle = (s: number) => round((1000 * s) / Math.max(1, latencies.length), 2);
  return {
    cyclesPerS: round(latencies.length / seconds),
    windowsCyclesPerS: windows.map((w) => round(w.latencies.length / w.seconds)),
    p50Ms: round(percentile(latencies, 0.5)),
    p99Ms: round(percentile(latencies, 0.99)),
    webMs: perCycle(sum("web")),
    postgresMs: perCycle(sum("postgres")),
    clientMs: perCycle(sum("client")),
  };
}

// ─── 3. One project size ────────────────────────────────────────────────────

interface LabelingFigures {
  submitsPerS: number;
  p50Ms: number;
  p99Ms: number;
  seconds: number;
  submits: number;
  requestsPerS: number;
  requestP50Ms: number;
  requestP99Ms: number;
  webMs: number;
  postgresMs: number;
  clientMs: number;
}

async function startServer(dbUrl: string, profileDir: string | null): Promise<RunningProcess & { url: string }> {
  const port = await freePort();
  const args = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
  const proc = startProcess(
    [...args, "--import", "tsx", "server.ts", "build/server/index.js"],
    childEnv({ PORT: String(port), HOST: "127.0.0.1", DATABASE_URL: dbUrl, SESSION_SECRET: process.env.SESSION_SECRET! }),
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => (await fetch(`${url}/health`)).status < 500, "the web server", 60_000);
  } catch (error) {
    console.error(proc.output());
    await proc.stop();
    throw error;
  }
  return { ...proc, url };
}

/**
 * The labeling loop at one size: every labeler requests a task and answers it at once. It runs in
 * slices, taken in turns with the other size's (see `interleaved`); between two slices every
 * labeler has finished its cycle, and the figures are over all slices.
 */
class LabelingLoad {
  private readonly agent: http.Agent;
  private readonly monitor: pg.Client;
  private readonly submitMs: number[] = [];
  private readonly requestMs: number[] = [];
  private readonly byType: Record<string, number> = {};
  private readonly statuses: Record<string, number> = {};
  private readonly activity: Record<string, number> = {};
  private readonly answered: number[];
  private readonly cpu = { web: 0, postgres: 0, client: 0 };
  private activitySamples = 0;
  private requests = 0;
  private noTask = 0;
  private elapsedMs = 0;

  constructor(
    readonly size: string,
    private readonly api: string,
    private readonly labelers: Labeler[],
    dbUrl: string,
    private readonly webPid: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: labelers.length });
    this.monitor = new pg.Client({ connectionString: dbUrl });
    this.answered = labelers.map(() => 0);
  }

  private post(target: string, cookie: string, body: unknown) {
    return postJson(this.agent, target, cookie, body);
  }

  async open() {
    // Warm-up, so connection pools and JIT are not measured.
    await Promise.all(this.labelers.slice(0, 8).map(async (l) => (await this.post(this.api, l.cookie, { type: "random" })).text()));
    await this.monitor.connect();
    if (opts.statements) {
      await this.monitor.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
      await this.monitor.query("SELECT pg_stat_statements_reset()");
    }
  }

  /** One slice of `seconds`; pg_stat_activity is sampled while it runs. */
  async slice(seconds: number) {
    let running = true;
    const sampler = (async () => {
      while (running) {
        const { rows } = await this.monitor.query<{ what: string; n: number }>(
          `SELECT CASE WHEN state = 'active' AND wait_event_type IS NOT NULL THEN 'waiting: ' || wait_event_type || '/' || wait_event
                       ELSE coalesce(state, 'unknown') END AS what, count(*)::int AS n
           FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1`,
        );
        for (const r of rows) this.activity[r.what] = (this.activity[r.what] ?? 0) + r.n;
        this.activitySamples++;
        await sleep(200);
      }
    })();
    const cpuUsed = cpuMeter(this.webPid);
    const started = performance.now();
    const deadline = started + seconds * 1000;
    const submitsBefore = this.submitMs.length;
    await Promise.all(
      this.labelers.map(async (l, i) => {
        while (performance.now() < deadline) {
          const t0 = performance.now();
          const res = await this.post(this.api, l.cookie, { type: "random" });
          this.requests++;
          this.requestMs.push(performance.now() - t0);
          if (res.status === 404) {
            this.noTask++;
            await res.text();
            await sleep(50);
            continue;
          }
          if (res.status !== 200) {
            this.statuses[`request ${res.status}`] = (this.statuses[`request ${res.status}`] ?? 0) + 1;
            await res.text();
            continue;
          }
          const view = (await res.json()) as TaskView;
          const t1 = performance.now();
          const answer = await this.post(`${this.api}/${view.task.id}`, l.cookie, answerFor(view, i * 1_000_000 + this.answered[i]++));
          const ms = performance.now() - t1;
          await answer.text();
          if (performance.now() > deadline && answer.status === 200) break; // finished after the bell: not counted
          if (answer.status === 200) {
            this.submitMs.push(ms);
            this.byType[view.task.type] = (this.byType[view.task.type] ?? 0) + 1;
          } else this.statuses[`submit ${answer.status}`] = (this.statuses[`submit ${answer.status}`] ?? 0) + 1;
        }
      }),
    );
    const sliceMs = performance.now() - started;
    this.elapsedMs += sliceMs;
    const used = cpuUsed();
    this.cpu.web += used.web;
    this.cpu.postgres += used.postgres;
    this.cpu.client += used.client;
    running = false;
    await sampler;
    log(`${this.size}: slice of ${round(sliceMs / 1000)} s: ${round(((this.submitMs.length - submitsBefore) * 1000) / sliceMs)} cycles/s`);
  }

  async close(): Promise<LabelingFigures> {
    const { size, submitMs, requestMs, monitor } = this;
    const elapsed = this.elapsedMs / 1000;
    this.agent.destroy();
    if (opts.statements) {
      const { rows } = await monitor.query<{ ms: number; plan_ms: number; calls: number; query: string }>(
        `SELECT round(total_exec_time)::int AS ms, round(total_plan_time)::int AS plan_ms, calls::int,
                left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS query
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
         ORDER BY total_exec_time + total_plan_time DESC LIMIT 15`,
      );
      for (const r of rows) log(`${size}: statement: ${r.ms} ms (+${r.plan_ms} ms planning) in ${r.calls} calls: ${r.query}`);
    }
    const { rows: treeRows } = await monitor.query<{ state: string; n: number }>("SELECT state::text, count(*)::int AS n FROM message_trees GROUP BY 1");
    await monitor.end();
    submitMs.sort((a, b) => a - b);
    requestMs.sort((a, b) => a - b);
    log(`${size}: trees after the run: ${JSON.stringify(Object.fromEntries(treeRows.map((r) => [r.state, r.n])))}`);
    log(`${size}: submits by type: ${JSON.stringify(this.byType)}; other answers: ${JSON.stringify(this.statuses)}; no task: ${this.noTask}`);
    const share = Object.entries(this.activity)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${round(v / this.activitySamples)}`)
      .join(", ");
    log(`${size}: database connections on average: ${share}`);
    const perSubmit = (seconds: number) => round((1000 * seconds) / Math.max(1, submitMs.length), 2);
    const figures: LabelingFigures = {
      submitsPerS: round(submitMs.length / elapsed),
      p50Ms: round(percentile(submitMs, 0.5)),
      p99Ms: round(percentile(submitMs, 0.99)),
      seconds: round(elapsed),
      submits: submitMs.length,
      requestsPerS: round(this.requests / elapsed),
      requestP50Ms: round(percentile(requestMs, 0.5)),
      requestP99Ms: round(percentile(requestMs, 0.99)),
      webMs: perSubmit(this.cpu.web),
      postgresMs: perSubmit(this.cpu.postgres),
      clientMs: perSubmit(this.cpu.client),
    };
    log(
      `${size}: ${figures.submitsPerS} cycles/s (acknowledged submits), submit p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms; ` +
        `task requests ${figures.requestsPerS}/s, p50 ${figures.requestP50Ms} ms, p99 ${figures.requestP99Ms} ms`,
    );
    log(
      `${size}: CPU per acknowledged submit (task request included): web server ${figures.webMs} ms, Postgres ${figures.postgresMs} ms, ` +
        `this load generator ${figures.clientMs} ms; the machine has ${os.availableParallelism()} cores for ${figures.seconds} s`,
    );
    return figures;
  }
}

/**
 * The draw (draw_task, the one statement behind every task request) for one labeler, with the
 * project's default weights, timed alone on one connection and rolled back each time: how the
 * draw's own cost grows with the project, apart from the load.
 */
async function drawProbe(size: string, dbUrl: string, projectId: string, userId: string): Promise<{ ms: number; buffers: number }> {
  const w = defaultWorkflowConfig().drawWeights;
  const call = (random: number[]) => ({
    text: `SELECT d.outcome FROM draw_task($1, $2, 'random', NULL, true, $3::float8[], '{1000000000,1}', '{1000000000,1,1000000000,1}',
             '{10,100,250}', '{}', 15, NULL, NULL, $4::float8[]) d`,
    values: [projectId, userId, [w.ranking, w.labelReply, w.labelPrompt, w.reply, w.initialPrompt], random],
  });
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    const once = async (i: number) => {
      await client.query("BEGIN");
      try {
        const { rows } = await client.query(call(Array.from({ length: 40 }, (_, j) => ((i * 40 + j) * 0.618034) % 1)));
        if (rows[0].outcome !== "task") throw new Error(`the draw handed out no task (${rows[0].outcome})`);
      } finally {
        await client.query("ROLLBACK");
      }
    };
    for (let i = 0; i < 10; i++) await once(i);
    const runs = 100;
    const t = performance.now();
    for (let i = 0; i < runs; i++) await once(i);
    const ms = round((performance.now() - t) / runs, 2);
    await client.query("BEGIN");
    const explained = call(Array.from({ length: 40 }, (_, j) => (j * 0.618034) % 1));
    const { rows } = await client.query<{ "QUERY PLAN": string }>({ text: `EXPLAIN (ANALYZE, BUFFERS) ${explained.text}`, values: explained.values });
    await client.query("ROLLBACK");
    const plan = rows.map((r) => r["QUERY PLAN"]);
    if (opts.explain) for (const line of plan) log(`${size}: draw plan: ${line}`);
    const top = /shared hit=(\d+)(?: read=(\d+))?/.exec(plan.find((l) => l.includes("Buffers:")) ?? "");
    const buffers = Number(top?.[1] ?? 0) + Number(top?.[2] ?? 0);
    log(`${size}: the draw alone (one labeler, no load, rolled back): ${ms} ms per draw over ${runs} draws, ${buffers} buffers read`);
    return { ms, buffers };
  } finally {
    await client.end();
  }
}

interface PacedStep {
  labelers: number;
  submits: number;
  submits_per_s: number;
  p50_ms: number;
  p99_ms: number;
  task_request_p99_ms: number;
  client_loop_delay_p99_ms: number;
  web_cpu_share: number;
}

/**
 * Labelers at a person's pace: request a task, think (jittered ±50 %), submit, again. The count
 * doubles per step while submit p99 stays within PACED_P99_MS and the load generator keeps up.
 */
async function pacedRun(api: string, pool: Labeler[], webPid: number) {
  const agent = new http.Agent({ keepAlive: true, timeout: 4_000 }); // the server drops idle sockets after 5 s
  const post = (target: string, cookie: string, body: unknown) => postJson(agent, target, cookie, body);
  const stop = new AbortController();
  setMaxListeners(0, stop.signal); // every thinking labeler listens for the end
  const think = (ms = THINK_MS) => sleep(ms * (0.5 + Math.random()), undefined, { signal: stop.signal }).catch(() => undefined);
  let submits: Array<{ ms: number; type: string }> = [];
  let requests: number[] = [];
  const failures: Record<string, number> = {};
  const fail = (what: string) => (failures[what] = (failures[what] ?? 0) + 1);

  const labeler = async (l: Labeler, i: number) => {
    await sleep(Math.random() * THINK_MS, undefined, { signal: stop.signal }).catch(() => undefined); // new labelers spread out
    let n = 0;
    while (!stop.signal.aborted) {
      try {
        const t0 = performance.now();
        const res = await post(api, l.cookie, { type: "random" });
        requests.push(performance.now() - t0);
        if (res.status !== 200) {
          fail(`request ${res.status}`);
          await res.text();
          await think();
          continue;
        }
        const view = (await res.json()) as TaskView;
        await think();
        if (stop.signal.aborted) break;
        const t1 = performance.now();
        const answer = await post(`${api}/${view.task.id}`, l.cookie, answerFor(view, 500_000_000 + i * 1_000_000 + n++));
        const end = performance.now();
        await answer.text();
        if (answer.status === 200) submits.push({ ms: end - t1, type: view.task.type });
        else fail(`submit ${answer.status}`);
      } catch (error) {
        fail(`error ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
        await think();
      }
    }
  };

  const steps: PacedStep[] = [];
  const loops: Promise<void>[] = [];
  let held = 0;
  let stoppedBy = "labelers seeded";
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  try {
    for (let count = 50; count <= pool.length; count *= 2) {
      while (loops.length < count) loops.push(labeler(pool[loops.length], loops.length));
      await sleep(THINK_MS);
      submits = [];
      requests = [];
      loopDelay.reset();
      const cpuUsed = cpuMeter(webPid);
      const from = performance.now();
      // Long enough for a p99 that is not just the slowest one or two submits.
      await sleep(Math.max(STEP_MS, (MIN_STEP_SUBMITS * THINK_MS) / count));
      const seconds = (performance.now() - from) / 1000;
      const ms = submits.map((s) => s.ms).sort((a, b) => a - b);
      const requestMs = requests.sort((a, b) => a - b);
      const slow: Record<string, number> = {};
      for (const s of submits) if (s.ms > PACED_P99_MS) slow[s.type] = (slow[s.type] ?? 0) + 1;
      const step: PacedStep = {
        labelers: count,
        submits: ms.length,
        submits_per_s: round(ms.length / seconds),
        p50_ms: round(percentile(ms, 0.5)),
        p99_ms: round(percentile(ms, 0.99)),
        task_request_p99_ms: round(percentile(requestMs, 0.99)),
        client_loop_delay_p99_ms: round(loopDelay.percentile(99) / 1e6),
        web_cpu_share: round(cpuUsed().web / seconds, 2),
      };
      steps.push(step);
      log(
        `large, paced: ${count} labelers thinking ${THINK_MS / 1000} s ±50 %: ${step.submits_per_s} submits/s (${step.submits} in ${round(seconds)} s), ` +
          `submit p50 ${step.p50_ms} ms, p99 ${step.p99_ms} ms, task request p99 ${step.task_request_p99_ms} ms; ` +
          `web server busy ${step.web_cpu_share} of a core, load generator's event-loop delay p99 ${step.client_loop_delay_p99_ms} ms; ` +
          `submits over ${PACED_P99_MS} ms by type: ${JSON.stringify(slow)}` +
          (Object.keys(failures).length ? `; not acknowledged so far: ${JSON.stringify(failures)}` : ""),
      );
      // A late event loop delays the load generator's own clocks: latencies past it are not the server's.
      if (step.client_loop_delay_p99_ms > 50) {
        stoppedBy = "load generator";
        break;
      }
      if (!(step.p99_ms <= PACED_P99_MS)) {
        stoppedBy = "submit p99";
        break;
      }
      held = count;
    }
  } finally {
    stop.abort();
    await Promise.all(loops);
    loopDelay.disable();
    agent.destroy();
  }
  log(
    `large, paced: ${held} labelers kept submit p99 within ${PACED_P99_MS} ms (stopped by: ${stoppedBy}); the load generator shares ` +
      `the machine's ${os.availableParallelism()} cores with the web server and Postgres`,
  );
  return { held, stoppedBy, steps };
}

/** One project size: its database, seeded, and the production server on it. */
interface SizeRig {
  size: "small" | "large";
  dbUrl: string;
  seed: BenchSeed;
  server: RunningProcess & { url: string };
  api: string;
  webPid: number;
}

const sizeDatabase = (size: "small" | "large") => withDatabase(base, `rlhf_bench_labeling_${size}_${suffix}`);

/** Migrates and seeds a fresh database at one size. */
async function seedSize(size: "small" | "large", sizes: SeedSizes, people: BenchPeople): Promise<{ dbUrl: string; seed: BenchSeed }> {
  const dbUrl = sizeDatabase(size);
  await ensureDatabase(dbUrl);
  log(`${size}: migrating a fresh database`);
  await migrateDeploy(dbUrl);
  const seed = await seedBench(dbUrl, sizes, people, (msg) => log(`${size}: ${msg}`));
  log(
    `${size}: seeded ${treeCount(seed)} trees ${JSON.stringify(seed.trees)}, ${seed.rows.messages} messages, ${seed.rows.tasks} tasks, ` +
      `${seed.rows.labels} labels, ${seed.rows.rankings} rankings, ${people.labelerIds.length} labelers with sessions in ${round(seed.seconds)} s ` +
      `(COPY, indexes built after, ANALYZE)`,
  );
  return { dbUrl, seed };
}

const treeCount = (seed: BenchSeed) => Object.values(seed.trees).reduce((a, b) => a + b, 0);

/** The CPU profile of the small size's server (one per thread; the main thread's is the largest). */
function printProfile(profileDir: string) {
  const file = fs
    .readdirSync(profileDir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => path.join(profileDir, f))
    .sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0];
  if (file) for (const line of summarizeProfile(file)) log(`profile: ${line}`);
}

/**
 * Both sizes' labeling runs in turns, SLICES slices each in the order small, large, large, small,
 * small, large, … so that the machine's drift weighs on both sizes alike, with the floor (against
 * the small size's server) before the first pair, after every pair, and so around and between the
 * small size's slices too.
 */
async function interleaved(small: SizeRig, large: SizeRig, loop: Labeler[]) {
  const floorAgent = new http.Agent({ keepAlive: true, maxSockets: loop.length });
  const floor = (rig: SizeRig, seconds: number, label: string) =>
    floorWindow(loop, (cookie) => postJson(floorAgent, rig.api, cookie, { type: "no_such_task" }), rig.webPid, seconds, label);
  // A server just started runs its first seconds cold (JIT, connection pools): a few seconds of
  // floor requests, not counted, come first on each.
  await floor(small, FLOOR_WARMUP_SECONDS, "small: warm-up, not counted");
  await floor(large, FLOOR_WARMUP_SECONDS, "large: warm-up, not counted");
  const loads = { small: new LabelingLoad("small", small.api, loop, small.dbUrl, small.webPid), large: new LabelingLoad("large", large.api, loop, large.dbUrl, large.webPid) };
  await loads.small.open();
  await loads.large.open();
  const windows: FloorWindow[] = [];
  const floorSeconds = Number(opts["floor-seconds"]) / (SLICES + 1);
  const floorAt = async (where: string) => windows.push(await floor(small, floorSeconds, `floor ${where}`));
  log(
    `${loop.length} labelers for ${SECONDS} s at each size in ${SLICES} slices, sizes in turns; ` +
      `floor in ${SLICES + 1} windows of ${round(floorSeconds)} s around the pairs of slices`,
  );
  await floorAt("before the first pair of slices");
  for (let i = 0; i < SLICES; i++) {
    const pair = i % 2 === 0 ? [loads.small, loads.large] : [loads.large, loads.small];
    for (const load of pair) await load.slice(SECONDS / SLICES);
    await floorAt(`after pair ${i + 1}`);
  }
  floorAgent.destroy();
  const figures = { small: await loads.small.close(), large: await loads.large.close(), floor: floorFigures(windows) };
  const f = figures.floor;
  log(
    `floor (two task requests rejected with 400 per cycle): ${f.cyclesPerS} cycles/s (windows in order: ${f.windowsCyclesPerS.join(", ")}), ` +
      `p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms; ` +
      `CPU per cycle: web server ${f.webMs} ms, Postgres ${f.postgresMs} ms, this load generator ${f.clientMs} ms`,
  );
  return figures;
}

// ─── 4. Both sizes ──────────────────────────────────────────────────────────

const benchStarted = performance.now();
if (opts.statements) {
  const loaded = await withAdminClient(base, (c) => c.query<{ libs: string }>("SELECT current_setting('shared_preload_libraries') AS libs"));
  if (!/\bpg_stat_statements\b/.test(loaded.rows[0].libs)) {
    console.error("--statements needs pg_stat_statements in the server's shared_preload_libraries (ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements', then restart Postgres)");
    process.exit(2);
  }
}
const tps = await pgbench();
process.env.DATABASE_URL = sizeDatabase("small");
process.env.SESSION_SECRET ??= crypto.randomBytes(24).toString("hex");
const { hashPassword } = await import("~/auth/password.server.ts");
const { sessionCookie } = await import("~/auth/session.server.ts");
// The same labelers, sessions and cookies at both sizes.
const people = benchPeople(Math.max(LABELERS, PACED_MAX), await hashPassword(crypto.randomBytes(12).toString("hex")));
const labelers: Labeler[] = await Promise.all(
  people.labelerIds.map(async (id, i) => ({ id, cookie: (await sessionCookie.serialize(people.sessionIds[i])).split(";")[0] })),
);
buildIfStale();
const scale = Number(opts["large-scale"]);
const largeSizes: SeedSizes = {
  finishedTrees: SMALL.finishedTrees * scale,
  rankingTrees: SMALL.rankingTrees * scale,
  reviewTrees: SMALL.reviewTrees * scale,
  waitingTrees: SMALL.waitingTrees * scale,
  // As many messages per author at both sizes: a project grows by people as well as by trees.
  authors: SMALL.authors * scale,
};
const profileDir = opts.profile ? path.resolve("test-output", `bench-profile-${suffix}`) : null;
const rigs: Partial<Record<"small" | "large", SizeRig>> = {};
const created = [sizeDatabase("small"), sizeDatabase("large")];
try {
  const smallSeed = await seedSize("small", SMALL, people);
  const probe = await queryCostProbe(smallSeed.dbUrl);
  log(`one SELECT 1 costs this process ${probe.prismaMs} ms of CPU through Prisma's $queryRaw, ${probe.pgMs} ms through pg`);
  const largeSeed = await seedSize("large", largeSizes, people);
  // The seeds' writes flushed now rather than by a checkpoint in the middle of a run.
  await withAdminClient(base, (c) => c.query("CHECKPOINT"));
  for (const [size, seed] of [["small", smallSeed], ["large", largeSeed]] as const) {
    const server = await startServer(seed.dbUrl, size === "small" ? profileDir : null);
    rigs[size] = { size, ...seed, server, api: `${server.url}/api/projects/${seed.seed.slug}/tasks`, webPid: server.child.pid! };
  }
  const s = rigs.small!;
  const l = rigs.large!;
  const loop = labelers.slice(0, LABELERS);
  const run = await interleaved(s, l, loop);
  const draw = { small: await drawProbe("small", s.dbUrl, s.seed.projectId, loop[0].id), large: await drawProbe("large", l.dbUrl, l.seed.projectId, loop[0].id) };
  // The small size's server stops before the paced steps, which have the machine to themselves.
  await s.server.stop();
  if (profileDir) printProfile(profileDir);
  const paced = PACED_MAX > 0 ? await pacedRun(l.api, labelers.slice(0, PACED_MAX), l.webPid) : undefined;
  if (process.env.BENCH_SERVER_LOG) for (const rig of [s, l]) console.log(rig.server.output().slice(0, 4000));
  const floor = run.floor;
  log(
    `small ${treeCount(s.seed)} trees: ${run.small.submitsPerS} cycles/s, submit p50 ${run.small.p50Ms} ms, p99 ${run.small.p99Ms} ms; ` +
      `large ${treeCount(l.seed)} trees: ${run.large.submitsPerS} cycles/s, submit p50 ${run.large.p50Ms} ms, p99 ${run.large.p99Ms} ms; ` +
      `floor ${floor.cyclesPerS} cycles/s; whole benchmark ${round((performance.now() - benchStarted) / 1000)} s`,
  );
  console.log(
    JSON.stringify({
      bench: "labeling",
      submits_per_s: run.small.submitsPerS,
      p50_ms: run.small.p50Ms,
      p99_ms: run.small.p99Ms,
      pgbench_tps: round(tps),
      ratio: round(run.small.submitsPerS / tps, 3),
      labelers: LABELERS,
      seconds: run.small.seconds,
      slices: SLICES,
      submits: run.small.submits,
      task_requests_per_s: run.small.requestsPerS,
      task_request_p50_ms: run.small.requestP50Ms,
      task_request_p99_ms: run.small.requestP99Ms,
      web_cpu_ms_per_submit: run.small.webMs,
      postgres_cpu_ms_per_submit: run.small.postgresMs,
      client_cpu_ms_per_submit: run.small.clientMs,
      floor_cycles_per_s: floor.cyclesPerS,
      floor_p99_ms: floor.p99Ms,
      floor_ratio: round(floor.cyclesPerS / tps, 3),
      prisma_select1_cpu_ms: probe.prismaMs,
      pg_select1_cpu_ms: probe.pgMs,
      small_trees: treeCount(s.seed),
      small_messages: s.seed.rows.messages,
      small_seed_s: round(s.seed.seconds),
      small_draw_ms: draw.small.ms,
      large_trees: treeCount(l.seed),
      large_messages: l.seed.rows.messages,
      large_seed_s: round(l.seed.seconds),
      large_draw_ms: draw.large.ms,
      large_submits_per_s: run.large.submitsPerS,
      large_p50_ms: run.large.p50Ms,
      large_p99_ms: run.large.p99Ms,
      large_task_request_p99_ms: run.large.requestP99Ms,
      large_web_cpu_ms_per_submit: run.large.webMs,
      large_postgres_cpu_ms_per_submit: run.large.postgresMs,
      cycle_to_floor: round(run.small.submitsPerS / floor.cyclesPerS, 3),
      large_to_small: round(run.large.submitsPerS / run.small.submitsPerS, 3),
      paced_labelers_at_p99_200ms: paced?.held ?? null,
      paced_stopped_by: paced?.stoppedBy ?? null,
      paced_think_seconds: THINK_MS / 1000,
      paced_steps: paced?.steps ?? [],
    }),
  );
} catch (error) {
  for (const rig of Object.values(rigs)) console.error(rig.server.output());
  throw error;
} finally {
  for (const rig of Object.values(rigs)) await rig.server.stop();
  for (const dbUrl of created) {
    if (opts["keep-database"]) log(`database kept: ${dbUrl}`);
    else await dropDatabase(dbUrl);
  }
}
process.exit(0);
