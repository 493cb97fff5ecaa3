// Builds the demo model directory: the 8,192-token demo tokenizer and a GPT-2 style decoder with
// seeded random (or supplied) weights, in the layout transformers.js and Optimum use.

import { OASST_CHAT_TEMPLATE } from "./chat-template";
import { initGpt2Weights, type Gpt2Config, type Gpt2Weights } from "./models/gpt2";
import { writeGpt2ModelDir } from "./models/gpt2-dir";
import { DEMO_SPECIAL_TOKENS, DEMO_VOCAB_SIZE, EOT, loadDemoTokenizer } from "./tokenizer/demo-tokenizer";

export interface DemoModelOptions {
  layers?: number; // default 4
  dModel?: number; // default 256
  heads?: number; // default 4
  /** Context length (learned positions); default 512. */
  context?: number;
  /** Seed of the weight initialisation; default 1. */
  seed?: number;
  /** Trained weights to write instead of random ones (GPT-2 parameter names). */
  weights?: Gpt2Weights;
}

export interface DemoModelResult {
  dir: string;
  config: Gpt2Config;
  /** Files (re)written; empty when the directory already held the same model. */
  written: string[];
}

export function demoModelConfig(opts: DemoModelOptions = {}): Gpt2Config {
  const eot = DEMO_SPECIAL_TOKENS.indexOf(EOT);
  return {
    vocabSize: DEMO_VOCAB_SIZE,
    nPositions: opts.context ?? 512,
    nEmbd: opts.dModel ?? 256,
    nLayer: opts.layers ?? 4,
    nHead: opts.heads ?? 4,
    layerNormEpsilon: 1e-5,
    bosTokenId: eot,
    eosTokenId: eot,
    padTokenId: eot,
  };
}

/** Idempotent: the same options give byte-identical files, and unchanged files are not rewritten. */
export async function buildDemoModel(outDir: string, opts: DemoModelOptions = {}): Promise<DemoModelResult> {
  const config = demoModelConfig(opts);
  const weights = opts.weights ?? initGpt2Weights(config, opts.seed ?? 1);
  const written = writeGpt2ModelDir(outDir, {
    config,
    weights,
    tokenizer: loadDemoTokenizer(),
    specialTokens: { bos: EOT, eos: EOT, pad: EOT },
    chatTemplate: OASST_CHAT_TEMPLATE,
  });
  return { dir: outDir, config, written };
}
