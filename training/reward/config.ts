// A reward-model run's hyperparameters as the run form and the CLI take them: a default, a range
// and a sentence per field (InstructGPT's and TRL's settings, DOMAIN.md). Pure data: no
// onnxruntime here, so the web app reads it too. 0 in `steps`, `maxLength` and `evalEvery` lets
// the trainer choose (epochs, min(512, context), about ten evaluations).
import { parseConfigFields, type ConfigField } from "../sft-config";
import type { RewardHyperparameters } from "./trainer";

export type RewardConfigKey = "epochs" | "steps" | "promptsPerBatch" | "accumulation" | "lr" | "warmupRatio" | "minLrRatio" | "weightDecay" | "maxGradNorm" | "maxLength" | "margins" | "centering" | "evalEvery" | "checkpointEvery" | "seed";

export const REWARD_CONFIG_FIELDS: readonly ConfigField<RewardConfigKey>[] = [
  { key: "epochs", label: "Epochs", default: 1, min: 0.01, max: 100, integer: false, help: "Passes over the ranked sets (InstructGPT trains one; a second overfits)." },
  { key: "steps", label: "Steps", default: 0, min: 0, max: 1_000_000, integer: true, help: "Optimizer steps; 0 lets the epochs decide." },
  { key: "promptsPerBatch", label: "Sets per batch", default: 8, min: 1, max: 256, integer: true, help: "Ranked sets per micro-batch; each set's K replies are forwarded once and all its pairs enter the loss." },
  { key: "accumulation", label: "Gradient accumulation", default: 1, min: 1, max: 64, integer: true, help: "Micro-batches summed per optimizer step." },
  { key: "lr", label: "Learning rate", default: 9e-6, min: 1e-7, max: 0.1, integer: false, help: "Peak AdamW learning rate (InstructGPT's 6B reward model: 9e-6)." },
  { key: "warmupRatio", label: "Warmup ratio", default: 0.03, min: 0, max: 0.5, integer: false, help: "Share of the steps the learning rate rises linearly from zero." },
  { key: "minLrRatio", label: "Final LR ratio", default: 0.1, min: 0, max: 1, integer: false, help: "Cosine decay ends at this fraction of the peak learning rate." },
  { key: "weightDecay", label: "Weight decay", default: 0, min: 0, max: 1, integer: false, help: "Decoupled AdamW decay on matrices and embeddings." },
  { key: "maxGradNorm", label: "Max grad norm", default: 1, min: 0, max: 1000, integer: false, help: "Gradients are scaled down to this global norm; 0 turns clipping off." },
  { key: "maxLength", label: "Max length", default: 0, min: 0, max: 1_000_000, integer: true, help: "Longest prompt + reply in tokens; longer replies are dropped with their pairs and counted (0: min(512, the backbone's context))." },
  { key: "margins", label: "Use margins", default: 0, min: 0, max: 1, integer: true, help: "1 trains with −log σ(r_w − r_l − m), m from the export's consensus confidence (Llama 2)." },
  { key: "centering", label: "Centering", default: 0, min: 0, max: 1, integer: false, help: "Weight of the term keeping the scores near zero (TRL's center_rewards_coefficient, e.g. 0.01); 0 is off." },
  { key: "evalEvery", label: "Evaluate every", default: 0, min: 0, max: 1_000_000, integer: true, help: "Steps between validation accuracy and margin measurements (0: about ten in a run, and one at the end)." },
  { key: "checkpointEvery", label: "Checkpoint every", default: 50, min: 1, max: 1_000_000, integer: true, help: "Steps between checkpoints a crashed or cancelled run resumes from." },
  { key: "seed", label: "Seed", default: 1, min: 0, max: 2 ** 31 - 1, integer: true, help: "Seeds the head's initialisation and the data order." },
];

export type RewardRunConfig = Record<RewardConfigKey, number>;

/** Defaults filled in; throws training/sft-config's ConfigError naming each bad field. */
export function parseRewardConfig(input: unknown): RewardRunConfig {
  return parseConfigFields(REWARD_CONFIG_FIELDS, input, "reward-model runs") as RewardRunConfig;
}

/** The trainer's hyperparameters for a run config (0 where the trainer chooses). */
export function rewardHyperparameters(c: RewardRunConfig): Partial<RewardHyperparameters> {
  return {
    epochs: c.epochs,
    steps: c.steps || undefined,
    promptsPerBatch: c.promptsPerBatch,
    accumulation: c.accumulation,
    lr: c.lr,
    warmupRatio: c.warmupRatio,
    minLrRatio: c.minLrRatio,
    weightDecay: c.weightDecay,
    maxGradNorm: c.maxGradNorm,
    maxLength: c.maxLength || undefined,
    margins: c.margins === 1,
    centering: c.centering,
    evalEvery: c.evalEvery || undefined,
    checkpointEvery: c.checkpointEvery,
    seed: c.seed,
  };
}
