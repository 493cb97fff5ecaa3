// `npm run loop`: the whole RLHF loop at tiny scale on the configured database and queue (or those
// of a running `npm start`), with a worker process of its own: a new project whose trees get model
// replies, rankings by a known rule, exports, a reward model, an RLOO policy that is promoted and
// sampled again. Prints each stage, then one JSON line with the before/after figures.
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import { prisma } from "~/db.server.ts";
import { closeQueues } from "~/jobs/enqueue.server.ts";
import { runLoop } from "./lib/rlhf-loop.ts";

const slug = process.argv[2] ?? `loop-${crypto.randomBytes(3).toString("hex")}`;
const started = Date.now();
const stamp = () => `[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s]`;

const worker = spawn(process.execPath, ["--import", "tsx", "workers/main.ts"], {
  env: { ...process.env, ORT_INTRA_OP_THREADS: process.env.ORT_INTRA_OP_THREADS ?? "1" },
  stdio: ["ignore", "ignore", "inherit"],
});
const workerExit = new Promise<number | null>((resolve) => worker.once("exit", resolve));

let code = 0;
try {
  const result = await runLoop({ slug, log: (line) => console.log(`${stamp()} ${line}`) });
  console.log(JSON.stringify({ loop: "rlhf", ...result }));
} catch (error) {
  console.error(`${stamp()} the loop failed: ${(error as Error).message}`);
  code = 1;
} finally {
  worker.kill("SIGTERM");
  await workerExit;
  await closeQueues();
  await prisma.$disconnect();
}
process.exit(code);
