// The SFT run's hyperparameters: one typed object with a default, a range and a sentence per field
// (the run form shows them, the worker validates with them). Pure data: no onnxruntime here.

export interface SftConfig {
  epochs: number;
  maxSteps: number;
  learningRate: number;
  batchSize: number;
  gradientAccumulation: number;
  maxLength: number;
  warmupRatio: number;
  minLrRatio: number;
  weightDecay: number;
  maxGradNorm: number;
  evalEvery: number;
  earlyStoppingPatience: number;
  checkpointEvery: number;
  seed: number;
}

export interface ConfigField<K extends string = string> {
  key: K;
  label: string;
  default: number;
  min: number;
  max: number;
  integer: boolean;
  help: string;
}

export const SFT_CONFIG_FIELDS: readonly ConfigField<keyof SftConfig>[] = [
  { key: "epochs", label: "Epochs", default: 3, min: 0.01, max: 100, integer: false, help: "Passes over the training split (TRL's default is 3; more overfits small sets)." },
  { key: "maxSteps", label: "Max steps", default: 0, min: 0, max: 1_000_000, integer: true, help: "Stop after this many optimizer steps; 0 lets the epochs decide." },
  { key: "learningRate", label: "Learning rate", default: 5e-5, min: 1e-7, max: 0.1, integer: false, help: "Peak AdamW learning rate: 1e-5–5e-5 to fine-tune a pretrained model, ~1e-3 for a tiny model trained from scratch." },
  { key: "batchSize", label: "Batch size", default: 8, min: 1, max: 256, integer: true, help: "Conversations per micro-batch, padded to the longest (similar lengths are grouped)." },
  { key: "gradientAccumulation", label: "Gradient accumulation", default: 1, min: 1, max: 64, integer: true, help: "Micro-batches summed per optimizer step: the effective batch is batch size × this." },
  { key: "maxLength", label: "Max length", default: 512, min: 8, max: 1_000_000, integer: true, help: "Tokens kept per conversation (longer ones are cut); at most the base model's context." },
  { key: "warmupRatio", label: "Warmup ratio", default: 0.05, min: 0, max: 0.5, integer: false, help: "Share of the steps the learning rate rises linearly from zero (3–10 % is usual)." },
  { key: "minLrRatio", label: "Final LR ratio", default: 0.1, min: 0, max: 1, integer: false, help: "Cosine decay ends at this fraction of the peak learning rate." },
  { key: "weightDecay", label: "Weight decay", default: 0.01, min: 0, max: 1, integer: false, help: "Decoupled AdamW decay on matrices and embeddings (not biases or LayerNorm)." },
  { key: "maxGradNorm", label: "Max grad norm", default: 1, min: 0, max: 1000, integer: false, help: "Gradients are scaled down to this global norm; 0 turns clipping off." },
  { key: "evalEvery", label: "Evaluate every", default: 50, min: 1, max: 1_000_000, integer: true, help: "Steps between validation-loss measurements (and one at the end)." },
  { key: "earlyStoppingPatience", label: "Early-stopping patience", default: 0, min: 0, max: 1000, integer: true, help: "Stop after this many evaluations without a better validation loss; 0 never stops early." },
  { key: "checkpointEvery", label: "Checkpoint every", default: 100, min: 1, max: 1_000_000, integer: true, help: "Steps between checkpoints a crashed or cancelled run resumes from." },
  { key: "seed", label: "Seed", default: 1, min: 0, max: 2 ** 31 - 1, integer: true, help: "Seeds the data order: the same seed, data and base give the same weights." },
];

export const DEFAULT_SFT_CONFIG: SftConfig = Object.fromEntries(SFT_CONFIG_FIELDS.map((f) => [f.key, f.default])) as unknown as SftConfig;

export class ConfigError extends Error {
  constructor(readonly fields: Record<string, string>) {
    super(`invalid config: ${Object.entries(fields).map(([k, v]) => `${k} ${v}`).join("; ")}`);
    this.name = "ConfigError";
  }
}

/** Defaults filled in, every field checked; throws ConfigError naming each bad or unknown field. */
export function parseSftConfig(input: unknown): SftConfig {
  return parseConfigFields(SFT_CONFIG_FIELDS, input, "SFT runs") as unknown as SftConfig;
}

/** A run's config against its kind's fields: defaults filled in, each bad or unknown field named (ConfigError). */
export function parseConfigFields(fields: readonly ConfigField[], input: unknown, what: string): Record<string, number> {
  if (input === null || typeof input !== "object" || Array.isArray(input)) throw new ConfigError({ config: "must be an object" });
  const raw = input as Record<string, unknown>;
  const errors: Record<string, string> = {};
  const known = new Set<string>(fields.map((f) => f.key));
  for (const k of Object.keys(raw)) if (!known.has(k)) errors[k] = `is not a setting of ${what}`;
  const out: Record<string, number> = {};
  for (const f of fields) {
    const v = raw[f.key] ?? f.default;
    if (typeof v !== "number" || !Number.isFinite(v)) errors[f.key] = `must be a number, got ${JSON.stringify(v)}`;
    else if (f.integer && !Number.isInteger(v)) errors[f.key] = `must be a whole number, got ${v}`;
    else if (v < f.min || v > f.max) errors[f.key] = `must be between ${f.min} and ${f.max}, got ${v}`;
    else out[f.key] = v;
  }
  if (Object.keys(errors).length) throw new ConfigError(errors);
  return out;
}
