// From scored rollouts to what the policy update needs: per-token KL to the reference, the rewards
// (KL penalty on every token, the reward model's score on the last), GAE advantages and returns for
// PPO, leave-one-out advantages for RLOO, and the adaptive KL coefficient. Plain arithmetic over
// each response's tokens, as TRL's PPO and RLOO trainers do it.

export type KlEstimator = "k1" | "k3";

/** One response: per-token log-probabilities (policy at rollout time, reference), values (PPO). */
export interface RolloutTokens {
  logprobs: Float64Array;
  refLogprobs: Float64Array;
  values?: Float64Array;
  /** The reward model's score after clipping and the missing-EOS penalty. */
  score: number;
}

/** k1 = log π − log π_ref; k3 = (r − 1) − log r with r = π_ref / π (non-negative). */
export function klPerToken(logprobs: Float64Array, refLogprobs: Float64Array, kind: KlEstimator): Float64Array {
  const out = new Float64Array(logprobs.length);
  for (let t = 0; t < logprobs.length; t++) {
    const logR = refLogprobs[t] - logprobs[t];
    out[t] = kind === "k1" ? -logR : Math.expm1(logR) - logR;
  }
  return out;
}

function sum(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s;
}

/**
 * Mean and unbiased variance over every token of every response, then (x − mean)/√(var + 1e-8); with
 * shiftMean false the mean is added back (TRL's masked_whiten).
 */
export function whiten(rows: Float64Array[], shiftMean = true): Float64Array[] {
  let n = 0;
  let total = 0;
  for (const r of rows) {
    n += r.length;
    total += sum(r);
  }
  if (n < 2) return rows.map((r) => Float64Array.from(r));
  const mean = total / n;
  let sq = 0;
  for (const r of rows) for (let t = 0; t < r.length; t++) sq += (r[t] - mean) ** 2;
  const scale = 1 / Math.sqrt(sq / (n - 1) + 1e-8);
  return rows.map((r) => r.map((x) => (x - mean) * scale + (shiftMean ? 0 : mean)));
}

export interface PpoAdvantageOptions {
  klCoef: number;
  kl: KlEstimator;
  gamma: number;
  lam: number;
  whitenRewards: boolean;
}

export interface PpoAdvantages {
  /** Whitened over the batch. */
  advantages: Float64Array[];
  /** Advantages before whitening + values: the value model's targets. */
  returns: Float64Array[];
  /** Per response: Σ_t KL_t, and Σ_t −β·KL_t. */
  kl: number[];
  nonScoreReward: number[];
}

/**
 * PPO's rewards and GAE: r_t = −β·KL_t, plus the score at the last token; δ_t = r_t + γ·V_{t+1} − V_t
 * (V after the last token is 0); A_t = δ_t + γλ·A_{t+1}; returns = A + V; then A is whitened.
 */
export function ppoAdvantages(rollouts: readonly RolloutTokens[], o: PpoAdvantageOptions): PpoAdvantages {
  const kl = rollouts.map((r) => klPerToken(r.logprobs, r.refLogprobs, o.kl));
  let rewards: Float64Array[] = rollouts.map((r, i) => {
    const out = kl[i].map((k) => -o.klCoef * k);
    if (out.length) out[out.length - 1] += r.score;
    return out;
  });
  const nonScoreReward = kl.map((k) => -o.klCoef * sum(k));
  if (o.whitenRewards) rewards = whiten(rewards, false);
  const raw: Float64Array[] = [];
  const returns: Float64Array[] = [];
  rollouts.forEach((r, i) => {
    const v = r.values;
    if (!v || v.length !== r.logprobs.length) throw new Error(`response ${i}: ${v?.length ?? 0} values for ${r.logprobs.length} tokens`);
    const T = v.length;
    const adv = new Float64Array(T);
    let last = 0;
    for (let t = T - 1; t >= 0; t--) {
      const next = t + 1 < T ? v[t + 1] : 0;
      const delta = rewards[i][t] + o.gamma * next - v[t];
      last = delta + o.gamma * o.lam * last;
      adv[t] = last;
    }
    raw.push(adv);
    returns.push(adv.map((a, t) => a + v[t]));
  });
  return { advantages: whiten(raw), returns, kl: kl.map(sum), nonScoreReward };
}

export interface RlooAdvantages {
  /** One per response (prompt-major, K per prompt), the same for each of its tokens. */
  advantages: number[];
  kl: number[];
  nonScoreReward: number[];
}

/**
 * RLOO: each response's reward is its score − β·Σ_t KL_t (sequence-level KL); its advantage is that
 * minus the mean reward of the prompt's other K − 1 responses.
 */
export function rlooAdvantages(rollouts: readonly RolloutTokens[], k: number, o: { klCoef: number; kl: KlEstimator; normalize: boolean }): RlooAdvantages {
  if (k < 2) throw new Error(`RLOO needs at least 2 samples per prompt, got ${k}`);
  if (rollouts.length % k !== 0) throw new Error(`${rollouts.length} responses do not split into groups of ${k}`);
  const kl = rollouts.map((r) => sum(klPerToken(r.logprobs, r.refLogprobs, o.kl)));
  const nonScoreReward = kl.map((x) => -o.klCoef * x);
  const reward = rollouts.map((r, i) => r.score + nonScoreReward[i]);
  let advantages = reward.map((r, i) => {
    const g = Math.floor(i / k) * k;
    const groupSum = sum(reward.slice(g, g + k));
    return r - (groupSum - r) / (k - 1);
  });
  if (o.normalize && advantages.length > 1) {
    const m = sum(advantages) / advantages.length;
    const sd = Math.sqrt(sum(advantages.map((a) => (a - m) ** 2)) / (advantages.length - 1));
    advantages = advantages.map((a) => (a - m) / (sd + 1e-8));
  }
  return { advantages, kl, nonScoreReward };
}

/**
 * GRPO: each response's advantage is its score minus its prompt group's mean score, divided by the
 * group's standard deviation (+1e-4) unless scale is off (Dr. GRPO). Also the share of groups whose
 * scores are all equal (they teach nothing: TRL's frac_reward_zero_std) and the mean group std.
 */
export function grpoAdvantages(scores: readonly number[], k: number, scale: boolean): { advantages: number[]; zeroStdShare: number; meanStd: number } {
  if (k < 2) throw new Error(`GRPO needs at least 2 samples per prompt, got ${k}`);
  if (scores.length % k !== 0) throw new Error(`${scores.length} responses do not split into groups of ${k}`);
  const advantages: number[] = [];
  let zero = 0;
  let stds = 0;
  for (let g = 0; g < scores.length; g += k) {
    const group = scores.slice(g, g + k);
    const m = sum(group) / k;
    // Unbiased, as torch.std (TRL).
    const sd = Math.sqrt(sum(group.map((x) => (x - m) ** 2)) / (k - 1));
    if (sd === 0) zero++;
    stds += sd;
    for (const x of group) advantages.push(scale ? (x - m) / (sd + 1e-4) : x - m);
  }
  const groups = scores.length / k;
  return { advantages, zeroStdShare: zero / groups, meanStd: stds / groups };
}

/**
 * Ziegler et al.'s adaptive KL coefficient: β ← β·(1 + clip(KL/target − 1, ±0.2)·n/horizon) after
 * each batch of n responses.
 */
export function adaptKlCoef(coef: number, meanKl: number, target: number, responses: number, horizon = 10_000): number {
  const error = Math.min(Math.max(meanKl / target - 1, -0.2), 0.2);
  return coef * (1 + (error * responses) / horizon);
}
