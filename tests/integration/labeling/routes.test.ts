// The labeling routes over HTTP semantics: the JSON API, the task page, settings validation,
// and the 4xx each bad input gets.
import crypto from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import * as apiTask from "~/routes/api.projects.$projectSlug.tasks.$taskId.ts";
import * as apiTasks from "~/routes/api.projects.$projectSlug.tasks.ts";
import * as dashboard from "~/routes/projects.$projectSlug._index.tsx";
import * as settings from "~/routes/projects.$projectSlug.settings.tsx";
import * as taskPage from "~/routes/projects.$projectSlug.tasks.$taskId.tsx";
import * as tasks from "~/routes/projects.$projectSlug.tasks._index.tsx";
import { addToProject, call, createTestUser, makeRequest } from "../../helpers/users.ts";
import { requestTask } from "~/models/labeling/tasks.server.ts";
import { submitPrompt } from "~/models/labeling/writing.server.ts";
import { makeProject } from "./fixtures.ts";

let slug = "";
let projectId = "";
let labeler = { id: "", cookie: "" };
let other = { id: "", cookie: "" };
let manager = { id: "", cookie: "" };

beforeAll(async () => {
  const project = await makeProject();
  slug = project.slug;
  projectId = project.id;
  for (const [who, role] of [["labeler", "labeler"], ["other", "labeler"], ["manager", "manager"]] as const) {
    const u = await createTestUser();
    await addToProject(project.id, u.user.id, role);
    const entry = { id: u.user.id, cookie: u.cookie };
    if (who === "labeler") labeler = entry;
    else if (who === "other") other = entry;
    else manager = entry;
  }
});

function jsonRequest(path: string, cookie: string, body: unknown) {
  return new Request(`http://localhost${path}`, {
    method: "POST",
    headers: { Cookie: cookie, "Content-Type": "application/json", Accept: "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

describe("JSON API", () => {
  it("hands out a task, shown and acknowledged, and takes its answer", async () => {
    const res = await call(() => apiTasks.action({ request: jsonRequest(`/api/projects/${slug}/tasks`, labeler.cookie, { type: "initial_prompt" }), params: { projectSlug: slug }, context: {} }));
    expect(res.status).toBe(200);
    const view = res.body as { task: { id: string; type: string; state: string } };
    expect(view.task).toMatchObject({ type: "initial_prompt", state: "acknowledged" });
    const params = { projectSlug: slug, taskId: view.task.id };
    const path = `/api/projects/${slug}/tasks/${view.task.id}`;

    const foreign = await call(() => apiTask.action({ request: jsonRequest(path, other.cookie, { text: "Mine now" }), params, context: {} }));
    expect(foreign.status).toBe(403);
    const tooLong = await call(() => apiTask.action({ request: jsonRequest(path, labeler.cookie, { text: "x".repeat(2001) }), params, context: {} }));
    expect(tooLong).toMatchObject({ status: 400, body: { code: "bad_input" } });
    const garbage = await call(() => apiTask.action({ request: jsonRequest(path, labeler.cookie, "{oops"), params, context: {} }));
    expect(garbage.status).toBe(400);
    // Labels and rankings are checked against the task under its lock: the wrong kind, someone
    // else's task and an unknown id are refused there, before anything is written.
    const labels = await call(() => apiTask.action({ request: jsonRequest(path, labeler.cookie, { labels: { spam: 0 } }), params, context: {} }));
    expect(labels).toMatchObject({ status: 400, body: { code: "bad_input", error: expect.stringMatching(/is an initial prompt task, not a label task/) } });
    const foreignRanking = await call(() => apiTask.action({ request: jsonRequest(path, other.cookie, { notRankable: true }), params, context: {} }));
    expect(foreignRanking.status).toBe(403);
    const unknown = crypto.randomUUID();
    const unknownLabels = await call(() =>
      apiTask.action({ request: jsonRequest(`/api/projects/${slug}/tasks/${unknown}`, labeler.cookie, { labels: { spam: 0 } }), params: { projectSlug: slug, taskId: unknown }, context: {} }),
    );
    expect(unknownLabels.status).toBe(404);

    const ok = await call(() => apiTask.action({ request: jsonRequest(path, labeler.cookie, { text: "What is a monad?" }), params, context: {} }));
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ ok: true });
    const again = await call(() => apiTask.action({ request: jsonRequest(path, labeler.cookie, { text: "What is a functor?" }), params, context: {} }));
    expect(again.status).toBe(409);

    const forged = crypto.randomUUID();
    const none = await call(() =>
      apiTask.action({ request: jsonRequest(`/api/projects/${slug}/tasks/${forged}`, labeler.cookie, { text: "x" }), params: { projectSlug: slug, taskId: forged }, context: {} }),
    );
    expect(none.status).toBe(404);
  });

  it("says 404 when nothing fits and 400 for an unknown type", async () => {
    const none = await call(() => apiTasks.action({ request: jsonRequest(`/api/projects/${slug}/tasks`, other.cookie, { type: "rank_assistant_replies" }), params: { projectSlug: slug }, context: {} }));
    expect(none).toMatchObject({ status: 404, body: { code: "no_task", held: null } });
    const bad = await call(() => apiTasks.action({ request: jsonRequest(`/api/projects/${slug}/tasks`, other.cookie, { type: "dance" }), params: { projectSlug: slug }, context: {} }));
    expect(bad.status).toBe(400);
  });

  it("with nothing new, names the task of that kind the labeler holds already", async () => {
    const project = await makeProject();
    const [author, reviewer] = [await createTestUser(), await createTestUser()];
    for (const u of [author, reviewer]) await addToProject(project.id, u.user.id, "labeler");
    const prompt = (await requestTask({ projectId: project.id, userId: author.user.id, type: "initial_prompt" }))!;
    await submitPrompt(project.id, prompt.id, author.user.id, { text: "Why does bread go stale faster in the fridge?" });
    // The prompt's one review place, held by the reviewer.
    const held = (await requestTask({ projectId: project.id, userId: reviewer.user.id, type: "label_initial_prompt" }))!;
    const ask = (type: string) =>
      call(() => apiTasks.action({ request: jsonRequest(`/api/projects/${project.slug}/tasks`, reviewer.cookie, { type }), params: { projectSlug: project.slug }, context: {} }));
    expect(await ask("label_initial_prompt")).toMatchObject({
      status: 404,
      body: { code: "no_task", held: { id: held.id, type: "label_initial_prompt" }, error: expect.stringContaining(held.id) },
    });
    expect(await ask("rank_assistant_replies")).toMatchObject({ status: 404, body: { code: "no_task", held: null } });
  });
});

describe("pages", () => {
  it("starts a task from the chooser and shows it, refusing other labelers", async () => {
    const start = await call(() =>
      tasks.action({ request: makeRequest(`/projects/${slug}/tasks`, { cookie: other.cookie, form: { type: "label_initial_prompt" } }), params: { projectSlug: slug }, context: {} }),
    );
    expect(start.status).toBe(302);
    const taskId = start.location!.match(/tasks\/([0-9a-f-]{36})/)![1];
    const params = { projectSlug: slug, taskId };
    const mine = await call(() => taskPage.loader({ request: makeRequest(`/projects/${slug}/tasks/${taskId}`, { cookie: other.cookie }), params, context: {} }));
    expect(mine.status).toBe(200);
    expect((mine.body as { view: { conversation: unknown[] } }).view.conversation).toHaveLength(1);
    expect((await prisma.task.findUniqueOrThrow({ where: { id: taskId } })).state).toBe("acknowledged");
    const theirs = await call(() => taskPage.loader({ request: makeRequest(`/projects/${slug}/tasks/${taskId}`, { cookie: labeler.cookie }), params, context: {} }));
    expect(theirs.status).toBe(403);

    const bad = await call(() =>
      taskPage.action({ request: makeRequest(`/projects/${slug}/tasks/${taskId}`, { cookie: other.cookie, form: { intent: "labels", "label.spam": "0.5" } }), params, context: {} }),
    );
    expect(bad.status).toBe(400);
    expect((bad.body as { fields: Record<string, string> }).fields).toHaveProperty("spam");
    const good = await call(() =>
      taskPage.action({ request: makeRequest(`/projects/${slug}/tasks/${taskId}`, { cookie: other.cookie, form: { intent: "labels", "label.spam": "0", next: "random" } }), params, context: {} }),
    );
    expect(good.status).toBe(302);
    expect(await prisma.label.count({ where: { taskId } })).toBe(1);
  });

  it("shows the dashboard with the leaderboard period asked for", async () => {
    const res = await call(() => dashboard.loader({ request: makeRequest(`/projects/${slug}?period=all_time`, { cookie: labeler.cookie }), params: { projectSlug: slug }, context: {} }));
    expect(res.status).toBe(200);
    const body = res.body as { period: string; board: Array<{ userId: string }>; canManage: boolean };
    expect(body.period).toBe("all_time");
    expect(body.board.map((r) => r.userId)).toContain(labeler.id);
    expect(body.canManage).toBe(false);
  });

  it("shows workflow validation errors by field and keeps the stored config", async () => {
    const params = { projectSlug: slug };
    const res = await call(() =>
      settings.action({ request: makeRequest(`/projects/${slug}/settings`, { cookie: manager.cookie, form: { intent: "workflow", json: '{"acceptanceThreshold": 2}' } }), params, context: {} }),
    );
    expect(res.status).toBe(400);
    expect((res.body as { fields: Record<string, string> }).fields).toHaveProperty("acceptanceThreshold");
    const notJson = await call(() =>
      settings.action({ request: makeRequest(`/projects/${slug}/settings`, { cookie: manager.cookie, form: { intent: "labels", json: "[{" } }), params, context: {} }),
    );
    expect(notJson.status).toBe(400);
    const added = await call(() =>
      settings.action({ request: makeRequest(`/projects/${slug}/settings`, { cookie: manager.cookie, form: { intent: "add-member", email: "ghost@nowhere.test", role: "labeler" } }), params, context: {} }),
    );
    expect(added.status).toBe(404);
    const stored = await prisma.project.findUniqueOrThrow({ where: { id: projectId } });
    expect((stored.workflowConfig as { acceptanceThreshold: number }).acceptanceThreshold).toBe(0.6);
  });
});
