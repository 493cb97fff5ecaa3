// Generation parameters: defaults and validation (each error names the parameter).

import { randomInt } from "node:crypto";
import { validateConversation, type Conversation } from "../chat-template";
import { GenerationParamError } from "../errors";

export interface GenerateParams {
  /** One conversation per prompt; each ends with a prompter (or system) turn. */
  prompts: Conversation[];
  /** Completions per prompt (default 1). */
  k?: number;
  /** 0 = greedy; default 1. */
  temperature?: number;
  /** 0 = no top-k filter (default). */
  topK?: number;
  /** 1 = no nucleus filter (default). */
  topP?: number;
  /** 1 = none (default). */
  repetitionPenalty?: number;
  /** Default 128. */
  maxNewTokens?: number;
  /** End-of-sequence is masked until this many tokens were generated (default 0). */
  minNewTokens?: number;
  /** Generation of a completion ends when its text contains one of these (the text is cut before it). */
  stop?: string[];
  /** Base seed; completion i (prompt-major, i = prompt·k + j) uses seed + i. Random when omitted. */
  seed?: number;
  /** Keep completions whose text repeats an earlier one of the same prompt (RL rollouts need all k); default false. */
  keepDuplicates?: boolean;
}

export type ResolvedParams = Required<GenerateParams>;

export function resolveParams(p: GenerateParams): ResolvedParams {
  if (!p || !Array.isArray(p.prompts) || p.prompts.length === 0) throw new GenerationParamError("prompts", "must be a non-empty array of conversations");
  p.prompts.forEach(validateConversation);
  const r: ResolvedParams = {
    prompts: p.prompts,
    k: p.k ?? 1,
    temperature: p.temperature ?? 1,
    topK: p.topK ?? 0,
    topP: p.topP ?? 1,
    repetitionPenalty: p.repetitionPenalty ?? 1,
    maxNewTokens: p.maxNewTokens ?? 128,
    minNewTokens: p.minNewTokens ?? 0,
    stop: p.stop ?? [],
    seed: p.seed ?? randomInt(0, 2 ** 32 - 1),
    keepDuplicates: p.keepDuplicates ?? false,
  };
  if (!Number.isInteger(r.k) || r.k < 1) throw new GenerationParamError("k", `must be an integer >= 1, got ${r.k}`);
  if (!Number.isFinite(r.temperature) || r.temperature < 0) throw new GenerationParamError("temperature", `must be a finite number >= 0 (0 = greedy), got ${r.temperature}`);
  if (!Number.isInteger(r.topK) || r.topK < 0) throw new GenerationParamError("topK", `must be an integer >= 0 (0 = off), got ${r.topK}`);
  if (!(r.topP > 0 && r.topP <= 1)) throw new GenerationParamError("topP", `must be in (0, 1], got ${r.topP}`);
  if (!Number.isFinite(r.repetitionPenalty) || r.repetitionPenalty <= 0) {
    throw new GenerationParamError("repetitionPenalty", `must be a finite number > 0 (1 = off), got ${r.repetitionPenalty}`);
  }
  if (!Number.isInteger(r.maxNewTokens) || r.maxNewTokens < 1) throw new GenerationParamError("maxNewTokens", `must be an integer >= 1, got ${r.maxNewTokens}`);
  if (!Number.isInteger(r.minNewTokens) || r.minNewTokens < 0 || r.minNewTokens > r.maxNewTokens) {
    throw new GenerationParamError("minNewTokens", `must be an integer in [0, maxNewTokens = ${r.maxNewTokens}], got ${r.minNewTokens}`);
  }
  if (!Array.isArray(r.stop) || r.stop.some((s) => typeof s !== "string" || s.length === 0)) {
    throw new GenerationParamError("stop", "must be an array of non-empty strings");
  }
  if (!Number.isInteger(r.seed) || r.seed < 0 || r.seed > 0xffffffff) throw new GenerationParamError("seed", `must be an integer in [0, 2^32), got ${r.seed}`);
  return r;
}
