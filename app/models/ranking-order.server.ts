// A project's ranking order (docs/decisions/0018): random, or the sets a chosen reward model is
// least sure about first. Set by managers on the settings page (checked, audited); kept fed by a
// scoring job for the chosen models after each sampling run that added replies.
import { z } from "zod";
import { prisma } from "~/db.server.ts";
import { describeRankingOrder, RANKING_ORDERS, type RankingOrder } from "~/domain/tasks/ranking-priority.ts";
import { recordAudit } from "./audit.server.ts";
import { forgetProjectConfig } from "./labeling/config.server.ts";
import { RewardJobError, rewardModelForProject, startRewardScoring } from "./reward-jobs.server.ts";

export class RankingOrderError extends Error {
  constructor(message: string, readonly status = 400, readonly fields: Record<string, string> = {}) {
    super(message);
  }
}

const uuid = (what: string) => z.string().uuid(`Choose ${what}.`);
const blankAsNull = (v: unknown) => (v === "" || v === undefined ? null : v);

export const RankingOrderInputSchema = z
  .object({
    mode: z.enum(RANKING_ORDERS, { errorMap: () => ({ message: `The order is one of ${RANKING_ORDERS.join(", ")}.` }) }),
    rewardModelId: z.preprocess(blankAsNull, uuid("a reward model").nullable()),
    secondRewardModelId: z.preprocess(blankAsNull, uuid("a second reward model, or none").nullable()),
  })
  .superRefine((v, ctx) => {
    if (v.mode === "uncertainty" && !v.rewardModelId)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["rewardModelId"], message: "The uncertainty order needs a reward model to score the replies." });
    if (v.secondRewardModelId && v.secondRewardModelId === v.rewardModelId)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["secondRewardModelId"], message: "The second reward model must be another model than the first." });
  });
export type RankingOrderInput = z.input<typeof RankingOrderInputSchema>;

/** The project's stored order, its models' names, and the reward models a manager can pick. */
export async function rankingOrderSettings(projectId: string) {
  const p = await prisma.project.findUniqueOrThrow({
    where: { id: projectId },
    select: {
      rankingOrder: true,
      rankingRewardModel: { select: { id: true, name: true } },
      rankingSecondRewardModel: { select: { id: true, name: true } },
    },
  });
  const order: RankingOrder =
    p.rankingOrder === "uncertainty" && p.rankingRewardModel
      ? { mode: "uncertainty", rewardModelId: p.rankingRewardModel.id, secondRewardModelId: p.rankingSecondRewardModel?.id ?? null }
      : { mode: "random", rewardModelId: null, secondRewardModelId: null };
  const names = Object.fromEntries([p.rankingRewardModel, p.rankingSecondRewardModel].filter((m) => m !== null).map((m) => [m!.id, m!.name]));
  return { order, summary: describeRankingOrder(order, names) };
}

/**
 * Stores how the project's sibling sets are offered for ranking. Each chosen model must be a ready
 * reward model whose tokenizer is that of the project's policies (the scoring job's own check);
 * otherwise a RankingOrderError says why and nothing changes. The change and the previous order go
 * to the audit log in the same transaction.
 */
export async function setRankingOrder(projectId: string, input: unknown, actorId: string | null): Promise<RankingOrder> {
  const parsed = RankingOrderInputSchema.safeParse(input);
  if (!parsed.success) {
    const fields = Object.fromEntries(parsed.error.issues.map((i) => [i.path.join(".") || "(order)", i.message]));
    throw new RankingOrderError(parsed.error.issues.map((i) => i.message).join(" "), 400, fields);
  }
  const v = parsed.data;
  const order: RankingOrder =
    v.mode === "uncertainty"
      ? { mode: "uncertainty", rewardModelId: v.rewardModelId, secondRewardModelId: v.secondRewardModelId }
      : { mode: "random", rewardModelId: null, secondRewardModelId: null };
  const names: Record<string, string> = {};
  for (const [field, id] of [["rewardModelId", order.rewardModelId], ["secondRewardModelId", order.secondRewardModelId]] as const) {
    if (!id) continue;
    try {
      names[id] = (await rewardModelForProject(projectId, id)).name;
    } catch (error) {
      if (error instanceof RewardJobError) throw new RankingOrderError(error.message, 400, { [field]: error.message });
      throw error;
    }
  }
  await prisma.$transaction(async (tx) => {
    const [before] = await tx.$queryRaw<{ slug: string; ranking_order: string; rm: string | null; rm2: string | null }[]>`
      SELECT slug, ranking_order::text AS ranking_order, ranking_reward_model_id::text AS rm, ranking_second_reward_model_id::text AS rm2
      FROM projects WHERE id = ${projectId}::uuid FOR UPDATE`;
    if (!before) throw new RankingOrderError("No such project.", 404);
    await tx.project.update({
      where: { id: projectId },
      data: { rankingOrder: order.mode, rankingRewardModelId: order.rewardModelId, rankingSecondRewardModelId: order.secondRewardModelId },
    });
    await recordAudit(tx, {
      actorId,
      action: "project.ranking_order",
      targetType: "project",
      targetId: projectId,
      summary: `${before.slug}: ${describeRankingOrder(order, names)}`,
      details: {
        mode: order.mode,
        rewardModelId: order.rewardModelId,
        secondRewardModelId: order.secondRewardModelId,
        previous: { mode: before.ranking_order, rewardModelId: before.rm, secondRewardModelId: before.rm2 },
      },
    });
  });
  forgetProjectConfig(projectId);
  return order;
}

/**
 * After a sampling run added replies: with the uncertainty order, a scoring job for each chosen
 * reward model unless one is already waiting (it reads the replies when it starts), so the new
 * sets get their scores.
 * Returns the jobs started; a model that can no longer score the project is reported, not thrown.
 */
export async function scoreForRankingOrder(projectId: string, log: (line: string) => void = () => {}): Promise<string[]> {
  const p = await prisma.project.findUnique({ where: { id: projectId }, select: { rankingOrder: true, rankingRewardModelId: true, rankingSecondRewardModelId: true } });
  if (!p || p.rankingOrder !== "uncertainty") return [];
  const started: string[] = [];
  for (const id of [p.rankingRewardModelId, p.rankingSecondRewardModelId]) {
    if (!id) continue;
    const pending = await prisma.rewardJob.findFirst({ where: { projectId, modelVersionId: id, kind: "score", status: "queued" }, select: { id: true } });
    if (pending) continue;
    try {
      started.push((await startRewardScoring(projectId, id, null)).id);
    } catch (error) {
      if (!(error instanceof RewardJobError)) throw error;
      log(`ranking order: no scoring by ${id}: ${error.message}`);
    }
  }
  return started;
}
