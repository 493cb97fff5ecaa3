// `npm start` on bad ground stops at once with what to do, and changes nothing: an unwritable
// DATA_DIR, embedded data of another Postgres major version, a web port taken, and a DATABASE_URL
// or REDIS_URL that is set but does not answer (never a silent fall-back to the embedded path).
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort, startProcess } from "../helpers/server.ts";

let scratch = "";
let port = 0;

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "rlhf-start-errors-"));
  fs.chmodSync(scratch, 0o755); // as root, the embedded server's user must reach it
  port = await freePort();
});

afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

async function start(args: string[], vars: Record<string, string | undefined>): Promise<{ code: number | null; output: string }> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("VITEST") && !["DATABASE_URL", "REDIS_URL", "QUEUE_BACKEND", "NODE_ENV"].includes(k)),
  ) as NodeJS.ProcessEnv;
  for (const [k, v] of Object.entries(vars)) if (v !== undefined) env[k] = v;
  const proc = startProcess(["--import", "tsx", "scripts/start.ts", ...args], { ...env, PORT: String(port) });
  const code = await new Promise<number | null>((resolve) => proc.child.once("exit", (c) => resolve(c)));
  return { code, output: proc.output() };
}

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).sort().map((f) => {
    const p = path.join(dir, f);
    return [f, fs.statSync(p).isFile() ? fs.readFileSync(p, "utf8") : "dir"];
  }));
}

it("says DATA_DIR is not writable", async () => {
  const file = path.join(scratch, "a-file");
  fs.writeFileSync(file, "not a directory");
  const { code, output } = await start(["--embedded"], { DATA_DIR: path.join(file, "data") });
  expect(code).toBe(1);
  expect(output).toMatch(/DATA_DIR \(.*a-file\/data\) is not writable \(ENOTDIR\): set DATA_DIR to a directory you can write/);
  expect(fs.readFileSync(file, "utf8")).toBe("not a directory");
});

it("refuses embedded data of another Postgres major version and leaves it as it was", async () => {
  const dataDir = path.join(scratch, "old-major");
  fs.mkdirSync(path.join(dataDir, "postgres", "base"), { recursive: true });
  fs.writeFileSync(path.join(dataDir, "postgres", "PG_VERSION"), "16\n");
  fs.writeFileSync(path.join(dataDir, "postgres", "base", "16384"), "table data");
  fs.writeFileSync(path.join(dataDir, "postgres", "postmaster.pid"), "999999\n");
  const before = snapshot(dataDir);
  const { code, output } = await start(["--embedded"], { DATA_DIR: dataDir });
  expect(code).toBe(1);
  expect(output).toContain("holds a Postgres 16 database, and the embedded Postgres is 18. Nothing was changed.");
  expect(output).toContain("pg_dumpall");
  expect(output).not.toContain("applying migrations");
  expect(snapshot(dataDir)).toEqual(before);
});

it("says the web port is taken", async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(port, "127.0.0.1", resolve));
  try {
    const { code, output } = await start(["--embedded"], { DATA_DIR: path.join(scratch, "port") });
    expect(code).toBe(1);
    expect(output).toContain(`PORT ${port} on 127.0.0.1 is taken by another program: stop it or set PORT to a free port.`);
    expect(fs.existsSync(path.join(scratch, "port"))).toBe(false);
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
});

it("never replaces a DATABASE_URL that does not answer", async () => {
  const { code, output } = await start([], { DATA_DIR: path.join(scratch, "db-url"), DATABASE_URL: "postgresql://postgres@127.0.0.1:1/rlhf_studio" });
  expect(code).toBe(1);
  expect(output).toContain("DATABASE_URL is set to 127.0.0.1:1/rlhf_studio but Postgres does not answer there");
  expect(output).not.toContain("embedded Postgres in");
  expect(fs.existsSync(path.join(scratch, "db-url"))).toBe(false);
});

it("never replaces a REDIS_URL that does not answer", async () => {
  const { code, output } = await start([], { DATA_DIR: path.join(scratch, "redis-url"), DATABASE_URL: process.env.DATABASE_URL, REDIS_URL: "redis://127.0.0.1:1" });
  expect(code).toBe(1);
  expect(output).toContain("REDIS_URL is set to redis://127.0.0.1:1 but Redis does not answer there");
  expect(output).not.toContain("applying migrations");
});
