// The training step end to end on a tiny GPT: it overfits one batch, runs deterministically, gradient
// accumulation equals the whole batch, non-finite steps are refused keeping the previous state, and
// schedule and data order behave.

import { describe, expect, it } from "vitest";
import { initGpt2Weights, type Gpt2Config, type Gpt2Weights } from "../../inference/models/gpt2";
import { Rng } from "../../inference/sampling/rng";
import { lmBatch, type LmExample } from "../../training/batch";
import { DataOrder } from "../../training/data-order";
import { causalLmObjective } from "../../training/objectives";
import { learningRate } from "../../training/schedule";
import { NonFiniteError, Trainer, type TrainerOptions } from "../../training/trainer";

const CONFIG: Gpt2Config = {
  vocabSize: 64,
  nPositions: 32,
  nEmbd: 32,
  nLayer: 2,
  nHead: 2,
  layerNormEpsilon: 1e-5,
  bosTokenId: 0,
  eosTokenId: 0,
  padTokenId: 0,
};

function examples(n: number, seed: number, minLen = 6, maxLen = 16): LmExample[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const len = minLen + Math.floor(rng.nextFloat() * (maxLen - minLen + 1));
    const ids = Array.from({ length: len }, () => 1 + Math.floor(rng.nextFloat() * (CONFIG.vocabSize - 1)));
    return { ids, lossMask: ids.map((_, i) => (i < 2 ? 0 : 1)) };
  });
}

function trainer(over: Partial<TrainerOptions> = {}): Promise<Trainer> {
  return Trainer.create({
    config: CONFIG,
    objective: causalLmObjective(),
    weights: initGpt2Weights(CONFIG, 1),
    schedule: { peakLr: 3e-3, warmupSteps: 2, totalSteps: 100, minLrRatio: 1 },
    intraOpThreads: 2,
    spinning: false,
    ...over,
  });
}

function sameBits(a: Gpt2Weights, b: Gpt2Weights): boolean {
  for (const [name, t] of a) {
    const x = new Uint32Array((t.data as Float32Array).buffer);
    const y = new Uint32Array((b.get(name)!.data as Float32Array).buffer);
    if (x.length !== y.length || x.some((v, i) => v !== y[i])) return false;
  }
  return true;
}

describe("Trainer", () => {
  it("overfits one batch to near-zero loss", async () => {
    const t = await trainer({ schedule: { peakLr: 1e-2, warmupSteps: 5, totalSteps: 120, minLrRatio: 0.1 }, optimizer: { weightDecay: 0 } });
    const batch = lmBatch(examples(4, 3), { padTokenId: 0 });
    try {
      const first = await t.trainStep([batch]);
      let last = first;
      for (let i = 1; i < 120; i++) last = await t.trainStep([batch]);
      expect(first.loss).toBeGreaterThan(3.5); // ≈ ln 64 at initialisation
      expect(last.loss).toBeLessThan(0.05);
      expect(last.step).toBe(120);
    } finally {
      await t.dispose();
    }
  });

  it("is deterministic: the same seed and data give bit-identical weights", async () => {
    const batches = [examples(4, 5), examples(4, 6), examples(4, 7)].map((e) => lmBatch(e, { padTokenId: 0 }));
    const run = async () => {
      const t = await trainer();
      for (const b of batches) await t.trainStep([b]);
      const w = t.weights();
      await t.dispose();
      return w;
    };
    const [a, b] = [await run(), await run()];
    expect(sameBits(a, b)).toBe(true);
    expect(sameBits(a, initGpt2Weights(CONFIG, 1))).toBe(false);
  });

  it("gradient accumulation over micro-batches equals one step on the whole batch", async () => {
    // Micro-batches with different numbers of target tokens: each weighs by its share.
    const all = [...examples(3, 8, 12, 16), ...examples(3, 9, 4, 6)];
    // eps 1 keeps AdamW's first update proportional to the gradient, so differences stay visible.
    const optimizer = { eps: 1, maxGradNorm: 0 };
    const whole = await trainer({ optimizer });
    const split = await trainer({ optimizer, accumulation: 2 });
    try {
      const a = await whole.trainStep([lmBatch(all, { padTokenId: 0 })]);
      const b = await split.trainStep([lmBatch(all.slice(0, 3), { padTokenId: 0 }), lmBatch(all.slice(3), { padTokenId: 0 })]);
      expect(b.loss).toBeCloseTo(a.loss, 5);
      expect(b.gradNorm).toBeCloseTo(a.gradNorm, 5);
      const wa = whole.weights();
      const wb = split.weights();
      const w0 = initGpt2Weights(CONFIG, 1);
      let maxDiff = 0;
      let maxMove = 0;
      for (const [name, t] of wa) {
        const x = t.data as Float32Array;
        const y = wb.get(name)!.data as Float32Array;
        const z = w0.get(name)!.data as Float32Array;
        x.forEach((v, i) => {
          maxDiff = Math.max(maxDiff, Math.abs(v - y[i]));
          maxMove = Math.max(maxMove, Math.abs(v - z[i]));
        });
      }
      expect(maxMove).toBeGreaterThan(1e-5);
      expect(maxDiff).toBeLessThan(maxMove * 1e-3);
    } finally {
      await whole.dispose();
      await split.dispose();
    }
  });

  it("left and right padding give the same loss", async () => {
    const ex = examples(4, 10, 3, 14);
    const t = await trainer();
    const t2 = await trainer();
    try {
      const a = await t.trainStep([lmBatch(ex, { padTokenId: 0, side: "right" })]);
      const b = await t2.trainStep([lmBatch(ex, { padTokenId: 0, side: "left" })]);
      expect(b.loss).toBeCloseTo(a.loss, 5);
    } finally {
      await t.dispose();
      await t2.dispose();
    }
  });

  it("refuses weights that do not fit the config, naming the parameter", async () => {
    const weights = initGpt2Weights({ ...CONFIG, nEmbd: 16 }, 1);
    await expect(trainer({ weights })).rejects.toThrow("weights: transformer.wte.weight has float32 [64,16], expected float [64,32]");
  });

  it("refuses a step with a non-finite loss, naming step and tensor, and keeps the previous state", async () => {
    const weights = initGpt2Weights(CONFIG, 1);
    (weights.get("transformer.h.1.mlp.c_proj.bias")!.data as Float32Array)[3] = NaN;
    const t = await trainer({ weights });
    try {
      const batch = lmBatch(examples(2, 11), { padTokenId: 0 });
      await expect(t.trainStep([batch])).rejects.toThrow(new NonFiniteError(1, "loss", "NaN"));
      expect(t.step).toBe(0);
    } finally {
      await t.dispose();
    }
  });

  it("refuses an update that overflows a parameter, keeping the previous weights and moments", async () => {
    const t = await trainer({ schedule: { peakLr: 1e30, warmupSteps: 0, totalSteps: 10, minLrRatio: 1 } });
    try {
      const batch = lmBatch(examples(2, 12), { padTokenId: 0 });
      const err = await t.trainStep([batch]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NonFiniteError);
      expect((err as NonFiniteError).step).toBe(1);
      expect((err as NonFiniteError).message).toMatch(/^step 1 refused: updated transformer\.wte\.weight is not finite/);
      expect(t.step).toBe(0);
      expect(sameBits(t.weights(), initGpt2Weights(CONFIG, 1))).toBe(true);
      expect(t.state().adamM.get("transformer.wte.weight")!.data.every((v) => v === 0)).toBe(true);
    } finally {
      await t.dispose();
    }
  });
});

describe("learning-rate schedule", () => {
  const s = { peakLr: 1e-3, warmupSteps: 4, totalSteps: 14, minLrRatio: 0.1 };
  it("warms up linearly, then decays along a cosine to the floor at the last step", () => {
    expect([0, 1, 2, 3].map((i) => learningRate(s, i))).toEqual([2.5e-4, 5e-4, 7.5e-4, 1e-3]);
    expect(learningRate(s, 4)).toBeCloseTo(1e-3, 12);
    expect(learningRate(s, 9)).toBeLessThan(1e-3);
    expect(learningRate(s, 13)).toBeCloseTo(1e-4, 12);
    // Half-way through the decay: half-way between peak and floor.
    expect(learningRate({ ...s, totalSteps: 13 }, 8)).toBeCloseTo(5.5e-4, 12);
  });
});

describe("data order", () => {
  const lengths = Array.from({ length: 103 }, (_, i) => 5 + ((i * 37) % 60));

  it("covers every example once per epoch, in a seeded order that differs between epochs", () => {
    const order = new DataOrder(lengths, { batchSize: 8, seed: 4 });
    const epoch = (o: DataOrder) => Array.from({ length: o.batchesPerEpoch }, () => o.next());
    const e1 = epoch(order);
    const e2 = epoch(order);
    expect(e1.flat().sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    expect(e2.flat().sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    expect(e2).not.toEqual(e1);
    expect(epoch(new DataOrder(lengths, { batchSize: 8, seed: 4 }))).toEqual(e1);
  });

  it("length bucketing pads less than random batches", () => {
    const padding = (bucketing: boolean) => {
      const o = new DataOrder(lengths, { batchSize: 8, seed: 4, bucketing });
      let pad = 0;
      for (let i = 0; i < o.batchesPerEpoch; i++) {
        const b = o.next().map((j) => lengths[j]);
        pad += b.reduce((a, l) => a + Math.max(...b) - l, 0);
      }
      return pad;
    };
    expect(padding(true)).toBeLessThan(padding(false) / 3);
  });

  it("resumes from a saved state with the same batches", () => {
    const a = new DataOrder(lengths, { batchSize: 8, seed: 4 });
    for (let i = 0; i < 17; i++) a.next();
    const saved = a.state();
    const expected = Array.from({ length: 20 }, () => a.next());
    const b = new DataOrder(lengths, { batchSize: 8, seed: 4 });
    b.restore(saved);
    expect(Array.from({ length: 20 }, () => b.next())).toEqual(expected);
    expect(() => new DataOrder(lengths, { batchSize: 8, seed: 5 }).restore(saved)).toThrow(/seed 4 differs from this run's 5/);
  });
});
