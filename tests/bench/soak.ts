// Soak benchmark (`npm run bench:soak`): nothing acknowledged is lost under load. The production
// build of the app and a worker process run against a fresh database with the labeling bench's
// project; 64 simulated labelers loop (request a task → submit an answer) for 60 s while the
// worker writes dataset exports and samples replies with the demo policy, started every few
// seconds. Every submit the server acknowledged (200) is remembered, then looked up: a written
// text must be stored as exactly one message, a review as exactly one label row of its task, a
// ranking as exactly one ranking row of its task. The last line printed is one JSON object:
// acknowledged, stored, lost, duplicated, http_5xx (any 5xx or dropped connection), p99_ms
// (acknowledged submits), and what the worker finished meanwhile.
// Options: --labelers N, --seconds S, --keep-database.
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { databaseName, ensureDatabase, migrateDeploy, withAdminClient, withDatabase } from "../../scripts/lib/database.ts";
import { buildIfStale } from "../../scripts/lib/build.ts";
import { childEnv, freePort, startProcess, waitFor, type RunningProcess } from "../helpers/server.ts";
import { type Labeler, answerFor, percentile, postJson, round, type TaskView } from "./labeling/load.ts";
import { benchPeople, seedBench } from "./labeling/seed.ts";

const { values: opts } = parseArgs({
  options: {
    labelers: { type: "string", default: "64" },
    seconds: { type: "string", default: "60" },
    "keep-database": { type: "boolean", default: false },
  },
});
const LABELERS = Number(opts.labelers);
const SECONDS = Number(opts.seconds);
/** How often the bench asks the worker for another export and another sampling run. */
const BACKGROUND_EVERY_MS = 10_000;
const log = (msg: string) => console.log(`[bench:soak] ${msg}`);

const base = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const suffix = crypto.randomBytes(4).toString("hex");

/** One acknowledged submit and how to find it again. */
type Acknowledged = { kind: "text"; taskId: string; text: string } | { kind: "label" | "ranking"; taskId: string };

async function soak() {
  const dbUrl = withDatabase(base, `rlhf_bench_soak_${suffix}`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rlhf-soak-"));
  await ensureDatabase(dbUrl);
  const processes: RunningProcess[] = [];
  try {
    log("migrating a fresh database");
    await migrateDeploy(dbUrl);
    Object.assign(process.env, { DATABASE_URL: dbUrl, DATA_DIR: dataDir, QUEUE_PREFIX: `soak-${suffix}` });
    process.env.SESSION_SECRET ??= crypto.randomBytes(24).toString("hex");
    const { hashPassword } = await import("~/auth/password.server.ts");
    const people = benchPeople(LABELERS, await hashPassword(crypto.randomBytes(12).toString("hex")));
    const seed = await seedBench(dbUrl, { rankingTrees: 1500, reviewTrees: 1500, waitingTrees: 600, finishedTrees: 1000, authors: 40 }, people, log);
    log(`seeded ${JSON.stringify(seed.trees)} trees, ${LABELERS} labelers`);
    const { ensureDemoModel } = await import("../../scripts/lib/demo-model.ts");
    await ensureDemoModel(dataDir, seed.slug);
    const { createSession } = await import("~/auth/session.server.ts");
    const { createExport } = await import("~/models/datasets/exports.server.ts");
    const { createSamplingRun } = await import("~/models/sampling.server.ts");
    const labelers: Labeler[] = [];
    for (const id of people.labelerIds) labelers.push({ id, cookie: (await createSession(id, "bench")).split(";")[0] });

    buildIfStale();
    const port = await freePort();
    const env = { DATABASE_URL: dbUrl, DATA_DIR: dataDir, QUEUE_PREFIX: process.env.QUEUE_PREFIX!, SESSION_SECRET: process.env.SESSION_SECRET! };
    const web = startProcess(["--import", "tsx", "server.ts", "build/server/index.js"], childEnv({ ...env, PORT: String(port), HOST: "127.0.0.1" }));
    processes.push(web);
    // The bench starts the sampling runs itself, at a known pace.
    const worker = startProcess(["--import", "tsx", "workers/main.ts"], childEnv({ ...env, SAMPLING_SCHEDULE_SECONDS: "0" }));
    processes.push(worker);
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/health`)).status < 500, "the web server", 60_000);

    const api = `${url}/api/projects/${seed.slug}/tasks`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: LABELERS });
    const acknowledged: Acknowledged[] = [];
    const submitMs: number[] = [];
    const statuses: Record<string, number> = {};
    let serverErrors = 0;
    const count = (key: string) => (statuses[key] = (statuses[key] ?? 0) + 1);

    log(`${LABELERS} labelers for ${SECONDS} s, an export and a sampling run every ${BACKGROUND_EVERY_MS / 1000} s`);
    const started = performance.now();
    const deadline = started + SECONDS * 1000;
    const background: { exports: string[]; samplingRuns: string[] } = { exports: [], samplingRuns: [] };
    const backgroundLoop = (async () => {
      while (performance.now() < deadline) {
        const exp = await createExport({ projectId: seed.projectId, createdById: null, request: { format: background.exports.length % 2 ? "pairwise_trl" : "sft_messages" } });
        background.exports.push(exp.id);
        const run = await createSamplingRun({ projectId: seed.projectId, createdById: null, maxParents: 8 });
        background.samplingRuns.push(run.id);
        await new Promise((r) => setTimeout(r, Math.min(BACKGROUND_EVERY_MS, Math.max(0, deadline - performance.now()))));
      }
    })();

    await Promise.all(
      labelers.map(async (l, i) => {
        let n = 0;
        while (performance.now() < deadline) {
          let res;
          try {
            res = await postJson(agent, api, l.cookie, { type: "random" });
          } catch {
            serverErrors++;
            count("request dropped");
            continue;
          }
          if (res.status >= 500) serverErrors++;
          if (res.status !== 200) {
            count(`request ${res.status}`);
            await res.text();
            if (res.status === 404) await new Promise((r) => setTimeout(r, 50));
            continue;
          }
          const view = (await res.json()) as TaskView;
          const body = answerFor(view, i * 1_000_000 + n++) as { text?: string; labels?: unknown };
          const t = performance.now();
          let answer;
          try {
            answer = await postJson(agent, `${api}/${view.task.id}`, l.cookie, body);
          } catch {
            serverErrors++;
            count("submit dropped");
            continue;
          }
          const ms = performance.now() - t;
          await answer.text();
          if (answer.status >= 500) serverErrors++;
          if (answer.status !== 200) {
            count(`submit ${answer.status}`);
            continue;
          }
          submitMs.push(ms);
          const taskId = view.task.id;
          acknowledged.push(body.text !== undefined ? { kind: "text", taskId, text: body.text } : { kind: body.labels ? "label" : "ranking", taskId });
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    await backgroundLoop;
    agent.destroy();

    // Let the worker finish what it was given (it ran all along; this only waits for the tail).
    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    const unfinished = async () =>
      (
        await db.query<{ n: number }>(
          `SELECT (SELECT count(*) FROM dataset_exports WHERE status NOT IN ('succeeded', 'failed', 'cancelled'))
                + (SELECT count(*) FROM sampling_runs WHERE status NOT IN ('succeeded', 'failed', 'cancelled')) AS n`,
        )
      ).rows[0].n;
    await waitFor(async () => Number(await unfinished()) === 0, "the worker's exports and sampling runs", 180_000).catch((e) => log(e.message));

    // Every acknowledged submit, looked up by what identifies it.
    const texts = acknowledged.filter((a): a is Extract<Acknowledged, { kind: "text" }> => a.kind === "text");
    const labelTasks = acknowledged.filter((a) => a.kind === "label").map((a) => a.taskId);
    const rankingTasks = acknowledged.filter((a) => a.kind === "ranking").map((a) => a.taskId);
    const copies = new Map<string, number>();
    const collect = (rows: Array<{ key: string; n: number }>) => rows.forEach((r) => copies.set(r.key, Number(r.n)));
    collect((await db.query(`SELECT text AS key, count(*)::int AS n FROM messages WHERE text = ANY($1::text[]) GROUP BY text`, [texts.map((t) => t.text)])).rows);
    collect((await db.query(`SELECT 'label:' || task_id AS key, count(*)::int AS n FROM labels WHERE task_id = ANY($1::uuid[]) GROUP BY task_id`, [labelTasks])).rows);
    collect((await db.query(`SELECT 'ranking:' || task_id AS key, count(*)::int AS n FROM rankings WHERE task_id = ANY($1::uuid[]) GROUP BY task_id`, [rankingTasks])).rows);
    const keyOf = (a: Acknowledged) => (a.kind === "text" ? a.text : `${a.kind}:${a.taskId}`);
    let stored = 0;
    let lost = 0;
    let duplicated = 0;
    for (const a of acknowledged) {
      const n = copies.get(keyOf(a)) ?? 0;
      if (n === 0) lost++;
      else stored++;
      if (n > 1) duplicated++;
    }
    const { rows: jobs } = await db.query<{ what: string; status: string; n: number }>(
      `SELECT 'export' AS what, status::text, count(*)::int AS n FROM dataset_exports GROUP BY status
       UNION ALL SELECT 'sampling', status::text, count(*)::int FROM sampling_runs GROUP BY status`,
    );
    const { rows: sampled } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM messages WHERE model_version_id IS NOT NULL`);
    await db.end();
    const done = (what: string) => jobs.filter((j) => j.what === what && j.status === "succeeded").reduce((s, j) => s + j.n, 0);

    for (const p of processes.splice(0)) await p.stop();
    if (/Error|error/.test(worker.output()) && process.env.BENCH_SERVER_LOG) console.log(worker.output().slice(-4000));
    submitMs.sort((a, b) => a - b);
    log(`other answers: ${JSON.stringify(statuses)}`);
    log(`worker jobs by status: ${JSON.stringify(jobs)}; model replies stored: ${sampled[0].n}`);
    log(`acknowledged ${acknowledged.length} submits in ${round(elapsed)} s (${round(acknowledged.length / elapsed)}/s): ${texts.length} texts, ${labelTasks.length} reviews, ${rankingTasks.length} rankings`);
    return {
      bench: "soak",
      acknowledged: acknowledged.length,
      stored,
      lost,
      duplicated,
      http_5xx: serverErrors,
      p99_ms: round(percentile(submitMs, 0.99)),
      p50_ms: round(percentile(submitMs, 0.5)),
      submits_per_s: round(acknowledged.length / elapsed),
      labelers: LABELERS,
      seconds: round(elapsed),
      exports_started: background.exports.length,
      exports_succeeded: done("export"),
      sampling_runs_started: background.samplingRuns.length,
      sampling_runs_succeeded: done("sampling"),
      model_replies: sampled[0].n,
    };
  } catch (error) {
    for (const p of processes) console.error(p.output().slice(-4000));
    throw error;
  } finally {
    for (const p of processes) await p.stop();
    if (opts["keep-database"]) log(`database kept: ${dbUrl}`);
    else await withAdminClient(base, (c) => c.query(`DROP DATABASE IF EXISTS "${databaseName(dbUrl)}" WITH (FORCE)`));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const result = await soak();
console.log(JSON.stringify(result));
process.exit(0);
