// Benchmark child: what attention over the cache costs at least. At the benchmark's batch, each
// decode step reads every cached key and value once (float32, 4 layers × 2 tensors): the prompt
// chunk (one row per prompt, left-padded to the longest prompt, read for its k completions) and
// the generated chunks (one row per completion; on average 72 slots: 64 tokens written and 8 of
// the last chunk not yet used). A graph of only the two MatMuls of attention per layer and chunk
// (q·Kᵀ, then scores·V) over exactly those tensors, keys already transposed, no softmax, mask or
// copy, timed like the ceiling: the least attention costs with a float32 cache. (A ReduceSum over
// the same tensors, which only reads them, was slower here than these MatMuls.)

import { loadCausalLM } from "../../../inference/index";
import { Graph } from "../../../inference/onnx/graph";
import { serializeGraph } from "../../../inference/onnx/serialize";
import { createSession, float32Tensor, runSession } from "../../../inference/runtime/ort";
import { Rng } from "../../../inference/sampling/rng";
import { demoModelConfig } from "../../../inference/demo-model";
import type * as ort from "onnxruntime-node";
import { BENCH, benchPrompts, peakRssMb, RESULT_PREFIX } from "./setup";

const { nEmbd: D, nLayer, nHead: H } = demoModelConfig(BENCH.model);
const hd = D / H;
const rows = BENCH.prompts * BENCH.k;
/** Generated slots read per step, averaged over the benchmark's 128 steps (see the header). */
const GENERATED_SLOTS = 72;

// The prompt chunk's length: the longest of the benchmark's prompts after the chat template.
const model = await loadCausalLM(BENCH.modelDir, { intraOpThreads: BENCH.threads, log: () => undefined });
const probe = await model.generate({
  prompts: benchPrompts().map((text) => [{ role: "prompter" as const, text }]),
  k: 1,
  maxNewTokens: 1,
  temperature: 0,
});
const promptSlots = Math.max(...probe.results.map((r) => r.promptTokens));
await model.dispose();

const rng = new Rng(1);
const random = (n: number) => new Float32Array(n).map(() => rng.normal());
const shapes = {
  qPrompt: [BENCH.prompts, H, BENCH.k, hd],
  kPrompt: [BENCH.prompts, H, hd, promptSlots],
  vPrompt: [BENCH.prompts, H, promptSlots, hd],
  qNew: [rows, H, 1, hd],
  kNew: [rows, H, hd, GENERATED_SLOTS],
  vNew: [rows, H, GENERATED_SLOTS, hd],
};
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

function attentionGraph(): Graph {
  const g = new Graph("cache_attention");
  for (let l = 0; l < nLayer; l++) {
    for (const [q, kT, v] of [["qPrompt", "kPrompt", "vPrompt"], ["qNew", "kNew", "vNew"]] as const) {
      const scores = g.matmul(g.input(`${q}.${l}`, "float32", shapes[q]), g.input(`${kT}.${l}`, "float32", shapes[kT]));
      g.output(g.matmul(scores, g.input(`${v}.${l}`, "float32", shapes[v])), `ctx.${q}.${l}`);
    }
  }
  return g;
}

async function medianRunMs(graph: Graph, names: string[]): Promise<number> {
  const { session } = await createSession(serializeGraph(graph), { intraOpThreads: BENCH.threads, log: (l) => console.error(l) });
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of session.inputNames) {
    const shape = shapes[input.split(".")[0] as keyof typeof shapes];
    feeds[input] = float32Tensor(random(size(shape)), shape);
  }
  for (let i = 0; i < 5; i++) await runSession(session, feeds, names);
  const times: number[] = [];
  for (let i = 0; i < BENCH.newTokens; i++) {
    const t0 = performance.now();
    await runSession(session, feeds, names);
    times.push(performance.now() - t0);
  }
  await session.release();
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

const attention = attentionGraph();
const attentionMs = await medianRunMs(attention, attention.outputs.map((o) => o.name));
const cacheMb = (nLayer * (size(shapes.kPrompt) + size(shapes.vPrompt) + size(shapes.kNew) + size(shapes.vNew)) * 4) / 2 ** 20;
console.error(
  `attention over the cache: ${cacheMb.toFixed(1)} MiB a step (prompt chunk ${promptSlots} slots, ${GENERATED_SLOTS} generated), ` +
    `its MatMuls ${attentionMs.toFixed(2)} ms (${(cacheMb / 1024 / (attentionMs / 1000)).toFixed(1)} GiB/s)`,
);
console.log(RESULT_PREFIX + JSON.stringify({ attentionMs, cacheMb, promptSlots, generatedSlots: GENERATED_SLOTS, peakRssMb: peakRssMb() }));
