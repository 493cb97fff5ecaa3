// Training benchmark: our training step (one onnxruntime graph: forward, gradients, clipping, AdamW) vs
// PyTorch CPU on the same GPT-2, the same initial weights and the same batches, on the reference tiny
// GPT (2 layers, d 128, 4 heads, vocab 8192, seq 128, batch 8) and on the demo architecture (4 layers,
// d 256). Each engine runs in its own child process, alternating: ours with 2 onnxruntime threads,
// PyTorch both with its default threading (1 OpenMP thread, OpenBLAS on every core) and with 2 OpenMP
// threads — the faster counts, so the anchor is PyTorch at its best here. A run takes BENCH.steps steps
// and the first BENCH.warmup are not timed. The first step's loss (at the initial weights) must agree
// to 1e-4. `--rounds N` (default 2) keeps each engine's best round (other work on the machine slows
// single runs at random). The last line printed is one JSON object; ratio = step_ms / torch_step_ms
// on the reference configuration.

import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { BENCH, CONFIGS, RESULT_PREFIX, writeBenchFiles } from "./train/setup";
import type { ProfileSummary } from "./train/profile";
import { ensureTorch, median, PYTHON, runChild } from "./torch-anchor";

const here = path.dirname(fileURLToPath(import.meta.url));
const log = (msg: string) => console.log(`[bench:train] ${msg}`);

interface Run {
  losses: number[];
  step_ms: number[];
  run_ms?: number[];
  peak_rss_mb: number;
  profile?: ProfileSummary | null;
  torch?: string;
  threads?: string;
}

const ours = (dir: string, profile = false) =>
  runChild<Run>(process.execPath, ["--import", "tsx", path.join(here, "train", "ours.ts"), dir, ...(profile ? ["--profile"] : [])], RESULT_PREFIX);
const torch = (dir: string, threads: string) => runChild<Run>(PYTHON, [path.join(here, "train", "torch_step.py"), dir, threads], null);

const timed = (r: Run) => median(r.step_ms.slice(BENCH.warmup));
const best = (runs: Run[]) => runs.reduce((a, b) => (timed(b) < timed(a) ? b : a));
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

const rounds = Math.max(1, Number(parseArgs({ options: { rounds: { type: "string" } } }).values.rounds ?? 2));
ensureTorch(log);
const results: Record<string, { ours: Run; torch: Run; lossDiff: number }> = {};
for (const name of Object.keys(CONFIGS)) {
  const { config, batch, seq } = CONFIGS[name];
  const dir = writeBenchFiles(name);
  log(`${name}: ${config.nLayer} layers, d ${config.nEmbd}, ${config.nHead} heads, vocab ${config.vocabSize}, batch ${batch} × seq ${seq}, ${BENCH.threads} threads`);
  const o: Run[] = [];
  const t: Run[] = [];
  for (let i = 1; i <= rounds; i++) {
    o.push(await ours(dir));
    t.push(await torch(dir, "default"));
    t.push(await torch(dir, String(BENCH.threads)));
    const [td, t2] = t.slice(-2).map(timed);
    log(`${name} round ${i}/${rounds}: ours ${round(timed(o.at(-1)!))} ms/step; PyTorch ${round(td)} ms/step (default threads), ${round(t2)} (${BENCH.threads} threads)`);
  }
  const lossDiff = Math.abs(o[0].losses[0] - t[0].losses[0]);
  log(`${name}: first-step loss ours ${o[0].losses[0].toFixed(7)}, PyTorch ${t[0].losses[0].toFixed(7)} (|Δ| ${lossDiff.toExponential(2)}); last step ${o[0].losses.at(-1)!.toFixed(5)} vs ${t[0].losses.at(-1)!.toFixed(5)}`);
  if (!(lossDiff <= 1e-4)) throw new Error(`${name}: first-step losses differ by ${lossDiff} (> 1e-4): the engines do not compute the same model`);
  results[name] = { ours: best(o), torch: best(t), lossDiff };
}

log("profiling our step on the reference configuration (onnxruntime profiler on)");
const prof = (await ours(writeBenchFiles("reference"), true)).profile!;
const ref = results.reference;
const refCfg = CONFIGS.reference;
const stepMs = timed(ref.ours);
const runMs = median(ref.ours.run_ms!.slice(BENCH.warmup));
log(
  `where the time goes (profiled run, mean per step): forward ${prof.forward_ms} ms, backward ${prof.backward_ms} ms, optimizer ${prof.optimizer_ms} ms, ` +
    `onnxruntime outside nodes (feeds, fetches, scheduling) ${prof.outside_nodes_ms} ms; unprofiled run: ${round(stepMs - runMs, 2)} ms of ${round(stepMs)} in JS around onnxruntime (batch tensors, checks)`,
);
log(`hottest ops: ${prof.top_ops.map((o) => `${o.op} ${o.ms}`).join(", ")}`);
log("SFT through the whole trainer (tokenization, data order, batches, steps, validation, checkpoints, model write) vs the bare step on the same batches");
const sftRuns: { bare_tok_per_s: number; sft_tok_per_s: number; setup_ms: number; tokens: number; steps: number }[] = [];
for (let i = 1; i <= rounds; i++) {
  const r = await runChild<(typeof sftRuns)[number]>(process.execPath, ["--import", "tsx", path.join(here, "train", "sft.ts")], RESULT_PREFIX);
  sftRuns.push(r);
  log(`sft round ${i}/${rounds}: bare ${r.bare_tok_per_s} tok/s, whole trainer ${r.sft_tok_per_s} tok/s over ${r.steps} steps (${r.tokens} tokens, steps 2 on; the first step and the graph build, ${r.setup_ms} ms, not counted)`);
}
// Each round compares both in one process; the round with the fastest bare rate counts (least disturbed).
const sftBest = sftRuns.reduce((a, b) => (b.bare_tok_per_s > a.bare_tok_per_s ? b : a));
const demo = results.demo;
console.log(
  JSON.stringify({
    bench: "train",
    step_ms: round(stepMs),
    torch_step_ms: round(timed(ref.torch)),
    ratio: round(stepMs / timed(ref.torch), 3),
    tok_per_s: Math.round((refCfg.batch * refCfg.seq) / (stepMs / 1000)),
    torch_tok_per_s: Math.round((refCfg.batch * refCfg.seq) / (timed(ref.torch) / 1000)),
    peak_rss_mb: round(ref.ours.peak_rss_mb),
    torch_peak_rss_mb: round(ref.torch.peak_rss_mb),
    first_loss: ref.ours.losses[0],
    torch_first_loss: ref.torch.losses[0],
    first_loss_diff: ref.lossDiff,
    demo_step_ms: round(timed(demo.ours)),
    demo_torch_step_ms: round(timed(demo.torch)),
    demo_ratio: round(timed(demo.ours) / timed(demo.torch), 3),
    demo_tok_per_s: Math.round((CONFIGS.demo.batch * CONFIGS.demo.seq) / (timed(demo.ours) / 1000)),
    demo_first_loss_diff: demo.lossDiff,
    profile: { forward_ms: prof.forward_ms, backward_ms: prof.backward_ms, optimizer_ms: prof.optimizer_ms, ort_outside_nodes_ms: prof.outside_nodes_ms, js_around_ort_ms: round(stepMs - runMs, 2) },
    sft_tok_per_s: sftBest.sft_tok_per_s,
    sft_bare_tok_per_s: sftBest.bare_tok_per_s,
    sft_overhead: round(1 - sftBest.sft_tok_per_s / sftBest.bare_tok_per_s, 3),
    torch_version: ref.torch.torch,
    torch_threads: ref.torch.threads,
    threads: BENCH.threads,
    rounds,
  }),
);
