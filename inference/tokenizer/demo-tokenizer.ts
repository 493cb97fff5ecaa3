// The demo tokenizer: byte-level BPE with 8,192 tokens trained on the Open-Assistant sample texts.
// A generated copy lives in inference/assets/tokenizer.json (regenerate: inference/scripts/build-tokenizer.ts).

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { trainByteLevelBpe } from "./bpe-trainer";
import type { TokenizerJson } from "./byte-level";
import { readOasstTexts } from "./corpus";

export const EOT = "<|endoftext|>";
/** Ids 0..3: end of text (also bos and pad) and the chat role markers. */
export const DEMO_SPECIAL_TOKENS = [EOT, "<|prompter|>", "<|assistant|>", "<|system|>"] as const;
export const DEMO_VOCAB_SIZE = 8192;

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEMO_TOKENIZER_ASSET = path.resolve(here, "../assets/tokenizer.json");

/** The Open-Assistant sample the repository carries (tests/fixtures/oasst), or $OASST_FIXTURES. */
export function demoCorpusDir(): string {
  return process.env.OASST_FIXTURES ?? path.resolve(here, "../../tests/fixtures/oasst");
}

export function trainDemoTokenizer(corpusDir = demoCorpusDir()): TokenizerJson {
  return trainByteLevelBpe(readOasstTexts(corpusDir), { vocabSize: DEMO_VOCAB_SIZE, specialTokens: [...DEMO_SPECIAL_TOKENS] });
}

/** The committed tokenizer.json, or a freshly trained one when the asset is missing. */
export function loadDemoTokenizer(): TokenizerJson {
  if (existsSync(DEMO_TOKENIZER_ASSET)) return JSON.parse(readFileSync(DEMO_TOKENIZER_ASSET, "utf8")) as TokenizerJson;
  return trainDemoTokenizer();
}
