// The ONNX GPT-2 graph against an independent plain-TS forward pass: logits and exact greedy ids.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCausalLM, type CausalLM } from "../../inference/causal-lm";
import { referenceGreedy, referenceLogits } from "./reference-gpt2";
import { removeTempDirs, writeTinyModel, type TinyModel } from "./tiny-model";

describe("gpt2 graph vs plain-TS reference", () => {
  let tiny: TinyModel;
  let lm: CausalLM;

  beforeAll(async () => {
    tiny = writeTinyModel({ seed: 7 });
    lm = await loadCausalLM(tiny.dir, { intraOpThreads: 1, log: () => {} });
  });
  afterAll(async () => {
    await lm.dispose();
    removeTempDirs();
  });

  it("gives the reference logits at every position", async () => {
    const ids = [72, 105, 33, 10, 200, 3, 17, 99];
    const ref = referenceLogits(tiny.config, tiny.weights, ids);
    let maxErr = 0;
    // The sampler's graph gives the last position's logits: position t is the last of the prefix ids[0..t].
    for (let t = 0; t < ids.length; t++) {
      const { logits } = await lm.runner.forward([ids.slice(0, t + 1)], 0, 1, true);
      for (let v = 0; v < tiny.config.vocabSize; v++) maxErr = Math.max(maxErr, Math.abs(logits![v] - ref[t][v]));
    }
    expect(maxErr).toBeLessThan(1e-3);
  });

  it("greedy decoding gives the reference's token ids", async () => {
    const prompts = [
      [{ role: "prompter" as const, text: "Hello there, how are you?" }],
      [{ role: "system" as const, text: "Be brief." }, { role: "prompter" as const, text: "Hi" }],
    ];
    const result = await lm.generate({ prompts, k: 1, temperature: 0, maxNewTokens: 16, seed: 3 });
    for (let i = 0; i < prompts.length; i++) {
      const promptIds = lm.tokenizer.encode(lm.tokenizer.chat.render(prompts[i]));
      const expected = referenceGreedy(tiny.config, tiny.weights, promptIds, 16, tiny.config.eosTokenId);
      expect(result.results[i].completions[0].tokenIds).toEqual(expected);
      expect(new Set(expected).size).toBeGreaterThan(3); // a non-degenerate continuation
    }
  });
});
