// The SFT trainer: assistant-only loss masks through the chat template, a trained model whose
// served logits (the KV-cache decoder graph) are the training graph's, validation loss that falls,
// a stop and resume that ends on the same weights, and the inputs it refuses.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Conversation } from "../../inference/chat-template";
import { initGpt2ScoreHead } from "../../inference/models/gpt2";
import { readGpt2ModelDir, writeGpt2ModelDir } from "../../inference/models/gpt2-dir";
import { float32, int64 } from "../../inference/onnx/tensor";
import { createSession, toOrtTensor } from "../../inference/runtime/ort";
import { lmBatch } from "../../training/batch";
import { LmEvaluator } from "../../training/evaluate";
import { oasstConversations } from "../../training/oasst";
import { loadSftBase, SftInputError, tokenizeSft, trainSft } from "../../training/sft";
import { ConfigError, DEFAULT_SFT_CONFIG, parseSftConfig, type SftConfig } from "../../training/sft-config";
import { OASST_FIXTURES } from "../helpers/fixtures";
import { removeTempDirs, tempDir, writeTinyModel } from "../inference/tiny-model";

afterAll(removeTempDirs);

// Real prompts and replies, cut so that a byte-level tokenizer fits them in the tiny model's context.
const all: Conversation[] = oasstConversations(readFileSync(path.join(OASST_FIXTURES, "en_100_tree.jsonl"), "utf8")).map((c) => [
  { role: "prompter", text: c.at(-2)!.text.slice(0, 60) },
  { role: "assistant", text: c.at(-1)!.text.slice(0, 100) },
]);
const train = all.slice(0, 40);
const validation = all.slice(-16);

const CONFIG: SftConfig = { ...DEFAULT_SFT_CONFIG, learningRate: 3e-3, batchSize: 4, maxLength: 192, maxSteps: 12, evalEvery: 4, checkpointEvery: 5, warmupRatio: 0 };

function tinyBase() {
  return loadSftBase(writeTinyModel({ seed: 3, config: { nPositions: 192 } }).dir);
}

describe("tokenizing demonstrations", () => {
  it("counts only the assistant's reply and its end-of-turn token, across turns", () => {
    const base = tinyBase();
    const conversation: Conversation = [
      { role: "prompter", text: "Hi" },
      { role: "assistant", text: "Hello!" },
      { role: "prompter", text: "Bye" },
      { role: "assistant", text: "See you." },
    ];
    const { examples } = tokenizeSft([conversation], base.tokenizer, 1000);
    const { ids, lossMask } = examples[0];
    expect(base.tokenizer.decode(ids, false)).toBe("<|prompter|>Hi<|endoftext|><|assistant|>Hello!<|endoftext|><|prompter|>Bye<|endoftext|><|assistant|>See you.<|endoftext|>");
    const targets = base.tokenizer.decode(ids.filter((_, t) => lossMask![t] === 1), false);
    expect(targets).toBe("Hello!<|endoftext|>See you.<|endoftext|>");
  });

  it("cuts long conversations and leaves out those with no assistant token left", () => {
    const base = tinyBase();
    const long: Conversation = [{ role: "prompter", text: "x".repeat(100) }, { role: "assistant", text: "y" }];
    const ok: Conversation = [{ role: "prompter", text: "q" }, { role: "assistant", text: "a".repeat(100) }];
    const r = tokenizeSft([long, ok], base.tokenizer, 32);
    expect(r.dropped).toBe(1);
    expect(r.truncated).toBe(2);
    expect(r.examples).toHaveLength(1);
    expect(r.examples[0].ids).toHaveLength(32);
  });
});

describe("trainSft", () => {
  it("lowers validation loss and writes a model whose served logits equal the training graph's (1e-4)", async () => {
    const base = tinyBase();
    const out = path.join(tempDir(), "policy");
    const evals: number[] = [];
    const steps: number[] = [];
    const r = await trainSft({
      base,
      train,
      validation,
      config: { ...CONFIG, maxSteps: 16 },
      outputDir: out,
      intraOpThreads: 1,
      hooks: { onEval: (e) => void evals.push(e.validationLoss), onStep: (s) => void steps.push(s.step) },
    });
    expect(r.status).toBe("completed");
    expect(steps).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(evals).toHaveLength(4);

    // Validation loss before training, from the same evaluator.
    const evaluator = await LmEvaluator.create(base.config, { intraOpThreads: 1 });
    const val = tokenizeSft(validation, base.tokenizer, 192).examples;
    const valBatch = lmBatch(val, { padTokenId: base.config.padTokenId });
    const before = await evaluator.evaluate(base.weights, [valBatch]);
    expect(r.metrics.validationLoss!).toBeLessThan(before.loss - 0.3);
    expect(existsSync(`${out}.partial`)).toBe(false);

    // The served graph (KV cache, positions as input) on the trained weights vs the training forward.
    const served = readGpt2ModelDir(out);
    const batch = lmBatch(val.slice(0, 3), { padTokenId: base.config.padTokenId });
    const training = await evaluator.run(served.weights, batch);
    const { session } = await createSession(path.join(out, "onnx/model.onnx"), { intraOpThreads: 1, log: () => {} });
    const [B, T] = batch.input_ids.dims;
    const c = base.config;
    const Dh = c.nEmbd / c.nHead;
    const mask = batch.attention_mask.data as BigInt64Array;
    const positions = Array.from(mask, (m, i) => (m ? i % T : 1));
    const empty = float32([B, c.nHead, 0, Dh], new Float32Array(0));
    const feeds: Record<string, ReturnType<typeof toOrtTensor>> = {
      input_ids: toOrtTensor(batch.input_ids),
      attention_mask: toOrtTensor(batch.attention_mask),
      position_ids: toOrtTensor(int64([B, T], positions)),
    };
    for (let i = 0; i < c.nLayer; i++) feeds[`past_key_values.${i}.key`] = feeds[`past_key_values.${i}.value`] = toOrtTensor(empty);
    const full = await session.run(feeds);
    const servedLogits = full.logits.data as Float32Array;
    let worst = 0;
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++) {
        if (!mask[b * T + t]) continue;
        for (let v = 0; v < c.vocabSize; v++) {
          const i = (b * T + t) * c.vocabSize + v;
          worst = Math.max(worst, Math.abs(servedLogits[i] - training.logits[i]));
        }
      }
    expect(worst).toBeLessThan(1e-4);

    // Decoding with the cache: the first row's tokens but the last, then the last one alone.
    const len = Number(mask.subarray(0, T).reduce((a, m) => a + m, 0n));
    const ids = Array.from(batch.input_ids.data as BigInt64Array).slice(0, len).map(Number);
    const step1: Record<string, ReturnType<typeof toOrtTensor>> = {
      input_ids: toOrtTensor(int64([1, len - 1], ids.slice(0, -1))),
      attention_mask: toOrtTensor(int64([1, len - 1], ids.slice(0, -1).map(() => 1))),
      position_ids: toOrtTensor(int64([1, len - 1], ids.slice(0, -1).map((_, i) => i))),
    };
    const empty1 = toOrtTensor(float32([1, c.nHead, 0, Dh], new Float32Array(0)));
    for (let i = 0; i < c.nLayer; i++) step1[`past_key_values.${i}.key`] = step1[`past_key_values.${i}.value`] = empty1;
    const o1 = await session.run(step1);
    const step2: Record<string, ReturnType<typeof toOrtTensor>> = {
      input_ids: toOrtTensor(int64([1, 1], [ids[len - 1]])),
      attention_mask: toOrtTensor(int64([1, len], ids.map(() => 1))),
      position_ids: toOrtTensor(int64([1, 1], [len - 1])),
    };
    for (let i = 0; i < c.nLayer; i++) {
      step2[`past_key_values.${i}.key`] = o1[`present.${i}.key`];
      step2[`past_key_values.${i}.value`] = o1[`present.${i}.value`];
    }
    const o2 = (await session.run(step2)).logits.data as Float32Array;
    const trainingLast = training.logits.subarray((len - 1) * c.vocabSize, len * c.vocabSize);
    expect(Math.max(...Array.from(o2, (x, v) => Math.abs(x - trainingLast[v])))).toBeLessThan(1e-4);
    await session.release();
    await evaluator.dispose();
  });

  it("stops when asked at a step boundary with a checkpoint, and the resumed run ends on the uninterrupted run's weights", async () => {
    const straight = path.join(tempDir(), "straight");
    await trainSft({ base: tinyBase(), train, validation, config: CONFIG, outputDir: straight, intraOpThreads: 1 });

    const ckpt = tempDir();
    const resumed = path.join(tempDir(), "resumed");
    let seen = 0;
    const stopped = await trainSft({
      base: tinyBase(),
      train,
      validation,
      config: CONFIG,
      outputDir: resumed,
      checkpointDir: ckpt,
      intraOpThreads: 1,
      hooks: { onStep: (s) => void (seen = s.step), shouldStop: () => seen === 7 },
    });
    expect(stopped.status).toBe("stopped");
    expect(stopped.step).toBe(7);
    expect(stopped.outputDir).toBeNull();
    expect(existsSync(resumed)).toBe(false);
    expect(readdirSync(ckpt)).toContain("checkpoint-000007.ckpt");

    const steps: number[] = [];
    const done = await trainSft({ base: tinyBase(), train, validation, config: CONFIG, outputDir: resumed, checkpointDir: ckpt, intraOpThreads: 1, hooks: { onStep: (s) => void steps.push(s.step) } });
    expect(done.status).toBe("completed");
    expect(steps[0]).toBe(8);
    const a = readGpt2ModelDir(straight).weights;
    const b = readGpt2ModelDir(resumed).weights;
    for (const [name, t] of a) expect(Buffer.from((b.get(name)!.data as Float32Array).buffer).equals(Buffer.from((t.data as Float32Array).buffer)), name).toBe(true);
  });

  it("stops early when validation loss stops improving", async () => {
    const r = await trainSft({
      base: tinyBase(),
      train: train.slice(0, 2),
      validation,
      config: { ...CONFIG, learningRate: 0.05, maxSteps: 200, evalEvery: 5, earlyStoppingPatience: 2 },
      outputDir: path.join(tempDir(), "early"),
      intraOpThreads: 1,
    });
    expect(r.status).toBe("early-stopped");
    expect(r.step).toBeLessThan(200);
    expect(r.outputDir).not.toBeNull();
  });
});

describe("bad input", () => {
  it("names each out-of-range or unknown config field", () => {
    let err: unknown;
    try {
      parseSftConfig({ learningRate: 5, batchSize: 2.5, epochs: "3", dropout: 0.1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(Object.keys((err as ConfigError).fields).sort()).toEqual(["batchSize", "dropout", "epochs", "learningRate"]);
    expect((err as Error).message).toContain("learningRate must be between 1e-7 and 0.1, got 5");
    expect(parseSftConfig({})).toEqual(DEFAULT_SFT_CONFIG);
  });

  it("refuses a reward-model base, a model that is not GPT-2, a context too short, and data with no assistant turn", async () => {
    const tiny = writeTinyModel({ seed: 3, config: { nPositions: 192 } });
    const rm = tempDir();
    const w = new Map(tiny.weights);
    w.set("score.weight", initGpt2ScoreHead(tiny.config, 1));
    writeGpt2ModelDir(rm, { config: tiny.config, weights: w, head: "score", tokenizerFrom: tiny.dir });
    expect(() => loadSftBase(rm)).toThrow(/reward\/value model/);

    const llama = tempDir();
    writeGpt2ModelDir(llama, { config: tiny.config, weights: tiny.weights, tokenizerFrom: tiny.dir });
    const cfgFile = path.join(llama, "config.json");
    const hf = JSON.parse(readFileSync(cfgFile, "utf8"));
    await import("node:fs").then((fs) => fs.writeFileSync(cfgFile, JSON.stringify({ ...hf, model_type: "llama" })));
    expect(() => loadSftBase(llama)).toThrow(/architecture "llama" is not supported/);

    const base = loadSftBase(tiny.dir);
    await expect(trainSft({ base, train, validation, config: { ...CONFIG, maxLength: 193 }, outputDir: tempDir() })).rejects.toThrow(/maxLength 193 exceeds the base model's context of 192/);
    await expect(trainSft({ base, train: [[{ role: "prompter", text: "only a prompt" }]], validation, config: CONFIG, outputDir: tempDir() })).rejects.toBeInstanceOf(SftInputError);
  });
});
