// Reward-model benchmark. Quality: a reward model trained on the Open-Assistant ranked sets the
// repository carries (kway rows as the exporter writes them, split train/validation by tree with a
// fixed seed), backbone the trained demo policy, scored on the held-out trees' pairs beside "the longer
// reply wins" and "the shorter reply wins" on the same pairs. Speed: the reward training step (forward,
// gradients, clipping, AdamW) on the same backbone, initial weights and K-way batches in our engine and
// in PyTorch CPU (its default threading; --rounds N keeps each engine's best round), tokens/s over real (not
// padding) tokens; the first step's losses must agree to 1e-4. Also the whole trainer's tokens/s during
// the quality run. The last line printed is one JSON object.
//   npm run bench:rm [-- --rounds N --epochs E --lr LR --max-length N --margins]

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { splitForTree } from "~/domain/datasets/split";
import { gpt2HeadShapes, gpt2ParamShapes } from "../../inference/models/gpt2";
import { rankingBatch, type Batch } from "../../training/batch";
import { rewardObjective } from "../../training/objectives";
import { encodeRankedSets, modelDirTokenizer, readPreferenceFile, RewardEncoder, rewardModelInit, trainRewardModel, type RankedSet } from "../../training/reward/index";
import { DEFAULT_ADAMW } from "../../training/step-graph";
import { Trainer } from "../../training/trainer";
import { exportRows, oasstRankedSets, writeJsonl } from "../training/fixtures/oasst-preferences";
import { ensureTorch, median, PYTHON, runChild } from "./torch-anchor";

const here = path.dirname(fileURLToPath(import.meta.url));
const DEMO_POLICY = path.resolve(here, "../../training/assets/demo-policy");
const log = (msg: string) => console.log(`[bench:rm] ${msg}`);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string" },
    epochs: { type: "string" },
    lr: { type: "string" },
    "max-length": { type: "string" },
    margins: { type: "boolean" },
  },
});
const SPLIT = { seed: 42, validationRatio: 0.2 };
const THREADS = 2;
/** The quality run's settings (what was tried is in training/README.md, "Reward models"). */
const HYPER = {
  epochs: Number(args.epochs ?? 3),
  lr: Number(args.lr ?? 3e-4),
  promptsPerBatch: 8,
  warmupRatio: 0.1,
  weightDecay: 0,
  maxLength: Number(args["max-length"] ?? 256),
  margins: args.margins ?? false,
  seed: 1,
  checkpointEvery: 1_000_000,
  evalEvery: 1_000_000,
};
/** The speed comparison: the first SPEED.batches batches of the training sets, SPEED.steps steps, the first not timed. */
const SPEED = { batches: 2, steps: 5, warmup: 1, lr: 1e-4 };
const rounds = Math.max(1, Number(args.rounds ?? 2));

ensureTorch(log);
const work = mkdtempSync(path.join(tmpdir(), "bench-rm-"));

// --- data: the exporter's kway rows of the fixture, read back by the trainer's reader, split by tree
const file = writeJsonl(path.join(work, "kway.jsonl"), exportRows(oasstRankedSets(), "kway"));
const read = readPreferenceFile(file, "kway");
const train: RankedSet[] = [];
const validation: RankedSet[] = [];
for (const s of read.sets) (splitForTree(s.group, SPLIT) === "validation" ? validation : train).push(s);
const trees = (sets: RankedSet[]) => new Set(sets.map((s) => s.group)).size;
log(`${read.sets.length} ranked sets of ${trees(read.sets)} trees; train ${train.length} sets (${trees(train)} trees), validation ${validation.length} sets (${trees(validation)} trees), split seed ${SPLIT.seed}`);

// --- speed: the same K-way batches through our step and PyTorch's
const init = rewardModelInit({ modelDir: DEMO_POLICY }, HYPER.seed);
const encoder = new RewardEncoder(modelDirTokenizer(DEMO_POLICY));
const encoded = encodeRankedSets(train, encoder, HYPER.maxLength).sets;
const k = Math.max(...encoded.map((s) => s.sequences.length));
const batches: { batch: Batch; tokens: number }[] = [];
for (let b = 0; b < SPEED.batches; b++) {
  const sets = encoded.slice(b * HYPER.promptsPerBatch, (b + 1) * HYPER.promptsPerBatch);
  batches.push({ batch: rankingBatch(sets, k, { padTokenId: init.config.padTokenId }), tokens: sets.reduce((n, s) => n + s.sequences.reduce((m, q) => m + q.length, 0), 0) });
}
const anchorDir = path.join(work, "anchor");
mkdirSync(anchorDir);
{
  const params: { name: string; dims: number[]; offset: number }[] = [];
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [name, dims] of [...gpt2ParamShapes(init.config), ...gpt2HeadShapes(init.config)]) {
    const t = init.weights.get(name)!.data as Float32Array;
    params.push({ name, dims, offset });
    offset += t.length;
    parts.push(Buffer.from(t.buffer, t.byteOffset, t.byteLength));
  }
  writeFileSync(path.join(anchorDir, "weights.bin"), Buffer.concat(parts));
  const ints: Buffer[] = [];
  let at = 0;
  const layout = batches.map(({ batch }) => {
    const [rows, seq] = batch.input_ids.dims;
    const [prompts] = batch.ranks.dims;
    for (const name of ["input_ids", "attention_mask", "ranks"]) {
      const d = batch[name].data as BigInt64Array;
      ints.push(Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    }
    const entry = { rows, seq, prompts, k, offset: at };
    at += 2 * rows * seq + prompts * k;
    return entry;
  });
  writeFileSync(path.join(anchorDir, "batches.bin"), Buffer.concat(ints));
  writeFileSync(
    path.join(anchorDir, "spec.json"),
    JSON.stringify({ config: init.config, params, batches: layout, steps: SPEED.steps, threads: THREADS, lr: SPEED.lr, optimizer: DEFAULT_ADAMW }),
  );
}
const stepTokens = (s: number) => batches[s % batches.length].tokens;
const tokPerS = (stepMs: number[]) => {
  // Median over the timed steps of tokens/ms (the batches differ in size).
  return median(stepMs.slice(SPEED.warmup).map((ms, i) => stepTokens(i + SPEED.warmup) / ms)) * 1000;
};
const shapes = batches.map(({ batch, tokens }) => `${batch.input_ids.dims.join("×")} (${tokens} real tokens)`).join(", ");
log(`speed: demo policy backbone (${init.config.nLayer} layers, d ${init.config.nEmbd}) + score head, ${SPEED.batches} batches of ${HYPER.promptsPerBatch} sets × K ${k}: ${shapes}; ${SPEED.steps} steps, the first not timed, ${THREADS} threads`);

async function oursSpeed(): Promise<{ losses: number[]; step_ms: number[] }> {
  const trainer = await Trainer.create({
    config: init.config,
    objective: rewardObjective(k),
    weights: rewardModelInit({ modelDir: DEMO_POLICY }, HYPER.seed).weights,
    optimizer: DEFAULT_ADAMW,
    schedule: { peakLr: SPEED.lr, warmupSteps: 0, totalSteps: SPEED.steps, minLrRatio: 1 },
    intraOpThreads: THREADS,
  });
  const losses: number[] = [];
  const stepMs: number[] = [];
  try {
    for (let s = 0; s < SPEED.steps; s++) {
      const r = await trainer.trainStep([batches[s % batches.length].batch]);
      losses.push(r.loss);
      stepMs.push(r.ms);
    }
  } finally {
    await trainer.dispose();
  }
  return { losses, step_ms: stepMs };
}
type TorchRun = { losses: number[]; step_ms: number[]; torch: string; threads: string };
const torch = (threads: string) => runChild<TorchRun>(PYTHON, [path.join(here, "rm", "torch_rm_step.py"), anchorDir, threads], null);

const ours: number[] = [];
const anchor: { tokPerS: number; run: TorchRun }[] = [];
let lossDiff = 0;
for (let i = 1; i <= rounds; i++) {
  const o = await oursSpeed();
  // PyTorch's default threading (1 OpenMP thread, OpenBLAS on every core) was its faster setting in bench:train.
  const td = await torch("default");
  lossDiff = Math.max(lossDiff, Math.abs(o.losses[0] - td.losses[0]));
  ours.push(tokPerS(o.step_ms));
  anchor.push({ tokPerS: tokPerS(td.step_ms), run: td });
  log(`round ${i}/${rounds}: ours ${Math.round(ours.at(-1)!)} tok/s, PyTorch ${Math.round(anchor.at(-1)!.tokPerS)} tok/s (default threads); first-step loss ${o.losses[0].toFixed(6)} vs ${td.losses[0].toFixed(6)}`);
}
if (!(lossDiff <= 1e-4)) throw new Error(`first-step losses differ by ${lossDiff} (> 1e-4): the engines do not compute the same model`);
const oursBest = Math.max(...ours);
const torchBest = anchor.reduce((a, b) => (b.tokPerS > a.tokPerS ? b : a));

// --- quality: the whole trainer on the training trees, evaluated on the held-out trees
log(`training: epochs ${HYPER.epochs}, lr ${HYPER.lr}, ${HYPER.promptsPerBatch} sets per batch, max length ${HYPER.maxLength}, margins ${HYPER.margins ? "on" : "off"}, seed ${HYPER.seed}`);
let trainTokens = 0;
let trainMs = 0;
const started = Date.now();
const result = await trainRewardModel(
  { backbone: { modelDir: DEMO_POLICY }, train, validation, outputDir: path.join(work, "model"), hyper: HYPER, intraOpThreads: THREADS },
  {
    checkpointDir: path.join(work, "checkpoints"),
    progress(step, total, m) {
      if (step > 1) {
        trainTokens += m.tokens;
        trainMs += m.ms;
      }
      if (step % 10 === 0 || step === total) log(`step ${step}/${total}: loss ${m.loss.toFixed(4)}, batch accuracy ${m.accuracy.toFixed(3)}`);
    },
    logMetrics() {},
    shouldStop: () => false,
  },
);
const v = result.metadata!.validation!;
const seconds = (Date.now() - started) / 1000;
log(`trained ${result.step} steps in ${round(seconds)} s on ${result.data.train.pairsKept} pairs (${result.data.train.overLengthPairs} over ${HYPER.maxLength} tokens dropped)`);
log(`held-out: accuracy ${v.accuracy.toFixed(4)} on ${v.pairs} pairs (${v.over_length_pairs} over length left out); longer reply wins ${v.longer_wins_accuracy.toFixed(4)}, shorter reply wins ${v.shorter_wins_accuracy.toFixed(4)}; mean margin ${v.mean_margin.toFixed(3)}`);
log(`speed: ours ${Math.round(oursBest)} tok/s vs PyTorch ${Math.round(torchBest.tokPerS)} tok/s (${torchBest.run.threads} threads) on the same batches: ratio ${round(oursBest / torchBest.tokPerS, 3)}; the whole trainer ${Math.round((trainTokens * 1000) / trainMs)} tok/s (steps 2 on)`);
rmSync(work, { recursive: true, force: true });
console.log(
  JSON.stringify({
    bench: "rm",
    accuracy: round(v.accuracy, 4),
    longer_baseline: round(v.longer_wins_accuracy, 4),
    shorter_baseline: round(v.shorter_wins_accuracy, 4),
    tok_per_s: Math.round(oursBest),
    torch_tok_per_s: Math.round(torchBest.tokPerS),
    ratio: round(oursBest / torchBest.tokPerS, 3),
    trainer_tok_per_s: Math.round((trainTokens * 1000) / trainMs),
    pairs: v.pairs,
    mean_margin: round(v.mean_margin, 4),
    train_pairs: result.data.train.pairsKept,
    steps: result.step,
    train_seconds: round(seconds),
    first_loss_diff: lossDiff,
    epochs: HYPER.epochs,
    lr: HYPER.lr,
    margins: HYPER.margins,
    max_length: HYPER.maxLength,
    split_seed: SPLIT.seed,
    torch_version: torchBest.run.torch,
    torch_threads: torchBest.run.threads,
    threads: THREADS,
    rounds,
  }),
);
