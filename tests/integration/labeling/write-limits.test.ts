// A labeler who used up their reply limit learns it before writing: the draw hands out no
// writing task of that role (asked for by type it says when), the project page and the chooser
// say so, and a reply task already held says when it can be sent.
import { beforeAll, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import type { WorkflowConfigInput } from "~/domain/projects/workflow.ts";
import { LabelingError } from "~/models/labeling/errors.server.ts";
import { requestTask, type TaskRecord } from "~/models/labeling/tasks.server.ts";
import { submitPrompt, submitReply } from "~/models/labeling/writing.server.ts";
import * as home from "~/routes/projects.$projectSlug._index.tsx";
import * as taskPage from "~/routes/projects.$projectSlug.tasks.$taskId.tsx";
import * as chooser from "~/routes/projects.$projectSlug.tasks._index.tsx";
import { addToProject, call, createTestUser, makeRequest } from "../../helpers/users.ts";
import { doTask, freshText, makeLabelers, makeProject } from "./fixtures.ts";

const WORKFLOW: WorkflowConfigInput = {
  goalTreeSize: 6,
  maxDepth: 2,
  maxChildrenPerMessage: 3,
  reviewsPerPrompt: 1,
  reviewsPerReply: 1,
  rateLimits: {
    taskRequests: { count: 10_000, windowSeconds: 60 },
    // An hour, so the limit cannot run out while the test runs.
    replies: { assistant: { count: 1, windowSeconds: 3600 }, prompter: { count: 10_000, windowSeconds: 60 } },
  },
};

let project: Awaited<ReturnType<typeof makeProject>>;
let me = { id: "", cookie: "" };
let heldReply: TaskRecord;
let heldReview: TaskRecord;

beforeAll(async () => {
  project = await makeProject(WORKFLOW);
  const [author, reviewer, other] = await makeLabelers(project.id, 3);
  const u = await createTestUser();
  await addToProject(project.id, u.user.id, "labeler");
  me = { id: u.user.id, cookie: u.cookie };
  // Three growing trees (the labeler writes under one, holds a reply task under another, and
  // the third would still take their reply), and another labeler's reply awaiting review.
  for (let i = 0; i < 3; i++) {
    const t = await requestTask({ projectId: project.id, userId: author.id, type: "initial_prompt" });
    await submitPrompt(project.id, t!.id, author.id, { text: freshText("prompt") });
    await doTask(project.id, reviewer.id, "label_initial_prompt");
  }
  await doTask(project.id, other.id, "assistant_reply");
  // The labeler holds two reply tasks and a review, then writes one reply: the limit is used up.
  const first = (await requestTask({ projectId: project.id, userId: me.id, type: "assistant_reply" }))!;
  heldReply = (await requestTask({ projectId: project.id, userId: me.id, type: "assistant_reply" }))!;
  heldReview = (await requestTask({ projectId: project.id, userId: me.id, type: "label_assistant_reply" }))!;
  await submitReply(project.id, first.id, me.id, { text: freshText("reply") });
});

it("the project page and the chooser say the limit and when it ends, and count no reply for the labeler", async () => {
  const params = { projectSlug: project.slug };
  const page = await call(() => home.loader({ request: makeRequest(`/projects/${project.slug}`, { cookie: me.cookie }), params, context: {} }));
  const open = (page.body as { open: { needed: Record<string, number>; available: Record<string, number>; writeLimits: Array<{ role: string; message: string; retryAfterSeconds: number }> } }).open;
  expect(open.needed.assistant_reply).toBeGreaterThan(0);
  expect(open.available.assistant_reply).toBe(0);
  expect(open.writeLimits).toHaveLength(1);
  expect(open.writeLimits[0].role).toBe("assistant");
  expect(open.writeLimits[0].message).toMatch(/limit of 1 assistant message per 60 min: you can send the next one in \d+ s/);
  expect(open.writeLimits[0].retryAfterSeconds).toBeGreaterThan(3000);
  expect(open.writeLimits[0].retryAfterSeconds).toBeLessThanOrEqual(3600);

  const choose = await call(() => chooser.loader({ request: makeRequest(`/projects/${project.slug}/tasks`, { cookie: me.cookie }), params, context: {} }));
  expect((choose.body as { writeLimits: Array<{ role: string }> }).writeLimits.map((l) => l.role)).toEqual(["assistant"]);
});

it("a reply task already held says when it can be sent; other tasks do not", async () => {
  const load = (task: TaskRecord) =>
    call(() => taskPage.loader({ request: makeRequest(`/projects/${project.slug}/tasks/${task.id}`, { cookie: me.cookie }), params: { projectSlug: project.slug, taskId: task.id }, context: {} }));
  const reply = (await load(heldReply)).body as { view: { writeLimit: { limit: string; retryAfterSeconds: number } | null } };
  expect(reply.view.writeLimit).toMatchObject({ limit: "1 assistant message per 60 min" });
  expect(reply.view.writeLimit!.retryAfterSeconds).toBeGreaterThan(3000);
  const review = (await load(heldReview)).body as { view: { writeLimit: unknown } };
  expect(review.view.writeLimit).toBeNull();
});

it("the draw hands out no assistant reply: asked for, it says when; drawn at random, it is left out", async () => {
  const before = await prisma.task.count({ where: { assigneeId: me.id } });
  const e = await requestTask({ projectId: project.id, userId: me.id, type: "assistant_reply" }).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(LabelingError);
  expect((e as LabelingError).status).toBe(429);
  expect((e as LabelingError).message).toMatch(/limit of 1 assistant message per 60 min: you can send the next one in \d+ s/);
  expect((e as LabelingError).retryAfterSeconds).toBeGreaterThan(3000);
  expect(await prisma.task.count({ where: { assigneeId: me.id } })).toBe(before);

  const got: string[] = [];
  for (let t = await requestTask({ projectId: project.id, userId: me.id }); t; t = await requestTask({ projectId: project.id, userId: me.id })) got.push(t.type);
  expect(got.length).toBeGreaterThan(0);
  expect(got).not.toContain("assistant_reply");
});
