// buildDemoModel: the demo tokenizer plus a seeded GPT-2, idempotent, valid, and ready to sample.

import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadCausalLM } from "../../inference/causal-lm";
import { buildDemoModel } from "../../inference/demo-model";
import { validateModelDir } from "../../inference/validate";
import { removeTempDirs, tempDir } from "./tiny-model";

afterAll(removeTempDirs);

describe("buildDemoModel", () => {
  const opts = { layers: 1, dModel: 32, heads: 2, context: 96, seed: 4 };

  it("writes a valid directory once and leaves it untouched the second time", async () => {
    const dir = tempDir();
    const first = await buildDemoModel(dir, opts);
    expect(first.written).toContain("onnx/model.onnx");
    const bytes = readFileSync(path.join(dir, "onnx/model.onnx"));
    const second = await buildDemoModel(dir, opts);
    expect(second.written).toEqual([]);
    expect(readFileSync(path.join(dir, "onnx/model.onnx")).equals(bytes)).toBe(true);

    const summary = await validateModelDir(dir);
    expect(summary).toMatchObject({ vocabSize: 8192, tokenizerVocabSize: 8192, layers: 1, dModel: 32, heads: 2, contextLength: 96, chatTemplate: "model" });
    const config = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8"));
    expect(config).toMatchObject({ model_type: "gpt2", architectures: ["GPT2LMHeadModel"], n_ctx: 96, use_cache: true });
    const tc = JSON.parse(readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
    expect(tc.padding_side).toBe("left");
  });

  it("another seed gives other weights; the model samples multi-turn chats", async () => {
    const a = tempDir();
    await buildDemoModel(a, opts);
    const b = tempDir();
    await buildDemoModel(b, { ...opts, seed: 5 });
    expect(readFileSync(path.join(a, "onnx/model.onnx")).equals(readFileSync(path.join(b, "onnx/model.onnx")))).toBe(false);

    const lm = await loadCausalLM(a, { intraOpThreads: 1, log: () => {} });
    try {
      const r = await lm.generate({
        prompts: [
          [
            { role: "system", text: "You are helpful." },
            { role: "prompter", text: "What is a llama?" },
            { role: "assistant", text: "An animal." },
            { role: "prompter", text: "Where does it live?" },
          ],
        ],
        k: 2,
        temperature: 0.7,
        maxNewTokens: 6,
        seed: 1,
      });
      expect(r.results[0].promptText).toBe(
        "<|system|>You are helpful.<|endoftext|><|prompter|>What is a llama?<|endoftext|><|assistant|>An animal.<|endoftext|>" +
          "<|prompter|>Where does it live?<|endoftext|><|assistant|>",
      );
      expect(r.results[0].completions.length + r.results[0].duplicates).toBe(2);
    } finally {
      await lm.dispose();
    }
  });
});
