// SFT through the whole trainer vs the bare step (a child process of tests/bench/train.ts):
//   node --import tsx sft.ts <dir>
// The same model, data and batches both ways: Open-Assistant conversations through the demo
// tokenizer and chat template, the product's default SFT config at the reference size (batch 8,
// up to 128 tokens). "bare" runs Trainer.trainStep on batches built beforehand; "sft" runs trainSft:
// tokenization, the seeded data order, batch building, the steps, validation, checkpoints and the
// model directory written at the end. tok/s counts real (not padding) tokens.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { OASST_CHAT_TEMPLATE } from "../../../inference/chat-template";
import { initGpt2Weights } from "../../../inference/models/gpt2";
import { writeGpt2ModelDir } from "../../../inference/models/gpt2-dir";
import { EOT, loadDemoTokenizer } from "../../../inference/tokenizer/demo-tokenizer";
import { lmBatch } from "../../../training/batch";
import { DataOrder } from "../../../training/data-order";
import { causalLmObjective } from "../../../training/objectives";
import { oasstConversations } from "../../../training/oasst";
import { loadSftBase, tokenizeSft, trainSft } from "../../../training/sft";
import { DEFAULT_SFT_CONFIG, type SftConfig } from "../../../training/sft-config";
import { Trainer } from "../../../training/trainer";
import { CONFIGS, BENCH, RESULT_PREFIX } from "./setup";

const STEPS = 60;
const work = mkdtempSync(path.join(tmpdir(), "bench-sft-"));
const model = CONFIGS.reference.config;
const config = { ...model, bosTokenId: 0, eosTokenId: 0, padTokenId: 0 };
writeGpt2ModelDir(path.join(work, "base"), {
  config,
  weights: initGpt2Weights(config, BENCH.seed),
  tokenizer: loadDemoTokenizer(),
  specialTokens: { bos: EOT, eos: EOT, pad: EOT },
  chatTemplate: OASST_CHAT_TEMPLATE,
});
const base = loadSftBase(path.join(work, "base"));
const lines = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../fixtures/oasst/en_100_tree.jsonl"), "utf8").split("\n").filter(Boolean);
const train = oasstConversations(lines.slice(0, 90).join("\n"));
const validation = oasstConversations(lines.slice(90).join("\n")).slice(0, 16);
const sft: SftConfig = { ...DEFAULT_SFT_CONFIG, batchSize: CONFIGS.reference.batch, maxLength: CONFIGS.reference.seq, maxSteps: STEPS, learningRate: BENCH.lr };

// Bare: the same batches, in the same order, built before timing.
const tk = performance.now();
const { examples } = tokenizeSft(train, base.tokenizer, sft.maxLength);
tokenizeSft(validation, base.tokenizer, sft.maxLength);
const tokenizeMs = performance.now() - tk;
const order = new DataOrder(examples.map((e) => e.ids.length), { batchSize: sft.batchSize, seed: sft.seed });
const batches = Array.from({ length: STEPS }, () => lmBatch(order.next().map((i) => examples[i]), { padTokenId: 0 }));
const tokensOf = (b: (typeof batches)[number]) => (b.attention_mask.data as BigInt64Array).reduce((a, v) => a + Number(v), 0);
const trainer = await Trainer.create({
  config,
  objective: causalLmObjective(),
  weights: base.weights,
  optimizer: { weightDecay: sft.weightDecay, maxGradNorm: sft.maxGradNorm },
  schedule: { peakLr: sft.learningRate, warmupSteps: Math.round(sft.warmupRatio * STEPS), totalSteps: STEPS, minLrRatio: sft.minLrRatio },
  intraOpThreads: BENCH.threads,
  log: () => {},
});
// Steps 2..N both ways (the first step of a session is slower and the trainer's setup is not timed).
let bareMs = 0;
let bareTokens = 0;
for (const [i, b] of batches.entries()) {
  const t0 = performance.now();
  await trainer.trainStep([b]);
  if (i === 0) continue;
  bareMs += performance.now() - t0;
  bareTokens += tokensOf(b);
}
await trainer.dispose();

// The whole trainer from the end of its first step to its return (batches, steps, validation,
// checkpoints, the model write), plus tokenizing the data (timed above, the same work).
const t0 = performance.now();
let firstStepEnd = 0;
let firstStepTokens = 0;
const r = await trainSft({
  base,
  train,
  validation,
  config: sft,
  outputDir: path.join(work, "out"),
  checkpointDir: path.join(work, "ckpt"),
  intraOpThreads: BENCH.threads,
  hooks: {
    onStep: (s) => {
      if (s.step !== 1) return;
      firstStepEnd = performance.now();
      firstStepTokens = s.tokens;
    },
  },
});
const end = performance.now();
const sftMs = end - firstStepEnd + tokenizeMs;
rmSync(work, { recursive: true, force: true });
console.log(
  RESULT_PREFIX +
    JSON.stringify({
      steps: STEPS,
      tokens: r.metrics.tokensSeen - firstStepTokens,
      bare_tokens: bareTokens,
      bare_tok_per_s: Math.round(bareTokens / (bareMs / 1000)),
      sft_tok_per_s: Math.round((r.metrics.tokensSeen - firstStepTokens) / (sftMs / 1000)),
      setup_ms: Math.round(firstStepEnd - t0),
      tokenize_ms: Math.round(tokenizeMs),
      total_ms: Math.round(end - t0),
    }),
);
