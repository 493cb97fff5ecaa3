// A DPO run's hyperparameters as the run form and the CLI take them (TRL's DPOConfig defaults). Pure
// data: no onnxruntime here, so the web app reads it too. 0 in `steps`, `maxLength` and `evalEvery`
// lets the trainer choose (epochs, min(512, context), about ten evaluations).
import { ConfigError, parseConfigFields, type ConfigField } from "../sft-config";

export const DPO_LOSSES = ["sigmoid", "ipo", "hinge"] as const;
export type DpoLoss = (typeof DPO_LOSSES)[number];

export const DPO_CONFIG_FIELDS: readonly ConfigField[] = [
  { key: "epochs", label: "Epochs", default: 1, min: 0.01, max: 100, integer: false, help: "Passes over the preference pairs." },
  { key: "steps", label: "Steps", default: 0, min: 0, max: 1_000_000, integer: true, help: "Optimizer steps; 0 lets the epochs decide." },
  { key: "pairsPerBatch", label: "Pairs per batch", default: 8, min: 1, max: 256, integer: true, help: "Chosen/rejected pairs per micro-batch (each pair is two sequences)." },
  { key: "accumulation", label: "Gradient accumulation", default: 1, min: 1, max: 64, integer: true, help: "Micro-batches summed per optimizer step." },
  { key: "lr", label: "Learning rate", default: 1e-6, min: 1e-8, max: 0.1, integer: false, help: "Peak AdamW learning rate (TRL's DPO: 1e-6)." },
  { key: "warmupRatio", label: "Warmup ratio", default: 0.1, min: 0, max: 0.5, integer: false, help: "Share of the steps the learning rate rises linearly from zero." },
  { key: "minLrRatio", label: "Final LR ratio", default: 0, min: 0, max: 1, integer: false, help: "Cosine decay ends at this fraction of the peak learning rate." },
  { key: "beta", label: "β", default: 0.1, min: 0.001, max: 100, integer: false, help: "How far the policy may move from the reference: the implicit reward is β·(log π − log π_ref) (TRL: 0.1)." },
  { key: "loss", label: "Loss", default: 1, min: 1, max: 3, integer: true, help: "1: sigmoid (the DPO paper); 2: IPO (squared, no saturation); 3: hinge (SLiC)." },
  { key: "labelSmoothing", label: "Label smoothing", default: 0, min: 0, max: 0.5, integer: false, help: "Assumed share of flipped labels (conservative DPO); sigmoid loss only." },
  { key: "maxLength", label: "Max length", default: 0, min: 0, max: 1_000_000, integer: true, help: "Longest prompt + reply in tokens; a pair with a longer side is dropped and counted (0: min(512, the policy's context))." },
  { key: "maxGradNorm", label: "Max grad norm", default: 1, min: 0, max: 1000, integer: false, help: "Gradients are scaled down to this global norm; 0 turns clipping off." },
  { key: "evalEvery", label: "Evaluate every", default: 0, min: 0, max: 1_000_000, integer: true, help: "Steps between validation measurements (0: about ten in a run, and one at the end)." },
  { key: "checkpointEvery", label: "Checkpoint every", default: 50, min: 1, max: 1_000_000, integer: true, help: "Steps between checkpoints a crashed or cancelled run resumes from." },
  { key: "seed", label: "Seed", default: 1, min: 0, max: 2 ** 31 - 1, integer: true, help: "Seeds the pairs' order." },
];

export type DpoRunConfig = Record<string, number>;

/** Defaults filled in; throws ConfigError naming each bad field. */
export function parseDpoConfig(input: unknown): DpoRunConfig {
  const c = parseConfigFields(DPO_CONFIG_FIELDS, input, "DPO runs");
  if (c.labelSmoothing > 0 && c.loss !== 1) throw new ConfigError({ labelSmoothing: "applies to the sigmoid loss (1) only" });
  return c;
}

export function dpoLoss(c: DpoRunConfig): DpoLoss {
  return DPO_LOSSES[c.loss - 1];
}
