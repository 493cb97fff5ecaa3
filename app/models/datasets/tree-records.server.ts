// From one tree's database rows to what the formats are written from: the filtered messages, an
// Open-Assistant tree, canonical ranked-set records and prompt paths. The consensus of a sibling
// set is the stored one, or recomputed from a labeler subset's rankings, or (imported data) the
// ranks stored on the messages.
import {
  DATASET_SCHEMA_VERSION,
  type CompletionAuthor,
  type ConversationTurn,
  type LabelValue,
  type LabelerRanking,
  type PairConfidence,
  type RankedCompletion,
  type RankedSetRecord,
  type Sampling,
} from "~/domain/datasets/canonical.ts";
import type { OaMessageNode, OaMessageTree } from "~/domain/datasets/oasst-schema.ts";
import { restrictRanking, rankingPositions } from "~/domain/consensus/ranking.ts";
import { summarizeSiblingSet } from "~/domain/consensus/sibling-set.ts";
import type { MessageExclusion } from "~/domain/datasets/exclusions.ts";
import type { ExportFilters } from "./export-spec.ts";
import { isoTime, type ExportTreeData, type LabelTotals, type MessageRow, type RankingRow } from "./export-source.server.ts";

/** Labelers who labeled the message: the largest count among its label names. */
function labelCount(totals: LabelTotals | undefined): number {
  let n = totals?.rows ?? 0;
  for (const v of totals?.values.values() ?? []) n = Math.max(n, v.count);
  return n;
}

/** The first message filter `m` fails (see MESSAGE_EXCLUSIONS for the order), or null when it passes. */
function exclusionOf(m: MessageRow, tree: ExportTreeData, filters: ExportFilters): MessageExclusion | null {
  if (!filters.reviewResults.includes(m.reviewResult)) return `review_${m.reviewResult}`;
  if (filters.deleted === "exclude" && m.deleted) return "deleted";
  if (filters.synthetic === "exclude" && m.synthetic) return "synthetic";
  if (filters.spam === "exclude" && m.spamLabelled) return "spam";
  if (filters.minLabels > 0 && labelCount(tree.labels.get(m.id)) < filters.minLabels) return "min_labels";
  return null;
}

/**
 * Messages that pass the message filters and whose parent passed: a refused message takes its
 * replies with it. Parents come before children in the result, as in the input. Each message
 * left out is counted in `excluded` under its reason.
 */
export function keptMessages(tree: ExportTreeData, filters: ExportFilters, excluded?: Record<MessageExclusion, number>): MessageRow[] {
  const kept = new Set<string>();
  const out: MessageRow[] = [];
  for (const m of tree.messages) {
    const reason = m.parentId !== null && !kept.has(m.parentId) ? "parent_excluded" : exclusionOf(m, tree, filters);
    if (reason !== null) {
      if (excluded) excluded[reason] += 1;
      continue;
    }
    kept.add(m.id);
    out.push(m);
  }
  return out;
}

/** Replies that training formats may use: not deleted and not rejected by review. */
const usable = (m: MessageRow) => !m.deleted && m.reviewResult !== "rejected";

/** The consensus of one sibling set as the export uses it. */
export interface SetConsensus {
  method: RankedSetRecord["consensus"]["method"];
  /** Stored rank of each ranked sibling (0 = best; may skip numbers when siblings were left out). */
  ranks: Map<string, number>;
  btScores: ReadonlyMap<string, number> | null;
  kendallTau: number | null;
  /** Rankings that carried an order, and "not rankable" ones. */
  rankingCount: number;
  notRankableCount: number;
  rankings: RankingRow[];
  /** When it was computed (milliseconds since 1970), or null. */
  computedAt: number | null;
}

/** Sibling sets' consensus keyed by parent id, restricted to the kept children. */
export function setConsensus(
  tree: ExportTreeData,
  kept: readonly MessageRow[],
  filters: ExportFilters,
): Map<string, SetConsensus> {
  const children = new Map<string, MessageRow[]>();
  for (const m of kept) {
    if (m.parentId === null) continue;
    const list = children.get(m.parentId);
    if (list) list.push(m);
    else children.set(m.parentId, [m]);
  }
  const out = new Map<string, SetConsensus>();
  for (const [parentId, siblings] of children) {
    const ids = siblings.map((s) => s.id);
    const rankings = tree.rankings.get(parentId) ?? [];
    const notRankableCount = rankings.filter((r) => r.notRankable).length;
    let consensus: SetConsensus | null = null;
    if (filters.labelerIds.length > 0) {
      // Only the subset's rankings were read: their consensus replaces the stored one.
      if (rankings.length > 0) {
        const summary = summarizeSiblingSet(
          ids,
          rankings.map((r) => ({ labelerId: r.userId, order: r.order, notRankable: r.notRankable })),
        );
        consensus = {
          method: rankings.length === 1 ? "single_ranking" : "ranked_pairs",
          ranks: new Map(Object.entries(summary.ranks)),
          btScores: new Map(Object.entries(summary.btScores)),
          kendallTau: summary.kendallTau,
          rankingCount: summary.rankingCount,
          notRankableCount: summary.notRankableCount,
          rankings,
          computedAt: null,
        };
      }
    } else {
      const stored = tree.consensus.get(parentId);
      if (stored) {
        consensus = {
          method: "ranked_pairs",
          ranks: new Map(siblings.filter((s) => s.consensusRank !== null).map((s) => [s.id, s.consensusRank as number])),
          btScores: stored.btScores,
          kendallTau: stored.kendallTau,
          rankingCount: Math.max(0, stored.rankingCount - stored.notRankableCount),
          notRankableCount: stored.notRankableCount,
          rankings,
          computedAt: stored.computedAt,
        };
      } else if (siblings.some((s) => s.consensusRank !== null)) {
        consensus = {
          method: rankings.length > 0 ? "ranked_pairs" : "imported",
          ranks: new Map(siblings.filter((s) => s.consensusRank !== null).map((s) => [s.id, s.consensusRank as number])),
          btScores: null,
          kendallTau: null,
          rankingCount: rankings.length - notRankableCount,
          notRankableCount,
          rankings,
          computedAt: null,
        };
      }
    }
    if (consensus && consensus.rankingCount >= filters.minRankings) out.set(parentId, consensus);
  }
  return out;
}

const REVIEW: Record<MessageRow["reviewResult"], boolean | null> = { accepted: true, rejected: false, pending: null };

export interface OaTreeOptions {
  /** Add created_date, labels and emojis (the Open-Assistant formats); SFT paths need neither. */
  full: boolean;
}

/**
 * The kept messages as an Open-Assistant tree; null when the root prompt was filtered out.
 * Nested here rather than with buildOaTree (same rules: replies by rank, unranked last, then in
 * creation order) because object literals of one fixed shape cost a tenth of the garbage on
 * this hot path; the kept messages are already connected and ordered parents first.
 */
export function oaTreeOf(
  tree: ExportTreeData,
  kept: readonly MessageRow[],
  consensus: Map<string, SetConsensus>,
  options: OaTreeOptions,
): OaMessageTree | null {
  if (kept.length === 0 || kept[0].parentId !== null) return null;
  const nodes = new Map<string, OaMessageNode>();
  let root: OaMessageNode | null = null;
  let ranked = false;
  for (const m of kept) {
    const rank = m.parentId === null ? null : (consensus.get(m.parentId)?.ranks.get(m.id) ?? null);
    let labels: Record<string, LabelValue> | null = null;
    let emojis: Record<string, number> | null = null;
    if (options.full) {
      const totals = tree.labels.get(m.id);
      if (totals && totals.values.size > 0) {
        labels = {};
        for (const [name, v] of totals.values) labels[name] = { value: v.valued > 0 ? v.sum / v.valued : null, count: v.count };
      }
      emojis = tree.emojis.get(m.id) ?? null;
    }
    const node: OaMessageNode = {
      message_id: m.id,
      parent_id: m.parentId,
      user_id: m.authorUserId ?? m.externalAuthor,
      created_date: options.full ? isoTime(m.createdAt) : null,
      text: m.text,
      role: m.role,
      lang: m.lang,
      review_count: m.reviewCount,
      review_result: REVIEW[m.reviewResult],
      deleted: m.deleted,
      rank,
      synthetic: m.synthetic,
      model_name: m.modelName,
      emojis,
      labels,
      replies: [],
    };
    if (rank !== null) ranked = true;
    nodes.set(m.id, node);
    if (m.parentId === null) root = node;
    else (nodes.get(m.parentId) as OaMessageNode).replies.push(node);
  }
  if (ranked) {
    // Stable sort: equal (or no) ranks keep creation order.
    for (const node of nodes.values()) {
      if (node.replies.length > 1) node.replies.sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity));
    }
  }
  // Open-Assistant names a tree by its root message (importers check it); trees made here have an id of their own.
  return { message_tree_id: (root as OaMessageNode).message_id, tree_state: tree.state, prompt: root as OaMessageNode };
}

/**
 * Paths from the root to kept messages, as conversation turns. Each is built when first asked
 * for and shared with its descendants' paths; most messages (the leaves) are never asked for.
 */
export class ConversationPaths {
  private readonly byId = new Map<string, MessageRow>();
  private readonly paths = new Map<string, ConversationTurn[]>();
  constructor(kept: readonly MessageRow[]) {
    for (const m of kept) this.byId.set(m.id, m);
  }
  /** The path to a kept message (its ancestors are kept too: see keptMessages). */
  of(id: string): ConversationTurn[] {
    const known = this.paths.get(id);
    if (known) return known;
    const m = this.byId.get(id) as MessageRow;
    const turn: ConversationTurn = { message_id: m.id, role: m.role, text: m.text };
    const path = m.parentId === null ? [turn] : [...this.of(m.parentId), turn];
    this.paths.set(id, path);
    return path;
  }
}

export interface RankedSetContext {
  projectId: string;
  /** model version id → name, for completions whose message has no model_name. */
  modelNames: ReadonlyMap<string, string>;
  includeRankings: boolean;
  /**
   * Fill consensus.ranks (message id → rank). Only the canonical-record format writes it; pairs
   * and K-way rows use each completion's consensus_rank. Skipping it matters: an object keyed by
   * ids makes V8 intern every id as a property name, costing more than the rest of the record.
   */
  keyedRanks: boolean;
}

function authorOf(m: MessageRow, modelNames: ReadonlyMap<string, string>): CompletionAuthor {
  if (m.modelVersionId !== null) {
    return { type: "model", model_version_id: m.modelVersionId, model_name: m.modelName ?? modelNames.get(m.modelVersionId) ?? m.modelVersionId };
  }
  if (m.synthetic && m.modelName !== null) return { type: "model", model_version_id: null, model_name: m.modelName };
  if (m.authorUserId !== null) return { type: "user", id: m.authorUserId };
  return { type: "external", id: m.externalAuthor };
}

function samplingOf(m: MessageRow): Sampling | null {
  if (m.samplingParams === null && m.seed === null) return null;
  const params: Record<string, string | number | boolean | null> = {};
  const raw = m.samplingParams === null ? {} : (JSON.parse(m.samplingParams) as unknown);
  if (raw && typeof raw === "object" && !Array.isArray(raw)) {
    for (const [k, v] of Object.entries(raw)) {
      if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") params[k] = v;
    }
  }
  const seed = m.seed === null ? null : Number.isSafeInteger(Number(m.seed)) ? Number(m.seed) : m.seed;
  return { params, seed };
}

/** Competition ranks: how many ranked siblings have a strictly better stored rank. */
function competitionRanks(ranks: ReadonlyMap<string, number>): Map<string, number> {
  const values = [...ranks.values()];
  return new Map([...ranks].map(([id, r]) => [id, values.filter((v) => v < r).length]));
}

/** Share of rankings that ordered both and put the winner first, for every consensus pair. */
function pairConfidences(ranks: ReadonlyMap<string, number>, rankings: readonly RankingRow[]): PairConfidence[] {
  const positions = rankings.filter((r) => !r.notRankable).map((r) => rankingPositions(r.order));
  const out: PairConfidence[] = [];
  for (const [w, rw] of ranks) {
    for (const [l, rl] of ranks) {
      if (rw >= rl) continue;
      let both = 0;
      let ahead = 0;
      for (const p of positions) {
        const pw = p.get(w);
        const pl = p.get(l);
        if (pw === undefined || pl === undefined) continue;
        both += 1;
        if (pw < pl) ahead += 1;
      }
      if (both > 0) out.push({ winner_id: w, loser_id: l, value: ahead / both });
    }
  }
  return out;
}

/** One canonical record per kept parent whose usable replies have two or more ranks. */
export function rankedSetsOf(
  tree: ExportTreeData,
  kept: readonly MessageRow[],
  consensus: Map<string, SetConsensus>,
  context: RankedSetContext,
): RankedSetRecord[] {
  const paths = new ConversationPaths(kept);
  // Messages whose whole path (themselves included) is usable; only those open a set or complete one.
  const onUsablePath = new Set<string>();
  const children = new Map<string, MessageRow[]>();
  for (const m of kept) {
    if (!usable(m) || (m.parentId !== null && !onUsablePath.has(m.parentId))) continue;
    onUsablePath.add(m.id);
    if (m.parentId === null) continue;
    const list = children.get(m.parentId);
    if (list) list.push(m);
    else children.set(m.parentId, [m]);
  }
  const out: RankedSetRecord[] = [];
  for (const parent of kept) {
    const set = consensus.get(parent.id);
    const siblings = children.get(parent.id);
    if (!set || !siblings) continue;
    const conversation = paths.of(parent.id);
    const siblingIds = new Set(siblings.map((s) => s.id));
    const stored = new Map([...set.ranks].filter(([id]) => siblingIds.has(id)));
    if (stored.size < 2) continue;
    const ranks = competitionRanks(stored);
    const completionIds = siblings.map((s) => s.id);
    const completions: RankedCompletion[] = siblings.map((s) => {
      const author = authorOf(s, context.modelNames);
      const totals = tree.labels.get(s.id);
      const completion: RankedCompletion = {
        message_id: s.id,
        role: s.role,
        text: s.text,
        author,
        synthetic: s.synthetic || author.type === "model",
        sampling: samplingOf(s),
        consensus_rank: ranks.get(s.id) ?? null,
      };
      const bt = set.btScores?.get(s.id);
      if (typeof bt === "number" && Number.isFinite(bt)) completion.bt_score = bt;
      if (totals && totals.values.size > 0) {
        completion.labels = {};
        for (const [name, v] of totals.values) completion.labels[name] = { value: v.valued > 0 ? v.sum / v.valued : null, count: v.count };
      }
      return completion;
    });
    const groups = new Map<number, string[]>();
    for (const [id, r] of ranks) groups.set(r, [...(groups.get(r) ?? []), id]);
    const rankings: LabelerRanking[] = context.includeRankings
      ? set.rankings.map((r) => ({
          labeler_id: r.userId,
          order: restrictRanking(r.order, completionIds),
          not_rankable: r.notRankable,
          created_at: isoTime(r.createdAt),
        }))
      : [];
    const confidence = set.rankings.length > 0 ? pairConfidences(ranks, set.rankings) : [];
    out.push({
      schema_version: DATASET_SCHEMA_VERSION,
      id: parent.id,
      tree_id: tree.id,
      project_id: context.projectId,
      lang: tree.lang,
      conversation,
      completions,
      consensus: {
        method: set.method,
        ranks: context.keyedRanks ? Object.fromEntries(ranks) : {},
        ties: [...groups.values()].filter((g) => g.length > 1),
        confidence: confidence.length > 0 ? { scope: "all_pairs", pairs: confidence } : null,
        kendall_tau: set.kendallTau !== null && set.kendallTau >= -1 && set.kendallTau <= 1 ? set.kendallTau : null,
      },
      rankings,
      ranking_count: set.rankingCount + set.notRankableCount,
      not_rankable_count: set.notRankableCount,
      created_at: isoTime(set.computedAt ?? parent.createdAt),
    });
  }
  return out;
}

/** Conversations that end with a usable prompter message (every turn usable), for prompt-only sets. */
export function promptPaths(kept: readonly MessageRow[]): ConversationTurn[][] {
  const paths = new ConversationPaths(kept);
  const bad = new Set<string>();
  const out: ConversationTurn[][] = [];
  for (const m of kept) {
    if (!usable(m) || (m.parentId !== null && bad.has(m.parentId))) {
      bad.add(m.id);
      continue;
    }
    if (m.role === "prompter") out.push(paths.of(m.id));
  }
  return out;
}
