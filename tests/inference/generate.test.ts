// generate(): seeded determinism, stop strings, EOS, dedupe, k completions for several prompts in one
// batch, and clear errors on impossible parameters.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCausalLM, type CausalLM } from "../../inference/causal-lm";
import type { Conversation } from "../../inference/chat-template";
import { GenerationParamError } from "../../inference/errors";
import type { GenerateParams } from "../../inference/generation/params";
import { removeTempDirs, writeTinyModel } from "./tiny-model";

const hello: Conversation = [{ role: "prompter", text: "Hello there, how are you?" }];
const hi: Conversation = [{ role: "prompter", text: "Hi" }];

describe("generate", () => {
  let lm: CausalLM;

  beforeAll(async () => {
    lm = await loadCausalLM(writeTinyModel({ seed: 7 }).dir, { intraOpThreads: 1, log: () => {} });
  });
  afterAll(async () => {
    await lm.dispose();
    removeTempDirs();
  });

  it("gives the same texts for the same seed and params, and others for another seed", async () => {
    const params: GenerateParams = { prompts: [hello, hi], k: 3, temperature: 1, topK: 50, topP: 0.95, maxNewTokens: 12, seed: 1234 };
    const a = await lm.generate(params);
    const b = await lm.generate(params);
    const c = await lm.generate({ ...params, seed: 99 });
    const texts = (r: typeof a) => r.results.map((p) => p.completions.map((x) => x.tokenIds.join(",")));
    expect(texts(b)).toEqual(texts(a));
    expect(texts(c)).not.toEqual(texts(a));
    expect(a.results[0].completions.map((x) => x.seed)).toEqual([1234, 1235, 1236]);
    expect(a.results[1].completions.map((x) => x.seed)).toEqual([1237, 1238, 1239]);
  });

  it("draws a completion again from its own seed with k = 1", async () => {
    const batch = await lm.generate({ prompts: [hello, hi], k: 3, temperature: 0.9, maxNewTokens: 10, seed: 500 });
    const one = batch.results[1].completions[2];
    const again = await lm.generate({ prompts: [hi], k: 1, temperature: 0.9, maxNewTokens: 10, seed: one.seed });
    expect(again.results[0].completions[0].tokenIds).toEqual(one.tokenIds);
  });

  it("returns k completions per prompt with per-token logprobs and timing", async () => {
    const r = await lm.generate({ prompts: [hello, hi, hello], k: 4, temperature: 1, maxNewTokens: 8, seed: 7 });
    expect(r.results).toHaveLength(3);
    for (const p of r.results) {
      expect(p.completions.length + p.duplicates).toBe(4);
      for (const c of p.completions) {
        expect(c.numTokens).toBe(c.tokenIds.length);
        expect(c.logprobs).toHaveLength(c.numTokens);
        expect(c.logprobs.every((l) => l <= 0 && Number.isFinite(l))).toBe(true);
        expect(c.sumLogprob).toBeCloseTo(c.logprobs.reduce((a, b) => a + b, 0), 10);
        expect(c.meanLogprob).toBeCloseTo(c.sumLogprob / c.numTokens, 10);
        expect(["eos", "stop", "length"]).toContain(c.finishReason);
      }
    }
    expect(r.provider).toBe("cpu");
    expect(r.timing.generatedTokens).toBeGreaterThan(0);
    expect(r.timing.promptTokens).toBe(r.results.reduce((a, p) => a + p.promptTokens, 0));
  });

  it("greedy k completions are deduplicated and counted", async () => {
    const r = await lm.generate({ prompts: [hello], k: 4, temperature: 0, maxNewTokens: 10, seed: 1 });
    expect(r.results[0].completions).toHaveLength(1);
    expect(r.results[0].duplicates).toBe(3);
    expect(r.duplicates).toBe(3);
  });

  it("top-k = 1 sampling equals greedy decoding", async () => {
    const greedy = await lm.generate({ prompts: [hello], temperature: 0, maxNewTokens: 12, seed: 1 });
    const topOne = await lm.generate({ prompts: [hello], temperature: 1.3, topK: 1, maxNewTokens: 12, seed: 77 });
    expect(topOne.results[0].completions[0].tokenIds).toEqual(greedy.results[0].completions[0].tokenIds);
  });

  it("ends a completion at a stop string and cuts the text before it", async () => {
    const full = (await lm.generate({ prompts: [hello], temperature: 0, maxNewTokens: 24, seed: 1 })).results[0].completions[0];
    // A stop string that first occurs a few characters in.
    const start = [...full.text].findIndex((ch, i) => i >= 3 && /[A-Za-z0-9 ]/.test(ch));
    expect(start).toBeGreaterThan(0);
    const stopText = [...full.text][start];
    const r = await lm.generate({ prompts: [hello], temperature: 0, maxNewTokens: 24, stop: ["zzz-never", stopText], seed: 1 });
    const c = r.results[0].completions[0];
    expect(c.finishReason).toBe("stop");
    expect(c.text).toBe(full.text.slice(0, full.text.indexOf(stopText)));
    expect(c.tokenIds).toEqual(full.tokenIds.slice(0, c.tokenIds.length));
    expect(c.numTokens).toBeLessThan(full.numTokens);
  });

  it("stops at EOS unless minNewTokens masks it", async () => {
    // A heavily EOS-biased model: every completion ends with EOS right away unless it is masked.
    const eosModel = writeTinyModel({ seed: 7 });
    const { readGpt2ModelDir, writeGpt2ModelDir } = await import("../../inference/models/gpt2-dir");
    const { config, weights } = readGpt2ModelDir(eosModel.dir);
    const lnBias = weights.get("transformer.ln_f.bias")!.data as Float32Array;
    const wte = weights.get("transformer.wte.weight")!.data as Float32Array;
    // Shift the final hidden state towards the EOS embedding.
    for (let i = 0; i < config.nEmbd; i++) lnBias[i] += 50 * wte[config.eosTokenId * config.nEmbd + i];
    const { bytesOnlyTokenizerJson } = await import("../../inference/tokenizer/byte-level");
    writeGpt2ModelDir(eosModel.dir, {
      config,
      weights,
      tokenizer: bytesOnlyTokenizerJson(["<|endoftext|>", "<|prompter|>", "<|assistant|>", "<|system|>"]),
      specialTokens: { bos: "<|endoftext|>", eos: "<|endoftext|>", pad: "<|endoftext|>" },
    });
    const m = await loadCausalLM(eosModel.dir, { intraOpThreads: 1, log: () => {} });
    try {
      const ended = await m.generate({ prompts: [hello], k: 2, temperature: 1, maxNewTokens: 8, seed: 3 });
      for (const c of ended.results[0].completions) {
        expect(c.finishReason).toBe("eos");
        expect(c.tokenIds.at(-1)).toBe(config.eosTokenId);
        expect(c.text).toBe("");
      }
      const forced = await m.generate({ prompts: [hello], k: 2, temperature: 1, maxNewTokens: 8, minNewTokens: 5, seed: 3 });
      for (const c of forced.results[0].completions) {
        expect(c.numTokens).toBeGreaterThanOrEqual(5);
        expect(c.tokenIds.slice(0, 5)).not.toContain(config.eosTokenId);
      }
    } finally {
      await m.dispose();
    }
  });

  it("ends at the context length with finishReason 'length'", async () => {
    const prompt: Conversation = [{ role: "prompter", text: "x".repeat(50) }];
    const r = await lm.generate({ prompts: [prompt], temperature: 0, maxNewTokens: 40, seed: 1 });
    const c = r.results[0].completions[0];
    expect(r.results[0].promptTokens + c.numTokens).toBeLessThanOrEqual(64);
    if (c.finishReason === "length") expect(r.results[0].promptTokens + c.numTokens).toBe(64);
  });

  const bad: [string, Partial<GenerateParams>][] = [
    ["topP", { topP: 0 }],
    ["topP", { topP: 1.5 }],
    ["temperature", { temperature: -0.5 }],
    ["k", { k: 0 }],
    ["maxNewTokens", { maxNewTokens: 0 }],
    ["minNewTokens", { minNewTokens: 20, maxNewTokens: 10 }],
    ["topK", { topK: -3 }],
    ["repetitionPenalty", { repetitionPenalty: 0 }],
    ["stop", { stop: [""] }],
    ["seed", { seed: -1 }],
    ["prompts", { prompts: [] }],
    ["prompts", { prompts: [[{ role: "assistant", text: "hi" }]] }],
  ];
  it.each(bad)("rejects an impossible %s", async (param, override) => {
    const err = await lm.generate({ prompts: [hello], ...override }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GenerationParamError);
    expect((err as GenerationParamError).param).toBe(param);
  });

  it("rejects a prompt longer than the context", async () => {
    const err = await lm.generate({ prompts: [hi, [{ role: "prompter", text: "y".repeat(100) }]] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GenerationParamError);
    expect((err as Error).message).toMatch(/prompt 1 has \d+ tokens; the model's context is 64 tokens/);
  });

  it("applies a repetition penalty", async () => {
    const plain = await lm.generate({ prompts: [hello], temperature: 0, maxNewTokens: 20, seed: 1 });
    const penalised = await lm.generate({ prompts: [hello], temperature: 0, maxNewTokens: 20, repetitionPenalty: 5, seed: 1 });
    const distinct = (ids: number[]) => new Set(ids).size;
    expect(distinct(penalised.results[0].completions[0].tokenIds)).toBeGreaterThanOrEqual(distinct(plain.results[0].completions[0].tokenIds));
    expect(penalised.results[0].completions[0].tokenIds).not.toEqual(plain.results[0].completions[0].tokenIds);
  });
});
