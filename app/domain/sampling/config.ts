// How models contribute replies to a project's trees, and the sampling parameters they use.
import { z } from "zod";

/** Sampling parameters as stored with each sampled message (and validated before a run). */
export const SamplingParamsSchema = z.object({
  /** 0 = greedy. */
  temperature: z.number().min(0, "temperature must be ≥ 0").max(5).default(0.8),
  /** 0 = no top-k filter. */
  topK: z.number().int().min(0, "top_k must be ≥ 0").max(10_000).default(0),
  /** 1 = no nucleus filter; 0 would leave nothing to sample from. */
  topP: z.number().gt(0, "top_p must be > 0").max(1, "top_p must be ≤ 1").default(0.95),
  /** 1 = none. */
  repetitionPenalty: z.number().gt(0, "repetition_penalty must be > 0").max(10).default(1.1),
  maxNewTokens: z.number().int().min(1, "max_new_tokens must be ≥ 1").max(4096).default(256),
  minNewTokens: z.number().int().min(0).max(4096).default(0),
  stop: z.array(z.string().min(1).max(64)).max(8).default([]),
});
export type SamplingParams = z.infer<typeof SamplingParamsSchema>;

export const ProjectSamplingConfigSchema = z.object({
  /** Whether the workers add model replies to this project's growing trees on their own. */
  enabled: z.boolean().default(false),
  /** How many of a prompter message's assistant replies come from the active policy. */
  modelRepliesPerParent: z.number().int().min(0).max(16).default(1),
  params: SamplingParamsSchema.default({}),
  /** Parents handled by one sampling run. */
  maxParentsPerRun: z.number().int().min(1).max(10_000).default(64),
  /** Prompts per batched generate call (each with its K completions). */
  batchPrompts: z.number().int().min(1).max(64).default(8),
  /** After deduplication, how many more times to sample a parent that is still short. */
  resampleRounds: z.number().int().min(0).max(5).default(2),
});
export type ProjectSamplingConfig = z.infer<typeof ProjectSamplingConfigSchema>;

export function parseSamplingConfig(json: unknown): { success: true; config: ProjectSamplingConfig } | { success: false; errors: string[] } {
  const r = ProjectSamplingConfigSchema.safeParse(json ?? {});
  if (r.success) return { success: true, config: r.data };
  return { success: false, errors: r.error.issues.map((i) => `${i.path.join(".") || "config"}: ${i.message}`) };
}

/** A sampling run's own config: overrides for one run, on top of the project's. */
export const SamplingRunConfigSchema = z.object({
  params: SamplingParamsSchema,
  maxParents: z.number().int().min(1).max(10_000),
  modelRepliesPerParent: z.number().int().min(1).max(16),
  batchPrompts: z.number().int().min(1).max(64),
  resampleRounds: z.number().int().min(0).max(5),
  /** Base seed of the run; each completion's own seed is derived from it and stored. */
  seed: z.number().int().min(0).max(2 ** 31 - 1),
});
export type SamplingRunConfig = z.infer<typeof SamplingRunConfigSchema>;

export function defaultSamplingConfig(): ProjectSamplingConfig {
  return ProjectSamplingConfigSchema.parse({});
}
