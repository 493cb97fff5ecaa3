// Sampling functions: filters never let a token outside their set through, draws follow the
// distribution, arguments are validated, and the RNG is deterministic.

import { describe, expect, it } from "vitest";
import { GenerationParamError } from "../../inference/errors";
import {
  applyRepetitionPenalty,
  applyTemperature,
  argmax,
  kthLargest,
  logSoftmax,
  sampleFromLogits,
  softmax,
  topKFilter,
  topPFilter,
} from "../../inference/sampling/logits";
import { Rng } from "../../inference/sampling/rng";

function randomLogits(n: number, seed: number, scale = 2): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

describe("Rng", () => {
  it("repeats its stream for a seed and differs across seeds", () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 100 }, () => a.nextFloat());
    expect(Array.from({ length: 100 }, () => b.nextFloat())).toEqual(sa);
    expect(Array.from({ length: 100 }, () => c.nextFloat())).not.toEqual(sa);
    expect(sa.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it("draws normals with mean 0 and variance 1", () => {
    const rng = new Rng(1);
    const xs = Array.from({ length: 20000 }, () => rng.normal());
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });

  it("rejects a seed outside [0, 2^32)", () => {
    expect(() => new Rng(-1)).toThrow(RangeError);
    expect(() => new Rng(2 ** 32)).toThrow(RangeError);
  });
});

describe("filters", () => {
  it("top-k never samples outside the k largest logits", () => {
    const base = randomLogits(200, 5);
    const top = [...base.keys()].sort((a, b) => base[b] - base[a]).slice(0, 7);
    const rng = new Rng(9);
    const counts = new Map<number, number>();
    const filtered = topKFilter(applyTemperature(base.slice(), 0.8), 7);
    for (let i = 0; i < 20000; i++) {
      const { token } = sampleFromLogits(filtered, rng);
      counts.set(token, (counts.get(token) ?? 0) + 1);
    }
    expect([...counts.keys()].every((t) => top.includes(t))).toBe(true);
    expect(counts.size).toBe(7);
  });

  it("top-p never samples outside the nucleus", () => {
    const base = randomLogits(300, 6);
    const probs = softmax(base);
    const order = [...base.keys()].sort((a, b) => probs[b] - probs[a]);
    const nucleus: number[] = [];
    let cum = 0;
    for (const t of order) {
      nucleus.push(t);
      cum += probs[t];
      if (cum >= 0.6) break;
    }
    const rng = new Rng(10);
    const seen = new Set<number>();
    const filtered = topPFilter(base.slice(), 0.6);
    for (let i = 0; i < 20000; i++) seen.add(sampleFromLogits(filtered, rng).token);
    expect([...seen].every((t) => nucleus.includes(t))).toBe(true);
    expect(seen.size).toBe(nucleus.length);
  });

  it("top-p keeps at least the most likely token", () => {
    const logits = Float32Array.from([0, 5, 1]);
    topPFilter(logits, 1e-9);
    expect([...logits]).toEqual([-Infinity, 5, -Infinity]);
  });

  it("draws follow softmax(logits)", () => {
    const logits = Float32Array.from([1, 0, -1, 2]);
    const p = softmax(logits);
    const rng = new Rng(3);
    const n = 50000;
    const counts = new Float64Array(4);
    for (let i = 0; i < n; i++) counts[sampleFromLogits(logits, rng).token]++;
    for (let i = 0; i < 4; i++) expect(Math.abs(counts[i] / n - p[i])).toBeLessThan(0.01);
  });

  it("walks the same inverse CDF as a naive sampler, across many blocks", () => {
    const logits = randomLogits(1000, 8, 3);
    const ours = new Rng(77);
    const naive = new Rng(77);
    const probs = softmax(applyTemperature(logits.slice(), 0.7));
    let same = 0;
    for (let i = 0; i < 5000; i++) {
      const { token } = sampleFromLogits(logits, ours, undefined, 0.7);
      const u = naive.nextFloat();
      let cum = 0;
      let expected = probs.length - 1;
      for (let j = 0; j < probs.length; j++) {
        cum += probs[j];
        if (cum > u) {
          expected = j;
          break;
        }
      }
      if (token === expected) same++;
    }
    expect(same).toBeGreaterThanOrEqual(4995); // only float rounding at a boundary may differ
  });

  it("samples with a temperature as if the logits were divided by it", () => {
    const logits = randomLogits(50, 4);
    const a = sampleFromLogits(logits, new Rng(5), undefined, 0.5);
    const b = sampleFromLogits(applyTemperature(logits.slice(), 0.5), new Rng(5));
    expect(a.token).toBe(b.token);
    expect(a.logprob).toBeCloseTo(b.logprob, 5);
    expect(a.logprob).toBeCloseTo(logSoftmax(applyTemperature(logits.slice(), 0.5))[a.token], 5);
  });

  it("returns the chosen token's log-probability", () => {
    const logits = Float32Array.from([0.5, -1, 3, 2]);
    const ls = logSoftmax(logits);
    const { token, logprob } = sampleFromLogits(logits, new Rng(1));
    expect(logprob).toBeCloseTo(ls[token], 6);
  });

  it("repetition penalty divides positive and multiplies negative logits of seen tokens", () => {
    const logits = Float32Array.from([2, -2, 2, -2]);
    applyRepetitionPenalty(logits, [0, 1, 1], 2);
    expect([...logits]).toEqual([1, -4, 2, -2]);
  });

  it("temperature scales logits; argmax and kthLargest pick the right values", () => {
    expect([...applyTemperature(Float32Array.from([1, -2]), 0.5)]).toEqual([2, -4]);
    const v = Float32Array.from([3, 9, 1, 7, 5]);
    expect(argmax(v)).toBe(1);
    expect(kthLargest(v, 1)).toBe(9);
    expect(kthLargest(v, 3)).toBe(5);
    expect(kthLargest(v, 5)).toBe(1);
  });
});

describe("argument validation", () => {
  const cases: [string, () => unknown][] = [
    ["temperature", () => applyTemperature(new Float32Array(3), -1)],
    ["temperature", () => applyTemperature(new Float32Array(3), 0)],
    ["topK", () => topKFilter(new Float32Array(3), -1)],
    ["topK", () => topKFilter(new Float32Array(3), 1.5)],
    ["topP", () => topPFilter(new Float32Array(3), 0)],
    ["topP", () => topPFilter(new Float32Array(3), 1.2)],
    ["repetitionPenalty", () => applyRepetitionPenalty(new Float32Array(3), [], 0)],
    ["logits", () => sampleFromLogits(Float32Array.from([-Infinity, -Infinity]), new Rng(1))],
  ];
  it.each(cases)("rejects a bad %s", (param, fn) => {
    expect(fn).toThrow(GenerationParamError);
    try {
      fn();
    } catch (err) {
      expect((err as GenerationParamError).param).toBe(param);
      expect((err as Error).message).toContain(param);
    }
  });
});
