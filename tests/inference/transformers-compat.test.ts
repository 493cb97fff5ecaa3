// transformers.js loads a directory written by our builder, and its greedy ids equal ours.

import { AutoModelForCausalLM, AutoTokenizer, env, Tensor } from "@huggingface/transformers";
import { afterAll, describe, expect, it } from "vitest";
import { loadCausalLM } from "../../inference/causal-lm";
import type { Conversation } from "../../inference/chat-template";
import { removeTempDirs, writeTinyModel } from "./tiny-model";

afterAll(removeTempDirs);

describe("transformers.js compatibility", () => {
  it("generates the same greedy ids from our model directory", async () => {
    env.allowRemoteModels = false;
    const { dir } = writeTinyModel({ seed: 21 });
    const prompts: Conversation[] = [
      [{ role: "prompter", text: "Hello there, how are you?" }],
      [{ role: "prompter", text: "Tell me a joke" }],
    ];
    const lm = await loadCausalLM(dir, { intraOpThreads: 1, log: () => {} });
    const ours = await lm.generate({ prompts, temperature: 0, maxNewTokens: 12, seed: 1 });
    await lm.dispose();

    const model = await AutoModelForCausalLM.from_pretrained(dir, { dtype: "fp32", device: "cpu" });
    const tokenizer = await AutoTokenizer.from_pretrained(dir);
    try {
      for (let i = 0; i < prompts.length; i++) {
        // Same prompt text through transformers.js's own chat template and tokenizer.
        const text = tokenizer.apply_chat_template([{ role: "user", content: prompts[i][0].text }], { tokenize: false, add_generation_prompt: true }) as string;
        expect(text).toBe(ours.results[i].promptText);
        const ids = tokenizer.encode(text, { add_special_tokens: false });
        const input_ids = new Tensor("int64", BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
        const attention_mask = new Tensor("int64", new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
        const out = (await model.generate({ input_ids, attention_mask, max_new_tokens: 12, do_sample: false } as never)) as Tensor;
        const generated = Array.from(out.data as BigInt64Array, Number).slice(ids.length);
        expect(generated.length).toBeGreaterThan(0);
        expect(generated).toEqual(ours.results[i].completions[0].tokenIds);
      }
    } finally {
      await model.dispose();
    }
  });
});
