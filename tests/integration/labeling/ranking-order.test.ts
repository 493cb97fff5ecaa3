// The project's ranking order (docs/decisions/0018): with "uncertainty" the draw offers the sibling
// set whose top reward-model margin is smallest (or that two reward models order least alike) first,
// among all trees in ranking, not only the oldest; sets with no scores come after, in the draw's own
// order; the draw's rules still hold (no ranking a set one wrote into). With "random" it is today's
// draw. Managers set it on the settings page; bad choices are refused with the reason and change
// nothing; a change is audited. Sampling runs queue a scoring job for the chosen models.
import crypto from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { seededRng } from "~/domain/tasks/rng.ts";
import { requestTask } from "~/models/labeling/tasks.server.ts";
import { registerModel, setActivePolicy } from "~/models/model-registry.server.ts";
import { scoreForRankingOrder, setRankingOrder } from "~/models/ranking-order.server.ts";
import * as settings from "~/routes/projects.$projectSlug.settings.tsx";
import { DEMO_POLICY_DIR, registeredRewardModel, trainingProject } from "../../helpers/training.ts";
import { call, createTestUser, makeRequest } from "../../helpers/users.ts";
import { doTask, makeLabelers, makeProject } from "./fixtures.ts";

/** More trees than the draw reads per state (6), so the order of trees matters too. */
const TREES = 8;

let project: Awaited<ReturnType<typeof makeProject>>;
let writers: { id: string }[];
/** Per tree, oldest first: its root and its three replies (by writers[0..2]). */
const trees: { rootId: string; replyIds: string[] }[] = [];
let rmA: { id: string; name: string };
let rmB: { id: string; name: string };

async function score(modelId: string, replyIds: string[], values: number[]) {
  await prisma.rewardScore.createMany({ data: replyIds.map((messageId, i) => ({ messageId, modelVersionId: modelId, score: values[i] })) });
}

beforeAll(async () => {
  project = await makeProject({
    goalTreeSize: 4,
    maxDepth: 1,
    maxChildrenPerMessage: 3,
    reviewsPerPrompt: 1,
    reviewsPerReply: 1,
    // Many labelers may hold the same set at once: draws by several users leave the sets open.
    rankingsPerSiblingSet: 50,
    promptLottery: { enabled: false },
    maxActiveTrees: 100,
    rateLimits: {
      taskRequests: { count: 10_000, windowSeconds: 60 },
      replies: { assistant: { count: 10_000, windowSeconds: 60 }, prompter: { count: 10_000, windowSeconds: 60 } },
    },
  });
  const [author, reviewer, ...w] = await makeLabelers(project.id, 5);
  writers = w;
  for (let t = 0; t < TREES; t++) {
    await doTask(project.id, author.id, "initial_prompt");
    const review = await doTask(project.id, reviewer.id, "label_initial_prompt");
    for (const writer of writers) await doTask(project.id, writer.id, "assistant_reply");
    for (let i = 0; i < writers.length; i++) await doTask(project.id, reviewer.id, "label_assistant_reply");
    const root = await prisma.message.findUniqueOrThrow({ where: { id: review.messageId! } });
    const replies = await prisma.message.findMany({ where: { parentId: root.id }, orderBy: { createdAt: "asc" } });
    expect((await prisma.messageTree.findUniqueOrThrow({ where: { id: root.treeId } })).state).toBe("ranking");
    trees.push({ rootId: root.id, replyIds: replies.map((r) => r.id) });
  }
  const policy = await registerModel({ name: `policy-${project.slug}`, kind: "policy", path: DEMO_POLICY_DIR });
  await setActivePolicy(project.id, policy.id);
  rmA = await registeredRewardModel(`rm-a-${project.slug}`, DEMO_POLICY_DIR, project.id, 3);
  rmB = await registeredRewardModel(`rm-b-${project.slug}`, DEMO_POLICY_DIR, project.id, 4);
  // Top margins by rmA: the newest tree is least sure, then tree 2, then tree 5; trees 0 and 7's
  // neighbours wide apart; trees 1 and 6 have no scores.
  const margins: Record<number, number> = { 0: 3, 2: 0.1, 3: 2, 4: 1.5, 5: 0.4, 7: 0.02 };
  for (const [t, m] of Object.entries(margins)) await score(rmA.id, trees[Number(t)].replyIds, [1 + m, 1, -2]);
}, 180_000);

const rankTask = (userId: string, seed: number) => requestTask({ projectId: project.id, userId, type: "rank_assistant_replies", rng: seededRng(seed) });
const treeOf = (parentId: string | null) => trees.findIndex((t) => t.rootId === parentId);

describe("the ranking order", () => {
  it("is random by default: the draw looks at the oldest trees and picks among their sets at random", async () => {
    const picks = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const [ranker] = await makeLabelers(project.id, 1);
      picks.add(treeOf((await rankTask(ranker.id, 100 + i))!.messageId));
    }
    expect(picks.size).toBeGreaterThan(1);
    // The newest trees are beyond the six the draw reads.
    expect(picks.has(7)).toBe(false);
  });

  it("with uncertainty offers the sets with the smallest top margin first, then unscored sets", async () => {
    await setRankingOrder(project.id, { mode: "uncertainty", rewardModelId: rmA.id }, null);
    for (let i = 0; i < 3; i++) {
      const [other] = await makeLabelers(project.id, 1);
      expect(treeOf((await rankTask(other.id, 7 + i))!.messageId)).toBe(7);
    }
    const [ranker] = await makeLabelers(project.id, 1);
    const order: number[] = [];
    for (let i = 0; i < TREES; i++) {
      const task = await rankTask(ranker.id, 40 + i);
      order.push(treeOf(task!.messageId));
      await prisma.task.update({ where: { id: task!.id }, data: { state: "done" } });
    }
    expect(order.slice(0, 6)).toEqual([7, 2, 5, 4, 3, 0]);
    expect(order.slice(6).sort()).toEqual([1, 6]);
    expect(await rankTask(ranker.id, 99)).toBeNull();
  });

  it("keeps the draw's rules: a labeler never ranks a set they wrote into, however unsure the model", async () => {
    // writers[0] wrote a reply in every tree: no ranking task at all.
    expect(await rankTask(writers[0].id, 1)).toBeNull();
  });

  it("with a second reward model offers the sets the two order least alike first", async () => {
    // rmB orders tree 3 backwards and tree 0 in part; elsewhere as rmA.
    for (const t of [0, 2, 3, 4, 5, 7]) {
      const values = t === 3 ? [-2, 1, 3] : t === 0 ? [1, 3, -2] : [3, 1, -2];
      await score(rmB.id, trees[t].replyIds, values);
    }
    await setRankingOrder(project.id, { mode: "uncertainty", rewardModelId: rmA.id, secondRewardModelId: rmB.id }, null);
    const [ranker] = await makeLabelers(project.id, 1);
    const order: number[] = [];
    for (let i = 0; i < 2; i++) {
      const task = await rankTask(ranker.id, 60 + i);
      order.push(treeOf(task!.messageId));
      await prisma.task.update({ where: { id: task!.id }, data: { state: "done" } });
    }
    expect(order).toEqual([3, 0]);
  });

  it("queues a scoring job for each chosen reward model after sampling, once while one waits, none when random", async () => {
    const jobs = await scoreForRankingOrder(project.id);
    expect(jobs).toHaveLength(2);
    const rows = await prisma.rewardJob.findMany({ where: { id: { in: jobs } } });
    expect(rows.map((r) => r.modelVersionId).sort()).toEqual([rmA.id, rmB.id].sort());
    expect(rows.every((r) => r.kind === "score" && r.projectId === project.id && r.status === "queued")).toBe(true);
    expect(await scoreForRankingOrder(project.id)).toEqual([]);
    await setRankingOrder(project.id, { mode: "random" }, null);
    await prisma.rewardJob.updateMany({ where: { id: { in: jobs } }, data: { status: "succeeded" } });
    expect(await scoreForRankingOrder(project.id)).toEqual([]);
  });
});

describe("setting the ranking order", () => {
  let manager: Awaited<ReturnType<typeof createTestUser>>;
  let labeler: Awaited<ReturnType<typeof createTestUser>>;
  let otherTokenizer: Awaited<ReturnType<typeof trainingProject>>;
  beforeAll(async () => {
    manager = await createTestUser();
    labeler = await createTestUser();
    await prisma.projectMember.createMany({ data: [{ projectId: project.id, userId: manager.user.id, role: "manager" }, { projectId: project.id, userId: labeler.user.id, role: "labeler" }] });
    // A policy that reads bytes: the demo reward models' tokenizer differs from it.
    otherTokenizer = await trainingProject(`bytes-${crypto.randomBytes(3).toString("hex")}`);
  }, 120_000);

  const save = (cookie: string, form: Record<string, string>) =>
    call(() => settings.action({ request: makeRequest(`/projects/${project.slug}/settings`, { cookie, form: { intent: "ranking-order", ...form } }), params: { projectSlug: project.slug }, context: {} }));
  const stored = () => prisma.project.findUniqueOrThrow({ where: { id: project.id }, select: { rankingOrder: true, rankingRewardModelId: true, rankingSecondRewardModelId: true } });
  const audits = () => prisma.auditEvent.count({ where: { action: "project.ranking_order", targetId: project.id } });

  it("saves a manager's choice, shows it on the page and audits it", async () => {
    const before = await audits();
    const r = await save(manager.cookie, { mode: "uncertainty", rewardModelId: rmA.id, secondRewardModelId: "" });
    expect(r.status).toBe(200);
    expect(await stored()).toEqual({ rankingOrder: "uncertainty", rankingRewardModelId: rmA.id, rankingSecondRewardModelId: null });
    const entry = await prisma.auditEvent.findFirstOrThrow({ where: { action: "project.ranking_order", targetId: project.id, actorId: manager.user.id }, orderBy: { createdAt: "desc" } });
    expect(entry.summary).toBe(`${project.slug}: sibling sets whose top ${rmA.name} margin is smallest are offered for ranking first`);
    expect((entry.details as { previous: { mode: string } }).previous.mode).toBe("random");
    expect(await audits()).toBe(before + 1);
    const page = await call(() => settings.loader({ request: makeRequest(`/projects/${project.slug}/settings`, { cookie: manager.cookie }), params: { projectSlug: project.slug }, context: {} }));
    expect((page.body as { ranking: { summary: string } }).ranking.summary).toContain(rmA.name);
  });

  it("refuses bad choices with the reason and changes nothing", async () => {
    const before = { row: await stored(), audits: await audits() };
    const cases: [Record<string, string>, RegExp][] = [
      [{ mode: "best-first" }, /The order is one of random, uncertainty/],
      [{ mode: "uncertainty", rewardModelId: "" }, /needs a reward model/],
      [{ mode: "uncertainty", rewardModelId: "not-a-uuid" }, /Choose a reward model/],
      [{ mode: "uncertainty", rewardModelId: crypto.randomUUID() }, /No such model/],
      [{ mode: "uncertainty", rewardModelId: otherTokenizer.base.id }, /is a policy model; scores and evaluations need a reward model/],
      [{ mode: "uncertainty", rewardModelId: rmA.id, secondRewardModelId: rmA.id }, /must be another model than the first/],
      [{ mode: "uncertainty", rewardModelId: rmB.id, secondRewardModelId: otherTokenizer.base.id }, /is a policy model/],
    ];
    for (const [form, reason] of cases) {
      const r = await save(manager.cookie, form);
      expect(r.status, JSON.stringify(form)).toBe(400);
      expect((r.body as { error: string }).error).toMatch(reason);
    }
    // The project samples with a policy whose tokenizer is not the reward model's.
    await setActivePolicy(project.id, otherTokenizer.base.id);
    const r = await save(manager.cookie, { mode: "uncertainty", rewardModelId: rmB.id });
    expect(r.status).toBe(400);
    expect((r.body as { error: string; fields: Record<string, string> }).error).toMatch(new RegExp(`${rmB.name}'s tokenizer differs from ${otherTokenizer.base.name}'s`));
    expect((r.body as { fields: Record<string, string> }).fields.rewardModelId).toMatch(/tokenizer differs/);
    // A labeler may not change it.
    expect((await save(labeler.cookie, { mode: "random" })).status).toBe(403);
    expect(await stored()).toEqual(before.row);
    expect(await audits()).toBe(before.audits);
  });
});
