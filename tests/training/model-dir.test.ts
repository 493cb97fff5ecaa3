// The GPT-2 definition's training-side outputs: the reward model export (Hugging Face's
// GPT2ForSequenceClassification convention), head parameters in weight checks, and model directories
// that keep their base model's tokenizer files byte for byte.

import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadCausalLM } from "../../inference/causal-lm";
import { buildGpt2Graph, checkGpt2Weights, initGpt2ScoreHead, type Gpt2Weights } from "../../inference/models/gpt2";
import { readGpt2ModelDir, writeGpt2ModelDir } from "../../inference/models/gpt2-dir";
import { decodeModel, describeModel, serializeGraph } from "../../inference/onnx/serialize";
import { float32 } from "../../inference/onnx/tensor";
import { createSession, toOrtTensor } from "../../inference/runtime/ort";
import { lmBatch } from "../../training/batch";
import { referenceReward } from "../inference/reference-gpt2";
import { removeTempDirs, tempDir, writeTinyModel } from "../inference/tiny-model";

afterAll(removeTempDirs);

function withScore(weights: Gpt2Weights, nEmbd: number): Gpt2Weights {
  const w = new Map(weights);
  w.set("score.weight", initGpt2ScoreHead({ nEmbd } as never, 4));
  // A larger head so rewards differ visibly between sequences.
  (w.get("score.weight")!.data as Float32Array).forEach((v, i, a) => (a[i] = v * 50));
  return w;
}

describe("reward model export", () => {
  it("takes input_ids and attention_mask, gives logits [B, 1] read at the last non-pad token, same for left and right padding", async () => {
    const base = writeTinyModel({ seed: 11 });
    const weights = withScore(base.weights, base.config.nEmbd);
    const dir = tempDir();
    writeGpt2ModelDir(dir, { config: base.config, weights, head: "score", tokenizerFrom: base.dir });

    const hf = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8"));
    expect(hf.architectures).toEqual(["GPT2ForSequenceClassification"]);
    expect(hf.num_labels).toBe(1);
    expect(hf.pad_token_id).toBe(base.config.padTokenId);
    const bytes = readFileSync(path.join(dir, "onnx/model.onnx"));
    const info = describeModel(decodeModel(bytes));
    expect(info.inputs.map((i) => [i.name, i.dtype, i.shape])).toEqual([
      ["input_ids", "int64", ["batch_size", "sequence_length"]],
      ["attention_mask", "int64", ["batch_size", "sequence_length"]],
    ]);
    expect(info.outputs.map((o) => [o.name, o.shape])).toEqual([["logits", ["batch_size", 1]]]);

    // The sequence ending in the pad token (GPT-2 pads with EOS) is read at that token.
    const seqs = [[72, 105, 33, 10, 200], [5, 6], [9, 8, 7, 0]];
    const { session } = await createSession(bytes, { providers: ["cpu"], intraOpThreads: 1, log: () => {} });
    try {
      const scores: number[][] = [];
      for (const side of ["left", "right"] as const) {
        const b = lmBatch(seqs.map((ids) => ({ ids })), { padTokenId: 0, side });
        const out = await session.run({ input_ids: toOrtTensor(b.input_ids), attention_mask: toOrtTensor(b.attention_mask) });
        expect(out.logits.dims).toEqual([3, 1]);
        scores.push(Array.from(out.logits.data as Float32Array));
      }
      const ref = seqs.map((ids) => referenceReward(base.config, weights, ids));
      for (const s of scores) s.forEach((v, i) => expect(Math.abs(v - ref[i])).toBeLessThan(1e-4));
      expect(Math.abs(ref[0] - ref[1])).toBeGreaterThan(1e-2);
    } finally {
      await session.release();
    }

    const back = readGpt2ModelDir(dir);
    expect(back.head).toBe("score");
    expect(back.weights.get("score.weight")!.data).toEqual(weights.get("score.weight")!.data);
  });
});

describe("weight checks with heads", () => {
  it("accepts a score head beside the backbone, and the LM graph builds from such weights", () => {
    const base = writeTinyModel({ seed: 2 });
    const weights = withScore(base.weights, base.config.nEmbd);
    expect(() => checkGpt2Weights(base.config, weights)).not.toThrow();
    expect(() => buildGpt2Graph(base.config, weights)).not.toThrow();
  });

  it("names a missing head, a wrong head shape and an unknown parameter", () => {
    const base = writeTinyModel({ seed: 2 });
    expect(() => checkGpt2Weights(base.config, base.weights, "score")).toThrow(/missing score\.weight/);
    const bad = new Map(base.weights).set("score.weight", float32([2, base.config.nEmbd]));
    expect(() => checkGpt2Weights(base.config, bad)).toThrow(/score\.weight has float32 \[2,64\], expected float \[1,64\]/);
    const extra = new Map(base.weights).set("lm_head.bias", float32([3]));
    expect(() => checkGpt2Weights(base.config, extra)).toThrow(/unexpected parameter lm_head\.bias/);
  });
});

describe("model directories written from a base model", () => {
  it("keep the base's tokenizer files byte for byte and load for sampling", async () => {
    const base = writeTinyModel({ seed: 5 });
    // A base whose tokenizer_config carries keys we would not write ourselves.
    const cfgPath = path.join(base.dir, "tokenizer_config.json");
    const custom = JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, "utf8")), custom_key: "kept", padding_side: "right" }, null, 4);
    writeFileSync(cfgPath, custom);
    const dir = tempDir();
    const written = writeGpt2ModelDir(dir, { config: base.config, weights: base.weights, tokenizerFrom: base.dir });
    expect(written).toContain("tokenizer.json");
    for (const f of ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]) {
      expect(readFileSync(path.join(dir, f)).equals(readFileSync(path.join(base.dir, f))), f).toBe(true);
    }
    const lm = await loadCausalLM(dir, { intraOpThreads: 1, log: () => {} });
    try {
      const r = await lm.generate({ prompts: [[{ role: "prompter", text: "Hi" }]], temperature: 0, maxNewTokens: 4, seed: 1 });
      expect(r.results[0].completions[0].numTokens).toBeGreaterThan(0);
    } finally {
      await lm.dispose();
    }
  });
});
