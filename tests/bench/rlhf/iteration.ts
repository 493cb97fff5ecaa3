// PPO iterations as a run does them, at the product's PPO defaults (a child of tests/bench/rlhf.ts):
//   node --import tsx iteration.ts <iterations> <threads>
// Reports each iteration's rollout / scoring / update time and tokens.

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseRlConfig, trainRl } from "../../../training/rl";
import { benchPrompts, ensureRewardModel, POLICY_DIR, RESULT_PREFIX } from "./setup";

const iterations = Number(process.argv[2] ?? 2);
const threads = Number(process.argv[3] ?? 2);
const tmp = mkdtempSync(path.join(os.tmpdir(), "bench-rlhf-"));
const perIteration: Record<string, number>[] = [];
try {
  const config = parseRlConfig("ppo", { iterations, evalPrompts: 0, checkpointEvery: 1_000_000 });
  await trainRl(
    { algorithm: "ppo", policyDir: POLICY_DIR, rewardModelDir: ensureRewardModel(), prompts: benchPrompts(), outputDir: path.join(tmp, "out"), config, intraOpThreads: threads },
    {
      checkpointDir: path.join(tmp, "checkpoints"),
      progress: (_i, _n, m) => void perIteration.push(m),
      logMetrics: () => {},
      shouldStop: () => false,
    },
  );
  console.log(RESULT_PREFIX + JSON.stringify({ config, iterations: perIteration }));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
