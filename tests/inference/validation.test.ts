// validateModelDir and validateRewardModelDir: the summary of a good directory, and a ModelValidationError naming each problem.

import { createHash } from "node:crypto";
import { readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import onnxProto from "onnx-proto";
import { afterAll, describe, expect, it } from "vitest";
import { ModelValidationError } from "../../inference/errors";
import { gpt2ParamCount, initGpt2ScoreHead } from "../../inference/models/gpt2";
import { writeGpt2ModelDir } from "../../inference/models/gpt2-dir";
import { bytesOnlyTokenizerJson } from "../../inference/tokenizer/byte-level";
import { validateModelDir, validateRewardModelDir } from "../../inference/validate";
import { removeTempDirs, tempDir, TINY, writeTinyModel } from "./tiny-model";

const { onnx } = onnxProto;
afterAll(removeTempDirs);

const modelFile = (dir: string) => path.join(dir, "onnx/model.onnx");

function editJson(file: string, edit: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  edit(j);
  writeFileSync(file, JSON.stringify(j));
}

async function expectInvalid(dir: string, message: RegExp): Promise<void> {
  const err = await validateModelDir(dir).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ModelValidationError);
  expect((err as Error).message).toMatch(message);
}

describe("validateModelDir", () => {
  it("summarises a good directory", async () => {
    const { dir } = writeTinyModel();
    const s = await validateModelDir(dir);
    expect(s).toMatchObject({
      architecture: "GPT2LMHeadModel",
      modelType: "gpt2",
      vocabSize: 260,
      tokenizerVocabSize: 260,
      layers: 2,
      heads: 4,
      kvHeads: 4,
      dModel: 64,
      headDim: 16,
      contextLength: 64,
      parameterCount: gpt2ParamCount(TINY),
      modelFile: "onnx/model.onnx",
      hasPositionIds: true,
      mergedDecoder: false,
      chatTemplate: "model",
      eosTokenIds: [0],
    });
    expect(s.sha256).toBe(createHash("sha256").update(readFileSync(modelFile(dir))).digest("hex"));
    expect(s.files.map((f) => f.path)).toEqual([
      "config.json",
      "generation_config.json",
      "onnx/model.onnx",
      "special_tokens_map.json",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
  });

  it("falls back to the default chat template when the model has none", async () => {
    const { dir } = writeTinyModel({ chatTemplate: null });
    expect((await validateModelDir(dir)).chatTemplate).toBe("default");
  });

  it.each(["config.json", "tokenizer.json", "onnx/model.onnx"])("names a missing %s", async (file) => {
    const { dir } = writeTinyModel();
    rmSync(path.join(dir, file));
    await expectInvalid(dir, file === "onnx/model.onnx" ? /missing file: no model\.onnx/ : new RegExp(`missing file: ${file}`));
  });

  it("rejects a truncated .onnx file", async () => {
    const { dir } = writeTinyModel();
    const size = readFileSync(modelFile(dir)).length;
    truncateSync(modelFile(dir), Math.floor(size * 0.6));
    await expectInvalid(dir, /onnx\/model\.onnx is corrupt or truncated/);
  });

  it("rejects a file that is not an ONNX model", async () => {
    const { dir } = writeTinyModel();
    writeFileSync(modelFile(dir), Buffer.from("this is not a protobuf at all, just some text".repeat(20)));
    await expectInvalid(dir, /onnx\/model\.onnx is corrupt or truncated/);
  });

  it("rejects a graph onnxruntime cannot load", async () => {
    const { dir } = writeTinyModel();
    const model = onnx.ModelProto.decode(readFileSync(modelFile(dir)));
    model.graph!.node![5].input![0] = "no_such_value";
    writeFileSync(modelFile(dir), onnx.ModelProto.encode(model).finish());
    await expectInvalid(dir, /cannot be loaded by onnxruntime/);
  });

  it("rejects an unknown input name", async () => {
    const { dir } = writeTinyModel();
    const model = onnx.ModelProto.decode(readFileSync(modelFile(dir)));
    model.graph!.input!.push(onnx.ValueInfoProto.create({ name: "token_type_ids", type: { tensorType: { elemType: 7 } } }));
    writeFileSync(modelFile(dir), onnx.ModelProto.encode(model).finish());
    await expectInvalid(dir, /unknown input 'token_type_ids'/);
  });

  it("rejects an unknown output name", async () => {
    const { dir } = writeTinyModel();
    const model = onnx.ModelProto.decode(readFileSync(modelFile(dir)));
    model.graph!.output![0].name = "scores";
    writeFileSync(modelFile(dir), onnx.ModelProto.encode(model).finish());
    await expectInvalid(dir, /unknown output 'scores'/);
  });

  const dims: [string, Record<string, number>, RegExp][] = [
    ["n_layer", { n_layer: 3 }, /2 layers of past_key_values but config\.json says 3 layers/],
    ["n_head", { n_head: 8 }, /has 4 heads but config\.json says 8/],
    ["n_embd", { n_embd: 128 }, /head size 16 but config\.json gives 32/],
    ["vocab_size", { vocab_size: 300 }, /logits have 260 entries but config\.json vocab_size is 300/],
  ];
  it.each(dims)("rejects a config.json %s that does not match the graph", async (_, patch, message) => {
    const { dir } = writeTinyModel();
    editJson(path.join(dir, "config.json"), (j) => Object.assign(j, patch));
    await expectInvalid(dir, message);
  });

  it("rejects a tokenizer larger than the model's vocabulary", async () => {
    const { dir } = writeTinyModel({ config: { vocabSize: 200 } });
    await expectInvalid(dir, /tokenizer\/vocab mismatch: tokenizer\.json has 260 tokens but the model's vocabulary .* is 200/);
  });

  it("rejects special token ids outside the vocabulary", async () => {
    const { dir } = writeTinyModel();
    editJson(path.join(dir, "generation_config.json"), (j) => (j.eos_token_id = 5000));
    await expectInvalid(dir, /special token out of range: eos_token_id 5000/);
  });

  it("rejects a special token the tokenizer does not know", async () => {
    const { dir } = writeTinyModel({ tokenizer: bytesOnlyTokenizerJson(["<|other|>", "<|prompter|>", "<|assistant|>", "<|system|>"]) });
    await expectInvalid(dir, /special token missing: tokenizer_config\.json bos_token '<\|endoftext\|>'/);
  });

  it("rejects invalid JSON", async () => {
    const { dir } = writeTinyModel();
    writeFileSync(path.join(dir, "config.json"), "{ not json");
    await expectInvalid(dir, /config\.json is not valid JSON/);
  });
});

describe("validateRewardModelDir", () => {
  it("accepts a sequence classifier (input_ids, attention_mask → logits [B, 1]) and refuses a causal LM, naming its outputs", async () => {
    const policy = writeTinyModel();
    const weights = new Map(policy.weights);
    weights.set("score.weight", initGpt2ScoreHead(policy.config, 3));
    const dir = tempDir();
    writeGpt2ModelDir(dir, { config: policy.config, weights, head: "score", tokenizerFrom: policy.dir });
    const s = await validateRewardModelDir(dir);
    expect(s).toMatchObject({ architecture: "GPT2ForSequenceClassification", modelType: "gpt2", vocabSize: 260, layers: 2, mergedDecoder: false });
    expect(s.parameterCount).toBe(gpt2ParamCount(policy.config) + policy.config.nEmbd);

    const err = await validateRewardModelDir(policy.dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelValidationError);
    expect((err as Error).message).toMatch(/is not a reward model: inputs input_ids, attention_mask, .*→ outputs logits \[.*\], present\.0\.key/);
    // and the policy validator refuses the reward model
    await expect(validateModelDir(dir)).rejects.toThrow();
  });
});
