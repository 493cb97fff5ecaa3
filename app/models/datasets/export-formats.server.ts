// Each export format: which canonical records it is derived from, which converter of
// app/domain/datasets/formats writes its rows, which consumer schema checks them, and what it
// needs read from the database.
import type { RankedSetRecord, SftPathRecord } from "~/domain/datasets/canonical.ts";
import type { ExportLineFormat } from "~/domain/datasets/consumer-schemas.ts";
import type { MessageExclusion } from "~/domain/datasets/exclusions.ts";
import { sftPathsFromOaTree } from "~/domain/datasets/from-oasst.ts";
import { toHhPreference } from "~/domain/datasets/formats/hh.ts";
import { toKWayRow } from "~/domain/datasets/formats/kway.ts";
import { flattenOaTree, serializeOaFlatMessage, serializeOaTree } from "~/domain/datasets/formats/oasst.ts";
import { preferencePairs, type PreferencePair } from "~/domain/datasets/formats/pairs.ts";
import {
  toOpenRlhfPreference,
  toTrlExplicitPreference,
  toTrlImplicitPreference,
  toTrlStandardPreference,
  toUltraFeedbackBinarized,
} from "~/domain/datasets/formats/preference.ts";
import { toPromptOnlyConversational, toPromptOnlyText } from "~/domain/datasets/formats/prompt-only.ts";
import {
  keepsTopK,
  toAlpaca,
  toShareGpt,
  toTrlConversational,
  toTrlConversationalPromptCompletion,
  toTrlPromptCompletion,
} from "~/domain/datasets/formats/sft.ts";
import type { ExportNeeds, ExportTreeData } from "./export-source.server.ts";
import type { ExportFilters, ExportFormat, ExportOptions } from "./export-spec.ts";
import { keptMessages, oaTreeOf, promptPaths, rankedSetsOf, setConsensus, type RankedSetContext } from "./tree-records.server.ts";

export interface RowContext extends RankedSetContext {
  filters: ExportFilters;
  options: ExportOptions;
  /** Why records produced no row, and how often (multi-turn paths in a single-turn format…). */
  skipped: Map<string, number>;
  /** Messages the filters left out, by reason. */
  excluded: Record<MessageExclusion, number>;
}

function skip(context: RowContext, reason: string): void {
  context.skipped.set(reason, (context.skipped.get(reason) ?? 0) + 1);
}

/** Adds a converter's row, or counts why it gave none. */
function push(rows: unknown[], context: RowContext, row: unknown | null, whenNull: string | undefined): void {
  if (row === null) skip(context, whenNull ?? "not representable");
  else rows.push(row);
}

type FormatSpec =
  | { source: "sft"; line: ExportLineFormat; row: (path: SftPathRecord) => unknown | null; whenNull?: string }
  | { source: "pairs"; line: ExportLineFormat; row: (pair: PreferencePair, options: ExportOptions) => unknown | null; whenNull?: string; margin?: boolean }
  | { source: "sets"; line: ExportLineFormat; row: (set: RankedSetRecord, options: ExportOptions) => unknown | null; whenNull?: string }
  | { source: "prompts"; line: ExportLineFormat; row: (turns: RankedSetRecord["conversation"]) => unknown | null; whenNull?: string }
  | { source: "oasst"; line: ExportLineFormat; flat: boolean };

const margin = (options: ExportOptions) => (options.margin ? { margin: options.margin } : {});

export const FORMAT_SPECS: Record<ExportFormat, FormatSpec> = {
  sft_messages: { source: "sft", line: "trl_sft_conversational", row: toTrlConversational },
  sft_prompt_completion: { source: "sft", line: "trl_prompt_completion", row: toTrlPromptCompletion, whenNull: "multi-turn path" },
  sft_prompt_completion_conversational: { source: "sft", line: "trl_prompt_completion_conversational", row: toTrlConversationalPromptCompletion },
  sft_alpaca: { source: "sft", line: "alpaca", row: toAlpaca, whenNull: "multi-turn path" },
  sft_sharegpt: { source: "sft", line: "sharegpt", row: toShareGpt },
  sft_paths: { source: "sft", line: "sft_path_record", row: (path) => path },
  pairwise_trl: { source: "pairs", line: "trl_preference_explicit", row: (p, o) => toTrlExplicitPreference(p, margin(o)), margin: true },
  pairwise_trl_implicit: { source: "pairs", line: "trl_preference_implicit", row: (p) => toTrlImplicitPreference(p) },
  pairwise_trl_standard: {
    source: "pairs",
    line: "trl_preference_standard",
    row: (p, o) => toTrlStandardPreference(p, margin(o)),
    whenNull: "multi-turn prompt",
    margin: true,
  },
  pairwise_openrlhf: { source: "pairs", line: "openrlhf_preference", row: (p, o) => toOpenRlhfPreference(p, margin(o)), margin: true },
  pairwise_hh: { source: "pairs", line: "hh", row: (p) => toHhPreference(p), whenNull: "text contains an HH speaker marker" },
  ultrafeedback_binarized: {
    source: "pairs",
    line: "ultrafeedback_binarized",
    row: (p, o) => toUltraFeedbackBinarized(p, { score: o.ultraFeedbackScore }),
  },
  kway: { source: "sets", line: "kway", row: (s, o) => toKWayRow(s, { maxNotRankableShare: o.maxNotRankableShare }), whenNull: "no pairs" },
  ranked_sets: { source: "sets", line: "ranked_set_record", row: (s) => s },
  prompts_text: { source: "prompts", line: "prompt_only_text", row: toPromptOnlyText, whenNull: "multi-turn prompt" },
  prompts_conversational: { source: "prompts", line: "prompt_only_conversational", row: toPromptOnlyConversational },
  oasst_trees: { source: "oasst", line: "oasst_tree", flat: false },
  oasst_messages: { source: "oasst", line: "oasst_message", flat: true },
};

export function lineFormatOf(format: ExportFormat): ExportLineFormat {
  return FORMAT_SPECS[format].line;
}

/** Whether rows of this export carry a "margin" key. */
export function writesMargin(format: ExportFormat, options: ExportOptions): boolean {
  const spec = FORMAT_SPECS[format];
  return spec.source === "pairs" && spec.margin === true && options.margin !== undefined;
}

/** What the export must read besides the messages. */
export function needsOf(format: ExportFormat, filters: ExportFilters, options: ExportOptions): ExportNeeds {
  const source = FORMAT_SPECS[format].source;
  const ranked = source === "pairs" || source === "sets" || source === "oasst";
  const consensusFilters = filters.minRankings > 0 || filters.labelerIds.length > 0;
  return {
    details: source === "oasst" || format === "ranked_sets",
    consensus: ranked || consensusFilters,
    btScores: format === "ranked_sets" || format === "kway" || needsBtScores(format, options),
    // Pairs and K-way rows need only the counts of rankings, which come with the consensus.
    rankings: format === "ranked_sets" || consensusFilters,
    labels: source === "oasst" || format === "ranked_sets" || filters.minLabels > 0,
    emojis: source === "oasst",
    spam: filters.spam === "exclude",
  };
}

/** Whether each pair's row needs both replies' Bradley–Terry scores (a margin or UltraFeedback scores from them). */
export function needsBtScores(format: ExportFormat, options: ExportOptions): boolean {
  return (
    (writesMargin(format, options) && options.margin === "bt_score") ||
    (format === "ultrafeedback_binarized" && options.ultraFeedbackScore === "bt_score")
  );
}

/** Pairs whose replies are prompter turns, or lack the scores a margin needs, cannot be written. */
function pairProblem(pair: PreferencePair, format: ExportFormat, options: ExportOptions): string | null {
  if (pair.chosen.role !== "assistant" || pair.rejected.role !== "assistant") return "ranks user replies";
  if (needsBtScores(format, options) && pair.bt_gap === null) return "no Bradley–Terry scores";
  return null;
}

/** Every row one tree gives in this format, in a stable order. */
export function treeRows(format: ExportFormat, tree: ExportTreeData, context: RowContext): unknown[] {
  const spec = FORMAT_SPECS[format];
  const kept = keptMessages(tree, context.filters, context.excluded);
  if (kept.length === 0) return [];
  const consensus = setConsensus(tree, kept, context.filters);
  const rows: unknown[] = [];
  switch (spec.source) {
    case "sft": {
      const oa = oaTreeOf(tree, kept, consensus, { full: false });
      if (!oa) return rows;
      for (const path of sftPathsFromOaTree(oa, { project_id: context.projectId })) {
        if (context.options.topK !== undefined && !keepsTopK(path, { topK: context.options.topK })) {
          skip(context, `below top-${context.options.topK}`);
          continue;
        }
        push(rows, context, spec.row(path), spec.whenNull);
      }
      return rows;
    }
    case "pairs":
    case "sets": {
      const sets = rankedSetsOf(tree, kept, consensus, context);
      for (const set of sets) {
        if (spec.source === "sets") {
          if (spec.line === "kway" && set.completions.some((c) => c.role !== "assistant")) skip(context, "ranks user replies");
          else push(rows, context, spec.row(set, context.options), spec.whenNull);
          continue;
        }
        const pairs = preferencePairs(set, { selection: context.options.pairSelection, maxNotRankableShare: context.options.maxNotRankableShare });
        if (pairs.length === 0) skip(context, "ranked set without pairs");
        for (const pair of pairs) {
          const problem = pairProblem(pair, format, context.options);
          if (problem) skip(context, problem);
          else push(rows, context, spec.row(pair, context.options), spec.whenNull);
        }
      }
      return rows;
    }
    case "prompts": {
      for (const turns of promptPaths(kept)) push(rows, context, spec.row(turns), spec.whenNull);
      return rows;
    }
    case "oasst": {
      const oa = oaTreeOf(tree, kept, consensus, { full: true });
      if (!oa) return rows;
      if (!spec.flat) rows.push(serializeOaTree(oa, { nulls: "omit" }));
      else for (const m of flattenOaTree(oa)) rows.push(serializeOaFlatMessage(m, { nulls: "keep" }));
      return rows;
    }
  }
}
