// What each kind of training run takes, shared by the web app, the CLI and the workers: the export
// formats it reads, whether it starts from a base model, what it registers, and its config fields
// (defaults, ranges, one sentence each) with the parser that names every bad field. The trainers
// themselves run only in workers (workers/training/).
import { parseRewardConfig, REWARD_CONFIG_FIELDS } from "../../../training/reward/config.ts";
import { DPO_CONFIG_FIELDS, parseDpoConfig } from "../../../training/dpo/config.ts";
import { GRPO_CONFIG_FIELDS, parseRlConfig, PPO_CONFIG_FIELDS, RLOO_CONFIG_FIELDS } from "../../../training/rl/config.ts";
import { ConfigError, parseSftConfig, SFT_CONFIG_FIELDS, type ConfigField } from "../../../training/sft-config.ts";

export type TrainingKindName = "sft" | "reward" | "dpo" | "ppo" | "rloo" | "grpo" | "external";

export interface TrainingKindSpec {
  kind: TrainingKindName;
  label: string;
  /** Export formats a run of this kind reads (any other is refused); for external runs, the command's own list. */
  exportFormats: readonly string[];
  /** The registry kind of the model a run produces (external runs: what their command declares). */
  output: "policy" | "reward" | "value";
  /** Whether a run scores its rollouts with a registered reward model (chosen with the run). */
  rewardModel: boolean;
  fields: readonly ConfigField[];
  /** Defaults filled in; throws training/sft-config's ConfigError naming each bad field. */
  parseConfig(raw: unknown): Record<string, number>;
}

export const TRAINING_KINDS: Partial<Record<TrainingKindName, TrainingKindSpec>> = {
  sft: {
    kind: "sft",
    label: "Supervised fine-tuning",
    exportFormats: ["sft_messages", "sft_paths"],
    output: "policy",
    rewardModel: false,
    fields: SFT_CONFIG_FIELDS,
    parseConfig: (raw) => parseSftConfig(raw) as unknown as Record<string, number>,
  },
  reward: {
    kind: "reward",
    label: "Reward model",
    exportFormats: ["kway", "pairwise_trl", "pairwise_trl_implicit", "pairwise_trl_standard", "pairwise_openrlhf", "pairwise_hh"],
    output: "reward",
    rewardModel: false,
    fields: REWARD_CONFIG_FIELDS,
    parseConfig: parseRewardConfig,
  },
  dpo: {
    kind: "dpo",
    label: "DPO",
    exportFormats: ["kway", "pairwise_trl", "pairwise_trl_implicit", "pairwise_trl_standard", "pairwise_openrlhf", "pairwise_hh"],
    output: "policy",
    rewardModel: false,
    fields: DPO_CONFIG_FIELDS,
    parseConfig: parseDpoConfig,
  },
  ppo: {
    kind: "ppo",
    label: "PPO",
    exportFormats: ["prompts_text", "prompts_conversational"],
    output: "policy",
    rewardModel: true,
    fields: PPO_CONFIG_FIELDS,
    parseConfig: (raw) => parseRlConfig("ppo", raw),
  },
  rloo: {
    kind: "rloo",
    label: "RLOO",
    exportFormats: ["prompts_text", "prompts_conversational"],
    output: "policy",
    rewardModel: true,
    fields: RLOO_CONFIG_FIELDS,
    parseConfig: (raw) => parseRlConfig("rloo", raw),
  },
  grpo: {
    kind: "grpo",
    label: "GRPO",
    exportFormats: ["prompts_text", "prompts_conversational"],
    output: "policy",
    rewardModel: true,
    fields: GRPO_CONFIG_FIELDS,
    parseConfig: (raw) => parseRlConfig("grpo", raw),
  },
  external: {
    kind: "external",
    label: "External command",
    exportFormats: [],
    output: "policy",
    rewardModel: false,
    fields: [],
    // Its JSON config goes to the command as a file (see parseExternalConfig); none of it is ours.
    parseConfig: () => ({}),
  },
};

/** An external run's config: any JSON object up to 64 KB, handed to the command as {config_file}. */
export function parseExternalConfig(raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError({ config: "must be a JSON object" });
  if (JSON.stringify(raw).length > 65_536) throw new ConfigError({ config: "must be at most 64 KB of JSON" });
  return raw as Record<string, unknown>;
}

export function trainingKindSpec(kind: string): TrainingKindSpec | null {
  return (TRAINING_KINDS as Record<string, TrainingKindSpec | undefined>)[kind] ?? null;
}
