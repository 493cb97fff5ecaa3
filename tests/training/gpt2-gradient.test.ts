// The whole tiny GPT's loss gradient, built by training/autodiff and run by onnxruntime in float64,
// against central finite differences of the independent float64 JS reference (tests/inference/
// reference-gpt2.ts): for every parameter tensor, the directional derivative along a random direction
// (so every element of every gradient counts). Left- and right-padded rows in one batch.
// onnxruntime's double Gelu(tanh) kernel is accurate to ~2e-7 relative (its other ops here to ~1e-12),
// so losses agree to ~1e-8 and gradients to well within the 1e-6 asserted.

import { describe, expect, it } from "vitest";
import { initGpt2ScoreHead, initGpt2Weights, type Gpt2Config, type Gpt2Weights } from "../../inference/models/gpt2";
import { serializeGraph } from "../../inference/onnx/serialize";
import { float32, float64, type FloatType, type TensorData } from "../../inference/onnx/tensor";
import { createSession, toOrtTensor } from "../../inference/runtime/ort";
import { Rng } from "../../inference/sampling/rng";
import { lmBatch, rankingBatch, type Batch } from "../../training/batch";
import { causalLmObjective, rewardObjective, type Objective } from "../../training/objectives";
import { buildStepGraph, FLAT, STEP_SCALARS } from "../../training/step-graph";
import { referenceLmLoss, referenceReward } from "../inference/reference-gpt2";

const CONFIG: Gpt2Config = {
  vocabSize: 23,
  nPositions: 12,
  nEmbd: 8,
  nLayer: 2,
  nHead: 2,
  layerNormEpsilon: 1e-5,
  bosTokenId: 0,
  eosTokenId: 0,
  padTokenId: 0,
};

/** Float64 weights with larger-than-init values (and non-trivial LayerNorm) so every path matters. */
function weights64(seed: number, withScore: boolean): Gpt2Weights {
  const rng = new Rng(seed + 100);
  const w = initGpt2Weights(CONFIG, seed);
  if (withScore) w.set("score.weight", initGpt2ScoreHead(CONFIG, seed));
  const out: Gpt2Weights = new Map();
  for (const [name, t] of w) {
    const data = Float64Array.from(t.data as Float32Array, (v) => (name.includes("ln_") ? v + 0.2 * rng.normal() : name.endsWith(".bias") ? 0.1 * rng.normal() : v * 15));
    out.set(name, float64(t.dims, data));
  }
  return out;
}

async function ortLossAndGrads(
  objective: Objective,
  weights: Gpt2Weights,
  batch: Batch,
  floatType: FloatType = "float64",
): Promise<{ loss: number; grads: Map<string, Float64Array | Float32Array> }> {
  const step = buildStepGraph({ config: CONFIG, objective, floatType, mode: "gradients" });
  const { session } = await createSession(serializeGraph(step.graph), { providers: ["cpu"], intraOpThreads: 1, log: () => {} });
  try {
    const cast = (t: TensorData): TensorData => (floatType === "float32" && t.dtype === "float64" ? float32(t.dims, Float32Array.from(t.data as Float64Array)) : t);
    const feeds: Record<string, TensorData> = { [STEP_SCALARS.lossWeight]: cast(float64([], [1])) };
    for (const [k, t] of Object.entries(batch)) feeds[k] = cast(t);
    for (const p of step.params) {
      const w = weights.get(p.name)!;
      feeds[p.name] = cast(w);
    }
    const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toOrtTensor(t)])));
    const flat = out[FLAT.grad].data as Float64Array | Float32Array;
    const grads = new Map(step.params.map((p) => [p.name, flat.subarray(p.offset, p.offset + p.size)]));
    return { loss: Number((out.loss.data as Float64Array)[0]), grads };
  } finally {
    await session.release();
  }
}

/** For each parameter tensor: ⟨analytic gradient, u⟩ vs (L(θ + εu) − L(θ − εu)) / 2ε of the reference. */
function directionalErrors(weights: Gpt2Weights, grads: Map<string, Float64Array | Float32Array>, loss: (w: Gpt2Weights) => number): { name: string; rel: number; analytic: number }[] {
  const rng = new Rng(3);
  const eps = 1e-5;
  const out: { name: string; rel: number; analytic: number }[] = [];
  for (const [name, t] of weights) {
    const x = t.data as Float64Array;
    const u = Float64Array.from(x, () => rng.normal());
    const g = grads.get(name)!;
    let analytic = 0;
    g.forEach((v, i) => (analytic += v * u[i]));
    const orig = Float64Array.from(x);
    x.set(orig.map((v, i) => v + eps * u[i]));
    const plus = loss(weights);
    x.set(orig.map((v, i) => v - eps * u[i]));
    const minus = loss(weights);
    x.set(orig);
    const numeric = (plus - minus) / (2 * eps);
    out.push({ name, rel: Math.abs(analytic - numeric) / (1e-3 + Math.abs(numeric)), analytic });
  }
  return out;
}

describe("whole tiny GPT gradient vs the float64 reference", () => {
  it("next-token cross-entropy with a loss mask, left- and right-padded rows", async () => {
    const weights = weights64(1, false);
    const examples = [
      { ids: [5, 9, 2, 17, 4, 4, 11, 3, 20], lossMask: [0, 0, 0, 1, 1, 1, 1, 1, 1] },
      { ids: [7, 1, 22, 13, 6], lossMask: [1, 1, 1, 1, 1] },
      { ids: [12, 12, 19, 8], lossMask: [0, 1, 0, 1] },
    ];
    // Rows 0 and 1 right-padded, row 2 left-padded (positions come from the mask either way).
    const right = lmBatch(examples, { padTokenId: 0, side: "right", floatType: "float64" });
    const left = lmBatch(examples, { padTokenId: 0, side: "left", floatType: "float64" });
    const T = right.input_ids.dims[1];
    const batch: Batch = {};
    for (const key of Object.keys(right)) {
      const r = right[key];
      const data = r.data.slice() as typeof r.data;
      data.set(left[key].data.subarray(2 * T, 3 * T) as never, 2 * T);
      batch[key] = { ...r, data };
    }
    const refLoss = (w: Gpt2Weights) =>
      referenceLmLoss(CONFIG, w, examples.map((e) => ({ ids: e.ids, lossMask: e.ids.map((_, t) => (t + 1 < e.ids.length ? e.lossMask[t + 1] : 0)) })));

    const { loss, grads } = await ortLossAndGrads(causalLmObjective(), weights, batch);
    expect(loss).toBeCloseTo(refLoss(weights), 7);
    const errs = directionalErrors(weights, grads, refLoss);
    expect(errs.length).toBe(2 + 12 * CONFIG.nLayer + 2);
    for (const e of errs) {
      expect(Math.abs(e.analytic), e.name).toBeGreaterThan(1e-4);
      expect(e.rel, e.name).toBeLessThan(1e-6);
    }

    // The same graph in float32 (what training runs) stays within 1e-3 of the float64 gradient.
    const f32 = await ortLossAndGrads(causalLmObjective(), weights, batch, "float32");
    expect(f32.loss).toBeCloseTo(loss, 4);
    for (const [name, g64] of grads) {
      const g32 = f32.grads.get(name)!;
      let diff = 0;
      let norm = 0;
      g64.forEach((v, i) => {
        diff += (v - g32[i]) ** 2;
        norm += v * v;
      });
      expect(Math.sqrt(diff / norm), name).toBeLessThan(1e-3);
    }
  });

  it("pairwise reward loss through the score head at the last token", async () => {
    const weights = weights64(2, true);
    const ex = [
      { sequences: [[4, 8, 15, 16], [4, 8, 22], [4, 8, 1, 2, 9]], ranks: [2, 0, 1] },
      { sequences: [[3, 3, 7], [3, 5, 7, 11, 13, 17]], ranks: [0, 1] },
    ];
    const batch = rankingBatch(ex, 3, { padTokenId: 0, side: "left", floatType: "float64" });
    const refLoss = (w: Gpt2Weights) => {
      let total = 0;
      for (const e of ex) {
        const r = e.sequences.map((s) => referenceReward(CONFIG, w, s));
        let s = 0;
        let n = 0;
        for (let i = 0; i < r.length; i++) {
          for (let j = 0; j < r.length; j++) {
            if (e.ranks[i] < e.ranks[j]) {
              s += Math.log(1 + Math.exp(-(r[i] - r[j])));
              n++;
            }
          }
        }
        total += s / n;
      }
      return total / ex.length;
    };
    const { loss, grads } = await ortLossAndGrads(rewardObjective(3), weights, batch);
    expect(loss).toBeCloseTo(refLoss(weights), 7);
    for (const e of directionalErrors(weights, grads, refLoss)) {
      expect(e.rel, e.name).toBeLessThan(1e-6);
    }
  });
});
