// The reward-model loss with margins and the centering term: values and gradients against float64
// formulas written out in JS, the whole tiny GPT's gradient against the float64 reference model, and
// the K-way layout (each completion forwarded once, all pairs of a set in one batch element) against
// the same pairs laid out one per element.

import { describe, expect, it } from "vitest";
import { Graph } from "../../inference/onnx/graph";
import { initGpt2ScoreHead, initGpt2Weights, type Gpt2Config, type Gpt2Weights } from "../../inference/models/gpt2";
import { serializeGraph } from "../../inference/onnx/serialize";
import { float64, int64, type TensorData } from "../../inference/onnx/tensor";
import { createSession, toOrtTensor } from "../../inference/runtime/ort";
import { Rng } from "../../inference/sampling/rng";
import { buildGradients } from "../../training/autodiff/gradients";
import { rankingBatch, type Batch, type RankingExample } from "../../training/batch";
import { pairwiseRankingLoss } from "../../training/losses";
import { rewardObjective, type Objective } from "../../training/objectives";
import { buildStepGraph, FLAT, STEP_SCALARS } from "../../training/step-graph";
import { referenceReward } from "../inference/reference-gpt2";
import { gradCheck } from "./gradcheck";

const CENTERING = 0.01;

/** −log σ(d) in float64. */
const nls = (d: number) => (d > 0 ? Math.log1p(Math.exp(-d)) : -d + Math.log1p(Math.exp(d)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * The loss written out: per element the mean over its pairs (rank_i < rank_j, both present) of
 * −log σ(r_i − r_j − m_ij) + c·(r_i + r_j)², then the mean over elements with pairs. Returns the
 * loss and its gradient with respect to the rewards.
 */
function referenceLoss(rewards: number[], ranks: number[], margins: number[], k: number, c: number): { loss: number; grad: number[] } {
  const B = ranks.length / k;
  const grad = new Array<number>(rewards.length).fill(0);
  const perElement: { loss: number; pairs: [number, number, number][] }[] = [];
  for (let b = 0; b < B; b++) {
    const pairs: [number, number, number][] = [];
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        const [ri, rj] = [ranks[b * k + i], ranks[b * k + j]];
        if (ri >= 0 && rj >= 0 && ri < rj) pairs.push([b * k + i, b * k + j, margins[(b * k + i) * k + j]]);
      }
    }
    if (pairs.length === 0) continue;
    let s = 0;
    for (const [w, l, m] of pairs) s += nls(rewards[w] - rewards[l] - m) + c * (rewards[w] + rewards[l]) ** 2;
    perElement.push({ loss: s / pairs.length, pairs });
  }
  const E = perElement.length;
  for (const e of perElement) {
    const scale = 1 / (E * e.pairs.length);
    for (const [w, l, m] of e.pairs) {
      const d = sigmoid(-(rewards[w] - rewards[l] - m)); // −∂/∂d of −log σ(d − m)
      const centre = 2 * c * (rewards[w] + rewards[l]);
      grad[w] += scale * (-d + centre);
      grad[l] += scale * (d + centre);
    }
  }
  return { loss: perElement.reduce((a, e) => a + e.loss, 0) / E, grad };
}

describe("pairwise ranking loss with margins and centering", () => {
  // Element 0: K = 4, ranks 1 0 3 2 (6 pairs); element 1: a tie (slots 0 and 2) and an empty slot;
  // element 2: all tied (no pair, left out of the mean).
  const K = 4;
  const rewards = [0.3, 1.2, -0.4, 0.1, 0.5, -0.2, 0.9, 7, 0.2, 0.4, -1, 3];
  const ranks = [1, 0, 3, 2, 1, 0, 1, -1, 0, 0, 0, 0];
  const rng = new Rng(5);
  const margins = Array.from({ length: 3 * K * K }, () => Math.abs(rng.normal()));

  it("equals the float64 formula, value and gradient", async () => {
    const g = new Graph("loss");
    const r = g.input("r", "float64", [3, K]);
    const rk = g.input("ranks", "int64", [3, K]);
    const m = g.input("margins", "float64", [3, K, K]);
    const { loss, accuracy } = pairwiseRankingLoss(g, r, rk, { margins: m, centering: CENTERING });
    const grads = buildGradients(g, loss, [r]);
    g.output(loss, "loss", []);
    g.output(accuracy, "accuracy", []);
    g.output(grads.get(r.name)!, "grad", [3, K]);
    const { session } = await createSession(serializeGraph(g), { providers: ["cpu"], intraOpThreads: 1, log: () => {} });
    try {
      const out = await session.run({
        r: toOrtTensor(float64([3, K], rewards)),
        ranks: toOrtTensor(int64([3, K], ranks)),
        margins: toOrtTensor(float64([3, K, K], margins)),
      });
      const ref = referenceLoss(rewards, ranks, margins, K, CENTERING);
      expect(Number(out.loss.data[0])).toBeCloseTo(ref.loss, 12);
      const grad = Array.from(out.grad.data as Float64Array);
      grad.forEach((v, i) => expect(Math.abs(v - ref.grad[i]), `reward ${i}`).toBeLessThan(1e-12));
      // Slots without pairs (the empty slot, the all-tied element) get no gradient; the others do.
      for (const i of [7, 8, 9, 10, 11]) expect(grad[i]).toBe(0);
      for (const i of [0, 1, 2, 3, 4, 5, 6]) expect(Math.abs(grad[i])).toBeGreaterThan(1e-3);
    } finally {
      await session.release();
    }
  });

  it("has the gradient central finite differences give", async () => {
    const r = await gradCheck({
      dtype: "float64",
      scalarOutput: true,
      inputs: {
        r: { dims: [3, K], data: rewards },
        ranks: { dims: [3, K], dtype: "int64", data: ranks },
        m: { dims: [3, K, K], data: margins },
      },
      wrt: ["r"],
      build: (g, x) => pairwiseRankingLoss(g, x.r, x.ranks, { margins: x.m, centering: CENTERING }).loss,
    });
    expect(r.maxAbsGrad).toBeGreaterThan(0.01);
    expect(r.maxRelErr).toBeLessThan(1e-6);
  });

  it("with K = 2 is TRL's loss: mean −log σ(r_c − r_r − m) + c·mean (r_c + r_r)²", async () => {
    const chosen = [0.7, -0.3, 2.0];
    const rejected = [0.1, 0.4, -1.5];
    const m = [0.5, 0, 1.2];
    const r2 = chosen.flatMap((c, i) => [c, rejected[i]]);
    const margins2 = m.flatMap((v) => [0, v, 0, 0]);
    const ref = referenceLoss(r2, [0, 1, 0, 1, 0, 1], margins2, 2, CENTERING);
    const trl = chosen.reduce((a, c, i) => a + nls(c - rejected[i] - m[i]), 0) / 3 + (CENTERING * chosen.reduce((a, c, i) => a + (c + rejected[i]) ** 2, 0)) / 3;
    expect(ref.loss).toBeCloseTo(trl, 14);
  });
});

const CONFIG: Gpt2Config = { vocabSize: 23, nPositions: 12, nEmbd: 8, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5, bosTokenId: 0, eosTokenId: 0, padTokenId: 0 };

/** Float64 weights scaled up from the init so every path matters. */
function weights64(seed: number): Gpt2Weights {
  const rng = new Rng(seed + 100);
  const w = initGpt2Weights(CONFIG, seed);
  w.set("score.weight", initGpt2ScoreHead(CONFIG, seed));
  const out: Gpt2Weights = new Map();
  for (const [name, t] of w) {
    const data = Float64Array.from(t.data as Float32Array, (v) => (name.includes("ln_") ? v + 0.2 * rng.normal() : name.endsWith(".bias") ? 0.1 * rng.normal() : v * 15));
    out.set(name, float64(t.dims, data));
  }
  return out;
}

/** Loss and flat gradient of one float64 gradients-only step graph. */
async function lossAndGrad(objective: Objective, weights: Gpt2Weights, batch: Batch): Promise<{ loss: number; grads: Map<string, Float64Array> }> {
  const step = buildStepGraph({ config: CONFIG, objective, floatType: "float64", mode: "gradients" });
  const { session } = await createSession(serializeGraph(step.graph), { providers: ["cpu"], intraOpThreads: 1, log: () => {} });
  try {
    const feeds: Record<string, TensorData> = { [STEP_SCALARS.lossWeight]: float64([], [1]), ...batch };
    for (const p of step.params) feeds[p.name] = weights.get(p.name)!;
    const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toOrtTensor(t)])));
    const flat = out[FLAT.grad].data as Float64Array;
    return { loss: Number(out.loss.data[0]), grads: new Map(step.params.map((p) => [p.name, flat.subarray(p.offset, p.offset + p.size)])) };
  } finally {
    await session.release();
  }
}

/** The same ranked sets as K = 2 elements, one per pair (margin carried along). */
function explicitPairs(sets: RankingExample[]): RankingExample[] {
  return sets.flatMap((e) =>
    e.sequences.flatMap((wSeq, i) =>
      e.sequences.flatMap((lSeq, j) => (e.ranks[i] < e.ranks[j] ? [{ sequences: [wSeq, lSeq], ranks: [0, 1], margins: [[0, e.margins?.[i][j] ?? 0], [0, 0]] }] : [])),
    ),
  );
}

describe("reward objective through the tiny GPT", () => {
  const sets: RankingExample[] = [
    { sequences: [[4, 8, 15, 16], [4, 8, 22], [4, 8, 1, 2, 9]], ranks: [2, 0, 1], margins: [[0, 0.3, 0], [0.5, 0, 0.2], [0.1, 0.4, 0]] },
    { sequences: [[3, 3, 7], [3, 5, 7, 11, 13, 17], [3, 9]], ranks: [0, 2, 1], margins: [[0, 1.0, 0.7], [0, 0, 0], [0, 0.25, 0]] },
  ];

  it("loss and every parameter's gradient match finite differences of the float64 reference model", async () => {
    const weights = weights64(3);
    const batch = rankingBatch(sets, 3, { padTokenId: 0, side: "left", floatType: "float64", margins: true });
    const refLoss = (w: Gpt2Weights) => {
      const rewards = sets.flatMap((e) => e.sequences.map((s) => referenceReward(CONFIG, w, s)));
      return referenceLoss(rewards, sets.flatMap((e) => e.ranks), sets.flatMap((e) => e.margins!.flat()), 3, CENTERING).loss;
    };
    const { loss, grads } = await lossAndGrad(rewardObjective(3, { margins: true, centering: CENTERING }), weights, batch);
    expect(loss).toBeCloseTo(refLoss(weights), 7);
    const rng = new Rng(9);
    const eps = 1e-5;
    for (const [name, t] of weights) {
      const x = t.data as Float64Array;
      const u = Float64Array.from(x, () => rng.normal());
      let analytic = 0;
      grads.get(name)!.forEach((v, i) => (analytic += v * u[i]));
      const orig = Float64Array.from(x);
      x.set(orig.map((v, i) => v + eps * u[i]));
      const plus = refLoss(weights);
      x.set(orig.map((v, i) => v - eps * u[i]));
      const minus = refLoss(weights);
      x.set(orig);
      const numeric = (plus - minus) / (2 * eps);
      expect(Math.abs(analytic - numeric) / (1e-3 + Math.abs(numeric)), name).toBeLessThan(1e-6);
    }
  });

  it("forwarding each completion once gives the loss and gradient of the explicit pairs", async () => {
    const weights = weights64(4);
    const objective = (k: number) => rewardObjective(k, { margins: true, centering: CENTERING });
    // Both sets have 3 pairs, so the mean over sets equals the mean over all 6 pairs.
    const kway = await lossAndGrad(objective(3), weights, rankingBatch(sets, 3, { padTokenId: 0, floatType: "float64", margins: true }));
    const pairs = explicitPairs(sets);
    expect(pairs.length).toBe(6);
    const pairwise = await lossAndGrad(objective(2), weights, rankingBatch(pairs, 2, { padTokenId: 0, floatType: "float64", margins: true }));
    expect(Math.abs(kway.loss - pairwise.loss)).toBeLessThan(1e-12);
    let maxGrad = 0;
    for (const [name, g] of kway.grads) {
      const p = pairwise.grads.get(name)!;
      g.forEach((v, i) => {
        maxGrad = Math.max(maxGrad, Math.abs(v));
        expect(Math.abs(v - p[i]), name).toBeLessThan(1e-10 * (1 + Math.abs(v)));
      });
    }
    expect(maxGrad).toBeGreaterThan(1e-3);

    // A set with a tie (5 pairs of 4 completions) against its pairs alone, and with ragged K.
    const tied: RankingExample = { sequences: [[5, 6, 7], [5, 6, 9, 9], [5, 2], [5, 6, 7, 8, 1]], ranks: [1, 0, 1, 2] };
    const one = await lossAndGrad(rewardObjective(5), weights, rankingBatch([tied], 5, { padTokenId: 0, floatType: "float64" }));
    const tiedPairs = explicitPairs([tied]);
    expect(tiedPairs.length).toBe(5);
    const split = await lossAndGrad(rewardObjective(2), weights, rankingBatch(tiedPairs, 2, { padTokenId: 0, floatType: "float64" }));
    expect(Math.abs(one.loss - split.loss)).toBeLessThan(1e-12);
    for (const [name, g] of one.grads) g.forEach((v, i) => expect(Math.abs(v - split.grads.get(name)![i]), name).toBeLessThan(1e-10 * (1 + Math.abs(v))));
  });
});
