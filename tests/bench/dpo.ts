// DPO benchmark: the DPO step (both replies of each pair forwarded, the loss against the reference's
// log-probabilities, gradients, clipping, AdamW) by our trainer and by PyTorch CPU on the same real
// Open-Assistant preference pairs, the demo policy's weights and the same batches, in the same run.
// Each engine runs in its own child process, alternating; PyTorch with its default threading and
// with 2 threads, the faster counts. The first two steps' losses must agree to 1e-4. `--rounds N`
// (default 2) keeps each engine's best round. The last line printed is one JSON object.

import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_DPO_BENCH } from "./dpo/spec";
import { RESULT_PREFIX, WORK } from "./rlhf/setup";
import { ensureTorch, median, PYTHON, runChild } from "./torch-anchor";

const here = path.dirname(fileURLToPath(import.meta.url));
const log = (msg: string) => console.log(`[bench:dpo] ${msg}`);
interface Run {
  losses: number[];
  step_ms: number[];
  torch?: string;
  threads?: string;
}
const step = (args: string[]) => runChild<never>(process.execPath, ["--import", "tsx", path.join(here, "dpo", "step.ts"), ...args], RESULT_PREFIX);
const timed = (r: Run) => median(r.step_ms.slice(DEFAULT_DPO_BENCH.warmup));
const best = (runs: Run[]) => runs.reduce((a, b) => (timed(b) < timed(a) ? b : a));
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

const rounds = Math.max(1, Number(parseArgs({ options: { rounds: { type: "string" } } }).values.rounds ?? 2));
ensureTorch(log);
const dir = path.join(WORK, "dpo");
const prepared = (await step(["prepare", dir])) as { pairs: number; tokens: number };
const b = DEFAULT_DPO_BENCH;
log(`${prepared.pairs} Open-Assistant pairs on the demo policy (${prepared.tokens} tokens), ${b.pairsPerBatch} pairs per step, β ${b.beta}, ${b.threads} threads`);
const ours: Run[] = [];
const torch: Run[] = [];
for (let i = 1; i <= rounds; i++) {
  ours.push((await step(["run", dir])) as Run);
  torch.push(await runChild<Run>(PYTHON, [path.join(here, "dpo", "torch_dpo_step.py"), dir, "default"], null));
  torch.push(await runChild<Run>(PYTHON, [path.join(here, "dpo", "torch_dpo_step.py"), dir, String(b.threads)], null));
  log(`round ${i}/${rounds}: ours ${round(timed(ours.at(-1)!))} ms/step; PyTorch ${round(timed(torch.at(-2)!))} (default threads), ${round(timed(torch.at(-1)!))} (${b.threads} threads)`);
}
const [o, t] = [best(ours), best(torch)];
const diffs = [0, 1].map((s) => Math.abs(o.losses[s] - t.losses[s]));
log(`losses of the first two steps: ours ${o.losses.slice(0, 2).map((x) => x.toFixed(7)).join(", ")}; PyTorch ${t.losses.slice(0, 2).map((x) => x.toFixed(7)).join(", ")}`);
if (!diffs.every((d) => d <= 1e-4)) throw new Error(`the engines do not compute the same DPO step (|Δ| ${diffs.join(", ")})`);
const tokensPerStep = prepared.tokens / b.batchCount;
console.log(
  JSON.stringify({
    bench: "dpo",
    tok_per_s: Math.round(tokensPerStep / (timed(o) / 1000)),
    torch_tok_per_s: Math.round(tokensPerStep / (timed(t) / 1000)),
    ratio: round(timed(t) / timed(o), 3),
    step_ms: round(timed(o)),
    torch_step_ms: round(timed(t)),
    loss_diffs: diffs,
    pairs_per_step: b.pairsPerBatch,
    torch_version: t.torch,
    torch_threads: t.threads,
    threads: b.threads,
    rounds,
  }),
);
