// Benchmark child: a sampling run's batches at the product's defaults (app/domain/sampling/config.ts:
// a run of 64 parents, 8 prompts a batch, the default sampling parameters, 1 model reply each), on
// the conversations a run meets: every prompter message of the Open-Assistant trees in
// tests/fixtures/oasst, with the conversation up to it (a first prompt, or a reply deep in a tree),
// as far as it leaves room for the new tokens in the model's context. They are cut into batches in
// the order they come and as the sampling worker cuts them (batchesBySimilarLength). Each batch's
// decode cache holds its prompts left-padded to its longest. Both orders run twice, alternating;
// each keeps its faster round. Reports tok/s and the padded share of the batches' prompt slots.

import { readFileSync } from "node:fs";
import path from "node:path";
import { batchesBySimilarLength } from "../../../app/domain/sampling/batches";
import { defaultSamplingConfig } from "../../../app/domain/sampling/config";
import { loadCausalLM, type Conversation } from "../../../inference/index";
import { demoCorpusDir } from "../../../inference/tokenizer/demo-tokenizer";
import { BENCH, RESULT_PREFIX } from "./setup";

interface TreeMessage {
  text: string;
  role: "prompter" | "assistant";
  deleted?: boolean;
  replies?: TreeMessage[];
}

/** Every live prompter message's conversation (root first), tree by tree, depth first. */
function conversations(file: string): Conversation[] {
  const out: Conversation[] = [];
  const walk = (m: TreeMessage, path: Conversation) => {
    if (m.deleted) return;
    const here = [...path, { role: m.role, text: m.text }];
    if (m.role === "prompter") out.push(here);
    for (const r of m.replies ?? []) walk(r, here);
  };
  for (const line of readFileSync(file, "utf8").split("\n")) if (line.trim()) walk((JSON.parse(line) as { prompt: TreeMessage }).prompt, []);
  return out;
}

const config = defaultSamplingConfig();
const model = await loadCausalLM(BENCH.modelDir, { intraOpThreads: BENCH.threads, log: (l) => console.error(l) });
const lengthOf = (conv: Conversation) => model.tokenizer.encode(model.tokenizer.chat.render(conv)).length;
const room = model.config.contextLength - config.params.maxNewTokens;
const texts = conversations(path.join(demoCorpusDir(), "en_100_tree.jsonl"))
  .filter((c) => lengthOf(c) <= room)
  .slice(0, config.maxParentsPerRun);
const inOrder: Conversation[][] = [];
for (let i = 0; i < texts.length; i += config.batchPrompts) inOrder.push(texts.slice(i, i + config.batchPrompts));
const byLength = batchesBySimilarLength(texts, lengthOf, config.batchPrompts);

const paddedShare = (batches: Conversation[][]) => {
  let slots = 0;
  let padded = 0;
  for (const b of batches) {
    const lengths = b.map(lengthOf);
    const longest = Math.max(...lengths);
    slots += b.length * longest;
    padded += lengths.reduce((n, l) => n + longest - l, 0);
  }
  return padded / slots;
};

const { params } = config;
const run = async (batches: Conversation[][]) => {
  let tokens = 0;
  const started = performance.now();
  for (const [i, prompts] of batches.entries()) {
    const result = await model.generate({ prompts, k: config.modelRepliesPerParent, seed: BENCH.seed + i, ...params });
    tokens += result.timing.generatedTokens;
  }
  return { tokens, ms: performance.now() - started };
};

await run(inOrder.slice(0, 1)); // warm-up: session set-up and the first touch of the cache's memory
const best = { inOrder: 0, byLength: 0 };
for (let round = 0; round < 2; round++) {
  for (const [key, batches] of [["inOrder", inOrder], ["byLength", byLength]] as const) {
    const r = await run(batches);
    const tps = r.tokens / (r.ms / 1000);
    console.error(`mixed lengths, ${key}: ${r.tokens} tokens in ${(r.ms / 1000).toFixed(2)} s (${tps.toFixed(0)} tok/s)`);
    best[key] = Math.max(best[key], tps);
  }
}
console.log(
  RESULT_PREFIX +
    JSON.stringify({
      prompts: texts.length,
      promptTokens: texts.map(lengthOf),
      batchPrompts: config.batchPrompts,
      inOrderTps: best.inOrder,
      byLengthTps: best.byLength,
      inOrderPadded: paddedShare(inOrder),
      byLengthPadded: paddedShare(byLength),
    }),
);
await model.dispose();
