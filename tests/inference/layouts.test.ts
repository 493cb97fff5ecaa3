// Model directory layouts the loader accepts, weights read back from .onnx, and the graph without
// KV-cache I/O.

import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadCausalLM } from "../../inference/causal-lm";
import { buildGpt2Graph, gpt2ParamShapes } from "../../inference/models/gpt2";
import { readGpt2ModelDir } from "../../inference/models/gpt2-dir";
import { describeModel, decodeModel, readOnnxWeights, serializeGraph } from "../../inference/onnx/serialize";
import { createSession, int64Tensor } from "../../inference/runtime/ort";
import { validateModelDir } from "../../inference/validate";
import { removeTempDirs, writeTinyModel } from "./tiny-model";

afterAll(removeTempDirs);

const prompts = [[{ role: "prompter" as const, text: "Hello there, how are you?" }], [{ role: "prompter" as const, text: "Hi" }]];

async function greedyIds(dir: string): Promise<number[][]> {
  const lm = await loadCausalLM(dir, { intraOpThreads: 1, log: () => {} });
  try {
    const r = await lm.generate({ prompts, temperature: 0, maxNewTokens: 10, seed: 1 });
    return r.results.map((p) => p.completions[0].tokenIds);
  } finally {
    await lm.dispose();
  }
}

describe("model directory layouts", () => {
  it("loads model.onnx at the root and under onnx/ with the same results", async () => {
    const expected = await greedyIds(writeTinyModel({ seed: 3 }).dir);
    expect(await greedyIds(writeTinyModel({ seed: 3, modelPath: "model.onnx" }).dir)).toEqual(expected);
  });

  it("loads an older decoder_model_merged.onnx with a use_cache_branch input", async () => {
    const expected = await greedyIds(writeTinyModel({ seed: 3 }).dir);
    const merged = writeTinyModel({ seed: 3, modelPath: "decoder_model_merged.onnx" });
    const summary = await validateModelDir(merged.dir);
    expect(summary.mergedDecoder).toBe(true);
    expect(summary.modelFile).toBe("decoder_model_merged.onnx");
    expect(await greedyIds(merged.dir)).toEqual(expected);
  });

  it("declares Optimum's I/O names and axis names", () => {
    const tiny = writeTinyModel();
    const info = describeModel(decodeModel(serializeGraph(buildGpt2Graph(tiny.config, tiny.weights))));
    const sig = Object.fromEntries([...info.inputs, ...info.outputs].map((v) => [v.name, v.shape]));
    expect(sig.input_ids).toEqual(["batch_size", "sequence_length"]);
    expect(sig.attention_mask).toEqual(["batch_size", "past_sequence_length + sequence_length"]);
    expect(sig.position_ids).toEqual(["batch_size", "sequence_length"]);
    expect(sig["past_key_values.1.value"]).toEqual(["batch_size", 4, "past_sequence_length", 16]);
    expect(sig["present.0.key"]).toEqual(["batch_size", 4, "past_sequence_length + sequence_length", 16]);
    expect(sig.logits).toEqual(["batch_size", "sequence_length", 260]);
    expect(info.outputs.map((o) => o.name)).toEqual(["logits", "present.0.key", "present.0.value", "present.1.key", "present.1.value"]);
  });
});

describe("weights", () => {
  it("reads back exactly the weights that were written", () => {
    const tiny = writeTinyModel({ seed: 5 });
    const back = readOnnxWeights(path.join(tiny.dir, "onnx/model.onnx"));
    expect([...back.keys()].sort()).toEqual([...gpt2ParamShapes(tiny.config).keys()].sort());
    for (const [name, t] of tiny.weights) {
      expect(back.get(name)!.dims).toEqual(t.dims);
      expect(back.get(name)!.data).toEqual(t.data);
    }
    const dir = readGpt2ModelDir(tiny.dir);
    expect(dir.config).toEqual(tiny.config);
  });

  it("builds a graph without KV-cache I/O that gives the same logits", async () => {
    const tiny = writeTinyModel({ seed: 5 });
    const plain = serializeGraph(buildGpt2Graph(tiny.config, tiny.weights, { kvCache: false }));
    const info = describeModel(decodeModel(plain));
    expect(info.inputs.map((i) => i.name)).toEqual(["input_ids", "attention_mask", "position_ids"]);
    expect(info.outputs.map((o) => o.name)).toEqual(["logits"]);

    const ids = [[0, 0, 7, 8, 9, 10], [1, 2, 3, 4, 5, 6]];
    const mask = [[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]];
    const pos = [[1, 1, 0, 1, 2, 3], [0, 1, 2, 3, 4, 5]];
    const i64 = (rows: number[][]) => int64Tensor(BigInt64Array.from(rows.flat().map(BigInt)), [2, 6]);
    const { session } = await createSession(plain, { providers: ["cpu"], intraOpThreads: 1, log: () => {} });
    const out = await session.run({ input_ids: i64(ids), attention_mask: i64(mask), position_ids: i64(pos) });
    const logits = out.logits.data as Float32Array;
    await session.release();

    const lm = await loadCausalLM(tiny.dir, { intraOpThreads: 1, log: () => {} });
    const V = tiny.config.vocabSize;
    // The sampler's graph gives each sequence's last logits: a prefix ends at position t.
    for (const [row, t, ids] of [[0, 5, [7, 8, 9, 10]], [1, 5, [1, 2, 3, 4, 5, 6]], [1, 2, [1, 2, 3]], [0, 3, [7, 8]]] as const) {
      const a = logits.subarray((row * 6 + t) * V, (row * 6 + t + 1) * V);
      const b = (await lm.runner.forward([[...ids]], 0, 1, true)).logits!;
      for (let v = 0; v < V; v++) expect(Math.abs(a[v] - b[v])).toBeLessThan(1e-5);
    }
    await lm.dispose();
  });
});
