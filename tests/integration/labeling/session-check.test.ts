// The JSON API's task request and its submits (reviews, rankings, texts) check the session inside
// their first statement once this process has seen the session (app/auth/session-check.server.ts). Access
// taken away after that must still be refused as a full lookup refuses it, with nothing written.
import crypto from "node:crypto";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { pgPool, prisma } from "~/db.server.ts";
import * as apiTask from "~/routes/api.projects.$projectSlug.tasks.$taskId.ts";
import * as apiTasks from "~/routes/api.projects.$projectSlug.tasks.ts";
import { addToProject, call, createTestUser } from "../../helpers/users.ts";
import { doTask, freshText, GOOD_LABELS, makeProject } from "./fixtures.ts";

let projectId = "";
let slug = "";
let author = "";

beforeAll(async () => {
  const project = await makeProject();
  projectId = project.id;
  slug = project.slug;
  author = (await createTestUser()).user.id;
  await addToProject(projectId, author, "labeler");
});

afterEach(() => vi.restoreAllMocks());

function post(path: string, cookie: string, body: unknown) {
  return new Request(`http://localhost${path}`, {
    method: "POST",
    headers: { Cookie: cookie, "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
}

const draw = (cookie: string, body: unknown, projectSlug = slug) =>
  call(() => apiTasks.action({ request: post(`/api/projects/${projectSlug}/tasks`, cookie, body), params: { projectSlug }, context: {} }));

const answer = (cookie: string, taskId: string, body: unknown, projectSlug = slug) =>
  call(() =>
    apiTask.action({ request: post(`/api/projects/${projectSlug}/tasks/${taskId}`, cookie, body), params: { projectSlug, taskId }, context: {} }),
  );

/** The session lookups the web server ran on the pg pool while `fn` ran. */
async function lookupsDuring(fn: () => Promise<unknown>): Promise<number> {
  const query = vi.spyOn(pgPool, "query");
  await fn();
  const lookups = query.mock.calls.filter(([q]) => JSON.stringify(q).includes("FROM sessions")).length;
  query.mockRestore();
  return lookups;
}

/** A labeler whose session this process has seen (a refused request is enough), holding a prompt to review. */
async function labelerWithReview() {
  const { user, cookie } = await createTestUser();
  await addToProject(projectId, user.id, "labeler");
  expect((await draw(cookie, { type: "no_such_type" })).status).toBe(400);
  await doTask(projectId, author, "initial_prompt");
  const drawn = await draw(cookie, { type: "label_initial_prompt" });
  expect(drawn.status).toBe(200);
  const task = (drawn.body as { task: { id: string; messageId: string } }).task;
  return { user, cookie, task };
}

const tasksOf = (userId: string) => prisma.task.count({ where: { assigneeId: userId } });
const labelsOn = (messageId: string) => prisma.label.count({ where: { messageId } });

describe("the session check inside the hot statements", () => {
  it("draws and takes a review without a lookup of its own once the session is known", async () => {
    const { cookie, task } = await labelerWithReview();
    expect(await lookupsDuring(async () => expect((await answer(cookie, task.id, { labels: GOOD_LABELS })).status).toBe(200))).toBe(0);
    expect(await labelsOn(task.messageId)).toBe(1);
    expect(await lookupsDuring(async () => expect((await draw(cookie, { type: "initial_prompt" })).status).toBe(200))).toBe(0);
    // Bad input is answered only after the session is confirmed by a lookup.
    expect(await lookupsDuring(async () => expect((await draw(cookie, { type: "nope" })).status).toBe(400))).toBe(1);
  });

  const revocations = [
    ["signed out", 401, (userId: string) => prisma.session.deleteMany({ where: { userId } })],
    ["session expired", 401, (userId: string) => prisma.session.updateMany({ where: { userId }, data: { expiresAt: new Date(Date.now() - 1000) } })],
    ["account disabled", 401, (userId: string) => prisma.user.update({ where: { id: userId }, data: { disabled: true } })],
    ["removed from the project", 403, (userId: string) => prisma.projectMember.deleteMany({ where: { projectId, userId } })],
  ] as const;

  for (const [what, status, revoke] of revocations) {
    it(`refuses a labeler ${what} since, as a lookup would, and writes nothing`, async () => {
      const { user, cookie, task } = await labelerWithReview();
      await revoke(user.id);
      const before = await tasksOf(user.id);

      expect((await answer(cookie, task.id, { labels: GOOD_LABELS })).status).toBe(status);
      expect(await labelsOn(task.messageId)).toBe(0);
      expect((await prisma.task.findUniqueOrThrow({ where: { id: task.id } })).state).toBe("acknowledged");

      expect((await draw(cookie, { type: "initial_prompt" })).status).toBe(status);
      expect(await tasksOf(user.id)).toBe(before);
      // Bad input from a caller without access gets the refusal, not the reason.
      expect((await draw(cookie, { type: "nope" })).status).toBe(status);
    });
  }

  it("takes a ranking in its one statement, and refuses one from a labeler removed since", async () => {
    // A tree in ranking: [0] prompts, [1] reviews, [2] and [3] reply, [1] reviews the replies.
    const p = await makeProject();
    const ids = await Promise.all([0, 1, 2, 3].map(async () => (await createTestUser()).user.id));
    for (const id of ids) await addToProject(p.id, id, "labeler");
    await doTask(p.id, ids[0], "initial_prompt");
    await doTask(p.id, ids[1], "label_initial_prompt");
    await doTask(p.id, ids[2], "assistant_reply");
    await doTask(p.id, ids[3], "assistant_reply");
    await doTask(p.id, ids[1], "label_assistant_reply");
    await doTask(p.id, ids[1], "label_assistant_reply");

    const rankers = [];
    for (let i = 0; i < 2; i++) {
      const { user, cookie } = await createTestUser();
      await addToProject(p.id, user.id, "labeler");
      expect((await draw(cookie, { type: "nope" }, p.slug)).status).toBe(400);
      const drawn = await draw(cookie, { type: "rank_assistant_replies" }, p.slug);
      expect(drawn.status).toBe(200);
      const view = drawn.body as { task: { id: string }; siblings: { id: string }[] };
      rankers.push({ user, cookie, task: view.task, order: view.siblings.map((m) => [m.id]) });
    }
    const [kept, removed] = rankers;
    const rankingsBy = (u: { user: { id: string } }) => prisma.ranking.count({ where: { userId: u.user.id } });
    expect(await lookupsDuring(async () => expect((await answer(kept.cookie, kept.task.id, { order: kept.order }, p.slug)).status).toBe(200))).toBe(0);
    expect(await rankingsBy(kept)).toBe(1);

    await prisma.projectMember.deleteMany({ where: { projectId: p.id, userId: removed.user.id } });
    expect((await answer(removed.cookie, removed.task.id, { order: removed.order }, p.slug)).status).toBe(403);
    expect(await rankingsBy(removed)).toBe(0);
    expect((await prisma.task.findUniqueOrThrow({ where: { id: removed.task.id } })).state).toBe("acknowledged");
  });

  it("takes a prompt with the check in its task's read, and refuses one from a labeler signed out or removed since", async () => {
    const writer = async () => {
      const { user, cookie } = await createTestUser();
      await addToProject(projectId, user.id, "labeler");
      expect((await draw(cookie, { type: "nope" })).status).toBe(400);
      const drawn = await draw(cookie, { type: "initial_prompt" });
      expect(drawn.status).toBe(200);
      return { user, cookie, task: (drawn.body as { task: { id: string } }).task };
    };
    const promptsBy = (userId: string) => prisma.message.count({ where: { authorUserId: userId } });

    const kept = await writer();
    expect(await lookupsDuring(async () => expect((await answer(kept.cookie, kept.task.id, { text: freshText("prompt") })).status).toBe(200))).toBe(0);
    expect(await promptsBy(kept.user.id)).toBe(1);

    const revocations = [
      [401, (userId: string) => prisma.session.deleteMany({ where: { userId } })],
      [403, (userId: string) => prisma.projectMember.deleteMany({ where: { projectId, userId } })],
    ] as const;
    for (const [status, revoke] of revocations) {
      const gone = await writer();
      await revoke(gone.user.id);
      expect((await answer(gone.cookie, gone.task.id, { text: freshText("prompt") })).status).toBe(status);
      expect(await promptsBy(gone.user.id)).toBe(0);
      expect((await prisma.task.findUniqueOrThrow({ where: { id: gone.task.id } })).state).toBe("acknowledged");
    }
  });

  it("refuses the old slug of a renamed project", async () => {
    const project = await makeProject();
    const { user, cookie } = await createTestUser();
    await addToProject(project.id, user.id, "labeler");
    expect((await draw(cookie, { type: "nope" }, project.slug)).status).toBe(400);
    await prisma.project.update({ where: { id: project.id }, data: { slug: `renamed-${crypto.randomBytes(4).toString("hex")}` } });
    const before = await tasksOf(user.id);
    expect((await draw(cookie, { type: "initial_prompt" }, project.slug)).status).toBe(403);
    expect(await tasksOf(user.id)).toBe(before);
  });

  it("lets an admin who is no member draw, as the lookup does, and a member whose access came back", async () => {
    const admin = await createTestUser({ role: "admin" });
    expect((await draw(admin.cookie, { type: "nope" })).status).toBe(400);
    expect(await lookupsDuring(async () => expect((await draw(admin.cookie, { type: "initial_prompt" })).status).toBe(200))).toBe(0);

    const { user, cookie } = await createTestUser();
    await addToProject(projectId, user.id, "labeler");
    expect((await draw(cookie, { type: "nope" })).status).toBe(400);
    await prisma.projectMember.deleteMany({ where: { projectId, userId: user.id } });
    expect((await draw(cookie, { type: "initial_prompt" })).status).toBe(403);
    await addToProject(projectId, user.id, "moderator");
    expect((await draw(cookie, { type: "initial_prompt" })).status).toBe(200);
  });
});
