// Sampling from the distribution the model graph computes: probs = softmax(logits / temperature)
// and logNorm = log Σ exp(logits / temperature) for one row. No exp over the vocabulary and no sort
// happen here: the repetition penalty touches only the tokens already seen, top-k takes a bounded
// heap, and top-p finds its cut-off by radix selection on the probabilities' float bits.

import { GenerationParamError } from "../errors";
import { kthLargest } from "./logits";
import type { Rng } from "./rng";

export interface Filters {
  /** The temperature the probabilities were computed with (> 0). */
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off. */
  topP: number;
  /** 1 = off. */
  repetitionPenalty: number;
}

// Radix selection buckets a probability by its float32 bits from the sign down to the 8th mantissa
// bit (order-preserving for non-negative floats); a sort orders the few tokens of one bucket.
const BUCKET_SHIFT = 15;
const BUCKETS = 2 ** (32 - BUCKET_SHIFT);
/** The largest vocabulary the sampler takes (Gemma's 262,144 is the largest in use today). */
export const MAX_VOCAB = 2 ** 19;

// The selection's scratch memory, shared by every sampler of this thread (a draw runs to its end
// without yielding). Module constants, not fields: V8 compiles loops over a constant typed array
// with its address and length folded in, which made the bucket pass 1.6 times as fast here.
/** Per bucket: the probability mass, and the last token in it (−1: none). */
const MASS = new Float64Array(BUCKETS);
const HEAD = new Int32Array(BUCKETS).fill(-1);
/** NEXT[i]: the token before i in i's bucket. */
const NEXT = new Int32Array(MAX_VOCAB);

/** Draws for one vocabulary size. */
export class DistributionSampler {
  constructor(readonly vocab: number) {
    if (!(Number.isInteger(vocab) && vocab > 0 && vocab <= MAX_VOCAB)) {
      throw new GenerationParamError("vocab", `the sampler takes vocabularies of 1 to ${MAX_VOCAB} tokens, got ${vocab}`);
    }
  }

  /**
   * Draws a token from `probs` (a row of softmax(logits / temperature), changed in place): the
   * repetition penalty on `seen` (as Hugging Face: positive logits divided by it, negative ones
   * multiplied), tokens in `masked` set to 0, then top-k and top-p. Returns the token and its
   * log-probability under the distribution it was drawn from.
   */
  sample(probs: Float32Array, logNorm: number, f: Filters, seen: readonly number[], masked: Iterable<number>, rng: Rng): { token: number; logprob: number } {
    if (probs.length !== this.vocab) throw new GenerationParamError("probs", `expected ${this.vocab} probabilities, got ${probs.length}`);
    if (f.repetitionPenalty !== 1) penalize(probs, logNorm, f.temperature, seen, f.repetitionPenalty);
    for (const t of masked) if (t >= 0 && t < probs.length) probs[t] = 0;
    if (f.topK > 0 && f.topK < probs.length) {
      const threshold = kthLargest(probs, f.topK);
      // Ties with the k-th value stay, as in Hugging Face's TopKLogitsWarper.
      for (let i = 0; i < probs.length; i++) if (probs[i] < threshold) probs[i] = 0;
    }
    if (f.topP < 1) return this.drawFromNucleus(probs, f.topP, rng);
    let total = 0;
    for (let i = 0; i < probs.length; i++) total += probs[i];
    return drawAbove(probs, { bits: 0, index: 0, mass: total }, rng);
  }

  /**
   * Hugging Face's TopPLogitsWarper without its sort: in ascending order of (probability, id), the
   * tokens whose cumulative probability is ≤ 1 − topP are removed (so among tokens tied at the
   * cut-off, lower ids go first), and at least the last one stays. Returns the first token kept in
   * that order (its probability's float bits and id) and the mass kept; `probs` is not changed.
   */
  nucleus(probs: Float32Array, topP: number): Cut {
    const found = findCut(probs, topP);
    const { kept, keptFrom } = found;
    const cut: Cut =
      keptFrom < kept.length
        ? { bits: found.bits[kept[keptFrom]], index: kept[keptFrom], mass: found.mass }
        : // Every token of the cut-off bucket went: the first kept is in a higher bucket.
          { bits: found.bits[kept[kept.length - 1]], index: kept[kept.length - 1] + 1, mass: found.mass };
    resetBuckets(found.lowest, found.highest);
    return cut;
  }

  /**
   * A draw from the renormalised nucleus, walking the buckets the cut-off keeps from the most likely
   * down: it stops after a handful of buckets and their tokens instead of a pass over the vocabulary.
   */
  private drawFromNucleus(probs: Float32Array, topP: number, rng: Rng): { token: number; logprob: number } {
    const found = findCut(probs, topP);
    const u = rng.nextFloat() * found.mass;
    let acc = 0;
    let token = -1;
    draw: {
      for (let b = found.highest; b > found.bucket; b--) {
        const m = MASS[b];
        if (m === 0) continue;
        if (acc + m <= u) {
          acc += m;
          continue;
        }
        for (let i = HEAD[b]; i >= 0; i = NEXT[i]) {
          acc += probs[i];
          token = i;
          if (acc > u) break draw;
        }
      }
      const { kept, keptFrom } = found;
      for (let j = keptFrom; j < kept.length; j++) {
        const i = kept[j];
        if (!(probs[i] > 0)) continue;
        acc += probs[i];
        token = i;
        if (acc > u) break draw;
      }
      // Rounding: u landed past the last sum; the last kept token visited is drawn.
    }
    resetBuckets(found.lowest, found.highest);
    if (token < 0 || !(found.mass > 0)) throw new GenerationParamError("logits", "every token is masked: nothing to sample");
    return { token, logprob: Math.log(probs[token] / found.mass) };
  }
}

/**
 * The cut-off by radix selection in one pass: the mass per bucket of the float bits (each bucket
 * listing its tokens), then a sort of the few tokens of the bucket the cut-off falls in. Buckets
 * above `bucket` are kept whole, and of `bucket` its tokens kept[keptFrom…]. The caller resets the
 * buckets (resetBuckets) once it has used their lists.
 */
function findCut(probs: Float32Array, topP: number) {
  if (!(topP > 0 && topP <= 1)) throw new GenerationParamError("topP", `must be in (0, 1], got ${topP}`);
  const bits = new Uint32Array(probs.buffer, probs.byteOffset, probs.length);
  const n = probs.length;
  // MASS is all zeros and HEAD all −1 between calls; only the buckets in use are visited and reset.
  let lowest = BUCKETS;
  let highest = 0;
  for (let i = 0; i < n; i++) {
    const b = bits[i] >>> BUCKET_SHIFT;
    MASS[b] += probs[i];
    NEXT[i] = HEAD[b];
    HEAD[b] = i;
    if (b < lowest && b > 0) lowest = b;
    if (b > highest) highest = b;
  }
  let total = MASS[0];
  for (let b = lowest; b <= highest; b++) total += MASS[b];
  const budget = (1 - topP) * total; // the mass that may go
  // Buckets between 0 (zeros and the smallest subnormals) and `lowest` are empty.
  let removed = 0;
  let b = 0;
  if (MASS[0] <= budget) {
    removed = MASS[0];
    b = lowest;
    while (b < highest && removed + MASS[b] <= budget) removed += MASS[b++];
  }
  // Bucket b holds the cut-off: buckets below go whole, buckets above stay whole. Its tokens in
  // (probability, id) order go while the mass removed stays within the budget.
  const kept: number[] = [];
  for (let i = HEAD[b]; i >= 0; i = NEXT[i]) kept.push(i);
  kept.sort((x, y) => bits[x] - bits[y] || x - y);
  let keptFrom = 0;
  while (keptFrom < kept.length && removed + probs[kept[keptFrom]] <= budget) removed += probs[kept[keptFrom++]];
  let keptMass = total - removed;
  // Rounding left nothing: the most likely token stays.
  if (!(keptMass > 0) || (keptFrom === kept.length && b === highest)) {
    keptFrom = kept.length - 1;
    keptMass = probs[kept[keptFrom]];
  }
  return { bits, bucket: b, kept, keptFrom, mass: keptMass, lowest, highest };
}

/** Resets bucket 0 and buckets lowest … highest. */
function resetBuckets(lowest: number, highest: number): void {
  MASS[0] = 0;
  HEAD[0] = -1;
  for (let b = lowest; b <= highest; b++) {
    MASS[b] = 0;
    HEAD[b] = -1;
  }
}

/** The first token kept in (probability, id) order, and the probability mass kept. */
export interface Cut {
  bits: number;
  index: number;
  mass: number;
}

/**
 * One uniform draw, walking the tokens in id order, over the tokens at or after `cut` in (probability,
 * id) order; the log-probability is under their normalisation.
 */
function drawAbove(probs: Float32Array, cut: Cut, rng: Rng): { token: number; logprob: number } {
  if (!(cut.mass > 0)) throw new GenerationParamError("logits", "every token is masked: nothing to sample");
  const bits = new Uint32Array(probs.buffer, probs.byteOffset, probs.length);
  const u = rng.nextFloat() * cut.mass;
  let acc = 0;
  let token = -1;
  if (cut.bits === 0 && cut.index === 0) {
    // Nothing cut: every token with probability is a candidate.
    for (let i = 0; i < probs.length; i++) {
      const p = probs[i];
      if (p === 0) continue;
      acc += p;
      token = i;
      if (acc > u) break;
    }
    return { token, logprob: Math.log(probs[token] / cut.mass) };
  }
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i];
    if (p === 0) continue;
    const b = bits[i];
    if (b < cut.bits || (b === cut.bits && i < cut.index)) continue;
    acc += p;
    token = i;
    if (acc > u) break;
  }
  return { token, logprob: Math.log(probs[token] / cut.mass) };
}

/**
 * Repetition penalty on the probabilities of the seen tokens only. A logit is recovered from its
 * probability: logit / temperature = log p + logNorm.
 */
function penalize(probs: Float32Array, logNorm: number, temperature: number, seen: readonly number[], penalty: number): void {
  if (!(penalty > 0) || !Number.isFinite(penalty)) throw new GenerationParamError("repetitionPenalty", `must be a finite number > 0, got ${penalty}`);
  if (seen.length === 0) return;
  for (const t of seen) {
    const p = probs[t];
    if (!(p > 0)) continue;
    const logit = temperature * (Math.log(p) + logNorm);
    const penalized = logit > 0 ? logit / penalty : logit * penalty;
    probs[t] = Math.exp(penalized / temperature - logNorm);
  }
}
