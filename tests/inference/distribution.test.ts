// Sampling from the graph's probabilities: top-p's cut-off against Hugging Face's TopPLogitsWarper
// (including its order among tied tokens), top-k keeping ties, the repetition penalty on seen tokens
// only, and draws that follow the filtered distribution.

import { describe, expect, it } from "vitest";
import { DistributionSampler, MAX_VOCAB, type Cut } from "../../inference/sampling/distribution";
import { Rng } from "../../inference/sampling/rng";

/**
 * Hugging Face's TopPLogitsWarper as written: a stable ascending sort, the cumulative sum, tokens with
 * cumsum ≤ 1 − top_p removed, the last one always kept. Returns the kept ids.
 */
function hfTopP(probs: Float32Array, topP: number): number[] {
  const order = [...probs.keys()].sort((a, b) => probs[a] - probs[b] || a - b);
  const total = probs.reduce((a, b) => a + b, 0);
  let cum = 0;
  const kept: number[] = [];
  order.forEach((i, j) => {
    cum += probs[i] / total;
    if (cum > 1 - topP || j === order.length - 1) kept.push(i);
  });
  return kept.sort((a, b) => a - b);
}

function keptBy(probs: Float32Array, cut: Cut): number[] {
  const bits = new Uint32Array(probs.buffer, probs.byteOffset, probs.length);
  return [...probs.keys()].filter((i) => probs[i] > 0 && (bits[i] > cut.bits || (bits[i] === cut.bits && i >= cut.index)));
}

/** Probabilities that are multiples of a power of two summing to exactly 1, so every partial sum is exact and ties are common. */
function dyadic(n: number, rng: Rng): Float32Array {
  const weights = Array.from({ length: n }, () => Math.floor(rng.nextFloat() * 6));
  const sum = weights.reduce((a, b) => a + b, 0);
  const scale = 2 ** Math.ceil(Math.log2(sum + 1));
  weights[Math.floor(rng.nextFloat() * n)] += scale - sum;
  return Float32Array.from(weights, (w) => w / scale);
}

describe("top-p (radix selection)", () => {
  it("keeps what Hugging Face keeps, tie order at the cut-off included", () => {
    const rng = new Rng(4);
    const sampler = new DistributionSampler(300);
    for (let trial = 0; trial < 300; trial++) {
      const probs = dyadic(300, rng);
      const topP = [0.125, 0.5, 0.75, 0.9, 0.95, 0.99][trial % 6];
      expect(keptBy(probs, sampler.nucleus(probs, topP))).toEqual(hfTopP(probs, topP));
    }
  });

  it("among equally likely tokens at the cut-off, drops lower ids first (stable ascending sort)", () => {
    const sampler = new DistributionSampler(4);
    const flat = Float32Array.from([0.25, 0.25, 0.25, 0.25]);
    expect(keptBy(flat, sampler.nucleus(flat, 0.5))).toEqual([2, 3]); // cumsum 0.25, 0.5 ≤ 0.5 go
    expect(keptBy(flat, sampler.nucleus(flat, 0.6))).toEqual([1, 2, 3]);
    expect(keptBy(flat, sampler.nucleus(flat, 1e-9))).toEqual([3]); // at least one stays
    const peaked = Float32Array.from([0.125, 0.5, 0.125, 0.25]);
    expect(keptBy(peaked, sampler.nucleus(peaked, 0.8))).toEqual([1, 3, 2].sort()); // 0.125 (id 0) goes first
  });

  it("matches on real-valued probabilities of a large vocabulary", () => {
    const rng = new Rng(8);
    const V = 8192;
    const sampler = new DistributionSampler(V);
    for (let trial = 0; trial < 10; trial++) {
      const logits = Float32Array.from({ length: V }, () => rng.normal() * (0.5 + trial));
      const max = Math.max(...logits);
      const e = logits.map((x) => Math.exp(x - max));
      const sum = e.reduce((a, b) => a + b, 0);
      const probs = e.map((x) => x / sum);
      const ours = keptBy(probs, sampler.nucleus(probs, 0.95));
      const ref = hfTopP(probs, 0.95);
      // float32 cumulative sums may flip the one token sitting exactly at the threshold
      expect(Math.abs(ours.length - ref.length)).toBeLessThanOrEqual(1);
      expect(ours.filter((i) => !ref.includes(i)).length + ref.filter((i) => !ours.includes(i)).length).toBeLessThanOrEqual(1);
    }
  });

  it("draws follow the renormalised nucleus", () => {
    const probs = Float32Array.from([0.05, 0.4, 0.1, 0.3, 0.15]);
    const sampler = new DistributionSampler(5);
    const rng = new Rng(3);
    const counts = new Float64Array(5);
    const n = 40000;
    for (let i = 0; i < n; i++) {
      const { token, logprob } = sampler.sample(probs.slice(), 0, { temperature: 1, topK: 0, topP: 0.8, repetitionPenalty: 1 }, [], [], rng);
      counts[token]++;
      expect(logprob).toBeCloseTo(Math.log(probs[token] / 0.85), 5);
    }
    // Nucleus at 0.8: 0.4 + 0.3 + 0.15 = 0.85 (0.1 and 0.05 go).
    expect(counts[0] + counts[2]).toBe(0);
    for (const [t, p] of [[1, 0.4 / 0.85], [3, 0.3 / 0.85], [4, 0.15 / 0.85]]) expect(Math.abs(counts[t] / n - p)).toBeLessThan(0.01);
  });

  it("draws only the tokens Hugging Face keeps, in proportion, when the cut-off falls among tied tokens", () => {
    const rng = new Rng(11);
    const V = 64;
    const sampler = new DistributionSampler(V);
    for (let trial = 0; trial < 6; trial++) {
      const probs = dyadic(V, rng);
      const topP = [0.5, 0.75, 0.9][trial % 3];
      const kept = hfTopP(probs, topP);
      const keptMass = kept.reduce((a, i) => a + probs[i], 0);
      const counts = new Float64Array(V);
      const n = 20000;
      for (let d = 0; d < n; d++) {
        const { token, logprob } = sampler.sample(probs.slice(), 0, { temperature: 1, topK: 0, topP, repetitionPenalty: 1 }, [], [], rng);
        counts[token]++;
        expect(logprob).toBeCloseTo(Math.log(probs[token] / keptMass), 5);
      }
      for (let t = 0; t < V; t++) {
        if (!kept.includes(t)) expect(counts[t], `token ${t} is cut`).toBe(0);
        else expect(Math.abs(counts[t] / n - probs[t] / keptMass), `token ${t}`).toBeLessThan(0.015);
      }
    }
  });
});

describe("samplers sharing the thread's scratch memory", () => {
  it("draw as they would alone when samplers of different vocabularies alternate", () => {
    const rng = new Rng(21);
    const small = dyadic(50, rng);
    const large = dyadic(3000, rng);
    const f = { temperature: 1, topK: 0, topP: 0.9, repetitionPenalty: 1 };
    const alone = (probs: Float32Array, seed: number) => {
      const sampler = new DistributionSampler(probs.length);
      const r = new Rng(seed);
      return Array.from({ length: 200 }, () => sampler.sample(probs.slice(), 0, f, [], [], r).token);
    };
    const expectedSmall = alone(small, 1);
    const expectedLarge = alone(large, 2);
    const a = new DistributionSampler(50);
    const b = new DistributionSampler(3000);
    const ra = new Rng(1);
    const rb = new Rng(2);
    const gotSmall: number[] = [];
    const gotLarge: number[] = [];
    for (let i = 0; i < 200; i++) {
      gotLarge.push(b.sample(large.slice(), 0, f, [], [], rb).token);
      expect(keptBy(small, a.nucleus(small, 0.5))).toEqual(hfTopP(small, 0.5));
      gotSmall.push(a.sample(small.slice(), 0, f, [], [], ra).token);
    }
    expect(gotSmall).toEqual(expectedSmall);
    expect(gotLarge).toEqual(expectedLarge);
  });

  it("refuses a vocabulary larger than it takes, saying so", () => {
    expect(() => new DistributionSampler(MAX_VOCAB + 1)).toThrow(/vocabularies of 1 to 524288 tokens, got 524289/);
    expect(() => new DistributionSampler(0)).toThrow(/got 0/);
  });
});

describe("top-k and the repetition penalty", () => {
  it("top-k keeps every token tied with the k-th (Hugging Face's TopKLogitsWarper)", () => {
    const sampler = new DistributionSampler(5);
    const rng = new Rng(1);
    const seenTokens = new Set<number>();
    for (let i = 0; i < 3000; i++) {
      const probs = Float32Array.from([0.1, 0.25, 0.25, 0.25, 0.15]);
      seenTokens.add(sampler.sample(probs, 0, { temperature: 1, topK: 2, topP: 1, repetitionPenalty: 1 }, [], [], rng).token);
    }
    expect([...seenTokens].sort()).toEqual([1, 2, 3]);
  });

  it("changes only the seen tokens, as Hugging Face's penalty on the logits would", () => {
    const logits = [2, -1, 0.5, 3, -2, 1];
    const temperature = 0.7;
    const softmax = (l: number[]) => {
      const m = Math.max(...l.map((x) => x / temperature));
      const e = l.map((x) => Math.exp(x / temperature - m));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((x) => x / s);
    };
    const probs = Float32Array.from(softmax(logits));
    const before = probs.slice();
    const seen = [0, 1];
    const penalty = 1.3;
    const sampler = new DistributionSampler(6);
    const logNorm = Math.log(logits.reduce((sum, l) => sum + Math.exp(l / temperature), 0)); // log Σ exp(logit / temperature)
    sampler.sample(probs, logNorm, { temperature, topK: 0, topP: 1, repetitionPenalty: penalty }, seen, [], new Rng(1));
    const penalized = logits.map((l, i) => (seen.includes(i) ? (l > 0 ? l / penalty : l * penalty) : l));
    const expected = softmax(penalized);
    // Unseen tokens keep their probability exactly (the normalisation is done by the draw).
    for (const i of [2, 3, 4, 5]) expect(probs[i]).toBe(before[i]);
    // Seen tokens: same ratio to an unseen one as after penalising the logits.
    for (const i of seen) expect(probs[i] / probs[3]).toBeCloseTo(expected[i] / expected[3], 5);
  });

  it("masked tokens are never drawn", () => {
    const sampler = new DistributionSampler(3);
    const rng = new Rng(2);
    for (let i = 0; i < 500; i++) {
      const probs = Float32Array.from([0.98, 0.01, 0.01]);
      expect(sampler.sample(probs, 0, { temperature: 1, topK: 0, topP: 0.9, repetitionPenalty: 1 }, [], [0], rng).token).not.toBe(0);
    }
  });
});
