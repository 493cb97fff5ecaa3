// `npm start`: migrate, seed the demo, build the web app if needed, then run the web server
// and the workers together until Ctrl+C / SIGTERM. Safe to run again: it changes nothing twice.
// `--web-only` leaves the workers to another process (docker-compose runs them separately).
import { spawn, type ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { env } from "~/env.server.ts";
import { buildIfStale } from "./lib/build.ts";
import { ensureDatabase, migrateDeploy } from "./lib/database.ts";

const config = env();

async function checkServices() {
  const redis = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`Redis is not reachable at ${config.REDIS_URL}: ${(error as Error).message}`);
  } finally {
    redis.disconnect();
  }
  try {
    await ensureDatabase(config.DATABASE_URL);
  } catch (error) {
    throw new Error(`Postgres is not reachable at ${config.DATABASE_URL}: ${(error as Error).message}`);
  }
}

async function main() {
  await checkServices();
  console.log("applying migrations…");
  await migrateDeploy(config.DATABASE_URL);

  const { seedDemo } = await import("~/models/seed.server.ts");
  const { prisma } = await import("~/db.server.ts");
  const demo = await seedDemo({
    admin: process.env.DEMO_ADMIN_PASSWORD ?? "demo-admin-password",
    labeler: process.env.DEMO_LABELER_PASSWORD ?? "demo-labeler-password",
  });
  const { ensureDemoModel } = await import("./lib/demo-model.ts");
  const demoModel = await ensureDemoModel(config.DATA_DIR, demo.project);
  await prisma.$disconnect();

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

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
