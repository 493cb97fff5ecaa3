// How many rows an export would write, counted in SQL before it runs: the trees the tree filters
// select, the messages the message filters keep (a refused message takes its replies, as in
// keptMessages), then the format's rows (trees, messages, conversations, prompts, ranked sets or
// preference pairs) per split, with what was left out and why. One read-only statement per
// preview; nothing is read into the web process but counts.
import pg from "pg";
import { pgPool } from "~/db.server.ts";
import { describeExclusions, emptyExclusions, MESSAGE_EXCLUSIONS, whyEmpty, type ExclusionCounts, type MessageExclusion } from "~/domain/datasets/exclusions.ts";
import type { DatasetSplit } from "~/domain/datasets/split.ts";
import { REVIEW_RESULTS } from "~/domain/trees/enums.ts";
import { DatasetError } from "./errors.server.ts";
import { FORMAT_SPECS, needsBtScores } from "./export-formats.server.ts";
import { spamLabelledSql, treeExclusionSql, treeExclusionsOf, treeFilterSql } from "./export-source.server.ts";
import { rowUnitOf, type ExportFilters, type ExportFormat, type ExportOptions, type ExportSplit, type RowUnit } from "./export-spec.ts";
import { parseExportRequest } from "./exports.server.ts";

export interface ExportPreview {
  format: ExportFormat;
  unit: RowUnit;
  rows: Record<DatasetSplit, number>;
  /** False when the count cannot be exact before the export runs; `note` says why. */
  exact: boolean;
  note: string | null;
  projectTrees: number;
  selectedTrees: number;
  /** Messages of the selected trees, and those the message filters kept. */
  messages: number;
  keptMessages: number;
  excluded: ExclusionCounts;
  /** Records that give no row in this format, by the reason the export's manifest would give. */
  skipped: Record<string, number>;
  /** One line on what the filters leave out; null when they leave out nothing. */
  summary: string | null;
  /** Why there would be no rows; null when there are some. */
  emptyReason: string | null;
}

const lit = (value: string) => pg.escapeLiteral(value);
const list = (values: readonly string[]) => values.map(lit).join(", ");

/** 2^52: a tree's split unit is the first 52 bits of its hash over this (see app/domain/datasets/split.ts). */
const UNIT_SCALE = "4503599627370496::float8";

/** Whether tree `t` goes to validation, computed as splitForTree does (float8 division by 2^52 is exact). */
function validationSql(split: ExportSplit): string {
  if (split.validationRatio <= 0) return "false";
  if (split.validationRatio >= 1) return "true";
  const hash = `encode(sha256(convert_to(${lit(split.seed)} || ':' || t.id::text, 'UTF8')), 'hex')`;
  return `(('x' || substr(${hash}, 1, 13))::bit(52)::bigint::float8 / ${UNIT_SCALE} < ${split.validationRatio}::float8)`;
}

/** Label rows of messages in `selected` trees: for each message the largest labeler count (see labelCount). */
function labelCountSql(filters: ExportFilters): string {
  const subset = filters.labelerIds.length > 0 ? ` AND l.user_id IN (${list(filters.labelerIds)})` : "";
  const inSelection = "m.tree_id IN (SELECT id FROM selected)";
  return `SELECT z.message_id, max(z.n) AS n FROM (
      SELECT l.message_id, count(*) AS n FROM messages m JOIN labels l ON l.message_id = m.id WHERE ${inSelection}${subset} GROUP BY 1
      UNION ALL
      SELECT y.message_id, sum(y.n) AS n FROM (
        SELECT l.message_id, e.key AS name, 1 AS n
        FROM messages m JOIN labels l ON l.message_id = m.id CROSS JOIN jsonb_each(l."values") e
        WHERE ${inSelection}${subset} AND jsonb_typeof(e.value) = 'number'
        ${
          filters.labelerIds.length > 0
            ? ""
            : `UNION ALL
        SELECT i.message_id, i.name, i.count FROM messages m JOIN imported_label_values i ON i.message_id = m.id WHERE ${inSelection}`
        }) y GROUP BY y.message_id, y.name
    ) z GROUP BY z.message_id`;
}

/** The selected trees, their messages with the first filter each fails, and the kept messages (`kept`). */
function keptSql(projectId: string, filters: ExportFilters, split: ExportSplit): string {
  const refused = REVIEW_RESULTS.filter((r) => !filters.reviewResults.includes(r));
  const reason = [
    refused.length > 0 ? `WHEN m.review_result::text IN (${list(refused)}) THEN 'review_' || m.review_result::text` : null,
    filters.deleted === "exclude" ? "WHEN m.deleted THEN 'deleted'" : null,
    filters.synthetic === "exclude" ? "WHEN m.synthetic THEN 'synthetic'" : null,
    filters.spam === "exclude" ? `WHEN ${spamLabelledSql("m", filters)} THEN 'spam'` : null,
    filters.minLabels > 0 ? `WHEN coalesce(lc.n, 0) < ${filters.minLabels} THEN 'min_labels'` : null,
  ].filter((w) => w !== null);
  return `WITH RECURSIVE
    selected AS MATERIALIZED (SELECT t.id, ${validationSql(split)} AS validation FROM message_trees t WHERE ${treeFilterSql(projectId, filters)}),
    ${filters.minLabels > 0 ? `label_counts AS MATERIALIZED (${labelCountSql(filters)}),` : ""}
    judged AS MATERIALIZED (
      SELECT m.id, m.parent_id, m.role::text AS role, m.depth, m.consensus_rank, s.validation,
             NOT m.deleted AND m.review_result <> 'rejected' AS usable,
             ${reason.length > 0 ? `CASE ${reason.join(" ")} END` : "NULL::text"} AS reason
      FROM selected s JOIN messages m ON m.tree_id = s.id
      ${filters.minLabels > 0 ? "LEFT JOIN label_counts lc ON lc.message_id = m.id" : ""}),
    -- usable: the message and every ancestor are neither deleted nor rejected (what training formats may use).
    kept AS (
      SELECT id, parent_id, role, depth, consensus_rank, validation, usable FROM judged WHERE parent_id IS NULL AND reason IS NULL
      UNION ALL
      SELECT c.id, c.parent_id, c.role, c.depth, c.consensus_rank, c.validation, k.usable AND c.usable
      FROM kept k JOIN judged c ON c.parent_id = k.id WHERE c.reason IS NULL)`;
}

/** Preference pairs a ranked set gives with `selection`, from its rank groups (n completions, g per group). */
const PAIRS_SQL: Record<ExportOptions["pairSelection"], string> = {
  all: "s.n * (s.n - 1) / 2 - s.tied",
  adjacent: "s.adjacent",
  best_vs_rest: "s.best * (s.n - s.best)",
  best_vs_worst: "CASE WHEN s.groups >= 2 THEN s.best * s.worst ELSE 0 END",
};

/**
 * Ranked sets as rankedSetsOf builds them (a usable parent with two or more usable ranked replies,
 * a consensus backed by enough rankings) with their pairs, per split: `sets`.
 */
function setsSql(filters: ExportFilters, options: ExportOptions, selection: ExportOptions["pairSelection"]): string {
  return `,
    ranked AS (
      SELECT c.parent_id, c.consensus_rank AS rank, count(*) AS g,
             bool_and(coalesce(jsonb_typeof(sc.bt_scores -> c.id::text) = 'number', false)) AS bt
      FROM kept c JOIN kept p ON p.id = c.parent_id LEFT JOIN sibling_consensus sc ON sc.parent_message_id = c.parent_id
      WHERE c.usable AND p.usable AND c.consensus_rank IS NOT NULL
      GROUP BY 1, 2),
    groups AS (
      SELECT parent_id, g, bt,
             coalesce(lead(g) OVER w, 0) AS next_g,
             first_value(g) OVER w AS best,
             last_value(g) OVER (PARTITION BY parent_id ORDER BY rank ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS worst
      FROM ranked WINDOW w AS (PARTITION BY parent_id ORDER BY rank)),
    shapes AS (
      SELECT parent_id, sum(g) AS n, count(*) AS groups, sum(g * (g - 1) / 2) AS tied, sum(g * next_g) AS adjacent,
             max(best) AS best, max(worst) AS worst, bool_and(bt) AS all_bt, bool_or(bt) AS any_bt
      FROM groups GROUP BY parent_id HAVING sum(g) >= 2),
    sets AS (
      SELECT p.validation, p.role AS parent_role, p.depth AS parent_depth, sc.parent_message_id IS NOT NULL AS stored,
             s.all_bt, s.any_bt, counts.ranking_count, counts.not_rankable_count,
             CASE WHEN counts.ranking_count + counts.not_rankable_count > 0
                  AND counts.not_rankable_count::float8 / (counts.ranking_count + counts.not_rankable_count) > ${options.maxNotRankableShare}::float8
                  THEN 0 ELSE ${PAIRS_SQL[selection]} END AS pairs
      FROM shapes s JOIN kept p ON p.id = s.parent_id
      LEFT JOIN sibling_consensus sc ON sc.parent_message_id = s.parent_id
      CROSS JOIN LATERAL (
        SELECT CASE WHEN sc.parent_message_id IS NOT NULL THEN greatest(0, sc.ranking_count - sc.not_rankable_count)
                    ELSE (SELECT count(*) FILTER (WHERE NOT r.not_rankable) FROM rankings r WHERE r.parent_message_id = s.parent_id) END AS ranking_count,
               CASE WHEN sc.parent_message_id IS NOT NULL THEN sc.not_rankable_count
                    ELSE (SELECT count(*) FILTER (WHERE r.not_rankable) FROM rankings r WHERE r.parent_message_id = s.parent_id) END AS not_rankable_count
      ) counts
      WHERE counts.ranking_count >= ${filters.minRankings})`;
}

/**
 * The format's rows (skip NULL) and records that give none (skip = the reason the manifest would
 * give), per split: a query of (validation, skip, n), and the CTEs it needs after the base ones.
 */
function countSql(format: ExportFormat, needsBt: boolean): { ctes: string; select: string } {
  const spec = FORMAT_SPECS[format];
  const tally = (from: string, skip = "NULL::text", n = "count(*)") =>
    `SELECT validation, ${skip} AS skip, (${n})::float8 AS n FROM ${from} GROUP BY 1, 2`;
  switch (spec.source) {
    case "oasst":
      return { ctes: "", select: tally(spec.flat ? "kept" : "kept WHERE parent_id IS NULL") };
    case "prompts":
      return {
        ctes: "",
        select:
          format === "prompts_text"
            ? tally("kept WHERE usable AND role = 'prompter'", "CASE WHEN parent_id IS NULL THEN NULL ELSE 'multi-turn prompt' END")
            : tally("kept WHERE usable AND role = 'prompter'"),
      };
    case "sft": {
      // A path ends at a usable assistant reply none of whose usable replies has a usable reply (sftPathsFromOaTree).
      const singleTurn = format === "sft_prompt_completion" || format === "sft_alpaca";
      return {
        ctes: ", continued AS (SELECT DISTINCT c.parent_id AS id FROM kept c JOIN kept g ON g.parent_id = c.id WHERE c.usable AND g.usable)",
        select: tally(
          "kept a WHERE a.role = 'assistant' AND a.usable AND NOT EXISTS (SELECT 1 FROM continued x WHERE x.id = a.id)",
          singleTurn ? "CASE WHEN a.depth = 1 THEN NULL ELSE 'multi-turn path' END" : "NULL::text",
        ),
      };
    }
    case "sets":
      // K-way: sets of prompter replies are skipped first, then sets without pairs (toKWayRow gives null).
      return {
        ctes: "",
        select:
          format === "ranked_sets"
            ? tally("sets")
            : tally("sets", "CASE WHEN parent_role <> 'prompter' THEN 'ranks user replies' WHEN pairs = 0 THEN 'no pairs' END"),
      };
    case "pairs": {
      // The order of treeRows: a set without pairs, then each pair's problems, then the converter's refusal.
      const skip = [
        "WHEN pairs = 0 THEN 'ranked set without pairs'",
        "WHEN parent_role <> 'prompter' THEN 'ranks user replies'",
        needsBt ? "WHEN NOT stored OR NOT any_bt THEN 'no Bradley–Terry scores'" : null,
        format === "pairwise_trl_standard" ? "WHEN parent_depth <> 0 THEN 'multi-turn prompt'" : null,
      ].filter((w) => w !== null);
      return { ctes: "", select: tally("sets", `CASE ${skip.join(" ")} END`, "sum(CASE WHEN pairs = 0 THEN 1 ELSE pairs END)") };
    }
  }
}

/** Why the count may differ from what the export writes, or null when it is exact. */
function inexactNote(format: ExportFormat, filters: ExportFilters, options: ExportOptions, btMixed: boolean): string | null {
  const source = FORMAT_SPECS[format].source;
  const ranked = source === "pairs" || source === "sets" || (source === "sft" && options.topK !== undefined);
  if (filters.labelerIds.length > 0 && ranked)
    return "An estimate: the export recomputes each set's consensus from the chosen labelers' rankings; this count uses the stored consensus.";
  if (source === "sft" && options.topK !== undefined) return `At most: the top-${options.topK} rule is applied to each conversation when the export runs.`;
  if (format === "pairwise_hh") return 'At most: pairs whose texts contain "\\n\\nHuman:" or "\\n\\nAssistant:" are skipped when the export runs.';
  if (btMixed) return "At most: some ranked replies have no Bradley–Terry score; their pairs are skipped when the export runs.";
  return null;
}

const STATEMENT_TIMEOUT_MS = 20_000;

/** The rows an export request would write, with what its filters leave out. Bad requests are DatasetErrors (400). */
export async function previewExport(projectId: string, request: unknown): Promise<ExportPreview> {
  const { format, filters, options, split } = await parseExportRequest(projectId, request);
  const source = FORMAT_SPECS[format].source;
  const withSets = source === "sets" || source === "pairs";
  const needsBt = needsBtScores(format, options);
  const counting = countSql(format, needsBt);
  const sql = `${keptSql(projectId, filters, split)}${withSets ? setsSql(filters, options, format === "kway" ? "all" : options.pairSelection) : ""}${counting.ctes}
    SELECT (SELECT count(*) FROM selected)::int AS selected, (SELECT count(*) FROM judged)::int AS messages, (SELECT count(*) FROM kept)::int AS kept,
           (SELECT json_object_agg(reason, n) FROM (
              SELECT reason, count(*)::int AS n FROM judged
              WHERE reason IS NOT NULL AND (parent_id IS NULL OR parent_id IN (SELECT id FROM kept)) GROUP BY reason) r) AS reasons,
           ${withSets && needsBt ? "coalesce((SELECT bool_or(stored AND any_bt AND NOT all_bt AND pairs > 0) FROM sets), false)" : "false"} AS bt_mixed,
           (SELECT json_agg(c) FROM (${counting.select}) c) AS counts`;
  const client = await pgPool.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    await client.query(`SET LOCAL statement_timeout = ${STATEMENT_TIMEOUT_MS}`);
    const trees = treeExclusionsOf((await client.query<Record<string, number>>(treeExclusionSql(projectId, filters))).rows[0]);
    const { rows } = await client.query<{
      selected: number;
      messages: number;
      kept: number;
      reasons: Record<string, number> | null;
      bt_mixed: boolean;
      counts: { validation: boolean; skip: string | null; n: number }[] | null;
    }>(sql);
    await client.query("COMMIT");
    const f = rows[0];
    const counted = { train: 0, validation: 0 } as Record<DatasetSplit, number>;
    const skipped: Record<string, number> = {};
    for (const r of f.counts ?? []) {
      if (r.skip === null) counted[r.validation ? "validation" : "train"] += r.n;
      else skipped[r.skip] = (skipped[r.skip] ?? 0) + r.n;
    }
    const excluded = emptyExclusions();
    excluded.trees = trees.excluded;
    for (const [reason, n] of Object.entries(f.reasons ?? {})) excluded.messages[reason as MessageExclusion] = n;
    excluded.messages.parent_excluded = f.messages - f.kept - MESSAGE_EXCLUSIONS.reduce((sum, r) => sum + (r === "parent_excluded" ? 0 : excluded.messages[r]), 0);
    const unit = rowUnitOf(format);
    const note = inexactNote(format, filters, options, f.bt_mixed);
    return {
      format,
      unit,
      rows: counted,
      exact: note === null,
      note,
      projectTrees: trees.projectTrees,
      selectedTrees: f.selected,
      messages: f.messages,
      keptMessages: f.kept,
      excluded,
      skipped,
      summary: describeExclusions(excluded),
      emptyReason:
        counted.train + counted.validation > 0
          ? null
          : whyEmpty({ projectTrees: trees.projectTrees, selectedTrees: f.selected, messages: f.messages, keptMessages: f.kept, excluded, skipped, rowsAre: unit.many }),
    };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    if ((error as { code?: string }).code === "57014")
      throw new DatasetError("Counting the rows took too long; the export itself is not affected.", 503);
    throw error;
  } finally {
    client.release();
  }
}
