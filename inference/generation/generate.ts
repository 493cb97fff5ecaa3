// The generation loop: chat-formatted prompts → prefill (each prompt once, in groups of similar
// length) → its KV cache copied for the k completions → batched decode with per-completion seeded
// sampling from the distribution the graph computes.

import { GenerationParamError } from "../errors";
import type { ModelTokenizer } from "../loader/tokenizer";
import type { DecoderRunner, StepOutput } from "../runtime/decoder";
import { DistributionSampler } from "../sampling/distribution";
import { applyRepetitionPenalty, argmax, logSumExp } from "../sampling/logits";
import { Rng } from "../sampling/rng";
import { resolveParams, type GenerateParams, type ResolvedParams } from "./params";
import { StopMatcher } from "./stop";

export type FinishReason = "eos" | "stop" | "length";

export interface Completion {
  /** Decoded text without special tokens, cut before a matched stop string. */
  text: string;
  /** Generated ids, including a final end-of-sequence token and the token that completed a stop string. */
  tokenIds: number[];
  finishReason: FinishReason;
  /**
   * Per token: log-probability of the chosen token under the distribution it was drawn from (after
   * repetition penalty, the min-new-tokens EOS mask, temperature, top-k and top-p). With temperature 0
   * (greedy): under softmax of the logits after penalty and mask.
   */
  logprobs: number[];
  sumLogprob: number;
  meanLogprob: number;
  numTokens: number;
  /** The seed of this completion's sampler: generate with this seed and k = 1 to draw it again. */
  seed: number;
}

export interface PromptResult {
  /** The prompt text after the chat template. */
  promptText: string;
  promptTokens: number;
  /** Completions in draw order: distinct ones unless keepDuplicates was asked for. */
  completions: Completion[];
  /** How many drawn completions had the same text as an earlier one and were dropped. */
  duplicates: number;
}

export interface GenerateTiming {
  /** Tokenisation, prompt forward pass and first token. */
  prefillMs: number;
  decodeMs: number;
  totalMs: number;
  /** Prompt tokens processed (each prompt once, padding excluded). */
  promptTokens: number;
  /** Tokens generated over all completions, duplicates included. */
  generatedTokens: number;
  /** generatedTokens / totalMs. */
  tokensPerSecond: number;
  prefillTokensPerSecond: number;
}

export interface GenerateResult {
  results: PromptResult[];
  duplicates: number;
  timing: GenerateTiming;
  provider: string;
  cacheStrategy: string;
  params: ResolvedParams;
}

export interface GenerationModel {
  runner: DecoderRunner;
  tokenizer: ModelTokenizer;
  contextLength: number;
  eosTokenIds: number[];
  padTokenId: number;
}

interface RowState {
  prompt: number;
  seed: number;
  rng: Rng;
  promptLen: number;
  maxTokens: number;
  tokens: number[];
  logprobs: number[];
  seen: Uint8Array | null;
  seenList: number[];
  finish: FinishReason | null;
  stopAt: number;
}

export async function generate(model: GenerationModel, input: GenerateParams): Promise<GenerateResult> {
  const started = performance.now();
  const p = resolveParams(input);
  const { runner, tokenizer } = model;
  const V = runner.vocab;

  const promptTexts = p.prompts.map((conv) => tokenizer.chat.render(conv));
  const promptIds = promptTexts.map((t) => tokenizer.encode(t));
  promptIds.forEach((ids, i) => {
    if (ids.length === 0) throw new GenerationParamError("prompts", `prompt ${i} encodes to no tokens`);
    if (ids.length >= model.contextLength) {
      throw new GenerationParamError("prompts", `prompt ${i} has ${ids.length} tokens; the model's context is ${model.contextLength} tokens`);
    }
    if (ids.length + p.minNewTokens > model.contextLength) {
      throw new GenerationParamError("minNewTokens", `prompt ${i} (${ids.length} tokens) + ${p.minNewTokens} new tokens exceed the context of ${model.contextLength}`);
    }
  });

  const rows: RowState[] = [];
  for (let i = 0; i < p.prompts.length; i++) {
    for (let j = 0; j < p.k; j++) {
      const seed = (p.seed + i * p.k + j) >>> 0;
      const promptLen = promptIds[i].length;
      const row: RowState = {
        prompt: i,
        seed,
        rng: new Rng(seed),
        promptLen,
        maxTokens: Math.min(p.maxNewTokens, model.contextLength - promptLen),
        tokens: [],
        logprobs: [],
        seen: p.repetitionPenalty !== 1 ? new Uint8Array(V) : null,
        seenList: [],
        finish: null,
        stopAt: -1,
      };
      if (row.seen) for (const t of promptIds[i]) markSeen(row, t);
      rows.push(row);
    }
  }

  const stop = p.stop.length ? new StopMatcher(p.stop, (ids) => tokenizer.decode(ids)) : null;
  const eos = new Set(model.eosTokenIds.filter((e) => e >= 0 && e < V));
  const greedy = p.temperature === 0;
  // Greedy decoding reads the raw logits (argmax with the reference's tie order); sampling reads
  // softmax(logits / temperature) as the graph computed it.
  const temperature = greedy ? 1 : p.temperature;
  const sampler = new DistributionSampler(V);
  const filters = { temperature, topK: p.topK, topP: p.topP, repetitionPenalty: p.repetitionPenalty };
  const noEos: number[] = [];

  const pick = (row: RowState, out: StepOutput, b: number) => {
    const masked = row.tokens.length < p.minNewTokens ? eos : noEos;
    let token: number;
    let logprob: number;
    if (greedy) {
      const logits = out.logits!.subarray(b * V, (b + 1) * V);
      if (row.seen) applyRepetitionPenalty(logits, row.seenList, p.repetitionPenalty);
      for (const e of masked) if (e < V) logits[e] = -Infinity;
      token = argmax(logits);
      logprob = logits[token] - logSumExp(logits);
    } else {
      ({ token, logprob } = sampler.sample(out.probs.subarray(b * V, (b + 1) * V), out.logNorm[b], filters, row.seenList, masked, row.rng));
    }
    row.tokens.push(token);
    row.logprobs.push(logprob);
    if (row.seen) markSeen(row, token);
    if (eos.has(token)) row.finish = "eos";
    else if (stop && row.tokens.length >= p.minNewTokens && (row.stopAt = stop.check(row.tokens)) >= 0) row.finish = "stop";
    else if (row.tokens.length >= row.maxTokens) row.finish = "length";
  };

  // Prefill each distinct prompt once; its last position's distribution seeds all k completions
  // (each gets its own copy, as filters change it in place).
  const prefill = await runner.forward(promptIds, model.padTokenId, temperature, greedy);
  const first: StepOutput = { probs: new Float32Array(V), logNorm: new Float32Array(1), logits: greedy ? new Float32Array(V) : null };
  rows.forEach((row) => {
    const range = [row.prompt * V, (row.prompt + 1) * V] as const;
    first.probs.set(prefill.probs.subarray(...range));
    first.logNorm[0] = prefill.logNorm[row.prompt];
    first.logits?.set(prefill.logits!.subarray(...range));
    pick(row, first, 0);
  });
  const prefillDone = performance.now();
  const cache = runner.makeCache(prefill, p.k);

  // Decode: batch row b holds rows[batch[b]].
  try {
    let batch = rows.map((_, i) => i);
    let tokens = new BigInt64Array(batch.length);
    let positions = new BigInt64Array(batch.length);
    while (batch.some((r) => rows[r].finish === null)) {
      const active = batch.filter((r) => rows[r].finish === null);
      if (active.length <= batch.length / 2) {
        runner.compact(
          cache,
          active.map((r) => batch.indexOf(r)),
        );
        batch = active;
        tokens = new BigInt64Array(batch.length);
        positions = new BigInt64Array(batch.length);
      }
      for (let b = 0; b < batch.length; b++) {
        const row = rows[batch[b]];
        tokens[b] = BigInt(row.tokens[row.tokens.length - 1]);
        positions[b] = BigInt(row.promptLen + row.tokens.length - 1);
      }
      const out = await runner.step(cache, tokens, positions, temperature, greedy);
      for (let b = 0; b < batch.length; b++) {
        const row = rows[batch[b]];
        if (row.finish === null) pick(row, out, b);
      }
    }
  } finally {
    runner.release(cache);
  }
  const finished = performance.now();

  // Completions grouped per prompt, duplicates (same text) dropped unless asked to keep them.
  const results: PromptResult[] = promptTexts.map((promptText, i) => ({ promptText, promptTokens: promptIds[i].length, completions: [], duplicates: 0 }));
  const seenTexts = promptTexts.map(() => new Set<string>());
  let generatedTokens = 0;
  for (const row of rows) {
    generatedTokens += row.tokens.length;
    let text = tokenizer.decode(row.tokens);
    if (row.finish === "stop" && row.stopAt >= 0) text = text.slice(0, row.stopAt);
    const res = results[row.prompt];
    if (!p.keepDuplicates && seenTexts[row.prompt].has(text)) {
      res.duplicates++;
      continue;
    }
    seenTexts[row.prompt].add(text);
    const sum = row.logprobs.reduce((a, b) => a + b, 0);
    res.completions.push({
      text,
      tokenIds: row.tokens,
      finishReason: row.finish!,
      logprobs: row.logprobs,
      sumLogprob: sum,
      meanLogprob: row.tokens.length ? sum / row.tokens.length : 0,
      numTokens: row.tokens.length,
      seed: row.seed,
    });
  }
  const totalMs = performance.now() - started;
  const prefillMs = prefillDone - started;
  const promptTokens = promptIds.reduce((a, ids) => a + ids.length, 0);
  return {
    results,
    duplicates: results.reduce((a, r) => a + r.duplicates, 0),
    timing: {
      prefillMs,
      decodeMs: finished - prefillDone,
      totalMs,
      promptTokens,
      generatedTokens,
      tokensPerSecond: generatedTokens / (totalMs / 1000),
      prefillTokensPerSecond: promptTokens / (prefillMs / 1000),
    },
    provider: runner.provider,
    cacheStrategy: runner.strategy,
    params: p,
  };
}

function markSeen(row: RowState, token: number): void {
  if (row.seen && token >= 0 && token < row.seen.length && !row.seen[token]) {
    row.seen[token] = 1;
    row.seenList.push(token);
  }
}
