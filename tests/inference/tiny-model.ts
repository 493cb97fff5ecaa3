// A tiny GPT-2 (2 layers, d 64, byte-level vocabulary of 260) written to a temporary directory.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { OASST_CHAT_TEMPLATE } from "../../inference/chat-template";
import { initGpt2Weights, type Gpt2Config, type Gpt2Weights } from "../../inference/models/gpt2";
import { writeGpt2ModelDir, type Gpt2DirOptions } from "../../inference/models/gpt2-dir";
import { bytesOnlyTokenizerJson } from "../../inference/tokenizer/byte-level";
import { DEMO_SPECIAL_TOKENS, EOT } from "../../inference/tokenizer/demo-tokenizer";

export const TINY: Gpt2Config = {
  vocabSize: 260,
  nPositions: 64,
  nEmbd: 64,
  nLayer: 2,
  nHead: 4,
  layerNormEpsilon: 1e-5,
  bosTokenId: 0,
  eosTokenId: 0,
  padTokenId: 0,
};

const WEIGHT_SCALE = 10;

export interface TinyModel {
  dir: string;
  config: Gpt2Config;
  weights: Gpt2Weights;
}

const dirs: string[] = [];

export function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "inference-test-"));
  dirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function writeTinyModel(
  opts: { seed?: number; config?: Partial<Gpt2Config>; modelPath?: Gpt2DirOptions["modelPath"]; tokenizer?: object; chatTemplate?: string | null } = {},
): TinyModel {
  const config = { ...TINY, ...opts.config };
  const weights = initGpt2Weights(config, opts.seed ?? 7);
  // GPT-2's init (std 0.02) makes a tiny untrained model repeat its last token; larger weights give
  // varied, peaky predictions, which exercise sampling and comparisons better.
  for (const [name, t] of weights) {
    if (!/ln_|\.bias$/.test(name)) (t.data as Float32Array).forEach((v, i, a) => (a[i] = v * WEIGHT_SCALE));
  }
  const dir = tempDir();
  writeGpt2ModelDir(dir, {
    config,
    weights,
    tokenizer: opts.tokenizer ?? bytesOnlyTokenizerJson([...DEMO_SPECIAL_TOKENS]),
    specialTokens: { bos: EOT, eos: EOT, pad: EOT },
    chatTemplate: opts.chatTemplate === null ? undefined : (opts.chatTemplate ?? OASST_CHAT_TEMPLATE),
    modelPath: opts.modelPath,
  });
  return { dir, config, weights };
}
