// `npm run loop:compare`: DPO, GRPO, RLOO and PPO from the same SFT policy on the same labeled
// comparisons of the scripted-labeler loop (see scripts/lib/compare-trainers.ts), on the configured
// database and queue, with a worker process of its own. Prints a table, then one JSON line.
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import { prisma } from "~/db.server.ts";
import { closeQueues } from "~/jobs/enqueue.server.ts";
import { compareTrainers } from "./lib/compare-trainers.ts";

const slug = process.argv[2] ?? `trainers-${crypto.randomBytes(3).toString("hex")}`;
const started = Date.now();
const stamp = () => `[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s]`;
const worker = spawn(process.execPath, ["--import", "tsx", "workers/main.ts"], {
  env: { ...process.env, ORT_INTRA_OP_THREADS: process.env.ORT_INTRA_OP_THREADS ?? "1" },
  stdio: ["ignore", "ignore", "inherit"],
});
const workerExit = new Promise<number | null>((resolve) => worker.once("exit", resolve));

let code = 0;
try {
  const r = await compareTrainers({ slug, log: (line) => console.log(`${stamp()} ${line}`) });
  console.log(`\n${r.comparisons} rankings by the rule; reward model held-out accuracy ${r.rm_heldout_accuracy.toFixed(3)}\n`);
  console.log("| trainer | follows the rule | KL to the start (nats per reply) | training time |");
  console.log("|---|---|---|---|");
  for (const row of r.rows) console.log(`| ${row.trainer} | ${(row.rule_rate * 100).toFixed(1)} % | ${row.kl.toFixed(3)} | ${row.train_seconds} s |`);
  console.log(JSON.stringify({ loop: "trainers", ...r }));
} catch (error) {
  console.error(`${stamp()} the comparison failed: ${(error as Error).message}`);
  code = 1;
} finally {
  worker.kill("SIGTERM");
  await workerExit;
  await closeQueues();
  await prisma.$disconnect();
}
process.exit(code);
