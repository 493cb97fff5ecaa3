// `npm start`: choose the database and the queue backend, migrate, seed the demo, build the web
// app if needed, then run the web server and the workers together until Ctrl+C / SIGTERM. Safe to
// run again: it changes nothing twice.
//   - Database: DATABASE_URL if set (it must answer), else a Postgres on 127.0.0.1:5432, else the
//     embedded Postgres in DATA_DIR/postgres (scripts/lib/embedded-postgres.ts).
//   - Queues: chosen in app/jobs/backend.server.ts (REDIS_URL, a Redis on 6379, else Postgres).
// `--embedded` takes the embedded Postgres and Postgres queues even where services run.
// `--web-only` leaves the workers to another process (docker-compose runs them separately).
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { checkRedis, chooseQueueBackend, createJobBackend } from "~/jobs/backend.server.ts";
import { buildIfStale } from "./lib/build.ts";
import { ensureDatabase, migrateDeploy } from "./lib/database.ts";
import { startEmbeddedPostgres, type RunningEmbeddedPostgres } from "./lib/embedded-postgres.ts";
import { forgetServices, recordServices } from "./lib/running-services.ts";

const embeddedFlag = process.argv.includes("--embedded");
const LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/rlhf_studio";

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1_000);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });
}

function portTaken(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(true));
    srv.listen(port, host, () => srv.close(() => resolve(false)));
  });
}

function describeUrl(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || 5432}${u.pathname}`;
}

let embedded: RunningEmbeddedPostgres | undefined;

/** Sets DATABASE_URL for this process and its children; says which database and why. */
async function chooseDatabase(dataDir: string): Promise<string> {
  const explicit = process.env.DATABASE_URL;
  if (embeddedFlag && explicit) console.log("--embedded: DATABASE_URL is ignored");
  if (!embeddedFlag && explicit) {
    try {
      await ensureDatabase(explicit);
    } catch (error) {
      throw new Error(`DATABASE_URL is set to ${describeUrl(explicit)} but Postgres does not answer there (${(error as Error).message}). Start that Postgres, fix DATABASE_URL, or unset it to use the embedded one.`);
    }
    console.log(`database: ${describeUrl(explicit)} (DATABASE_URL)`);
    return explicit;
  }
  if (!embeddedFlag && (await answers("127.0.0.1", 5432))) {
    try {
      await ensureDatabase(LOCAL_POSTGRES);
    } catch (error) {
      throw new Error(`A Postgres answers on 127.0.0.1:5432 but refused ${LOCAL_POSTGRES} (${(error as Error).message}). Set DATABASE_URL to a database you can use there.`);
    }
    console.log(`database: ${describeUrl(LOCAL_POSTGRES)} (a Postgres answers on 127.0.0.1:5432)`);
    return LOCAL_POSTGRES;
  }
  embedded = await startEmbeddedPostgres(dataDir, (m) => console.log(m));
  console.log(`database: embedded Postgres in ${embedded.dataDir}, 127.0.0.1:${embedded.port} (${embeddedFlag ? "--embedded" : "DATABASE_URL is not set and nothing answers on 127.0.0.1:5432"})`);
  return embedded.url;
}

async function main() {
  const dataDir = path.resolve(process.env.DATA_DIR ?? "./data");
  const webPort = Number(process.env.PORT ?? 3000);
  const webHost = process.env.HOST ?? "127.0.0.1";
  if (Number.isInteger(webPort) && webPort > 0 && (await portTaken(webHost, webPort)))
    throw new Error(`PORT ${webPort} on ${webHost} is taken by another program: stop it or set PORT to a free port.`);

  const databaseUrl = await chooseDatabase(dataDir);
  process.env.DATABASE_URL = databaseUrl;
  const queueChoice = await chooseQueueBackend({ embedded: embeddedFlag });
  if (queueChoice.kind === "redis") {
    if (queueChoice.reason === "REDIS_URL") await checkRedis(queueChoice.redisUrl);
    process.env.REDIS_URL = queueChoice.redisUrl;
  } else {
    delete process.env.REDIS_URL;
  }
  process.env.QUEUE_BACKEND = queueChoice.kind;
  const { env } = await import("~/env.server.ts");
  const config = env();
  console.log(`queues: ${createJobBackend(queueChoice).where} (${queueChoice.reason})`);

  console.log("applying migrations…");
  await migrateDeploy(config.DATABASE_URL);

  const { seedDemo } = await import("~/models/seed.server.ts");
  const { prisma, pgPool, sqlClient } = await import("~/db.server.ts");
  const demo = await seedDemo({
    admin: process.env.DEMO_ADMIN_PASSWORD ?? "demo-admin-password",
    labeler: process.env.DEMO_LABELER_PASSWORD ?? "demo-labeler-password",
  });
  const { ensureDemoModel } = await import("./lib/demo-model.ts");
  const demoModel = await ensureDemoModel(config.DATA_DIR, demo.project);
  await Promise.all([prisma.$disconnect(), pgPool.end(), sqlClient.end()]);

  buildIfStale();

  const children: ChildProcess[] = [];
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "production" as const, PORT: String(config.PORT), HOST: config.HOST };
  const start = (name: string, args: string[]) => {
    const child = spawn(process.execPath, args, { stdio: "inherit", env: childEnv });
    child.on("exit", (code, signal) => {
      if (!shuttingDown) {
        console.error(`${name} exited (${signal ?? code}); stopping.`);
        void shutdown(1);
      }
    });
    children.push(child);
  };
  recordServices(config.DATA_DIR, { databaseUrl: config.DATABASE_URL, queueBackend: queueChoice.kind, redisUrl: config.REDIS_URL });
  start("web", ["--import", "tsx", "server.ts", "build/server/index.js"]);
  if (!process.argv.includes("--web-only")) start("workers", ["--import", "tsx", "workers/main.ts"]);

  let shuttingDown = false;
  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once("exit", () => resolve());
            c.kill("SIGTERM");
          }),
      ),
    );
    forgetServices(config.DATA_DIR);
    // Last, once nothing uses it.
    await embedded?.stop();
    process.exit(code);
  };
  process.on("SIGINT", () => void shutdown(0));
  process.on("SIGTERM", () => void shutdown(0));

  console.log("\nRLHF Studio is starting.");
  console.log(`  demo project: ${demo.project}  (active policy: ${demoModel.name})`);
  for (const a of demo.accounts)
    console.log(`  ${a.role.padEnd(8)} ${a.email}  password: ${a.password}${a.created ? "" : " (as set when first created)"}`);
  console.log(`\n  open http://${config.HOST}:${config.PORT} and sign in as the labeler: the demo project offers every task type\n`);
}

main().catch(async (error) => {
  console.error(error instanceof Error ? error.message : error);
  await embedded?.stop();
  process.exit(1);
});
