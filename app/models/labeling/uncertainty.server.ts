// How unsure a project's reward model is about a sibling set, from the scores the reward-scoring job
// stored (docs/decisions/0018). One SQL definition serves the choice of trees the draw looks at and
// the choice among their sets. Lower is less sure: the top margin (best score minus second best)
// with one model; with two, how alike they order the set (Kendall's tau over reply pairs both
// scored, ties counting zero), so the sets they disagree on come first. Null: too few scores yet.
import { Prisma } from "~/generated/prisma/client.ts";
import type { RankingOrder } from "~/domain/tasks/ranking-priority.ts";
import type { Db } from "./config.server.ts";

/** The set's key as an SQL expression over the parent message id `parent`. */
export function setUncertaintySql(parent: Prisma.Sql, order: RankingOrder): Prisma.Sql {
  const a = order.rewardModelId;
  if (!a) return Prisma.sql`NULL::float8`;
  const b = order.secondRewardModelId;
  if (!b) {
    return Prisma.sql`(
      SELECT (array_agg(s.score ORDER BY s.score DESC))[1] - (array_agg(s.score ORDER BY s.score DESC))[2]
      FROM messages c JOIN reward_scores s ON s.message_id = c.id AND s.model_version_id = ${a}::uuid
      WHERE c.parent_id = ${parent} AND NOT c.deleted AND c.review_result = 'accepted')`;
  }
  return Prisma.sql`(
    SELECT avg(sign(a1.score - a2.score) * sign(b1.score - b2.score))::float8
    FROM messages c1
    JOIN messages c2 ON c2.parent_id = c1.parent_id AND c2.id > c1.id AND NOT c2.deleted AND c2.review_result = 'accepted'
    JOIN reward_scores a1 ON a1.message_id = c1.id AND a1.model_version_id = ${a}::uuid
    JOIN reward_scores a2 ON a2.message_id = c2.id AND a2.model_version_id = ${a}::uuid
    JOIN reward_scores b1 ON b1.message_id = c1.id AND b1.model_version_id = ${b}::uuid
    JOIN reward_scores b2 ON b2.message_id = c2.id AND b2.model_version_id = ${b}::uuid
    WHERE c1.parent_id = ${parent} AND NOT c1.deleted AND c1.review_result = 'accepted')`;
}

/** Keys of the sets under these parents; parents whose set has too few scores are left out. */
export async function setUncertainty(db: Db, parentIds: readonly string[], order: RankingOrder): Promise<Map<string, number>> {
  if (order.mode !== "uncertainty" || !order.rewardModelId || parentIds.length === 0) return new Map();
  const rows = await db.$queryRaw<{ id: string; key: number | null }[]>`
    SELECT p.id::text AS id, ${setUncertaintySql(Prisma.sql`p.id`, order)} AS key
    FROM messages p WHERE p.id = ANY(${parentIds as string[]}::uuid[])`;
  return new Map(rows.filter((r) => r.key !== null).map((r) => [r.id, Number(r.key)]));
}
