// RLHF benchmark: where a PPO iteration's time goes at the product's PPO defaults (16 prompts, one
// sample each, 64 new tokens, 4 epochs of minibatches of 8), on the demo policy the product serves and
// a reward model of its architecture, and the same update (policy and value steps on the same rollout's
// batches from the same weights) by our trainer and by PyTorch CPU in the same run. Each engine runs in
// its own child process, alternating; PyTorch with its default threading and with 2 threads, the
// faster counts. The first steps' losses must agree to 1e-4. `--rounds N` (default 2) keeps each
// engine's best round. The last line printed is one JSON object.

import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { WORK, RESULT_PREFIX, POLICY_DIR } from "./rlhf/setup";
import { ensureTorch, PYTHON, runChild } from "./torch-anchor";

const here = path.dirname(fileURLToPath(import.meta.url));
const log = (msg: string) => console.log(`[bench:rlhf] ${msg}`);
const THREADS = "2";

interface UpdateRun {
  policy_loss: number[];
  value_loss: number[];
  step_ms: number[];
  torch?: string;
  threads?: string;
}
interface IterationRun {
  iterations: Record<string, number>[];
}

const tsx = (file: string, args: string[]) => runChild<never>(process.execPath, ["--import", "tsx", path.join(here, "rlhf", file), ...args], RESULT_PREFIX);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
// The first step compiles nothing in PyTorch but builds sessions' caches in onnxruntime: time steps 2 on.
const timed = (r: UpdateRun) => sum(r.step_ms.slice(1));
const best = (runs: UpdateRun[]) => runs.reduce((a, b) => (timed(b) < timed(a) ? b : a));

const rounds = Math.max(1, Number(parseArgs({ options: { rounds: { type: "string" } } }).values.rounds ?? 2));
ensureTorch(log);
const dir = path.join(WORK, "update");
log(`policy ${path.relative(process.cwd(), POLICY_DIR)}; sampling a rollout at the PPO defaults and writing its update batches`);
const prepared = (await tsx("update.ts", ["prepare", dir])) as { rows: number; minibatches: number; tokens: number };
log(`${prepared.rows} sequences, ${prepared.tokens} tokens, ${prepared.minibatches} minibatches`);

const ours: UpdateRun[] = [];
const torch: UpdateRun[] = [];
for (let i = 1; i <= rounds; i++) {
  ours.push((await tsx("update.ts", ["run", dir])) as UpdateRun);
  torch.push(await runChild<UpdateRun>(PYTHON, [path.join(here, "rlhf", "torch_ppo_update.py"), dir, "default"], null));
  torch.push(await runChild<UpdateRun>(PYTHON, [path.join(here, "rlhf", "torch_ppo_update.py"), dir, THREADS], null));
  log(`update round ${i}/${rounds}: ours ${round(timed(ours.at(-1)!))} ms; PyTorch ${round(timed(torch.at(-2)!))} ms (default threads), ${round(timed(torch.at(-1)!))} ms (${THREADS} threads), steps 2 on`);
}
const [o, t] = [best(ours), best(torch)];
const policyDiff = Math.abs(o.policy_loss[0] - t.policy_loss[0]);
const valueDiff = Math.abs(o.value_loss[0] - t.value_loss[0]);
log(`first step: policy loss ours ${o.policy_loss[0].toFixed(7)}, PyTorch ${t.policy_loss[0].toFixed(7)}; value loss ours ${o.value_loss[0].toFixed(7)}, PyTorch ${t.value_loss[0].toFixed(7)}`);
if (!(policyDiff <= 1e-4 && valueDiff <= 1e-4 * Math.max(1, Math.abs(t.value_loss[0])))) throw new Error(`the engines do not compute the same update (|Δ| policy ${policyDiff}, value ${valueDiff})`);
// Tokens each step trains (both models read every sequence once per epoch), steps 2 on.
const steps = o.step_ms.length;
const tokensTimed = (prepared.tokens * (steps / prepared.minibatches) * (steps - 1)) / steps;
const updateTokPerS = tokensTimed / (timed(o) / 1000);
const torchUpdateTokPerS = tokensTimed / (timed(t) / 1000);

log("two PPO iterations through the trainer at the product's defaults (the second is reported)");
const it = (await tsx("iteration.ts", ["2", THREADS])) as IterationRun;
const m = it.iterations.at(-1)!;
const iterMs = m.rollout_ms + m.scoring_ms + m.update_ms;
const seqTokens = m.update_tokens / 4;
log(
  `iteration: rollout ${round(m.rollout_ms)} ms (${m.rollout_tokens} new tokens), scoring ${round(m.scoring_ms)} ms (reward model, policy and reference log-probs, values over ${seqTokens} tokens), ` +
    `update ${round(m.update_ms)} ms (${m.update_tokens} tokens through policy and value)`,
);
console.log(
  JSON.stringify({
    bench: "rlhf",
    ppo_iter_s: round(iterMs / 1000, 3),
    rollout_share: round(m.rollout_ms / iterMs, 3),
    scoring_share: round(m.scoring_ms / iterMs, 3),
    update_share: round(m.update_ms / iterMs, 3),
    rollout_tok_per_s: Math.round(m.rollout_tokens / (m.rollout_ms / 1000)),
    scoring_tok_per_s: Math.round(seqTokens / (m.scoring_ms / 1000)),
    iteration_update_tok_per_s: Math.round(m.update_tokens / (m.update_ms / 1000)),
    update_tok_per_s: Math.round(updateTokPerS),
    torch_update_tok_per_s: Math.round(torchUpdateTokPerS),
    update_ratio: round(updateTokPerS / torchUpdateTokPerS, 3),
    update_ms: round(timed(o)),
    torch_update_ms: round(timed(t)),
    first_policy_loss_diff: policyDiff,
    first_value_loss_diff: valueDiff,
    torch_version: t.torch,
    torch_threads: t.threads,
    threads: Number(THREADS),
    rounds,
  }),
);
