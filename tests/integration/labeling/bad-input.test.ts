// Bad input to the labeling services: a clear 4xx and nothing stored.
import crypto from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { projectConfig } from "~/models/labeling/config.server.ts";
import { LabelingError } from "~/models/labeling/errors.server.ts";
import { submitLabels } from "~/models/labeling/labels.server.ts";
import { haltTree } from "~/models/labeling/moderation.server.ts";
import { limitReplies } from "~/models/labeling/rate-limits.server.ts";
import { submitRanking } from "~/models/labeling/rankings.server.ts";
import { requestTask, skipTask, touchTask, type TaskRecord } from "~/models/labeling/tasks.server.ts";
import { submitPrompt, submitReply } from "~/models/labeling/writing.server.ts";
import * as chooser from "~/routes/projects.$projectSlug.tasks._index.tsx";
import { addToProject, call, createTestUser, makeRequest } from "../../helpers/users.ts";
import { GOOD_LABELS, SMALL_WORKFLOW, doTask, freshText, makeLabelers, makeProject } from "./fixtures.ts";

async function refused(p: Promise<unknown>, status: number, message?: RegExp): Promise<LabelingError> {
  const error = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, "expected a LabelingError").toBeInstanceOf(LabelingError);
  const e = error as LabelingError;
  expect(e.status, e.message).toBe(status);
  if (message) expect(e.message).toMatch(message);
  return e;
}

async function stored() {
  const [messages, labels, rankings, trees, reports] = await Promise.all([
    prisma.message.count(),
    prisma.label.count(),
    prisma.ranking.count(),
    prisma.messageTree.count(),
    prisma.report.count(),
  ]);
  return { messages, labels, rankings, trees, reports };
}

let project: Awaited<ReturnType<typeof makeProject>>;
let users: Awaited<ReturnType<typeof makeLabelers>>;
let rootId = "";

/** One tree in ranking with two accepted assistant replies, written by users[0..3]; every other
 *  labeler takes part in at most one test (a skipped set is never offered to them again). */
beforeAll(async () => {
  project = await makeProject();
  users = await makeLabelers(project.id, 10);
  const [author, reviewer, a, b] = users;
  const t = await requestTask({ projectId: project.id, userId: author.id, type: "initial_prompt" });
  rootId = (await submitPrompt(project.id, t!.id, author.id, { text: freshText("prompt") })).messageId;
  await doTask(project.id, reviewer.id, "label_initial_prompt");
  await doTask(project.id, a.id, "assistant_reply");
  await doTask(project.id, b.id, "assistant_reply");
  await doTask(project.id, reviewer.id, "label_assistant_reply");
  await doTask(project.id, reviewer.id, "label_assistant_reply");
});

const rankTask = async (userIndex: number): Promise<TaskRecord> => {
  const task = await requestTask({ projectId: project.id, userId: users[userIndex].id, type: "rank_assistant_replies" });
  expect(task).not.toBeNull();
  return task!;
};

describe("forged and foreign tasks", () => {
  it("refuses unknown task ids with 404", async () => {
    const before = await stored();
    const u = users[4].id;
    await refused(submitLabels(project.id, crypto.randomUUID(), u, GOOD_LABELS), 404, /No such task/);
    await refused(submitLabels(project.id, "not-a-uuid'; drop table tasks;--", u, GOOD_LABELS), 404);
    await refused(submitReply(project.id, crypto.randomUUID(), u, { text: "hello" }), 404);
    await refused(submitRanking(project.id, crypto.randomUUID(), u, { order: [] }), 404);
    await refused(skipTask(project.id, crypto.randomUUID(), u), 404);
    await refused(touchTask(project.id, crypto.randomUUID(), u, "seen"), 404);
    expect(await stored()).toEqual(before);
  });

  it("refuses another labeler's task with 403", async () => {
    const task = await rankTask(4);
    const before = await stored();
    const order = task.siblingIds.map((id) => [id]);
    await refused(submitRanking(project.id, task.id, users[5].id, { order }), 403, /another labeler/);
    await refused(touchTask(project.id, task.id, users[5].id, "seen"), 403);
    await refused(skipTask(project.id, task.id, users[5].id), 403);
    expect(await stored()).toEqual(before);
    await skipTask(project.id, task.id, users[4].id);
  });

  it("refuses a task of another project with 404", async () => {
    const other = await makeProject();
    const task = await rankTask(5);
    await refused(submitRanking(other.id, task.id, users[5].id, { order: task.siblingIds.map((id) => [id]) }), 404);
    await skipTask(project.id, task.id, users[5].id);
  });

  it("refuses the wrong kind of submission with 400", async () => {
    const task = await rankTask(6);
    const before = await stored();
    await refused(submitLabels(project.id, task.id, users[6].id, GOOD_LABELS), 400, /is a rank assistant replies task, not a label task/);
    await refused(submitReply(project.id, task.id, users[6].id, { text: "hi" }), 400, /not a reply task/);
    expect(await stored()).toEqual(before);
    await skipTask(project.id, task.id, users[6].id);
  });
});

describe("expired, finished and stale tasks", () => {
  it("refuses an expired task with 410 and marks it expired", async () => {
    const p = await makeProject();
    const [author] = await makeLabelers(p.id, 1);
    const task = await requestTask({ projectId: p.id, userId: author.id, type: "initial_prompt" });
    // Started, so it is not taken up again once its hold ended (see reservations.test.ts).
    await prisma.task.update({ where: { id: task!.id }, data: { startedAt: new Date(Date.now() - 120_000), expiresAt: new Date(Date.now() - 60_000) } });
    const before = await stored();
    await refused(submitPrompt(p.id, task!.id, author.id, { text: freshText() }), 410, /expired/);
    expect(await stored()).toEqual(before);
    expect((await prisma.task.findUniqueOrThrow({ where: { id: task!.id } })).state).toBe("expired");
    await refused(touchTask(p.id, task!.id, author.id, "seen"), 410);
  });

  it("refuses a second submission of the same task with 409", async () => {
    const p = await makeProject();
    const [author] = await makeLabelers(p.id, 1);
    const task = await requestTask({ projectId: p.id, userId: author.id, type: "initial_prompt" });
    await submitPrompt(p.id, task!.id, author.id, { text: freshText() });
    const before = await stored();
    await refused(submitPrompt(p.id, task!.id, author.id, { text: freshText() }), 409, /already submitted/);
    expect(await stored()).toEqual(before);
  });

  it("refuses a task whose tree was halted since, with 409", async () => {
    const task = await rankTask(7);
    const [mod] = await makeLabelers(project.id, 1, "moderator");
    await haltTree(project.id, task.treeId!, mod.id, "checking");
    const before = await stored();
    await refused(submitRanking(project.id, task.id, users[7].id, { order: task.siblingIds.map((id) => [id]) }), 409, /moved on/);
    expect(await stored()).toEqual(before);
    const { resumeTree } = await import("~/models/labeling/moderation.server.ts");
    await resumeTree(project.id, task.treeId!, mod.id);
    await submitRanking(project.id, task.id, users[7].id, { order: task.siblingIds.map((id) => [id]) });
  });

  it("refuses to hand out task types that are not handed out", async () => {
    await refused(requestTask({ projectId: project.id, userId: users[4].id, type: "rank_initial_prompts" }), 400);
    await refused(requestTask({ projectId: project.id, userId: users[4].id, lang: "xx" }), 400);
  });
});

describe("rankings", () => {
  it("must be a permutation of the task's replies, without ties unless allowed", async () => {
    const task = await rankTask(8);
    const [x, y] = task.siblingIds;
    const before = await stored();
    const u = users[8].id;
    const bad: Array<[unknown, RegExp]> = [
      [[], /empty/],
      [[[x]], /missing/],
      [[[x], [y], [crypto.randomUUID()]], /not one of the replies/],
      [[[x], [x]], /twice/],
      [[[x], [rootId]], /not one of the replies/],
      [[[x, y]], /ties/],
      ["x,y", /empty/],
      [[[x], 42], /list of replies/],
    ];
    for (const [order, message] of bad) await refused(submitRanking(project.id, task.id, u, { order }), 400, message);
    await refused(submitRanking(project.id, task.id, u, { notRankable: true, report: "x".repeat(2001) }), 400, /longer/);
    expect(await stored()).toEqual(before);
    await submitRanking(project.id, task.id, u, { order: [y, x] });
    expect(await prisma.ranking.count({ where: { taskId: task.id } })).toBe(1);
  });

  it("accepts ties where the project allows them", async () => {
    const p = await makeProject({ ...SMALL_WORKFLOW, tiesAllowed: true });
    const ls = await makeLabelers(p.id, 5);
    const t = await requestTask({ projectId: p.id, userId: ls[0].id, type: "initial_prompt" });
    await submitPrompt(p.id, t!.id, ls[0].id, { text: freshText() });
    await doTask(p.id, ls[1].id, "label_initial_prompt");
    await doTask(p.id, ls[2].id, "assistant_reply");
    await doTask(p.id, ls[3].id, "assistant_reply");
    await doTask(p.id, ls[1].id, "label_assistant_reply");
    await doTask(p.id, ls[1].id, "label_assistant_reply");
    const task = await requestTask({ projectId: p.id, userId: ls[4].id, type: "rank_assistant_replies" });
    await submitRanking(p.id, task!.id, ls[4].id, { order: [task!.siblingIds] });
    const ranking = await prisma.ranking.findFirstOrThrow({ where: { taskId: task!.id } });
    expect(ranking.order).toEqual([task!.siblingIds]);
  });

  it("stores not-rankable with its report and no order", async () => {
    const task = await rankTask(9);
    await submitRanking(project.id, task.id, users[9].id, { notRankable: true, report: "Both replies are wrong." });
    const ranking = await prisma.ranking.findFirstOrThrow({ where: { taskId: task.id } });
    expect(ranking.notRankable).toBe(true);
    expect(ranking.order).toEqual([]);
    const report = await prisma.report.findFirstOrThrow({ where: { messageId: rootId, userId: users[9].id } });
    expect(report).toMatchObject({ reason: "not_rankable", text: "Both replies are wrong." });
  });
});

describe("labels", () => {
  it("must follow the project's label schema", async () => {
    const p = await makeProject();
    const [author, reviewer] = await makeLabelers(p.id, 2);
    const t = await requestTask({ projectId: p.id, userId: author.id, type: "initial_prompt" });
    await submitPrompt(p.id, t!.id, author.id, { text: freshText() });
    const task = await requestTask({ projectId: p.id, userId: reviewer.id, type: "label_initial_prompt" });
    const before = await stored();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ spam: 0, toxicity_level: 1 }, "toxicity_level"],
      [{ spam: 0.5 }, "spam"],
      [{ spam: 0, quality: 0.3 }, "quality"],
      [{ quality: 0.5 }, "spam"],
      [{ spam: 0, helpfulness: 1 }, "helpfulness"],
      [{ spam: 0, pii: 2 }, "pii"],
      [{ spam: "yes" }, "spam"],
    ];
    for (const [values, label] of cases) {
      const e = await refused(submitLabels(p.id, task!.id, reviewer.id, values), 400);
      expect(Object.keys(e.details), JSON.stringify(values)).toContain(label);
    }
    expect(await stored()).toEqual(before);
    await submitLabels(p.id, task!.id, reviewer.id, { spam: 0, quality: 1, pii: 0 });
  });
});

describe("text", () => {
  it("refuses over-long, blank and duplicate text", async () => {
    const p = await makeProject({ ...SMALL_WORKFLOW, maxMessageLength: 50 });
    const [author] = await makeLabelers(p.id, 1);
    const task = await requestTask({ projectId: p.id, userId: author.id, type: "initial_prompt" });
    const before = await stored();
    await refused(submitPrompt(p.id, task!.id, author.id, { text: "x".repeat(51) }), 400, /limit is 50/);
    await refused(submitPrompt(p.id, task!.id, author.id, { text: " \n\t  " }), 400, /whitespace/);
    await refused(submitPrompt(p.id, task!.id, author.id, { text: 42 }), 400);
    expect(await stored()).toEqual(before);
    await submitPrompt(p.id, task!.id, author.id, { text: "Same words here" });
    const again = await requestTask({ projectId: p.id, userId: author.id, type: "initial_prompt" });
    const mid = await stored();
    await refused(submitPrompt(p.id, again!.id, author.id, { text: "  same   WORDS here " }), 409, /same text/);
    expect(await stored()).toEqual(mid);
  });

  it("gives one reply per labeler per parent and never more replies than the parent takes", async () => {
    const p = await makeProject({ ...SMALL_WORKFLOW, goalTreeSize: 10, maxChildrenPerMessage: 2 });
    const ls = await makeLabelers(p.id, 5);
    const t = await requestTask({ projectId: p.id, userId: ls[0].id, type: "initial_prompt" });
    const { treeId } = await submitPrompt(p.id, t!.id, ls[0].id, { text: freshText() });
    await doTask(p.id, ls[1].id, "label_initial_prompt");
    await doTask(p.id, ls[2].id, "assistant_reply");
    // The same labeler is not offered the same parent again.
    expect(await requestTask({ projectId: p.id, userId: ls[2].id, type: "assistant_reply" })).toBeNull();
    const open = await requestTask({ projectId: p.id, userId: ls[3].id, type: "assistant_reply" });
    // The parent's last place is held by ls[3]'s open task: nobody else gets one.
    expect(await requestTask({ projectId: p.id, userId: ls[4].id, type: "assistant_reply" })).toBeNull();
    await submitReply(p.id, open!.id, ls[3].id, { text: freshText() });
    expect(await prisma.message.count({ where: { treeId, parentId: { not: null } } })).toBe(2);
  });
});

describe("rate limits", () => {
  it("refuses task requests over the project's limit with 429 and a retry time", async () => {
    const p = await makeProject({ ...SMALL_WORKFLOW, rateLimits: { taskRequests: { count: 2, windowSeconds: 240 } } });
    const [u] = await makeLabelers(p.id, 1);
    await requestTask({ projectId: p.id, userId: u.id, type: "initial_prompt" });
    // One new prompt at a time: the second request finds nothing, and still counts.
    expect(await requestTask({ projectId: p.id, userId: u.id, type: "initial_prompt" })).toBeNull();
    const e = await refused(requestTask({ projectId: p.id, userId: u.id, type: "initial_prompt" }), 429, /Too many task requests: at most 2 per 4 min/);
    expect(e.retryAfterSeconds).toBeGreaterThan(0);
    expect(await prisma.task.count({ where: { projectId: p.id } })).toBe(1);
  });

  it("the chooser says the task requests are used up, and until when, before the next one is refused", async () => {
    const p = await makeProject({ ...SMALL_WORKFLOW, rateLimits: { taskRequests: { count: 2, windowSeconds: 240 } } });
    const { user, cookie } = await createTestUser();
    await addToProject(p.id, user.id, "labeler");
    const shown = async () => {
      const page = await call(() => chooser.loader({ request: makeRequest(`/projects/${p.slug}/tasks`, { cookie }), params: { projectSlug: p.slug }, context: {} }));
      return (page.body as { requestLimit: string | null }).requestLimit;
    };
    expect(await shown()).toBeNull();
    await requestTask({ projectId: p.id, userId: user.id, type: "initial_prompt" });
    expect(await shown()).toBeNull();
    expect(await requestTask({ projectId: p.id, userId: user.id, type: "initial_prompt" })).toBeNull();
    expect(await shown()).toMatch(/^Too many task requests: at most 2 per 4 min\. Try again in \d+ s\.$/);
    // Reading the limit counts no request: it is still the third that is refused.
    await refused(requestTask({ projectId: p.id, userId: user.id, type: "initial_prompt" }), 429, /Too many task requests/);
  });

  it("refuses replies over the limit", async () => {
    const p = await makeProject({
      ...SMALL_WORKFLOW,
      rateLimits: { replies: { prompter: { count: 1, windowSeconds: 60 }, assistant: { count: 5, windowSeconds: 60 } } },
    });
    const [u] = await makeLabelers(p.id, 1);
    const a = await requestTask({ projectId: p.id, userId: u.id, type: "initial_prompt" });
    // A user message written meanwhile (say in another tab) uses up the limit.
    await limitReplies(p.id, u.id, "prompter", await projectConfig(p.id));
    await refused(submitPrompt(p.id, a!.id, u.id, { text: freshText() }), 429, /Too many user messages: at most 1 per 1 min/);
    expect(await prisma.message.count({ where: { projectId: p.id } })).toBe(0);
  });
});
