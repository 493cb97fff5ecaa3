// What the scripted-loop commands share: a worker process of their own beside the configured
// database and queue, timestamped progress lines, and a clean stop (worker, queues, Prisma) whatever
// the outcome. Exits the process with 0 on success, 1 when `body` throws.
import { spawn } from "node:child_process";
import { prisma } from "~/db.server.ts";
import { closeQueues } from "~/jobs/enqueue.server.ts";

export async function runWithWorker(what: string, body: (log: (line: string) => void) => Promise<void>): Promise<never> {
  const started = Date.now();
  const stamp = () => `[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s]`;
  const worker = spawn(process.execPath, ["--import", "tsx", "workers/main.ts"], {
    env: { ...process.env, ORT_INTRA_OP_THREADS: process.env.ORT_INTRA_OP_THREADS ?? "1" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const workerExit = new Promise<number | null>((resolve) => worker.once("exit", resolve));
  let code = 0;
  try {
    await body((line) => console.log(`${stamp()} ${line}`));
  } catch (error) {
    console.error(`${stamp()} ${what} failed: ${(error as Error).message}`);
    code = 1;
  } finally {
    worker.kill("SIGTERM");
    await workerExit;
    await closeQueues();
    await prisma.$disconnect();
  }
  process.exit(code);
}
