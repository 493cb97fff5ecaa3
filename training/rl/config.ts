// PPO and RLOO runs' hyperparameters as the run form and the CLI take them: a default, a range and a
// sentence per field (TRL's PPOConfig and RLOOConfig defaults, DOMAIN.md). Pure data: no
// onnxruntime here, so the web app reads it too.
import { ConfigError, parseConfigFields, type ConfigField } from "../sft-config";

export type RlAlgorithm = "ppo" | "rloo" | "grpo";

type Field = ConfigField<string>;

const shared = (k: number): Field[] => [
  { key: "iterations", label: "Iterations", default: 100, min: 1, max: 1_000_000, integer: true, help: "Rollout → score → update rounds; each samples a fresh batch of prompts." },
  { key: "promptsPerIteration", label: "Prompts per iteration", default: 16, min: 1, max: 4096, integer: true, help: "Prompts drawn (in a seeded order over the snapshot's training split) for each rollout." },
  { key: "samplesPerPrompt", label: "Samples per prompt", default: k, min: k > 1 ? 2 : 1, max: 64, integer: true, help: k > 1 ? "K completions per prompt; each one's baseline is the mean reward of the other K − 1." : "Completions sampled per prompt (TRL samples one)." },
  { key: "maxNewTokens", label: "Max new tokens", default: 64, min: 1, max: 4096, integer: true, help: "Longest response; a response cut here has no end-of-sequence token (see the missing-EOS penalty)." },
  { key: "temperature", label: "Temperature", default: 0.7, min: 0.05, max: 2, integer: false, help: "Sampling temperature of the rollouts; the log-probabilities are taken on logits / temperature as well (TRL: 0.7)." },
  { key: "epochs", label: "Epochs per iteration", default: 4, min: 1, max: 64, integer: true, help: "Passes over each rollout batch (TRL's num_ppo_epochs)." },
  { key: "minibatchSize", label: "Minibatch size", default: 8, min: 1, max: 4096, integer: true, help: "Sequences per optimizer step; a rollout batch is split into minibatches in a seeded order." },
  { key: "lr", label: "Learning rate", default: 3e-6, min: 1e-8, max: 0.1, integer: false, help: "AdamW learning rate, constant (TRL: 3e-6)." },
  { key: "cliprange", label: "Clip range", default: 0.2, min: 0.01, max: 10, integer: false, help: "ε of the clipped ratio π/π_old." },
  { key: "klLimit", label: "KL limit", default: 20, min: 0, max: 1e6, integer: false, help: "The run stops with its reason when the mean KL per response to the reference passes this (nats); 0 is off." },
  { key: "rewardClip", label: "Reward clip", default: 0, min: 0, max: 1e6, integer: false, help: "Scores are clipped to ±this (DeepSpeed-Chat: 5, OpenRLHF: 10); 0 is off." },
  { key: "missingEosPenalty", label: "Missing-EOS penalty", default: 0, min: 0, max: 1e6, integer: false, help: "Subtracted from the score of a response that hit the token limit without ending." },
  { key: "maxGradNorm", label: "Max grad norm", default: 1, min: 0, max: 1000, integer: false, help: "Gradients are scaled down to this global norm; 0 turns clipping off." },
  { key: "evalPrompts", label: "Evaluation prompts", default: 16, min: 0, max: 4096, integer: true, help: "Held-out prompts (the validation split, else the last of the training prompts), each sampled as many times as a training prompt with a fixed seed, to measure the mean score and KL; 0 is off." },
  { key: "evalEvery", label: "Evaluate every", default: 10, min: 1, max: 1_000_000, integer: true, help: "Iterations between held-out evaluations (one also runs before the first and after the last)." },
  { key: "checkpointEvery", label: "Checkpoint every", default: 5, min: 1, max: 1_000_000, integer: true, help: "Iterations between checkpoints a crashed or cancelled run resumes from." },
  { key: "seed", label: "Seed", default: 1, min: 0, max: 2 ** 31 - 1, integer: true, help: "Seeds the prompt order, the rollouts' sampling and the minibatch order." },
];

/** PPO and RLOO put the KL to the reference into the reward. */
const rewardKl: Field[] = [
  { key: "klCoef", label: "KL coefficient", default: 0.05, min: 0, max: 10, integer: false, help: "β of the KL penalty to the reference (SFT) policy in the reward (TRL: 0.05; InstructGPT: 0.02)." },
  { key: "klEstimator", label: "KL estimator", default: 1, min: 1, max: 3, integer: true, help: "1: k1 = log π − log π_ref (TRL's default); 3: k3 = (r − 1) − log r, non-negative, lower variance." },
];

export const PPO_CONFIG_FIELDS: readonly Field[] = [
  ...shared(1),
  ...rewardKl,
  { key: "cliprangeValue", label: "Value clip range", default: 0.2, min: 0.01, max: 1e6, integer: false, help: "The value model's new predictions stay within ±this of the rollout's." },
  { key: "vfCoef", label: "Value loss coefficient", default: 0.1, min: 0, max: 100, integer: false, help: "Weight of the value loss (TRL: 0.1)." },
  { key: "gamma", label: "γ", default: 1, min: 0, max: 1, integer: false, help: "Discount of future rewards in GAE." },
  { key: "lam", label: "λ", default: 0.95, min: 0, max: 1, integer: false, help: "GAE's bias–variance trade-off." },
  { key: "klTarget", label: "Adaptive KL target", default: 0, min: 0, max: 1e6, integer: false, help: "Adapts β so the KL per response approaches this (Ziegler et al., horizon 10,000); 0 keeps β fixed." },
  { key: "whitenRewards", label: "Whiten rewards", default: 0, min: 0, max: 1, integer: true, help: "1 whitens the per-token rewards before GAE (the advantages are always whitened)." },
];

export const RLOO_CONFIG_FIELDS: readonly Field[] = [
  ...shared(4),
  ...rewardKl,
  { key: "normalizeAdvantages", label: "Normalize advantages", default: 0, min: 0, max: 1, integer: true, help: "1 scales the leave-one-out advantages to unit variance over the batch." },
];

/** GRPO keeps the reward as the reward model gives it and puts the KL (k3, per token) into the loss. */
export const GRPO_CONFIG_FIELDS: readonly Field[] = [
  ...shared(4),
  { key: "beta", label: "KL coefficient (β)", default: 0.04, min: 0, max: 10, integer: false, help: "Weight of the per-token KL (k3) to the reference in the loss (TRL's GRPO: 0.04); 0 drops the reference." },
  { key: "scaleRewards", label: "Scale by group std", default: 1, min: 0, max: 1, integer: true, help: "1 divides each advantage by its prompt group's reward standard deviation (GRPO); 0 only subtracts the group mean (Dr. GRPO)." },
];

export const RL_CONFIG_FIELDS: Record<RlAlgorithm, readonly Field[]> = { ppo: PPO_CONFIG_FIELDS, rloo: RLOO_CONFIG_FIELDS, grpo: GRPO_CONFIG_FIELDS };

export type RlRunConfig = Record<string, number>;

/** Defaults filled in; throws ConfigError naming each bad field. */
export function parseRlConfig(algorithm: RlAlgorithm, input: unknown): RlRunConfig {
  const c = parseConfigFields(RL_CONFIG_FIELDS[algorithm], input, `${algorithm.toUpperCase()} runs`);
  const errors: Record<string, string> = {};
  if (c.klEstimator !== undefined && c.klEstimator !== 1 && c.klEstimator !== 3) errors.klEstimator = `must be 1 (k1) or 3 (k3), got ${c.klEstimator}`;
  if (c.minibatchSize > c.promptsPerIteration * c.samplesPerPrompt) {
    errors.minibatchSize = `must be at most the sequences of an iteration (${c.promptsPerIteration} prompts × ${c.samplesPerPrompt} samples), got ${c.minibatchSize}`;
  }
  if (Object.keys(errors).length) throw new ConfigError(errors);
  return c;
}
