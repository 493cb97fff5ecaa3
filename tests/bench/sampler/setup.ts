// Shared settings of the sampler benchmark: the demo model, the prompts and the sampling parameters.

import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultSamplingConfig } from "../../../app/domain/sampling/config";
import { demoCorpusDir } from "../../../inference/tokenizer/demo-tokenizer";

const here = path.dirname(fileURLToPath(import.meta.url));

export const BENCH = {
  modelDir: path.resolve(here, "../../../.cache/bench-sampler-model"),
  model: { layers: 4, dModel: 256, heads: 4, context: 512, seed: 1 },
  prompts: 32,
  k: 4,
  newTokens: 128,
  threads: 2,
  seed: 1,
};

/** Which sampling parameters a run uses. */
export type ParamsMode = "plain" | "default";

export interface BenchSampling {
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
}

/**
 * "plain": temperature 0.7 and no filter or penalty (the sampler's cheapest path). "default": the
 * project's default sampling config (what a project samples with unless it changes it).
 */
export function benchSampling(mode: ParamsMode): BenchSampling {
  if (mode === "plain") return { temperature: 0.7, topK: 0, topP: 1, repetitionPenalty: 1 };
  const { temperature, topK, topP, repetitionPenalty } = defaultSamplingConfig().params;
  return { temperature, topK, topP, repetitionPenalty };
}

export function paramsMode(arg: string | undefined): ParamsMode {
  return arg === "default" ? "default" : "plain";
}

/** The first prompts of the prompt-lottery sample (one JSON string per line). */
export function benchPrompts(): string[] {
  const file = path.join(demoCorpusDir(), "prompt_lottery_en_250_text.jsonl");
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .slice(0, BENCH.prompts)
    .map((l) => JSON.parse(l) as string);
}

export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Children report one JSON line on stdout, prefixed so that library output cannot be mistaken for it. */
export const RESULT_PREFIX = "BENCH_RESULT ";
