// Benchmark child: the ceiling. A graph holding only the decode step's dense MatMuls of the demo
// architecture (per layer: c_attn, c_proj, mlp.c_fc, mlp.c_proj; then the tied LM head) at the
// benchmark's batch, chained as in the model. Everything else a sampler does (attention over the
// cache, layer norms, sampling) comes on top, so batch / (time of one run) is the tok/s no sampler
// of this model can beat on this machine.

import { Graph } from "../../../inference/onnx/graph";
import { serializeGraph } from "../../../inference/onnx/serialize";
import { float32 } from "../../../inference/onnx/tensor";
import { createSession, float32Tensor, runSession } from "../../../inference/runtime/ort";
import { Rng } from "../../../inference/sampling/rng";
import { demoModelConfig } from "../../../inference/demo-model";
import { BENCH, peakRssMb, RESULT_PREFIX } from "./setup";

const rows = BENCH.prompts * BENCH.k;
const { nEmbd: D, vocabSize: V, nLayer } = demoModelConfig(BENCH.model);
const rng = new Rng(1);
const weight = (inDim: number, outDim: number) => {
  const t = float32([inDim, outDim]);
  for (let i = 0; i < t.data.length; i++) (t.data as Float32Array)[i] = rng.normal() * 0.02;
  return t;
};

const g = new Graph("decode_matmuls");
let h = g.input("hidden", "float32", [rows, 1, D]);
for (let i = 0; i < nLayer; i++) {
  const qkv = g.matmul(h, g.param(`h.${i}.c_attn`, weight(D, 3 * D))); // [B, 1, 3D]
  const attn = g.matmul(g.slice(qkv, [0], [D], [2]), g.param(`h.${i}.c_proj`, weight(D, D))); // [B, 1, D]
  const fc = g.matmul(attn, g.param(`h.${i}.c_fc`, weight(D, 4 * D))); // [B, 1, 4D]
  h = g.matmul(fc, g.param(`h.${i}.mlp_proj`, weight(4 * D, D))); // [B, 1, D]
}
g.output(g.matmul(h, g.param("lm_head", weight(D, V))), "logits"); // [B, 1, V]

const { session } = await createSession(serializeGraph(g), { intraOpThreads: BENCH.threads, log: (l) => console.error(l) });
const input = new Float32Array(rows * D).map(() => rng.normal());
const feeds = { hidden: float32Tensor(input, [rows, 1, D]) };
for (let i = 0; i < 5; i++) await runSession(session, feeds, ["logits"]);
// As many runs as the benchmark has decode steps; the median run is the step time.
const times: number[] = [];
for (let i = 0; i < BENCH.newTokens; i++) {
  const t0 = performance.now();
  await runSession(session, feeds, ["logits"]);
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const stepMs = times[times.length >> 1];
console.error(`ceiling: dense MatMuls of one decode step at batch ${rows}: median ${stepMs.toFixed(2)} ms, best ${times[0].toFixed(2)} ms`);
console.log(RESULT_PREFIX + JSON.stringify({ stepMs, bestStepMs: times[0], rows, peakRssMb: peakRssMb() }));
await session.release();
