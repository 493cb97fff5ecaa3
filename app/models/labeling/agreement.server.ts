// Agreement figures of a project: Kendall tau per sibling set, Krippendorff's alpha over all
// rankings and per label, and each labeler's agreement with the consensus.
import { prisma } from "~/db.server.ts";
import { alphaFromUnits, labelerAgreement, meanPairwiseTau, rankingAlpha, type LabelerRanking } from "~/domain/consensus/agreement.ts";
import { labelTitle } from "~/domain/projects/workflow.ts";
import { projectConfig } from "./config.server.ts";

export interface ProjectAgreement {
  /** Ordinal alpha over every (sibling set, reply) unit; null until two labelers overlap. */
  rankingAlpha: number | null;
  /** Alpha per label name (interval for Likert scales, nominal for flags and yes/no). */
  labelAlpha: Record<string, number | null>;
  /** What labelers see for each label of the schema, in the schema's order. */
  labelTitles: Record<string, string>;
  /** Mean Kendall tau-b over sets with a defined tau. */
  meanSetTau: number | null;
  sets: Array<{ parentId: string; treeId: string; tau: number | null; rankings: number }>;
  labelers: Array<{ userId: string; displayName: string; meanTau: number | null; sets: number; rankings: number }>;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

export async function projectAgreement(projectId: string): Promise<ProjectAgreement> {
  const config = await projectConfig(projectId);
  const [rankings, consensus, labels] = await Promise.all([
    prisma.$queryRaw<Array<{ parent_id: string; tree_id: string; user_id: string; display_name: string; order: string[][]; not_rankable: boolean }>>`
      SELECT r.parent_message_id AS parent_id, p.tree_id, r.user_id, u.display_name, r."order", r.not_rankable
      FROM rankings r JOIN messages p ON p.id = r.parent_message_id JOIN users u ON u.id = r.user_id
      WHERE p.project_id = ${projectId}::uuid`,
    prisma.$queryRaw<Array<{ parent_id: string; ranks: Record<string, number> }>>`
      SELECT sc.parent_message_id AS parent_id, sc.ranks FROM sibling_consensus sc
      JOIN message_trees t ON t.id = sc.tree_id WHERE t.project_id = ${projectId}::uuid`,
    prisma.$queryRaw<Array<{ message_id: string; values: Record<string, number> }>>`
      SELECT l.message_id, l."values" FROM labels l JOIN messages m ON m.id = l.message_id
      WHERE m.project_id = ${projectId}::uuid`,
  ]);

  const bySet = new Map<string, { treeId: string; rankings: LabelerRanking[] }>();
  const names = new Map<string, string>();
  const rankingsBy = new Map<string, number>();
  for (const r of rankings) {
    names.set(r.user_id, r.display_name);
    rankingsBy.set(r.user_id, (rankingsBy.get(r.user_id) ?? 0) + 1);
    if (r.not_rankable) continue;
    const set = bySet.get(r.parent_id) ?? { treeId: r.tree_id, rankings: [] };
    set.rankings.push({ labelerId: r.user_id, ranking: r.order });
    bySet.set(r.parent_id, set);
  }
  const sets = [...bySet.entries()].map(([parentId, s]) => ({
    parentId,
    treeId: s.treeId,
    tau: meanPairwiseTau(s.rankings.map((x) => x.ranking)),
    rankings: s.rankings.length,
  }));
  const consensusOf = new Map(consensus.map((c) => [c.parent_id, c.ranks]));
  const perLabeler = labelerAgreement(
    [...bySet.entries()]
      .filter(([parentId]) => consensusOf.has(parentId))
      .map(([parentId, s]) => ({ consensus: consensusOf.get(parentId)!, rankings: s.rankings })),
  );

  const labelAlpha: Record<string, number | null> = {};
  const labelTitles: Record<string, string> = {};
  const byMessage = new Map<string, Array<Record<string, number>>>();
  for (const l of labels) byMessage.set(l.message_id, [...(byMessage.get(l.message_id) ?? []), l.values]);
  for (const def of config.labelSchema) {
    const units = [...byMessage.values()].map((vs) => vs.flatMap((v) => (typeof v[def.name] === "number" ? [v[def.name]] : [])));
    labelAlpha[def.name] = alphaFromUnits(units, def.kind === "likert" ? "interval" : "nominal");
    labelTitles[def.name] = labelTitle(def);
  }

  return {
    rankingAlpha: rankingAlpha([...bySet.values()]),
    labelAlpha,
    labelTitles,
    meanSetTau: mean(sets.flatMap((s) => (s.tau === null ? [] : [s.tau]))),
    sets,
    labelers: [...rankingsBy.keys()]
      .map((userId) => ({
        userId,
        displayName: names.get(userId) ?? "",
        meanTau: perLabeler[userId]?.meanTau ?? null,
        sets: perLabeler[userId]?.sets ?? 0,
        rankings: rankingsBy.get(userId) ?? 0,
      }))
      .sort((a, b) => b.rankings - a.rankings),
  };
}
