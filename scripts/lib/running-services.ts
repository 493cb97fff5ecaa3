// What a running `npm start` chose (the database, embedded or not, and the queue backend), kept in
// DATA_DIR/services.json while it runs, so the admin CLI works on the same ones without being told.
import fs from "node:fs";
import path from "node:path";

type Services = { pid: number; databaseUrl: string; queueBackend: "redis" | "postgres"; redisUrl?: string };

function file(dataDir: string): string {
  return path.resolve(dataDir, "services.json");
}

export function recordServices(dataDir: string, services: Omit<Services, "pid">): void {
  fs.mkdirSync(path.resolve(dataDir), { recursive: true });
  fs.writeFileSync(file(dataDir), JSON.stringify({ pid: process.pid, ...services }, null, 2), { mode: 0o600 });
}

export function forgetServices(dataDir: string): void {
  try {
    const s = JSON.parse(fs.readFileSync(file(dataDir), "utf8")) as Services;
    if (s.pid === process.pid) fs.rmSync(file(dataDir));
  } catch {
    // Nothing recorded.
  }
}

/** Takes the running `npm start`'s choices into `env`, unless DATABASE_URL or REDIS_URL is set there. */
export function adoptRunningServices(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.DATABASE_URL || env.REDIS_URL || env.QUEUE_BACKEND) return false;
  let s: Services;
  try {
    s = JSON.parse(fs.readFileSync(file(env.DATA_DIR ?? "./data"), "utf8")) as Services;
  } catch {
    return false;
  }
  if (!fs.existsSync(`/proc/${s.pid}`)) return false; // that run has ended
  env.DATABASE_URL = s.databaseUrl;
  env.QUEUE_BACKEND = s.queueBackend;
  if (s.redisUrl) env.REDIS_URL = s.redisUrl;
  return true;
}
