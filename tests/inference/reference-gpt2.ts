// An independent plain-TS GPT-2 forward pass (float64, naive loops) to check the ONNX graph against,
// and the training losses on top of it (the whole-model gradient check differentiates these by finite
// differences in float64).

import type { Gpt2Config, Gpt2Weights } from "../../inference/models/gpt2";

type Vec = Float64Array;
type Weight = Float32Array | Float64Array;

/** Final hidden states (after ln_f) of one unpadded sequence, one vector per position. */
export function referenceHidden(c: Gpt2Config, weights: Gpt2Weights, ids: number[]): Vec[] {
  const W = (name: string) => weights.get(name)!.data as Weight;
  const D = c.nEmbd;
  const H = c.nHead;
  const Dh = D / H;
  const T = ids.length;
  const wte = W("transformer.wte.weight");
  const wpe = W("transformer.wpe.weight");
  let h: Vec[] = ids.map((id, t) => {
    const v = new Float64Array(D);
    for (let i = 0; i < D; i++) v[i] = wte[id * D + i] + wpe[t * D + i];
    return v;
  });
  for (let l = 0; l < c.nLayer; l++) {
    const p = `transformer.h.${l}`;
    const x = h.map((v) => layerNorm(v, W(`${p}.ln_1.weight`), W(`${p}.ln_1.bias`), c.layerNormEpsilon));
    const qkv = x.map((v) => linear(v, W(`${p}.attn.c_attn.weight`), W(`${p}.attn.c_attn.bias`), D, 3 * D));
    const ctx = h.map(() => new Float64Array(D));
    for (let head = 0; head < H; head++) {
      for (let t = 0; t < T; t++) {
        const scores = new Float64Array(t + 1);
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let d = 0; d < Dh; d++) dot += qkv[t][head * Dh + d] * qkv[s][D + head * Dh + d];
          scores[s] = dot / Math.sqrt(Dh);
        }
        const probs = softmax(scores);
        for (let s = 0; s <= t; s++) {
          for (let d = 0; d < Dh; d++) ctx[t][head * Dh + d] += probs[s] * qkv[s][2 * D + head * Dh + d];
        }
      }
    }
    h = h.map((v, t) => add(v, linear(ctx[t], W(`${p}.attn.c_proj.weight`), W(`${p}.attn.c_proj.bias`), D, D)));
    h = h.map((v) => {
      const x2 = layerNorm(v, W(`${p}.ln_2.weight`), W(`${p}.ln_2.bias`), c.layerNormEpsilon);
      const fc = linear(x2, W(`${p}.mlp.c_fc.weight`), W(`${p}.mlp.c_fc.bias`), D, 4 * D).map(geluTanh);
      return add(v, linear(fc, W(`${p}.mlp.c_proj.weight`), W(`${p}.mlp.c_proj.bias`), 4 * D, D));
    });
  }
  return h.map((v) => layerNorm(v, W("transformer.ln_f.weight"), W("transformer.ln_f.bias"), c.layerNormEpsilon));
}

export function referenceLogits(c: Gpt2Config, weights: Gpt2Weights, ids: number[]): Vec[] {
  const D = c.nEmbd;
  const wte = weights.get("transformer.wte.weight")!.data as Weight;
  return referenceHidden(c, weights, ids).map((hf) => {
    const logits = new Float64Array(c.vocabSize);
    for (let j = 0; j < c.vocabSize; j++) {
      let s = 0;
      for (let i = 0; i < D; i++) s += hf[i] * wte[j * D + i];
      logits[j] = s;
    }
    return logits;
  });
}

/**
 * Mean next-token cross-entropy over a batch of unpadded sequences: position t predicts ids[t + 1]
 * and counts where lossMask[t] is 1.
 */
export function referenceLmLoss(c: Gpt2Config, weights: Gpt2Weights, batch: { ids: number[]; lossMask: number[] }[]): number {
  let total = 0;
  let count = 0;
  for (const { ids, lossMask } of batch) {
    const logits = referenceLogits(c, weights, ids);
    for (let t = 0; t + 1 < ids.length; t++) {
      if (!lossMask[t]) continue;
      const row = logits[t];
      const max = Math.max(...row);
      let sum = 0;
      for (const v of row) sum += Math.exp(v - max);
      total -= row[ids[t + 1]] - max - Math.log(sum);
      count++;
    }
  }
  return total / Math.max(count, 1);
}

/** The reward (score head) read at the last token of an unpadded sequence. */
export function referenceReward(c: Gpt2Config, weights: Gpt2Weights, ids: number[]): number {
  const hidden = referenceHidden(c, weights, ids);
  const last = hidden[hidden.length - 1];
  const w = weights.get("score.weight")!.data as Weight;
  return last.reduce((a, v, i) => a + v * w[i], 0);
}

/** Greedy continuation by full recomputation at every step. */
export function referenceGreedy(c: Gpt2Config, weights: Gpt2Weights, prompt: number[], maxNew: number, eos: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < maxNew; i++) {
    const logits = referenceLogits(c, weights, [...prompt, ...out]);
    const last = logits[logits.length - 1];
    let best = 0;
    for (let j = 1; j < last.length; j++) if (last[j] > last[best]) best = j;
    out.push(best);
    if (best === eos) break;
  }
  return out;
}

function linear(x: Vec, w: Weight, b: Weight, nIn: number, nOut: number): Vec {
  const y = new Float64Array(nOut);
  for (let o = 0; o < nOut; o++) y[o] = b[o];
  for (let i = 0; i < nIn; i++) {
    const xi = x[i];
    for (let o = 0; o < nOut; o++) y[o] += xi * w[i * nOut + o];
  }
  return y;
}

function layerNorm(x: Vec, g: Weight, b: Weight, eps: number): Vec {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let variance = 0;
  for (const v of x) variance += (v - mean) ** 2;
  variance /= x.length;
  const inv = 1 / Math.sqrt(variance + eps);
  return x.map((v, i) => (v - mean) * inv * g[i] + b[i]);
}

function softmax(x: Vec): Vec {
  const max = Math.max(...x);
  const e = x.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

function add(a: Vec, b: Vec): Vec {
  return a.map((v, i) => v + b[i]);
}
