// Logits processing and sampling: small pure functions over Float32Array that validate their
// arguments (transformers.js style). "In place" functions modify and return their input.

import { GenerationParamError } from "../errors";
import type { Rng } from "./rng";

export function argmax(logits: Float32Array): number {
  let best = 0;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] > max) {
      max = logits[i];
      best = i;
    }
  }
  return best;
}

/** log Σ exp(x): the normaliser of a softmax. */
export function logSumExp(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return max + Math.log(sum);
}

export function softmax(logits: Float32Array, out = new Float32Array(logits.length)): Float32Array {
  const lse = logSumExp(logits);
  for (let i = 0; i < logits.length; i++) out[i] = Math.exp(logits[i] - lse);
  return out;
}

export function logSoftmax(logits: Float32Array, out = new Float32Array(logits.length)): Float32Array {
  const lse = logSumExp(logits);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - lse;
  return out;
}

/** Divides logits by the temperature (in place). Temperature must be > 0 (0 means greedy: use argmax). */
export function applyTemperature(logits: Float32Array, temperature: number): Float32Array {
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new GenerationParamError("temperature", `must be a finite number > 0 here, got ${temperature}`);
  if (temperature !== 1) {
    const inv = 1 / temperature;
    for (let i = 0; i < logits.length; i++) logits[i] *= inv;
  }
  return logits;
}

/**
 * CTRL-style repetition penalty (as Hugging Face): for each distinct token already seen, positive
 * logits are divided by `penalty` and negative ones multiplied (in place).
 */
export function applyRepetitionPenalty(logits: Float32Array, seenTokens: Iterable<number>, penalty: number): Float32Array {
  if (!(penalty > 0) || !Number.isFinite(penalty)) throw new GenerationParamError("repetitionPenalty", `must be a finite number > 0, got ${penalty}`);
  if (penalty === 1) return logits;
  for (const t of new Set(seenTokens)) {
    if (t < 0 || t >= logits.length) continue;
    const v = logits[t];
    logits[t] = v > 0 ? v / penalty : v * penalty;
  }
  return logits;
}

/** Keeps the k largest logits (ties with the k-th included) and sets the rest to -Infinity (in place). k = 0 keeps all. */
export function topKFilter(logits: Float32Array, k: number): Float32Array {
  if (!Number.isInteger(k) || k < 0) throw new GenerationParamError("topK", `must be an integer >= 0, got ${k}`);
  if (k === 0 || k >= logits.length) return logits;
  const threshold = kthLargest(logits, k);
  for (let i = 0; i < logits.length; i++) if (logits[i] < threshold) logits[i] = -Infinity;
  return logits;
}

/**
 * Nucleus filter: keeps the smallest set of most likely tokens whose probability sums to >= p, and
 * sets the rest to -Infinity (in place). p = 1 keeps all.
 */
export function topPFilter(logits: Float32Array, p: number): Float32Array {
  if (!(p > 0 && p <= 1)) throw new GenerationParamError("topP", `must be in (0, 1], got ${p}`);
  if (p === 1) return logits;
  const candidates: number[] = [];
  for (let i = 0; i < logits.length; i++) if (logits[i] > -Infinity) candidates.push(i);
  candidates.sort((a, b) => logits[b] - logits[a] || a - b);
  const lse = logSumExp(logits);
  let cumulative = 0;
  let keep = candidates.length;
  for (let j = 0; j < candidates.length; j++) {
    cumulative += Math.exp(logits[candidates[j]] - lse);
    if (cumulative >= p) {
      keep = j + 1;
      break;
    }
  }
  for (let j = keep; j < candidates.length; j++) logits[candidates[j]] = -Infinity;
  return logits;
}

const BLOCK = 64;

/**
 * Draws an index from softmax(logits / temperature) with one uniform draw; returns it with its
 * log-probability under that distribution. `scratch` (length >= logits.length) avoids an allocation.
 */
export function sampleFromLogits(
  logits: Float32Array,
  rng: Rng,
  scratch = new Float32Array(logits.length),
  temperature = 1,
): { token: number; logprob: number } {
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new GenerationParamError("temperature", `must be a finite number > 0 here, got ${temperature}`);
  if (scratch.length < logits.length) throw new GenerationParamError("scratch", `needs ${logits.length} entries, has ${scratch.length}`);
  const n = logits.length;
  const inv = 1 / temperature;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
  if (max === -Infinity) throw new GenerationParamError("logits", "every token is masked: nothing to sample");
  // exp in one pass, with sums per block of 64 so the draw walks blocks first.
  const blocks = new Float64Array(Math.ceil(n / BLOCK));
  let sum = 0;
  for (let b = 0; b < blocks.length; b++) {
    let bs = 0;
    const end = Math.min(n, (b + 1) * BLOCK);
    for (let i = b * BLOCK; i < end; i++) {
      const e = Math.exp((logits[i] - max) * inv);
      scratch[i] = e;
      bs += e;
    }
    blocks[b] = bs;
    sum += bs;
  }
  const u = rng.nextFloat() * sum;
  let acc = 0;
  let b = 0;
  while (b < blocks.length - 1 && acc + blocks[b] <= u) acc += blocks[b++];
  let token = -1;
  const end = Math.min(n, (b + 1) * BLOCK);
  for (let i = b * BLOCK; i < end; i++) {
    if (scratch[i] === 0) continue;
    acc += scratch[i];
    token = i;
    if (acc > u) break;
  }
  if (token < 0) {
    // Rounding left u past the last non-empty block: take the last token with mass.
    for (let i = n - 1; i >= 0 && token < 0; i--) if (scratch[i] > 0) token = i;
  }
  return { token, logprob: (logits[token] - max) * inv - Math.log(sum) };
}

/** The k-th largest value (k >= 1) by a bounded min-heap: O(n log k). */
export function kthLargest(values: Float32Array, k: number): number {
  if (!Number.isInteger(k) || k < 1 || k > values.length) throw new GenerationParamError("topK", `k must be in [1, ${values.length}], got ${k}`);
  const heap = new Float32Array(k);
  let size = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (size < k) {
      let j = size++;
      heap[j] = v;
      while (j > 0) {
        const p = (j - 1) >> 1;
        if (heap[p] <= heap[j]) break;
        [heap[p], heap[j]] = [heap[j], heap[p]];
        j = p;
      }
    } else if (v > heap[0]) {
      heap[0] = v;
      let j = 0;
      for (;;) {
        const l = 2 * j + 1;
        const r = l + 1;
        let m = j;
        if (l < k && heap[l] < heap[m]) m = l;
        if (r < k && heap[r] < heap[m]) m = r;
        if (m === j) break;
        [heap[m], heap[j]] = [heap[j], heap[m]];
        j = m;
      }
    }
  }
  return heap[0];
}
