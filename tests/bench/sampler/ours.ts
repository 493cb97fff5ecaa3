// Benchmark child: our sampler on the demo model. Arguments: "auto" or "present" (cache strategy),
// then "plain" or "default" (sampling parameters, see setup.ts).

import { loadCausalLM } from "../../../inference/index";
import { BENCH, benchPrompts, benchSampling, paramsMode, peakRssMb, RESULT_PREFIX } from "./setup";

const strategy = process.argv[2] === "present" ? "present" : "auto";
const model = await loadCausalLM(BENCH.modelDir, { intraOpThreads: BENCH.threads, cacheStrategy: strategy, log: (l) => console.error(l) });
const prompts = benchPrompts().map((text) => [{ role: "prompter" as const, text }]);
const params = {
  k: BENCH.k,
  ...benchSampling(paramsMode(process.argv[3])),
  maxNewTokens: BENCH.newTokens,
  minNewTokens: BENCH.newTokens,
  seed: BENCH.seed,
};

// Warm-up: the same call once, not timed. A sampler serves batch after batch; the first pays one-time
// costs (session setup, the first touch of the KV cache's memory). The other engine gets the same.
await model.generate({ ...params, prompts });
model.runner.stats.runs = 0;
model.runner.stats.runMs = 0;

const started = performance.now();
const result = await model.generate({ ...params, prompts });
const wallMs = performance.now() - started;
const stats = model.runner.stats;
console.error(
  `ours (${result.cacheStrategy}): ${result.timing.generatedTokens} tokens in ${(wallMs / 1000).toFixed(2)} s; ` +
    `onnxruntime ${(stats.runMs / 1000).toFixed(2)} s in ${stats.runs} runs, other ${((wallMs - stats.runMs) / 1000).toFixed(2)} s`,
);
console.log(
  RESULT_PREFIX +
    JSON.stringify({
      generatedTokens: result.timing.generatedTokens,
      wallMs,
      prefillMs: result.timing.prefillMs,
      promptTokens: result.timing.promptTokens,
      sessionRunMs: stats.runMs,
      sessionRuns: stats.runs,
      duplicates: result.duplicates,
      provider: result.provider,
      cacheStrategy: result.cacheStrategy,
      peakRssMb: peakRssMb(),
    }),
);
await model.dispose();
