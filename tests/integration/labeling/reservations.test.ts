// How long a task holds its place (docs/decisions/0007-task-reservations.md): a short window
// while unstarted, renewed while its page is seen, the project's expiry once started; released
// tasks free their place at once; a lapsed task is taken up again only while its place is free.
// And the routes that list and release a labeler's open tasks, with who may release what.
import crypto from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { openTaskCounts } from "~/models/labeling/dashboard.server.ts";
import { LabelingError } from "~/models/labeling/errors.server.ts";
import { listOpenTasks, releaseTask, requestTask, skipTask, touchTask, type TaskRecord } from "~/models/labeling/tasks.server.ts";
import { submitPrompt } from "~/models/labeling/writing.server.ts";
import * as apiTask from "~/routes/api.projects.$projectSlug.tasks.$taskId.ts";
import * as apiTasks from "~/routes/api.projects.$projectSlug.tasks.ts";
import * as home from "~/routes/projects.$projectSlug._index.tsx";
import * as taskPage from "~/routes/projects.$projectSlug.tasks.$taskId.tsx";
import { addToProject, call, createTestUser, makeRequest } from "../../helpers/users.ts";
import { answerTask, doTask, freshText, makeLabelers, makeProject, SMALL_WORKFLOW } from "./fixtures.ts";

const MINUTE = 60_000;
const WINDOW = 15; // unstartedTaskMinutes by default
const EXPIRY = 2 * 24 * 60; // taskExpiryMinutes by default

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

const row = (id: string) => prisma.task.findUniqueOrThrow({ where: { id } });

/** Moves the task's hand-out and hold `minutes` into the past, as if that much time went by. */
async function age(taskId: string, minutes: number, opts: { started?: boolean } = {}) {
  await prisma.$executeRaw`
    UPDATE tasks SET created_at = created_at - make_interval(mins => ${minutes}::int),
                     expires_at = expires_at - make_interval(mins => ${minutes}::int),
                     started_at = CASE WHEN ${opts.started ?? false} THEN created_at - make_interval(mins => ${minutes}::int) ELSE started_at END
    WHERE id = ${taskId}::uuid`;
}

/** A new prompt waiting for its one review (SMALL_WORKFLOW), written by `authorId`. */
async function promptInReview(projectId: string, authorId: string) {
  const t = await requestTask({ projectId, userId: authorId, type: "initial_prompt" });
  return submitPrompt(projectId, t!.id, authorId, { text: freshText("prompt") });
}

/** Open tasks on a message, by who holds them. */
async function holders(messageId: string): Promise<string[]> {
  const rows = await prisma.$queryRaw<Array<{ assignee_id: string }>>`
    SELECT assignee_id FROM tasks WHERE message_id = ${messageId}::uuid
      AND state IN ('assigned', 'acknowledged') AND expires_at > (now() AT TIME ZONE 'UTC')`;
  return rows.map((r) => r.assignee_id).sort();
}

describe("holds", () => {
  it("a task handed out holds its place for the unstarted window, not the project's expiry", async () => {
    const p = await makeProject();
    const [author, a] = await makeLabelers(p.id, 2);
    await promptInReview(p.id, author.id);
    const task = (await requestTask({ projectId: p.id, userId: a.id, type: "label_initial_prompt" }))!;
    const stored = await row(task.id);
    expect(stored.state).toBe("assigned");
    expect(stored.startedAt).toBeNull();
    expect(stored.expiresAt.getTime() - stored.createdAt.getTime()).toBe(WINDOW * MINUTE);
  });

  it("seen renews the window, started holds until the expiry, and neither ever shortens a hold", async () => {
    const p = await makeProject();
    const [author, a] = await makeLabelers(p.id, 2);
    await promptInReview(p.id, author.id);
    const task = (await requestTask({ projectId: p.id, userId: a.id, type: "label_initial_prompt" }))!;
    await age(task.id, 10); // five minutes of the window left
    const before = await row(task.id);

    const t0 = Date.now();
    const seen = await touchTask(p.id, task.id, a.id, "seen");
    const t1 = Date.now();
    expect(seen.state).toBe("acknowledged");
    expect(seen.startedAt).toBeNull();
    expect(seen.expiresAt.getTime()).toBeGreaterThan(before.expiresAt.getTime());
    expect(seen.expiresAt.getTime()).toBeGreaterThanOrEqual(t0 + WINDOW * MINUTE - 1000);
    expect(seen.expiresAt.getTime()).toBeLessThanOrEqual(t1 + WINDOW * MINUTE + 1000);

    const started = await touchTask(p.id, task.id, a.id, "started");
    expect(started.startedAt).not.toBeNull();
    expect(started.expiresAt.getTime()).toBe(before.createdAt.getTime() + EXPIRY * MINUTE);
    // Seen again, a started task keeps its hold, and a second start keeps the first start's time.
    expect((await touchTask(p.id, task.id, a.id, "seen")).expiresAt).toEqual(started.expiresAt);
    expect((await touchTask(p.id, task.id, a.id, "started")).startedAt).toEqual(started.startedAt);
    expect((await row(task.id)).expiresAt).toEqual(started.expiresAt);
  });

  it("an unstarted task seen near the project's expiry holds no longer than a started one", async () => {
    const p = await makeProject();
    const [author, a] = await makeLabelers(p.id, 2);
    await promptInReview(p.id, author.id);
    const task = (await requestTask({ projectId: p.id, userId: a.id, type: "label_initial_prompt" }))!;
    // Handed out almost two days ago, kept seen since: a minute of its hold is left.
    await prisma.$executeRaw`
      UPDATE tasks SET created_at = created_at - make_interval(mins => ${EXPIRY - 5}::int),
                       expires_at = (now() AT TIME ZONE 'UTC') + interval '1 minute'
      WHERE id = ${task.id}::uuid`;
    const seen = await touchTask(p.id, task.id, a.id, "seen");
    const created = (await row(task.id)).createdAt;
    expect(seen.expiresAt.getTime()).toBe(created.getTime() + EXPIRY * MINUTE);
  });

  it("an unstarted task left past its window frees its place at once, and its labeler learns it went", async () => {
    const p = await makeProject();
    const [author, a, b] = await makeLabelers(p.id, 3);
    const { messageId } = await promptInReview(p.id, author.id);
    const held = (await requestTask({ projectId: p.id, userId: a.id, type: "label_initial_prompt" }))!;
    await touchTask(p.id, held.id, a.id, "seen");
    // The prompt takes one review: while a's task holds, b gets nothing.
    expect(await requestTask({ projectId: p.id, userId: b.id, type: "label_initial_prompt" })).toBeNull();
    expect((await openTaskCounts(p.id, b.id)).available.label_initial_prompt).toBe(0);
    // The labeler who holds it sees it counted as theirs, not as available.
    const ofA = await openTaskCounts(p.id, a.id);
    expect([ofA.available.label_initial_prompt, ofA.held.label_initial_prompt, (await openTaskCounts(p.id, b.id)).held.label_initial_prompt]).toEqual([0, 1, 0]);

    await age(held.id, WINDOW + 1);
    // No job ran: the draw and the counts see the place free by the time alone.
    expect((await openTaskCounts(p.id, b.id)).available.label_initial_prompt).toBe(1);
    expect((await openTaskCounts(p.id, a.id)).held.label_initial_prompt).toBe(0);
    const taken = await requestTask({ projectId: p.id, userId: b.id, type: "label_initial_prompt" });
    expect(taken?.messageId).toBe(messageId);
    expect(await holders(messageId)).toEqual([b.id]);

    await refused(touchTask(p.id, held.id, a.id, "seen"), 410, /left unstarted for more than 15 minutes, and meanwhile its place was taken/);
    await refused(touchTask(p.id, held.id, a.id, "started"), 410);
    expect((await row(held.id)).state).toBe("expired");
    expect(await holders(messageId)).toEqual([b.id]);
  });

  it("a lapsed unstarted task is taken up again while its place is free; a lapsed started one is not", async () => {
    const p = await makeProject();
    const [author, a] = await makeLabelers(p.id, 2);
    const first = await promptInReview(p.id, author.id);
    const unstarted = (await requestTask({ projectId: p.id, userId: a.id, type: "label_initial_prompt" }))!;
    await age(unstarted.id, WINDOW + 5);
    const back = await touchTask(p.id, unstarted.id, a.id, "started");
    expect(back).toMatchObject({ id: unstarted.id, state: "acknowledged" });
    expect(back.expiresAt.getTime()).toBeGreaterThan(Date.now());
    expect(await holders(first.messageId)).toEqual([a.id]);

    const second = await promptInReview(p.id, author.id);
    const started = (await requestTask({ projectId: p.id, userId: a.id, type: "label_initial_prompt" }))!;
    expect(started.messageId).toBe(second.messageId);
    await age(started.id, EXPIRY + 1, { started: true });
    await refused(touchTask(p.id, started.id, a.id, "seen"), 410, /expired/);
    expect((await row(started.id)).state).toBe("expired");
  });

  it("a lapsed new-prompt task is taken up again only while the labeler holds no other", async () => {
    const p = await makeProject();
    const [a] = await makeLabelers(p.id, 1);
    const first = (await requestTask({ projectId: p.id, userId: a.id, type: "initial_prompt" }))!;
    expect(await requestTask({ projectId: p.id, userId: a.id, type: "initial_prompt" })).toBeNull();
    await age(first.id, WINDOW + 1);
    const second = (await requestTask({ projectId: p.id, userId: a.id, type: "initial_prompt" }))!;
    expect(second.id).not.toBe(first.id);
    await refused(touchTask(p.id, first.id, a.id, "seen"), 410);
    await releaseTask(p.id, second.id, a.id);
    const third = (await requestTask({ projectId: p.id, userId: a.id, type: "initial_prompt" }))!;
    await age(third.id, WINDOW + 1);
    expect((await touchTask(p.id, third.id, a.id, "seen")).state).toBe("acknowledged");
  });

  it("holds under concurrency: a renewal at the end of the window and another labeler's draw never both win", async () => {
    const p = await makeProject();
    const [author, a, b] = await makeLabelers(p.id, 3);
    const outcomes = { renewed: 0, drawn: 0 };
    for (let round = 0; round < 20; round++) {
      const { messageId } = await promptInReview(p.id, author.id);
      const held = (await requestTask({ projectId: p.id, userId: a.id, type: "label_initial_prompt" }))!;
      // The hold ended just now or ends while both requests are under way.
      await prisma.$executeRaw`
        UPDATE tasks SET expires_at = (clock_timestamp() AT TIME ZONE 'UTC') + make_interval(secs => ${0.003 * ((round % 5) - 2)})
        WHERE id = ${held.id}::uuid`;
      // The draw does more work before it takes the tree's lock: the renewal starts a little
      // later, by a different amount each round, so either may reach the lock first.
      const [renewal, draw] = await Promise.allSettled([
        new Promise((r) => setTimeout(r, round % 7)).then(() => touchTask(p.id, held.id, a.id, "seen")),
        requestTask({ projectId: p.id, userId: b.id, type: "label_initial_prompt" }),
      ]);
      const drawn = draw.status === "fulfilled" ? draw.value : null;
      if (draw.status === "rejected") throw draw.reason;
      if (renewal.status === "rejected") expect((renewal.reason as LabelingError).status).toBe(410);
      // Exactly one of them holds the prompt's one review place.
      expect(renewal.status === "fulfilled").toBe(drawn === null);
      expect(await holders(messageId)).toEqual([renewal.status === "fulfilled" ? a.id : b.id]);
      outcomes[drawn ? "drawn" : "renewed"]++;
      // Clear the place for the next round.
      const holder = drawn ?? held;
      await answerTask(p.id, holder.assigneeId, holder);
    }
    console.log(`hold race: ${outcomes.renewed} renewals won, ${outcomes.drawn} draws won`);
  });
});

describe("release", () => {
  it("frees the place for others at once and may be offered to the labeler again", async () => {
    const p = await makeProject({ ...SMALL_WORKFLOW, reviewsPerPrompt: 1 });
    const [author, a, b] = await makeLabelers(p.id, 3);
    const { messageId } = await promptInReview(p.id, author.id);
    const task = (await requestTask({ projectId: p.id, userId: a.id, type: "label_initial_prompt" }))!;
    await touchTask(p.id, task.id, a.id, "started");
    expect(await requestTask({ projectId: p.id, userId: b.id, type: "label_initial_prompt" })).toBeNull();

    await releaseTask(p.id, task.id, a.id);
    const stored = await row(task.id);
    expect(stored.state).toBe("released");
    expect(stored.releasedAt).not.toBeNull();
    expect(await holders(messageId)).toEqual([]);
    expect((await openTaskCounts(p.id, a.id)).available.label_initial_prompt).toBe(1);
    // Not a skip: the same labeler may take it again.
    const again = await requestTask({ projectId: p.id, userId: a.id, type: "label_initial_prompt" });
    expect(again?.messageId).toBe(messageId);
    await releaseTask(p.id, again!.id, a.id);
    expect((await requestTask({ projectId: p.id, userId: b.id, type: "label_initial_prompt" }))?.messageId).toBe(messageId);
  });

  it("does not count towards the skip limit that halts a tree", async () => {
    const p = await makeProject({ ...SMALL_WORKFLOW, moderation: { skipsToHalt: 1 } });
    const [author, reviewer, a] = await makeLabelers(p.id, 3);
    const { treeId } = await promptInReview(p.id, author.id);
    await doTask(p.id, reviewer.id, "label_initial_prompt");
    expect((await prisma.messageTree.findUniqueOrThrow({ where: { id: treeId } })).state).toBe("growing");
    for (let i = 0; i < 3; i++) {
      const reply = (await requestTask({ projectId: p.id, userId: a.id, type: "assistant_reply" }))!;
      await releaseTask(p.id, reply.id, a.id);
    }
    expect((await prisma.messageTree.findUniqueOrThrow({ where: { id: treeId } })).state).toBe("growing");
    const reply = (await requestTask({ projectId: p.id, userId: a.id, type: "assistant_reply" }))!;
    await skipTask(p.id, reply.id, a.id);
    expect((await prisma.messageTree.findUniqueOrThrow({ where: { id: treeId } })).state).toBe("halted_by_moderator");
  });

  it("only the assignee may release, only an open task: 403, 404, 409, 410", async () => {
    const p = await makeProject();
    const other = await makeProject();
    const [author, a, b] = await makeLabelers(p.id, 3);
    await promptInReview(p.id, author.id);
    await promptInReview(p.id, author.id);
    const task = (await requestTask({ projectId: p.id, userId: a.id, type: "label_initial_prompt" }))!;
    await refused(releaseTask(p.id, task.id, b.id), 403);
    await refused(releaseTask(other.id, task.id, a.id), 404);
    await refused(releaseTask(p.id, crypto.randomUUID(), a.id), 404);
    await refused(releaseTask(p.id, "not-a-task", a.id), 404);
    expect((await row(task.id)).state).toBe("assigned");

    await releaseTask(p.id, task.id, a.id);
    await refused(releaseTask(p.id, task.id, a.id), 409, /released/);
    await refused(touchTask(p.id, task.id, a.id, "seen"), 409, /released/);

    const done = (await requestTask({ projectId: p.id, userId: a.id, type: "label_initial_prompt" }))!;
    await answerTask(p.id, a.id, done);
    await refused(releaseTask(p.id, done.id, a.id), 409, /submitted/);

    const lapsed = (await requestTask({ projectId: p.id, userId: a.id, type: "label_initial_prompt" }))!;
    await age(lapsed.id, WINDOW + 1);
    await refused(releaseTask(p.id, lapsed.id, a.id), 410);
  });
});

describe("open-task list and routes", () => {
  let p: Awaited<ReturnType<typeof makeProject>>;
  const people: Record<"author" | "labeler" | "other", { id: string; cookie: string }> = {
    author: { id: "", cookie: "" },
    labeler: { id: "", cookie: "" },
    other: { id: "", cookie: "" },
  };
  let review: TaskRecord;
  let prompt: TaskRecord;
  let lapsed: TaskRecord;
  let rootText = "";

  beforeAll(async () => {
    p = await makeProject({ ...SMALL_WORKFLOW, reviewsPerPrompt: 2 });
    for (const who of ["author", "labeler", "other"] as const) {
      const u = await createTestUser();
      await addToProject(p.id, u.user.id, "labeler");
      people[who] = { id: u.user.id, cookie: u.cookie };
    }
    rootText = freshText("How do I keep a sourdough starter alive while travelling?");
    const t = await requestTask({ projectId: p.id, userId: people.author.id, type: "initial_prompt" });
    await submitPrompt(p.id, t!.id, people.author.id, { text: rootText });
    review = (await requestTask({ projectId: p.id, userId: people.labeler.id, type: "label_initial_prompt" }))!;
    await promptInReview(p.id, people.author.id);
    lapsed = (await requestTask({ projectId: p.id, userId: people.labeler.id, type: "label_initial_prompt" }))!;
    await age(lapsed.id, WINDOW + 1);
    prompt = (await requestTask({ projectId: p.id, userId: people.labeler.id, type: "initial_prompt" }))!;
    await touchTask(p.id, prompt.id, people.labeler.id, "started");
    // Another labeler's task is not on this labeler's list.
    await requestTask({ projectId: p.id, userId: people.other.id, type: "label_initial_prompt" });
  });

  it("lists the labeler's open tasks with type, conversation start, reservation and start", async () => {
    const list = await listOpenTasks(p.id, people.labeler.id);
    expect(list.map((t) => t.id)).toEqual([review.id, prompt.id]);
    const first = list[0];
    expect(first).toMatchObject({ type: "label_initial_prompt", treeId: review.treeId, startedAt: null, conversationStart: rootText });
    expect(list[1]).toMatchObject({ type: "initial_prompt", conversationStart: null, treeId: null });
    expect(list[1].startedAt).not.toBeNull();
  });

  it("the project page shows them; its release action frees one for the assignee only", async () => {
    const params = { projectSlug: p.slug };
    const page = await call(() => home.loader({ request: makeRequest(`/projects/${p.slug}`, { cookie: people.labeler.cookie }), params, context: {} }));
    expect(page.status).toBe(200);
    const held = (page.body as { held: Array<{ id: string; type: string; conversationStart: string | null; started: boolean; reservedMinutesAgo: number; minutesLeft: number }> }).held;
    expect(held.map((t) => [t.id, t.type, t.started])).toEqual([
      [review.id, "label_initial_prompt", false],
      [prompt.id, "initial_prompt", true],
    ]);
    const reviewRow = held[0];
    expect(reviewRow.conversationStart).toBe(rootText);
    expect(reviewRow.reservedMinutesAgo).toBe(0);
    expect(reviewRow.minutesLeft).toBeGreaterThanOrEqual(WINDOW - 1);
    expect(reviewRow.minutesLeft).toBeLessThanOrEqual(WINDOW);

    const release = (cookie: string, form: Record<string, string>) =>
      call(() => home.action({ request: makeRequest(`/projects/${p.slug}?index`, { cookie, form }), params, context: {} }));
    expect((await release(people.other.cookie, { intent: "release", taskId: review.id })).status).toBe(403);
    expect((await release(people.labeler.cookie, { intent: "release", taskId: crypto.randomUUID() })).status).toBe(404);
    const malformed = await release(people.labeler.cookie, { intent: "release", taskId: "42" });
    expect(malformed.status).toBe(404);
    expect((malformed.body as { error: string }).error).toMatch(/No such task/);
    expect((await release(people.labeler.cookie, { intent: "release" })).status).toBe(400);
    expect((await release(people.labeler.cookie, { intent: "dance", taskId: review.id })).status).toBe(400);
    expect((await row(review.id)).state).toBe("assigned");

    const ok = await release(people.labeler.cookie, { intent: "release", taskId: review.id });
    expect(ok).toMatchObject({ status: 302, location: `/projects/${p.slug}?released=1` });
    expect((await row(review.id)).state).toBe("released");
    const after = await call(() => home.loader({ request: makeRequest(`/projects/${p.slug}`, { cookie: people.labeler.cookie }), params, context: {} }));
    expect((after.body as { held: Array<{ id: string }> }).held.map((t) => t.id)).toEqual([prompt.id]);
    expect((await release(people.labeler.cookie, { intent: "release", taskId: review.id })).status).toBe(409);
  });

  it("the JSON API lists open tasks and takes seen, started and release for the assignee only", async () => {
    const json = (path: string, cookie: string, body?: unknown) =>
      new Request(`http://localhost${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { Cookie: cookie, "Content-Type": "application/json", Accept: "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const list = await call(() => apiTasks.loader({ request: json(`/api/projects/${p.slug}/tasks`, people.labeler.cookie), params: { projectSlug: p.slug }, context: {} }));
    expect(list.status).toBe(200);
    const tasks = (list.body as { tasks: Array<{ id: string; startedAt: string | null; conversationStart: string | null }> }).tasks;
    expect(tasks.map((t) => t.id)).toContain(prompt.id);

    const fresh = (await requestTask({ projectId: p.id, userId: people.labeler.id, type: "label_initial_prompt" }))!;
    const path = `/api/projects/${p.slug}/tasks/${fresh.id}`;
    const params = { projectSlug: p.slug, taskId: fresh.id };
    const post = (cookie: string, body: unknown, taskParams = params, at = path) =>
      call(() => apiTask.action({ request: json(at, cookie, body), params: taskParams, context: {} }));

    expect((await post(people.other.cookie, { seen: true })).status).toBe(403);
    expect((await post(people.other.cookie, { release: true })).status).toBe(403);
    const seen = await post(people.labeler.cookie, { seen: true });
    expect(seen).toMatchObject({ status: 200, body: { ok: true, task: { id: fresh.id, state: "acknowledged", startedAt: null } } });
    const started = await post(people.labeler.cookie, { started: true });
    expect((started.body as { task: { startedAt: string | null } }).task.startedAt).not.toBeNull();
    const unknown = crypto.randomUUID();
    expect((await post(people.labeler.cookie, { release: true }, { projectSlug: p.slug, taskId: unknown }, `/api/projects/${p.slug}/tasks/${unknown}`)).status).toBe(404);
    expect((await post(people.labeler.cookie, { release: "yes" })).status).toBe(400);
    expect(await post(people.labeler.cookie, { release: true })).toMatchObject({ status: 200, body: { ok: true, released: true } });
    expect((await row(fresh.id)).state).toBe("released");
    expect((await post(people.labeler.cookie, { started: true })).status).toBe(409);
  });

  it("the task page takes a lapsed task up again when its place is free", async () => {
    const params = { projectSlug: p.slug, taskId: lapsed.id };
    expect((await row(lapsed.id)).expiresAt.getTime()).toBeLessThan(Date.now());
    const page = await call(() => taskPage.loader({ request: makeRequest(`/projects/${p.slug}/tasks/${lapsed.id}`, { cookie: people.labeler.cookie }), params, context: {} }));
    expect(page.status).toBe(200);
    const view = (page.body as { view: { task: { startedAt: string | null }; hold: { heartbeatSeconds: number; unstartedMinutes: number } } }).view;
    expect(view.task.startedAt).toBeNull();
    expect(view.hold).toEqual({ heartbeatSeconds: 300, unstartedMinutes: WINDOW });
    expect((await row(lapsed.id)).expiresAt.getTime()).toBeGreaterThan(Date.now());
  });
});
