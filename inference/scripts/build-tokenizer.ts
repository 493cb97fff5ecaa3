// Regenerates inference/assets/tokenizer.json from the Open-Assistant fixtures and checks it round-trips.
// Usage: npx tsx inference/scripts/build-tokenizer.ts [corpusDir]

import { writeFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";
import { readOasstTexts } from "../tokenizer/corpus";
import { DEMO_TOKENIZER_ASSET, demoCorpusDir, trainDemoTokenizer } from "../tokenizer/demo-tokenizer";

const corpusDir = process.argv[2] ?? demoCorpusDir();
const started = performance.now();
const tokenizerJson = trainDemoTokenizer(corpusDir);
const trainedMs = performance.now() - started;

const tokenizer = new Tokenizer(tokenizerJson, { clean_up_tokenization_spaces: false });
const texts = readOasstTexts(corpusDir);
let tokens = 0;
for (const text of texts) {
  const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
  tokens += ids.length;
  if (tokenizer.decode(ids) !== text) throw new Error(`round trip failed for: ${text.slice(0, 80)}`);
}
writeFileSync(DEMO_TOKENIZER_ASSET, JSON.stringify(tokenizerJson));
console.log(
  `trained ${Object.keys(tokenizerJson.model.vocab).length} tokens in ${(trainedMs / 1000).toFixed(1)} s; ` +
    `${texts.length} texts → ${tokens} tokens round-trip; wrote ${DEMO_TOKENIZER_ASSET}`,
);
