// Starts the production web server (and optionally the workers) on a free port against the
// test file's database, and stops them cleanly.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

export type RunningProcess = { child: ChildProcess; output: () => string; stop: () => Promise<number | null> };

/** Env for children: the test's own DB and prefix, without vitest's variables. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VITEST"))) as NodeJS.ProcessEnv;
  return { ...env, NODE_ENV: "production", ...extra };
}

export function startProcess(args: string[], env: NodeJS.ProcessEnv): RunningProcess {
  const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function startWebServer(extra: Record<string, string> = {}): Promise<RunningProcess & { url: string }> {
  const port = await freePort();
  const proc = startProcess(["--import", "tsx", "server.ts", "build/server/index.js"], childEnv({ PORT: String(port), HOST: "127.0.0.1", ...extra }));
  const url = `http://127.0.0.1:${port}`;
  try {
    // A loaded machine (other test files, builds) can take well over 30 s to start it.
    await waitFor(async () => (await fetch(`${url}/health`)).status < 500, "the web server", 120_000);
  } catch (error) {
    await proc.stop();
    throw new Error(`${(error as Error).message}\n${proc.output()}`);
  }
  return { ...proc, url };
}

export function startWorkers(extra: Record<string, string> = {}): RunningProcess {
  return startProcess(["--import", "tsx", "workers/main.ts"], childEnv(extra));
}
