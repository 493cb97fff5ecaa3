// `npm test`: checks what the suite needs (Chromium, Postgres, Redis), builds the web app
// for the browser tests, then runs every vitest project. Extra arguments go to vitest.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

function ensureChromium() {
  if (fs.existsSync(CHROMIUM)) return;
  const isRoot = process.getuid?.() === 0;
  const hasApt = spawnSync("sh", ["-c", "command -v apt-get"]).status === 0;
  if (!isRoot || !hasApt)
    fail(`Chromium is missing at ${CHROMIUM}: install it with \`sudo apt-get install -y chromium\` (or set CHROMIUM_PATH), then run npm test again.`);
  console.log("installing chromium for the browser tests…");
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
  execFileSync("apt-get", ["install", "-y", "-qq", "chromium"], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
}

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port || defaultPort) });
    socket.setTimeout(2_000);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });
}

async function ensureServices() {
  const pg = process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
  const redis = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  if (!(await reachable(pg, 5432))) fail(`Postgres is not reachable at ${pg}: start it (e.g. \`pg_ctlcluster 15 main start\`) or set TEST_DATABASE_URL.`);
  if (!(await reachable(redis, 6379))) fail(`Redis is not reachable at ${redis}: start it (e.g. \`redis-server --daemonize yes\`) or set REDIS_URL.`);
}

function withoutVitestEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VITEST"))) as NodeJS.ProcessEnv;
}

async function main() {
  ensureChromium();
  await ensureServices();
  const build = spawnSync(process.execPath, ["node_modules/@remix-run/dev/dist/cli.js", "vite:build"], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...withoutVitestEnv(), NODE_ENV: "production" },
  });
  if (build.status !== 0) fail("the web build failed (see above)");

  fs.mkdirSync("test-output", { recursive: true });
  const results = "test-output/vitest-results.json";
  fs.rmSync(results, { force: true });
  const vitest = spawnSync(
    process.execPath,
    ["node_modules/vitest/vitest.mjs", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${results}`, ...process.argv.slice(2)],
    { stdio: "inherit", env: { ...process.env, NODE_ENV: "test" } },
  );
  if (fs.existsSync(results)) {
    const r = JSON.parse(fs.readFileSync(results, "utf8")) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number };
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  }
  process.exit(vitest.status ?? 1);
}

void main();
