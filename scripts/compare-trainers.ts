// `npm run loop:compare`: DPO, GRPO, RLOO and PPO from the same SFT policy on the same labeled
// comparisons of the scripted-labeler loop (see scripts/lib/compare-trainers.ts), on the configured
// database and queue, with a worker process of its own. Prints a table, then one JSON line.
import crypto from "node:crypto";
import { compareTrainers } from "./lib/compare-trainers.ts";
import { runWithWorker } from "./lib/with-worker.ts";

const slug = process.argv[2] ?? `trainers-${crypto.randomBytes(3).toString("hex")}`;

await runWithWorker("the comparison", async (log) => {
  const r = await compareTrainers({ slug, log });
  console.log(`\n${r.comparisons} rankings by the rule; reward model held-out accuracy ${r.rm_heldout_accuracy.toFixed(3)}\n`);
  console.log("| trainer | follows the rule | KL to the start (nats per reply) | training time |");
  console.log("|---|---|---|---|");
  for (const row of r.rows) console.log(`| ${row.trainer} | ${(row.rule_rate * 100).toFixed(1)} % | ${row.kl.toFixed(3)} | ${row.train_seconds} s |`);
  console.log(JSON.stringify({ loop: "trainers", ...r }));
});
