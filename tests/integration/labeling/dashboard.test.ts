// Dashboard figures, agreement, the tree browser and project administration.
import { beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { leaderScore, emptyCounts } from "~/domain/leaderboard/score.ts";
import {
  addMemberByEmail,
  createManagedProject,
  listMembers,
  projectProgress,
  updateLabelSchema,
  updateWorkflowConfig,
} from "~/models/labeling/admin.server.ts";
import { projectAgreement } from "~/models/labeling/agreement.server.ts";
import { projectConfig } from "~/models/labeling/config.server.ts";
import { leaderboard, myContributions, openTaskCounts } from "~/models/labeling/dashboard.server.ts";
import { LabelingError } from "~/models/labeling/errors.server.ts";
import { requestTask } from "~/models/labeling/tasks.server.ts";
import { listTrees, treeDetail } from "~/models/labeling/trees.server.ts";
import { submitPrompt } from "~/models/labeling/writing.server.ts";
import { createTestUser } from "../../helpers/users.ts";
import { doTask, freshText, makeLabelers, makeProject } from "./fixtures.ts";

let project: Awaited<ReturnType<typeof makeProject>>;
let users: Awaited<ReturnType<typeof makeLabelers>>;
let treeId = "";
let best = "";
let worst = "";

/** One exported tree: users[0] prompts, [1] reviews, [2] and [3] reply, [4..6] rank ([6] dissents). */
beforeAll(async () => {
  project = await makeProject();
  users = await makeLabelers(project.id, 7);
  const t = await requestTask({ projectId: project.id, userId: users[0].id, type: "initial_prompt" });
  ({ treeId } = await submitPrompt(project.id, t!.id, users[0].id, { text: freshText("prompt") }));
  await doTask(project.id, users[1].id, "label_initial_prompt");
  const a = await doTask(project.id, users[2].id, "assistant_reply");
  await doTask(project.id, users[3].id, "assistant_reply");
  await doTask(project.id, users[1].id, "label_assistant_reply");
  await doTask(project.id, users[1].id, "label_assistant_reply");
  best = (await prisma.task.findUniqueOrThrow({ where: { id: a.id } })).resultMessageId!;
  worst = (await prisma.message.findFirstOrThrow({ where: { treeId, parentId: { not: null }, id: { not: best } } })).id;
  await doTask(project.id, users[4].id, "rank_assistant_replies", { order: () => [[best], [worst]] });
  await doTask(project.id, users[5].id, "rank_assistant_replies", { order: () => [[best], [worst]] });
  await doTask(project.id, users[6].id, "rank_assistant_replies", { order: () => [[worst], [best]] });
});

describe("dashboard", () => {
  it("counts the tasks the project needs and those a labeler may take", async () => {
    const p = await makeProject();
    const [author, other] = await makeLabelers(p.id, 2);
    const t = await requestTask({ projectId: p.id, userId: author.id, type: "initial_prompt" });
    await submitPrompt(p.id, t!.id, author.id, { text: freshText() });
    const mine = await openTaskCounts(p.id, author.id);
    const theirs = await openTaskCounts(p.id, other.id);
    expect(mine.needed.label_initial_prompt).toBe(1);
    expect(mine.available.label_initial_prompt).toBe(0);
    expect(theirs.available.label_initial_prompt).toBe(1);
    expect(theirs.needed.initial_prompt).toBeGreaterThan(0);
  });

  it("shows a labeler's contributions and their acceptance", async () => {
    const c = await myContributions(project.id, users[2].id);
    expect(c.assistantReplies).toEqual({ total: 1, accepted: 1, rejected: 0 });
    expect(c.acceptance).toBe(1);
    expect(c.topRankedReplies).toBe(1);
    expect(c.recent[0]).toMatchObject({ id: best, consensusRank: 0, treeState: "ready_for_export", editable: false });
    const reviewer = await myContributions(project.id, users[1].id);
    expect(reviewer.labels).toBe(3);
  });

  it("ranks the leaderboard with bonuses for accepted and top-ranked replies", async () => {
    const board = await leaderboard(project.id, "all_time");
    const row = (userId: string) => board.find((r) => r.userId === userId)!;
    expect(row(users[2].id).score).toBe(
      leaderScore({ ...emptyCounts(), assistantReplies: 1, acceptedAssistantReplies: 1, replyRanked1: 1 }),
    );
    expect(row(users[3].id).score).toBe(leaderScore({ ...emptyCounts(), assistantReplies: 1, acceptedAssistantReplies: 1, replyRanked2: 1 }));
    expect(row(users[4].id).counts).toMatchObject({ rankings: 1, rankingsGood: 1 });
    expect(row(users[6].id).counts).toMatchObject({ rankings: 1, rankingsGood: 0 });
    expect(board[0].userId).toBe(users[2].id);
    expect(board[0].rank).toBe(1);
    const lastYear = await leaderboard(project.id, "day", new Date(Date.now() - 366 * 86_400_000));
    expect(lastYear).toEqual([]);
    expect((await leaderboard(project.id, "week")).length).toBe(board.length);
  });
});

describe("agreement and the tree browser", () => {
  it("computes tau per set, alpha, and each labeler's agreement with the consensus", async () => {
    const a = await projectAgreement(project.id);
    expect(a.sets).toHaveLength(1);
    // Three rankings of two items, one dissenting: pairs agree 1 of 3 times → mean tau −1/3.
    expect(a.sets[0].tau).toBeCloseTo(-1 / 3, 9);
    const byUser = Object.fromEntries(a.labelers.map((l) => [l.userId, l.meanTau]));
    expect(byUser[users[4].id]).toBe(1);
    expect(byUser[users[6].id]).toBe(-1);
    expect(a.rankingAlpha).not.toBeNull();
    expect(a.rankingAlpha!).toBeLessThan(0.5);
    expect(a.labelAlpha).toHaveProperty("spam");
    // Titles as labelers see them, in the schema's order.
    expect(Object.keys(a.labelTitles)).toEqual(Object.keys(a.labelAlpha));
    expect(a.labelTitles).toMatchObject({ spam: "Spam", pii: "PII", fails_task: "Fails task" });
  });

  it("lists trees by state and shows one with consensus and raw rankings", async () => {
    const list = await listTrees(project.id, { state: "ready_for_export" });
    expect(list.trees.map((t) => t.id)).toEqual([treeId]);
    expect(list.trees[0]).toMatchObject({ size: 3, sets_scored: 1 });
    await expect(listTrees(project.id, { state: "sideways" })).rejects.toBeInstanceOf(LabelingError);
    const detail = await treeDetail(project.id, treeId);
    expect(detail.tree.state).toBe("ready_for_export");
    expect(detail.sets[0].ranks).toEqual({ [best]: 0, [worst]: 1 });
    expect(detail.sets[0].rankings).toHaveLength(3);
    // As the review form asked it: a yes/no question, answered "no" by the one reviewer.
    expect(detail.messages.find((m) => m.id === best)?.labels.spam).toEqual({ title: "Spam", mean: 0, n: 1, text: "Spam: yes 0 of 1" });
    // Every message lists its labels in the order of the project's label schema.
    const schema = (await projectConfig(project.id)).labelSchema.map((d) => d.name);
    for (const m of detail.messages) {
      const names = Object.keys(m.labels);
      expect(names).toEqual(schema.filter((n) => names.includes(n)));
    }
    expect(detail.messages.filter((m) => Object.keys(m.labels).length > 1).length).toBeGreaterThan(0);
    expect(detail.events.at(-1)?.toState).toBe("ready_for_export");
  });
});

describe("project administration", () => {
  it("creates a project with its creator as manager and validates configs", async () => {
    const { user: admin } = await createTestUser({ role: "admin" });
    await expect(createManagedProject(admin.id, { slug: "Bad Slug", name: "x" })).rejects.toMatchObject({ status: 400 });
    const p = await createManagedProject(admin.id, { slug: `admin-${Date.now()}`, name: "Study", workflowConfigJson: '{"goalTreeSize": 5}' });
    expect((await projectConfig(p.id)).goalTreeSize).toBe(5);
    expect((await listMembers(p.id)).map((m) => [m.id, m.role])).toEqual([[admin.id, "manager"]]);
    await expect(createManagedProject(admin.id, { slug: p.slug, name: "Again" })).rejects.toMatchObject({ status: 409 });

    await expect(updateWorkflowConfig(p.id, "{not json")).rejects.toMatchObject({ status: 400 });
    const e = (await updateWorkflowConfig(p.id, '{"goalTreeSize": 0, "drawWeights": {"ranking": -1}}').catch((x) => x)) as LabelingError;
    expect(e.status).toBe(400);
    expect(Object.keys(e.details).sort()).toEqual(["drawWeights.ranking", "goalTreeSize"]);
    expect((await projectConfig(p.id)).goalTreeSize).toBe(5);
    await updateWorkflowConfig(p.id, '{"goalTreeSize": 7, "tiesAllowed": true}');
    expect((await projectConfig(p.id)).tiesAllowed).toBe(true);

    const noSpam = JSON.stringify([{ name: "quality", kind: "likert", description: "How good." }]);
    await expect(updateLabelSchema(p.id, noSpam)).rejects.toMatchObject({ status: 400 });
    const schema = JSON.stringify([{ name: "spam", kind: "yesno", required: true, description: "Spam?" }]);
    expect((await updateLabelSchema(p.id, schema)).labelSchema.map((l) => l.name)).toEqual(["spam"]);
    expect((await projectConfig(p.id)).goalTreeSize).toBe(7);
  });

  it("adds members by email with a role and reports progress", async () => {
    const { user } = await createTestUser();
    await expect(addMemberByEmail(project.id, "nobody@nowhere.test", "labeler")).rejects.toMatchObject({ status: 404 });
    await expect(addMemberByEmail(project.id, user.email, "boss")).rejects.toMatchObject({ status: 400 });
    await addMemberByEmail(project.id, user.email.toUpperCase(), "moderator");
    expect((await listMembers(project.id)).find((m) => m.id === user.id)?.role).toBe("moderator");
    const progress = await projectProgress(project.id);
    expect(progress.trees.ready_for_export).toBe(1);
    expect(progress.messages).toMatchObject({ total: 3, accepted: 3 });
    expect(progress.rankings).toBe(3);
  });
});
