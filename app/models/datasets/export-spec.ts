// What an export request may ask for: format, filters, split, output and format options. One Zod
// schema shared by the web form, the CLI and the export job (which re-parses the stored row).
import { z } from "zod";
import { REVIEW_RESULTS, TREE_STATES } from "~/domain/trees/enums.ts";

export const EXPORT_FORMAT_GROUPS = ["sft", "preferences", "prompts", "oasst"] as const;
export type ExportFormatGroup = (typeof EXPORT_FORMAT_GROUPS)[number];

/** Every export format, with the consumer it is written for. Keys are stored on dataset_exports.format. */
export const EXPORT_FORMATS = {
  sft_messages: { group: "sft", label: "SFT · TRL conversational {messages}" },
  sft_prompt_completion: { group: "sft", label: "SFT · TRL prompt/completion strings (single-turn paths)" },
  sft_prompt_completion_conversational: { group: "sft", label: "SFT · TRL prompt/completion message lists" },
  sft_alpaca: { group: "sft", label: "SFT · Alpaca {instruction, input, output} (single-turn paths)" },
  sft_sharegpt: { group: "sft", label: "SFT · ShareGPT {conversations}" },
  sft_paths: { group: "sft", label: "SFT · canonical path records" },
  pairwise_trl: { group: "preferences", label: "Preferences · TRL explicit prompt {prompt, chosen, rejected}" },
  pairwise_trl_implicit: { group: "preferences", label: "Preferences · TRL implicit prompt {chosen, rejected}" },
  pairwise_trl_standard: { group: "preferences", label: "Preferences · TRL plain strings (single-turn prompts)" },
  pairwise_openrlhf: { group: "preferences", label: "Preferences · OpenRLHF {prompt, chosen, rejected}" },
  pairwise_hh: { group: "preferences", label: "Preferences · Anthropic HH transcripts" },
  ultrafeedback_binarized: { group: "preferences", label: "Preferences · UltraFeedback-binarized" },
  kway: { group: "preferences", label: "Preferences · K-way rows for the reward-model trainer" },
  ranked_sets: { group: "preferences", label: "Preferences · canonical ranked-set records" },
  prompts_text: { group: "prompts", label: "Prompts · {prompt} root prompts as text" },
  prompts_conversational: { group: "prompts", label: "Prompts · {prompt} conversations ending with a user turn" },
  oasst_trees: { group: "oasst", label: "Open-Assistant message trees (nested)" },
  oasst_messages: { group: "oasst", label: "Open-Assistant flat messages" },
} as const satisfies Record<string, { group: ExportFormatGroup; label: string }>;

export type ExportFormat = keyof typeof EXPORT_FORMATS;

export const EXPORT_FORMAT_KEYS = Object.keys(EXPORT_FORMATS) as [ExportFormat, ...ExportFormat[]];

export interface RowUnit {
  one: string;
  many: string;
}

/** What one row of a format is, in words: the record each row is made from. */
export function rowUnitOf(format: ExportFormat): RowUnit {
  if (format === "kway" || format === "ranked_sets") return { one: "ranked set", many: "ranked sets" };
  if (format === "oasst_messages") return { one: "message", many: "messages" };
  switch (EXPORT_FORMATS[format].group) {
    case "sft":
      return { one: "conversation", many: "conversations" };
    case "preferences":
      return { one: "preference pair", many: "preference pairs" };
    case "prompts":
      return { one: "prompt", many: "prompts" };
    case "oasst":
      return { one: "tree", many: "trees" };
  }
}

/** Message-level switches: "exclude" drops matching messages with their replies. */
export const INCLUSION = ["include", "exclude"] as const;

/** Review results an export keeps unless asked otherwise: a message that failed review is left out. */
export const DEFAULT_REVIEW_RESULTS = ["accepted", "pending"] as const satisfies readonly (typeof REVIEW_RESULTS)[number][];

const Uuid = z.string().uuid();
const LangTag = z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, "a BCP 47 language tag such as en or pt-BR");
const DateBound = z.string().datetime({ offset: true });

export const ExportFiltersSchema = z
  .object({
    /** Trees in these states (default: finished trees). */
    treeStates: z.array(z.enum(TREE_STATES)).min(1).default(["ready_for_export"]),
    /** Tree languages; empty means every language. */
    languages: z.array(LangTag).default([]),
    /** Trees created at or after / before these instants. */
    createdFrom: DateBound.optional(),
    createdTo: DateBound.optional(),
    /** Messages whose review result is one of these (default: all but rejected). */
    reviewResults: z.array(z.enum(REVIEW_RESULTS)).min(1).default([...DEFAULT_REVIEW_RESULTS]),
    deleted: z.enum(INCLUSION).default("exclude"),
    /** Spam-labelled messages: the mean of their "spam" labels is above 0.5 (app/domain/consensus/labels.ts). */
    spam: z.enum(INCLUSION).default("exclude"),
    /** Model-written messages. */
    synthetic: z.enum(INCLUSION).default("include"),
    /** Messages with fewer labels (reviews) are dropped with their replies. */
    minLabels: z.number().int().min(0).max(1000).default(0),
    /** A consensus backed by fewer rankings counts as no consensus (the siblings are unranked). */
    minRankings: z.number().int().min(0).max(1000).default(0),
    /** Only these labelers' labels and rankings count; consensus is recomputed from their rankings. Empty: everyone. */
    labelerIds: z.array(Uuid).max(1000).default([]),
  })
  .strict()
  .refine((f) => !f.createdFrom || !f.createdTo || f.createdFrom < f.createdTo, {
    message: "createdFrom must be before createdTo",
    path: ["createdTo"],
  });
export type ExportFilters = z.infer<typeof ExportFiltersSchema>;

export const ExportOptionsSchema = z
  .object({
    /** SFT: keep a path only if every assistant turn ranks below topK (1 = best replies only). */
    topK: z.number().int().min(1).max(100).optional(),
    /** Preferences: which pairs of a ranked set to write. */
    pairSelection: z.enum(["all", "adjacent", "best_vs_rest", "best_vs_worst"]).default("all"),
    /** Preferences: add a "margin" key (TRL explicit, OpenRLHF) from this source. */
    margin: z.enum(["bt_score", "rank_gap"]).optional(),
    /** Preferences: sets where more rankings than this share said "not rankable" give no pairs. */
    maxNotRankableShare: z.number().min(0).max(1).default(0.5),
    /** UltraFeedback: how score_chosen / score_rejected are filled. */
    ultraFeedbackScore: z.enum(["rank", "bt_score"]).default("rank"),
    /** Canonical ranked sets: include every labeler's raw ranking. */
    includeRankings: z.boolean().default(true),
  })
  .strict();
export type ExportOptions = z.infer<typeof ExportOptionsSchema>;

export const ExportSplitSchema = z
  .object({
    /** Same seed, same split: trees are assigned by sha256(seed:tree_id). */
    seed: z.string().min(1).max(64).default("0"),
    /** Share of trees in the validation file; 0 writes one train file. */
    validationRatio: z.number().min(0).max(1).default(0.05),
  })
  .strict();
export type ExportSplit = z.infer<typeof ExportSplitSchema>;

export const ExportOutputSchema = z
  .object({
    fileType: z.enum(["jsonl", "parquet"]).default("jsonl"),
    /** JSONL only: write .jsonl.gz. */
    gzip: z.boolean().default(false),
  })
  .strict()
  .refine((o) => !(o.gzip && o.fileType === "parquet"), { message: "gzip applies to JSONL only (Parquet is compressed inside)", path: ["gzip"] });
export type ExportOutput = z.infer<typeof ExportOutputSchema>;

export const ExportRequestSchema = z
  .object({
    format: z.enum(EXPORT_FORMAT_KEYS),
    filters: ExportFiltersSchema.default({}),
    options: ExportOptionsSchema.default({}),
    split: ExportSplitSchema.default({}),
    output: ExportOutputSchema.default({}),
    /** Days until the files are removed; none keeps them until deleted. */
    retentionDays: z.number().int().min(1).max(3650).optional(),
  })
  .strict();
export type ExportRequest = z.infer<typeof ExportRequestSchema>;

/** What the export row's config column holds (everything but the format and the filters). */
export type ExportConfig = Pick<ExportRequest, "options" | "split" | "output">;
