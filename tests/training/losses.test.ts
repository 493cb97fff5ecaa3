// Loss pieces: values against plain-JS formulas, gradients against central finite differences
// (float64, tolerance 1e-6 relative).

import { describe, expect, it } from "vitest";
import { float64, int64 } from "../../inference/onnx/tensor";
import { Rng } from "../../inference/sampling/rng";
import {
  clippedPolicyLoss,
  clippedValueLoss,
  entropy,
  klEstimate,
  pairwiseRankingLoss,
  tokenCrossEntropy,
  tokenLogProbs,
} from "../../training/losses";
import { evaluate, gradCheck } from "./gradcheck";

const TOL = 1e-6;
const B = 2;
const T = 3;
const V = 5;

function normals(n: number, seed: number, scale = 1): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.normal() * scale);
}

function logSoftmaxRow(row: number[]): number[] {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
  return row.map((v) => v - lse);
}

const logits = normals(B * T * V, 1, 2);
const targets = [1, 4, 0, 2, 2, 3];
const mask = [1, 1, 0, 0, 1, 1];

function expectGradientsMatch(r: { maxRelErr: number; maxAbsGrad: number }) {
  expect(r.maxAbsGrad).toBeGreaterThan(0.01);
  expect(r.maxRelErr).toBeLessThan(TOL);
}

describe("token cross-entropy", () => {
  it("is the mean NLL over the masked-in positions only", async () => {
    const out = await evaluate(
      { logits: float64([B, T, V], logits), targets: int64([B, T], targets), mask: float64([B, T], mask) },
      (g, x) => ({ loss: tokenCrossEntropy(g, x.logits, x.targets, x.mask).loss }),
    );
    let sum = 0;
    for (let p = 0; p < B * T; p++) if (mask[p]) sum -= logSoftmaxRow(logits.slice(p * V, p * V + V))[targets[p]];
    expect(out.loss[0]).toBeCloseTo(sum / 4, 12);
  });

  it("has the gradient finite differences give, zero at masked positions", async () => {
    const r = await gradCheck({
      dtype: "float64",
      scalarOutput: true,
      inputs: { logits: { dims: [B, T, V], data: logits }, targets: { dims: [B, T], dtype: "int64", data: targets }, mask: { dims: [B, T], data: mask } },
      wrt: ["logits"],
      build: (g, x) => tokenCrossEntropy(g, x.logits, x.targets, x.mask).loss,
    });
    expectGradientsMatch(r);
  });

  it("log-probs of taken tokens at a temperature", async () => {
    const out = await evaluate({ logits: float64([B, T, V], logits), targets: int64([B, T], targets) }, (g, x) => ({
      lp: tokenLogProbs(g, x.logits, x.targets, 0.7),
    }));
    for (let p = 0; p < B * T; p++) {
      const row = logits.slice(p * V, p * V + V).map((v) => v / 0.7);
      expect(out.lp[p]).toBeCloseTo(logSoftmaxRow(row)[targets[p]], 12);
    }
    expectGradientsMatch(
      await gradCheck({
        dtype: "float64",
        inputs: { logits: { dims: [B, T, V], data: logits }, targets: { dims: [B, T], dtype: "int64", data: targets } },
        wrt: ["logits"],
        build: (g, x) => tokenLogProbs(g, x.logits, x.targets, 0.7),
      }),
    );
  });
});

describe("pairwise ranking loss", () => {
  // Element 0: K = 4 ranked 1, 0, 3, 2 (all 6 pairs). Element 1: 3 completions (slot 3 empty), a tie
  // between slots 0 and 2, so pairs (1 > 0), (1 > 2): 2 pairs.
  const rewards = [0.3, 1.2, -0.4, 0.1, 0.5, -0.2, 0.9, 7];
  const ranks = [1, 0, 3, 2, 1, 0, 1, -1];

  it("averages −log σ(r_w − r_l) over each element's pairs, then over elements", async () => {
    const out = await evaluate({ r: float64([2, 4], rewards), ranks: int64([2, 4], ranks) }, (g, x) => {
      const l = pairwiseRankingLoss(g, x.r, x.ranks);
      return { loss: l.loss, accuracy: l.accuracy, margin: l.margin };
    });
    const nls = (d: number) => Math.log(1 + Math.exp(-d));
    const perElement: number[] = [];
    const diffs: number[] = [];
    for (let b = 0; b < 2; b++) {
      let s = 0;
      let n = 0;
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 4; j++) {
          const [ri, rj] = [ranks[b * 4 + i], ranks[b * 4 + j]];
          if (ri < 0 || rj < 0 || ri >= rj) continue;
          const d = rewards[b * 4 + i] - rewards[b * 4 + j];
          s += nls(d);
          diffs.push(d);
          n++;
        }
      }
      perElement.push(s / n);
    }
    expect(diffs.length).toBe(8);
    expect(out.loss[0]).toBeCloseTo((perElement[0] + perElement[1]) / 2, 12);
    expect(out.accuracy[0]).toBeCloseTo(diffs.filter((d) => d > 0).length / 8, 12);
    expect(out.margin[0]).toBeCloseTo(diffs.reduce((a, b) => a + b) / 8, 12);
  });

  it("has the gradient finite differences give (the empty slot gets none)", async () => {
    expectGradientsMatch(
      await gradCheck({
        dtype: "float64",
        scalarOutput: true,
        inputs: { r: { dims: [2, 4], data: rewards }, ranks: { dims: [2, 4], dtype: "int64", data: ranks } },
        wrt: ["r"],
        build: (g, x) => pairwiseRankingLoss(g, x.r, x.ranks).loss,
      }),
    );
  });

  it("stays finite for far-apart rewards", async () => {
    const out = await evaluate({ r: float64([1, 2], [400, -400]), ranks: int64([1, 2], [1, 0]) }, (g, x) => ({ loss: pairwiseRankingLoss(g, x.r, x.ranks).loss }));
    expect(out.loss[0]).toBeCloseTo(800, 9);
  });
});

describe("PPO pieces", () => {
  // log π − log π_old spread over [−0.5, 0.5] so that with ε = 0.2 both branches occur.
  const oldLp = normals(B * T, 3).map((v) => v - 2);
  const delta = [-0.45, -0.1, 0.05, 0.3, 0.12, -0.3];
  const lp = oldLp.map((v, i) => v + delta[i]);
  const adv = [1.0, -0.5, 0.7, 1.3, -1.1, -0.8];
  const m = [1, 1, 1, 1, 1, 0];

  it("clipped surrogate: value, clip fraction and gradient", async () => {
    const out = await evaluate(
      { lp: float64([B, T], lp), old: float64([B, T], oldLp), adv: float64([B, T], adv), mask: float64([B, T], m) },
      (g, x) => {
        const p = clippedPolicyLoss(g, x.lp, x.old, x.adv, x.mask, 0.2);
        return { loss: p.loss, clipFrac: p.clipFrac, approxKl: p.approxKl };
      },
    );
    let loss = 0;
    let clipped = 0;
    let kl = 0;
    for (let i = 0; i < 5; i++) {
      const ratio = Math.exp(delta[i]);
      const a = -adv[i] * ratio;
      const b = -adv[i] * Math.min(Math.max(ratio, 0.8), 1.2);
      loss += Math.max(a, b);
      if (b > a) clipped++;
      kl += 0.5 * delta[i] ** 2;
    }
    expect(out.loss[0]).toBeCloseTo(loss / 5, 12);
    expect(out.clipFrac[0]).toBeCloseTo(clipped / 5, 12);
    expect(clipped).toBeGreaterThan(0);
    expect(clipped).toBeLessThan(5);
    expect(out.approxKl[0]).toBeCloseTo(kl / 5, 12);
    expectGradientsMatch(
      await gradCheck({
        dtype: "float64",
        scalarOutput: true,
        inputs: { lp: { dims: [B, T], data: lp }, old: { dims: [B, T], data: oldLp }, adv: { dims: [B, T], data: adv }, mask: { dims: [B, T], data: m } },
        wrt: ["lp"],
        build: (g, x) => clippedPolicyLoss(g, x.lp, x.old, x.adv, x.mask, 0.2).loss,
      }),
    );
  });

  it("clipped value loss: value and gradient", async () => {
    const oldV = [0.1, 0.5, -0.3, 0.9, 0.0, 0.2];
    const v = [0.45, 0.52, -0.6, 0.95, -0.35, 0.3];
    const ret = [0.2, 1.0, -0.7, 0.4, -0.5, 0.0];
    const out = await evaluate(
      { v: float64([B, T], v), old: float64([B, T], oldV), ret: float64([B, T], ret), mask: float64([B, T], m) },
      (g, x) => ({ loss: clippedValueLoss(g, x.v, x.old, x.ret, x.mask, 0.2).loss }),
    );
    let loss = 0;
    for (let i = 0; i < 5; i++) {
      const vc = oldV[i] + Math.min(Math.max(v[i] - oldV[i], -0.2), 0.2);
      loss += Math.max((v[i] - ret[i]) ** 2, (vc - ret[i]) ** 2);
    }
    expect(out.loss[0]).toBeCloseTo((0.5 * loss) / 5, 12);
    expectGradientsMatch(
      await gradCheck({
        dtype: "float64",
        scalarOutput: true,
        inputs: { v: { dims: [B, T], data: v }, old: { dims: [B, T], data: oldV }, ret: { dims: [B, T], data: ret }, mask: { dims: [B, T], data: m } },
        wrt: ["v"],
        build: (g, x) => clippedValueLoss(g, x.v, x.old, x.ret, x.mask, 0.2).loss,
      }),
    );
  });

  it("entropy: value and gradient", async () => {
    const out = await evaluate({ logits: float64([B, T, V], logits) }, (g, x) => ({ h: entropy(g, x.logits) }));
    for (let p = 0; p < B * T; p++) {
      const ls = logSoftmaxRow(logits.slice(p * V, p * V + V));
      expect(out.h[p]).toBeCloseTo(-ls.reduce((a, l) => a + Math.exp(l) * l, 0), 12);
    }
    expectGradientsMatch(await gradCheck({ dtype: "float64", inputs: { logits: { dims: [B, T, V], data: logits } }, build: (g, x) => entropy(g, x.logits) }));
  });

  for (const kind of ["k1", "k3"] as const) {
    it(`KL estimator ${kind}: value and gradient`, async () => {
      const ref = lp.map((v, i) => v + 0.3 * Math.sin(i + 1));
      const out = await evaluate({ lp: float64([B, T], lp), ref: float64([B, T], ref) }, (g, x) => ({ kl: klEstimate(g, x.lp, x.ref, kind) }));
      out.kl.forEach((k, i) => {
        const lr = ref[i] - lp[i];
        expect(k).toBeCloseTo(kind === "k1" ? -lr : Math.exp(lr) - 1 - lr, 12);
      });
      expectGradientsMatch(
        await gradCheck({ dtype: "float64", inputs: { lp: { dims: [B, T], data: lp }, ref: { dims: [B, T], data: ref } }, wrt: ["lp"], build: (g, x) => klEstimate(g, x.lp, x.ref, kind) }),
      );
    });
  }
});
