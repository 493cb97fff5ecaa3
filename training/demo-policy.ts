// The demo policy: a small GPT-2 with the demo tokenizer, trained by SFT from scratch on the
// Open-Assistant trees the repository carries (tests/fixtures/oasst), so that `npm start` gives
// demo trees replies that read as English. Deterministic: the same threads give the same bytes.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { OASST_CHAT_TEMPLATE } from "../inference/chat-template";
import { initGpt2Weights, type Gpt2Config } from "../inference/models/gpt2";
import { writeGpt2ModelDir } from "../inference/models/gpt2-dir";
import { DEMO_SPECIAL_TOKENS, DEMO_VOCAB_SIZE, EOT, loadDemoTokenizer } from "../inference/tokenizer/demo-tokenizer";
import { LmEvaluator } from "./evaluate";
import { lmBatch } from "./batch";
import { oasstConversations } from "./oasst";
import { loadSftBase, tokenizeSft, trainSft, type SftHooks, type SftResult } from "./sft";
import { DEFAULT_SFT_CONFIG, type SftConfig } from "./sft-config";

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEMO_POLICY_DIR = path.resolve(here, "assets/demo-policy");
const TREES = path.resolve(here, "../tests/fixtures/oasst/en_100_tree.jsonl");

const eot = DEMO_SPECIAL_TOKENS.indexOf(EOT);
export const DEMO_POLICY_MODEL: Gpt2Config = {
  vocabSize: DEMO_VOCAB_SIZE,
  nPositions: 512,
  nEmbd: 128,
  nLayer: 2,
  nHead: 4,
  layerNormEpsilon: 1e-5,
  bosTokenId: eot,
  eosTokenId: eot,
  padTokenId: eot,
};

export const DEMO_POLICY_TRAINING: SftConfig = {
  ...DEFAULT_SFT_CONFIG,
  epochs: 5,
  learningRate: 2e-3,
  batchSize: 8,
  maxLength: 512,
  warmupRatio: 0.05,
  weightDecay: 0.1,
  evalEvery: 50,
  checkpointEvery: 1_000_000,
  seed: 1,
};

/** Threads of the run: the bytes of the result depend on it. */
export const DEMO_POLICY_THREADS = 2;

/** Trees 1–90 train, 91–100 validate (split by tree, as exports do). */
export function demoPolicyData() {
  const lines = readFileSync(TREES, "utf8").split("\n").filter((l) => l.trim());
  return { train: oasstConversations(lines.slice(0, 90).join("\n")), validation: oasstConversations(lines.slice(90).join("\n")) };
}

export interface DemoPolicyBuild {
  result: SftResult;
  /** Validation loss of the untrained (random) model, for comparison. */
  randomValidationLoss: number;
}

export async function buildDemoPolicy(outDir: string, opts: { config?: Partial<SftConfig>; hooks?: SftHooks } = {}): Promise<DemoPolicyBuild> {
  const baseDir = mkdtempSync(path.join(tmpdir(), "demo-policy-base-"));
  try {
    writeGpt2ModelDir(baseDir, {
      config: DEMO_POLICY_MODEL,
      weights: initGpt2Weights(DEMO_POLICY_MODEL, 1),
      tokenizer: loadDemoTokenizer(),
      specialTokens: { bos: EOT, eos: EOT, pad: EOT },
      chatTemplate: OASST_CHAT_TEMPLATE,
    });
    const base = loadSftBase(baseDir);
    const { train, validation } = demoPolicyData();
    const config = { ...DEMO_POLICY_TRAINING, ...opts.config };
    const evaluator = await LmEvaluator.create(base.config, { intraOpThreads: DEMO_POLICY_THREADS });
    const val = tokenizeSft(validation, base.tokenizer, config.maxLength).examples.sort((a, b) => a.ids.length - b.ids.length);
    const batches = [];
    for (let i = 0; i < val.length; i += config.batchSize) batches.push(lmBatch(val.slice(i, i + config.batchSize), { padTokenId: base.config.padTokenId }));
    const random = await evaluator.evaluate(base.weights, batches);
    await evaluator.dispose();
    const result = await trainSft({ base, train, validation, config, outputDir: outDir, intraOpThreads: DEMO_POLICY_THREADS, hooks: opts.hooks });
    return { result, randomValidationLoss: random.loss };
  } finally {
    rmSync(baseDir, { recursive: true, force: true });
  }
}
