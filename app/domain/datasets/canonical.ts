// Canonical dataset records. Every export format is derived from one of these two shapes:
// a RankedSetRecord per ranked sibling set and an SftPathRecord per conversation path.
import { z } from "zod";
import { MESSAGE_ROLES, type MessageRole } from "../trees/enums";

export const DATASET_SCHEMA_VERSION = 1 as const;

const Id = z.string().min(1);
const IsoDateTime = z.string().datetime({ offset: true });

export const MessageRoleSchema = z.enum(MESSAGE_ROLES);
/** A BCP 47 language tag ("en", "pt-BR"); "und" when unknown. */
export const LangSchema = z.string().min(2).max(35);

export function oppositeRole(role: MessageRole): MessageRole {
  return role === "prompter" ? "assistant" : "prompter";
}

/** One message of the path from the tree's root prompt down to the ranked set's parent. */
export const ConversationTurnSchema = z
  .object({ message_id: Id, role: MessageRoleSchema, text: z.string() })
  .strict();
export type ConversationTurn = z.infer<typeof ConversationTurnSchema>;

/**
 * Who wrote a completion: a user of this instance, a model (model_version_id is null when only
 * a name is known, e.g. synthetic replies in imported Open-Assistant data), or an author from an
 * imported dataset with no user row here (id is the source's author id, if it had one).
 */
export const CompletionAuthorSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("user"), id: Id }).strict(),
  z
    .object({ type: z.literal("model"), model_version_id: Id.nullable(), model_name: z.string().min(1) })
    .strict(),
  z.object({ type: z.literal("external"), id: Id.nullable() }).strict(),
]);
export type CompletionAuthor = z.infer<typeof CompletionAuthorSchema>;

/** Sampling parameters as recorded with the completion; unknown keys are kept (scalars only). */
export const SamplingParamsSchema = z
  .object({
    temperature: z.number().nonnegative().optional(),
    top_p: z.number().gt(0).lte(1).optional(),
    top_k: z.number().int().nonnegative().optional(),
    repetition_penalty: z.number().positive().optional(),
    max_new_tokens: z.number().int().positive().optional(),
  })
  .catchall(z.union([z.string(), z.number(), z.boolean(), z.null()]));

/** Seeds beyond 2^53 are written as decimal strings so no JSON reader loses digits. */
export const SeedSchema = z.union([
  z.number().int().refine(Number.isSafeInteger, "seed beyond 2^53 must be a decimal string"),
  z.string().regex(/^-?\d+$/),
]);

export const SamplingSchema = z
  .object({ params: SamplingParamsSchema, seed: SeedSchema.nullable() })
  .strict();
export type Sampling = z.infer<typeof SamplingSchema>;

/** Open-Assistant style aggregated label: mean value in [0, 1] over `count` labelers. */
export const LabelValueSchema = z
  .object({ value: z.number().min(0).max(1).nullable(), count: z.number().int().nonnegative() })
  .strict();
export type LabelValue = z.infer<typeof LabelValueSchema>;

export const RankedCompletionSchema = z
  .object({
    message_id: Id,
    role: MessageRoleSchema,
    text: z.string(),
    author: CompletionAuthorSchema,
    synthetic: z.boolean(),
    sampling: SamplingSchema.nullable(),
    /** Competition rank in the consensus (0 = best, tied completions share a rank); null = not ranked. */
    consensus_rank: z.number().int().nonnegative().nullable(),
    /** Bradley–Terry strength (log scale) from the labelers' rankings, when estimated. */
    bt_score: z.number().finite().optional(),
    labels: z.record(LabelValueSchema).optional(),
  })
  .strict();
export type RankedCompletion = z.infer<typeof RankedCompletionSchema>;

export const CONSENSUS_METHODS = ["ranked_pairs", "bradley_terry", "single_ranking", "imported"] as const;
export type ConsensusMethod = (typeof CONSENSUS_METHODS)[number];

/** Share of the rankings that ordered winner and loser and put the winner first. */
export const PairConfidenceSchema = z
  .object({ winner_id: Id, loser_id: Id, value: z.number().min(0).max(1) })
  .strict();
export type PairConfidence = z.infer<typeof PairConfidenceSchema>;

export const ConsensusSchema = z
  .object({
    method: z.enum(CONSENSUS_METHODS),
    /** message id → competition rank (0 = best; ties share a rank, the next rank skips). */
    ranks: z.record(Id, z.number().int().nonnegative()),
    /** Groups of two or more message ids sharing a rank. */
    ties: z.array(z.array(Id).min(2)),
    /** Per consensus pair, either every ordered pair or only adjacent ones; null when not computed. */
    confidence: z
      .object({ scope: z.enum(["all_pairs", "adjacent_pairs"]), pairs: z.array(PairConfidenceSchema) })
      .strict()
      .nullable(),
    /** Mean Kendall tau between the labelers' rankings and the consensus, when computed. */
    kendall_tau: z.number().min(-1).max(1).nullable(),
  })
  .strict();
export type Consensus = z.infer<typeof ConsensusSchema>;

/** One labeler's ranking: groups of message ids, best first; a group of several ids is a tie. */
export const LabelerRankingSchema = z
  .object({
    labeler_id: Id,
    order: z.array(z.array(Id).min(1)),
    /** The labeler ticked "not rankable" (all replies bad); `order` may then be empty. */
    not_rankable: z.boolean(),
    created_at: IsoDateTime,
  })
  .strict();
export type LabelerRanking = z.infer<typeof LabelerRankingSchema>;

const RankedSetRecordShape = z
  .object({
    schema_version: z.literal(DATASET_SCHEMA_VERSION),
    /** The sibling set's id: its parent message id. */
    id: Id,
    tree_id: Id,
    project_id: Id,
    lang: LangSchema,
    /** Root prompt … parent message, in order; the last turn is the parent. */
    conversation: z.array(ConversationTurnSchema).min(1),
    /** Every sibling under the parent, ranked or not, in a stable order (creation order). */
    completions: z.array(RankedCompletionSchema).min(2),
    consensus: ConsensusSchema,
    /** Per-labeler rankings (may be left out of an export; ranking_count still counts them). */
    rankings: z.array(LabelerRankingSchema),
    ranking_count: z.number().int().nonnegative(),
    not_rankable_count: z.number().int().nonnegative(),
    /** When the consensus was computed (or the set imported). */
    created_at: IsoDateTime,
  })
  .strict();

type Issue = { path: (string | number)[]; message: string };

function checkConversation(
  turns: readonly { message_id: string; role: MessageRole }[],
  field: string,
  issues: Issue[],
): void {
  turns.forEach((turn, i) => {
    const expected: MessageRole = i % 2 === 0 ? "prompter" : "assistant";
    if (turn.role !== expected) {
      issues.push({ path: [field, i, "role"], message: `turn ${i} must be ${expected} (roles alternate from a prompter root)` });
    }
  });
  const seen = new Set<string>();
  turns.forEach((turn, i) => {
    if (seen.has(turn.message_id)) issues.push({ path: [field, i, "message_id"], message: `duplicate message id ${turn.message_id}` });
    seen.add(turn.message_id);
  });
}

function rankedSetIssues(r: z.infer<typeof RankedSetRecordShape>): Issue[] {
  const issues: Issue[] = [];
  checkConversation(r.conversation, "conversation", issues);
  const parent = r.conversation[r.conversation.length - 1];
  if (parent.message_id !== r.id) issues.push({ path: ["id"], message: "id must be the last conversation turn's message_id" });

  const completionRole = oppositeRole(parent.role);
  const ids = new Set<string>();
  const inConversation = new Set(r.conversation.map((t) => t.message_id));
  r.completions.forEach((c, i) => {
    if (c.role !== completionRole) issues.push({ path: ["completions", i, "role"], message: `completions reply to a ${parent.role} and must be ${completionRole}` });
    if (ids.has(c.message_id) || inConversation.has(c.message_id)) issues.push({ path: ["completions", i, "message_id"], message: `duplicate message id ${c.message_id}` });
    ids.add(c.message_id);
    if (c.author.type === "model" && !c.synthetic) issues.push({ path: ["completions", i, "synthetic"], message: "a model-written completion is synthetic" });
    const rank = Object.hasOwn(r.consensus.ranks, c.message_id) ? r.consensus.ranks[c.message_id] : null;
    if (c.consensus_rank !== rank) issues.push({ path: ["completions", i, "consensus_rank"], message: `consensus_rank ${c.consensus_rank} differs from consensus.ranks (${rank})` });
  });

  const ranked = Object.entries(r.consensus.ranks);
  for (const [id] of ranked) {
    if (!ids.has(id)) issues.push({ path: ["consensus", "ranks", id], message: `ranked id ${id} is not a completion` });
  }
  if (ranked.length < 2) issues.push({ path: ["consensus", "ranks"], message: "a ranked set needs at least two ranked completions" });
  for (const [id, rank] of ranked) {
    const better = ranked.filter(([, other]) => other < rank).length;
    if (better !== rank) issues.push({ path: ["consensus", "ranks", id], message: `rank ${rank} must equal the number of completions ranked better (${better})` });
  }

  const expectedTies = new Map<number, string[]>();
  for (const [id, rank] of ranked) expectedTies.set(rank, [...(expectedTies.get(rank) ?? []), id]);
  const tieKey = (group: readonly string[]) => [...group].sort().join("\u0000");
  const expected = new Set([...expectedTies.values()].filter((g) => g.length > 1).map(tieKey));
  const given = new Set(r.consensus.ties.map(tieKey));
  if (expected.size !== given.size || [...expected].some((k) => !given.has(k)) || given.size !== r.consensus.ties.length) {
    issues.push({ path: ["consensus", "ties"], message: "ties must list exactly the groups of completions sharing a rank" });
  }

  r.consensus.confidence?.pairs.forEach((p, i) => {
    if (!Object.hasOwn(r.consensus.ranks, p.winner_id) || !Object.hasOwn(r.consensus.ranks, p.loser_id) || p.winner_id === p.loser_id) {
      issues.push({ path: ["consensus", "confidence", "pairs", i], message: "confidence pairs name two distinct ranked completions" });
    }
  });

  const labelers = new Set<string>();
  r.rankings.forEach((ranking, i) => {
    if (labelers.has(ranking.labeler_id)) issues.push({ path: ["rankings", i, "labeler_id"], message: "one ranking per labeler" });
    labelers.add(ranking.labeler_id);
    const seen = new Set<string>();
    for (const id of ranking.order.flat()) {
      if (!ids.has(id)) issues.push({ path: ["rankings", i, "order"], message: `ranked id ${id} is not a completion` });
      if (seen.has(id)) issues.push({ path: ["rankings", i, "order"], message: `id ${id} appears twice` });
      seen.add(id);
    }
  });
  if (r.ranking_count < r.rankings.length) issues.push({ path: ["ranking_count"], message: "ranking_count is below the number of rankings listed" });
  const listedNotRankable = r.rankings.filter((x) => x.not_rankable).length;
  if (r.not_rankable_count < listedNotRankable || r.not_rankable_count > r.ranking_count) {
    issues.push({ path: ["not_rankable_count"], message: "not_rankable_count must cover the listed not-rankable rankings and not exceed ranking_count" });
  }
  return issues;
}

export const RankedSetRecordSchema = RankedSetRecordShape.superRefine((record, ctx) => {
  for (const issue of rankedSetIssues(record)) ctx.addIssue({ code: z.ZodIssueCode.custom, ...issue });
});
export type RankedSetRecord = z.infer<typeof RankedSetRecordShape>;

/** One message of an SFT path. review_result: true accepted, false rejected, null pending. */
export const SftMessageSchema = z
  .object({
    message_id: Id,
    role: MessageRoleSchema,
    text: z.string(),
    /** Consensus rank among its siblings (0 = best), null when not ranked. */
    rank: z.number().int().nonnegative().nullable(),
    synthetic: z.boolean(),
    model_name: z.string().min(1).nullable(),
    review_result: z.boolean().nullable(),
    /** Number of siblings including itself, so "unranked but alone" differs from "unranked among many". */
    sibling_count: z.number().int().positive(),
  })
  .strict();
export type SftMessage = z.infer<typeof SftMessageSchema>;

const SftPathRecordShape = z
  .object({
    schema_version: z.literal(DATASET_SCHEMA_VERSION),
    /** The path's last message id (an assistant reply). */
    id: Id,
    tree_id: Id,
    project_id: Id,
    lang: LangSchema,
    /** Root prompt … assistant reply, alternating roles. */
    messages: z.array(SftMessageSchema).min(2),
  })
  .strict();

export const SftPathRecordSchema = SftPathRecordShape.superRefine((record, ctx) => {
  const issues: Issue[] = [];
  checkConversation(record.messages, "messages", issues);
  const last = record.messages[record.messages.length - 1];
  if (last.role !== "assistant") issues.push({ path: ["messages"], message: "an SFT path ends with an assistant reply" });
  if (last.message_id !== record.id) issues.push({ path: ["id"], message: "id must be the last message's message_id" });
  for (const issue of issues) ctx.addIssue({ code: z.ZodIssueCode.custom, ...issue });
});
export type SftPathRecord = z.infer<typeof SftPathRecordShape>;

/** Ranked completions, best first; ties keep the completions' order. */
export function rankedCompletions(record: RankedSetRecord): RankedCompletion[] {
  return record.completions
    .filter((c) => c.consensus_rank !== null)
    .sort((a, b) => (a.consensus_rank as number) - (b.consensus_rank as number));
}
