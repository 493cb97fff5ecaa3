// Losses as graph pieces: each appends its nodes to a Graph and returns the scalar loss (and the
// per-element values trainers log). Masks are float tensors (1 = counts, 0 = ignored) of the
// graph's float type; every mean is over the unmasked elements only.

import { attr, type Graph, type Value } from "../inference/onnx/graph";
import type { FloatType } from "../inference/onnx/tensor";

function floatOf(v: Value): FloatType {
  if (v.dtype !== "float32" && v.dtype !== "float64") throw new TypeError(`${v.name} is ${v.dtype}, expected a float tensor`);
  return v.dtype;
}

function c(g: Graph, value: number, like: Value): Value {
  return g.constFloat(floatOf(like), [value], true);
}

/** Σ x ⊙ mask / max(Σ mask, 1): the mean over unmasked elements (0 when none). */
export function maskedMean(g: Graph, x: Value, mask: Value): Value {
  const total = g.reduceSum(g.mul(x, mask), [], false);
  const count = g.max(g.reduceSum(mask, [], false), c(g, 1, mask));
  return g.div(total, count);
}

/**
 * −log p(token) under softmax(logits / temperature) for each position: logits [B, T, V] and tokens
 * int64 [B, T] → [B, T]. The caller aligns tokens with logits (token t is the one logits t predict).
 * LogSoftmax over the last axis, then GatherElements: the LogSoftmax gradient rule sees that only the
 * gathered entries carry gradient and needs three passes over the logits.
 */
export function tokenNll(g: Graph, logits: Value, tokens: Value, temperature = 1): Value {
  const scaled = temperature === 1 ? logits : g.div(logits, c(g, temperature, logits));
  const logp = g.logSoftmax(scaled, -1); // [B, T, V]
  const picked = g.op("GatherElements", [logp, g.unsqueeze(tokens, [-1])], { axis: attr.int(-1) }, [
    { dtype: logits.dtype, shape: tokens.shape ? [...tokens.shape, 1] : null },
  ])[0]; // [B, T, 1]
  return g.neg(g.reshape(picked, [0, 0], { shape: tokens.shape })); // [B, T]
}

/** log p(token) of each position (the PPO log-probs of taken tokens): −tokenNll. */
export function tokenLogProbs(g: Graph, logits: Value, tokens: Value, temperature = 1): Value {
  return g.neg(tokenNll(g, logits, tokens, temperature));
}

export interface TokenCrossEntropy {
  /** Mean negative log-likelihood over the positions the mask keeps. */
  loss: Value;
  /** Per-position negative log-likelihood [B, T] (masked positions included). */
  nll: Value;
}

/**
 * Masked token cross-entropy: logits [B, T, V], targets int64 [B, T] (target t is the token logits t
 * predict, i.e. input t + 1), mask [B, T] (1 where the loss counts: e.g. assistant tokens only).
 */
export function tokenCrossEntropy(g: Graph, logits: Value, targets: Value, mask: Value): TokenCrossEntropy {
  return g.scope("token_ce", () => {
    const nll = tokenNll(g, logits, targets); // [B, T]
    return { loss: maskedMean(g, nll, mask), nll };
  });
}

/** log σ(x), stable for large |x|: min(x, 0) − log(1 + e^−|x|). */
export function logSigmoid(g: Graph, x: Value): Value {
  const one = c(g, 1, x);
  return g.sub(g.min(x, c(g, 0, x)), g.log(g.add(one, g.exp(g.neg(g.abs(x))))));
}

export interface PairwiseRankingLoss {
  /**
   * Mean over batch elements (with at least one pair) of the mean over their pairs of
   * −log σ(r_w − r_l − m_wl), plus the centering term when asked for.
   */
  loss: Value;
  /** Share of pairs where the winner scores higher. */
  accuracy: Value;
  /** Mean r_w − r_l over pairs. */
  margin: Value;
}

export interface PairwiseRankingOptions {
  /** Per-pair margins [B, K, K]: entry (i, j) is the margin when i beats j (TRL's "margin"). */
  margins?: Value;
  /**
   * TRL's center_rewards_coefficient: adds c · (r_w + r_l)², averaged like the pair loss (over an
   * element's pairs, then over elements), which keeps rewards near zero without changing their order.
   */
  centering?: number;
}

/**
 * The reward-model loss over all K·(K−1)/2 pairs of each batch element at once (InstructGPT):
 * rewards [B, K]; ranks int64 [B, K], 0 = best, equal ranks are ties (no pair), −1 = no completion
 * in that slot (ragged K). Pair (i, j) counts when rank_i < rank_j, both present. With K = 2 and one
 * pair per element this is TRL's RewardTrainer loss, margin and centering included.
 */
export function pairwiseRankingLoss(g: Graph, rewards: Value, ranks: Value, opts: PairwiseRankingOptions = {}): PairwiseRankingLoss {
  return g.scope("pairwise", () => {
    const zeroI = g.constI64([0], true);
    const present = g.not(g.less(ranks, zeroI)); // [B, K]
    const ri = g.unsqueeze(ranks, [2]); // [B, K, 1]
    const rj = g.unsqueeze(ranks, [1]); // [B, 1, K]
    const wins = g.and(g.and(g.less(ri, rj), g.unsqueeze(present, [2])), g.unsqueeze(present, [1])); // [B, K, K]
    const pairs = g.cast(wins, floatOf(rewards)); // [B, K, K]
    const diff = g.sub(g.unsqueeze(rewards, [2]), g.unsqueeze(rewards, [1])); // r_i − r_j [B, K, K]
    let perPair = g.neg(logSigmoid(g, opts.margins ? g.sub(diff, opts.margins) : diff));
    if (opts.centering) {
      const sum = g.add(g.unsqueeze(rewards, [2]), g.unsqueeze(rewards, [1])); // r_i + r_j [B, K, K]
      perPair = g.add(perPair, g.mul(c(g, opts.centering, rewards), g.mul(sum, sum)));
    }
    const pairCount = g.reduceSum(pairs, [1, 2], false); // [B]
    const one = c(g, 1, rewards);
    const perElement = g.div(g.reduceSum(g.mul(perPair, pairs), [1, 2], false), g.max(pairCount, one)); // [B]
    const hasPairs = g.cast(g.greater(pairCount, c(g, 0, rewards)), floatOf(rewards)); // [B]
    const loss = maskedMean(g, perElement, hasPairs);
    const correct = g.cast(g.greater(diff, c(g, 0, diff)), floatOf(rewards));
    return { loss, accuracy: maskedMean(g, correct, pairs), margin: maskedMean(g, diff, pairs) };
  });
}

/** Per-token entropy of softmax(logits) [B, T, V] → [B, T]. */
export function entropy(g: Graph, logits: Value): Value {
  return g.scope("entropy", () => {
    const logp = g.logSoftmax(logits, -1);
    return g.neg(g.reduceSum(g.mul(g.exp(logp), logp), [-1], false));
  });
}

export interface ClippedPolicyLoss {
  /** Masked mean of max(−A·ratio, −A·clip(ratio, 1 − ε, 1 + ε)). */
  loss: Value;
  /** Share of tokens where the clipped branch was taken. */
  clipFrac: Value;
  /** ½·mean (log π − log π_old)², TRL's approxkl. */
  approxKl: Value;
}

/** PPO's clipped surrogate: logProbs, oldLogProbs, advantages and mask all [B, T]. */
export function clippedPolicyLoss(g: Graph, logProbs: Value, oldLogProbs: Value, advantages: Value, mask: Value, clip: number): ClippedPolicyLoss {
  return g.scope("policy", () => {
    const logRatio = g.sub(logProbs, oldLogProbs);
    const ratio = g.exp(logRatio);
    const negA = g.neg(advantages);
    const unclipped = g.mul(negA, ratio);
    const clipped = g.mul(negA, clipValue(g, ratio, 1 - clip, 1 + clip));
    const loss = maskedMean(g, g.max(unclipped, clipped), mask);
    const clipFrac = maskedMean(g, g.cast(g.greater(clipped, unclipped), floatOf(ratio)), mask);
    const approxKl = g.mul(c(g, 0.5, ratio), maskedMean(g, g.mul(logRatio, logRatio), mask));
    return { loss, clipFrac, approxKl };
  });
}

export interface ClippedValueLoss {
  /** ½·masked mean of max((V − R)², (V_clipped − R)²). */
  loss: Value;
  clipFrac: Value;
}

/** PPO's clipped value loss: values, oldValues, returns, mask [B, T]; V_clipped = V_old + clip(V − V_old, ±ε). */
export function clippedValueLoss(g: Graph, values: Value, oldValues: Value, returns: Value, mask: Value, clip: number): ClippedValueLoss {
  return g.scope("value", () => {
    const clippedValues = g.add(oldValues, clipValue(g, g.sub(values, oldValues), -clip, clip));
    const e1 = g.sub(values, returns);
    const e2 = g.sub(clippedValues, returns);
    const sq1 = g.mul(e1, e1);
    const sq2 = g.mul(e2, e2);
    const loss = g.mul(c(g, 0.5, values), maskedMean(g, g.max(sq1, sq2), mask));
    const clipFrac = maskedMean(g, g.cast(g.greater(sq2, sq1), floatOf(values)), mask);
    return { loss, clipFrac };
  });
}

/**
 * Per-token KL estimators between the policy and the reference from the taken tokens' log-probs:
 * k1 = log π − log π_ref (TRL's default), k3 = (r − 1) − log r with r = π_ref / π (non-negative,
 * lower variance).
 */
export function klEstimate(g: Graph, logProbs: Value, refLogProbs: Value, kind: "k1" | "k3"): Value {
  return g.scope(`kl_${kind}`, () => {
    if (kind === "k1") return g.sub(logProbs, refLogProbs);
    const logR = g.sub(refLogProbs, logProbs);
    return g.sub(g.sub(g.exp(logR), c(g, 1, logR)), logR);
  });
}

function clipValue(g: Graph, x: Value, lo: number, hi: number): Value {
  return g.op("Clip", [x, c(g, lo, x), c(g, hi, x)], {}, [{ dtype: x.dtype, shape: x.shape }])[0];
}
