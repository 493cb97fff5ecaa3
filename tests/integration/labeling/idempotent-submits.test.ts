// A submit is stored once or not at all: retried with its Idempotency-Key it is answered again
// and stores nothing; a web server killed in the middle of a submit's transaction leaves nothing
// behind, and one killed while a one-statement submit waits leaves that submit whole.
import crypto from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import * as apiTask from "~/routes/api.projects.$projectSlug.tasks.$taskId.ts";
import * as taskPage from "~/routes/projects.$projectSlug.tasks.$taskId.tsx";
import { requestTask } from "~/models/labeling/tasks.server.ts";
import { submitPrompt } from "~/models/labeling/writing.server.ts";
import { startWebServer, type RunningProcess } from "../../helpers/server.ts";
import { addToProject, call, createTestUser, makeRequest } from "../../helpers/users.ts";
import { doTask, freshText, GOOD_LABELS, makeProject, SMALL_WORKFLOW } from "./fixtures.ts";

let slug = "";
let projectId = "";
let labeler = { id: "", cookie: "" };
const servers: RunningProcess[] = [];

beforeAll(async () => {
  // Without the prompt lottery a prompt's last review is a full transaction (see below).
  const project = await makeProject({ ...SMALL_WORKFLOW, promptLottery: { enabled: false } });
  slug = project.slug;
  projectId = project.id;
  const u = await createTestUser();
  await addToProject(project.id, u.user.id, "labeler");
  labeler = { id: u.user.id, cookie: u.cookie };
});
afterAll(async () => {
  for (const s of servers) await s.stop();
});

function answer(taskId: string, body: unknown, key?: string) {
  const headers: Record<string, string> = { Cookie: labeler.cookie, "Content-Type": "application/json", Accept: "application/json" };
  if (key) headers["Idempotency-Key"] = key;
  const request = new Request(`http://localhost/api/projects/${slug}/tasks/${taskId}`, { method: "POST", headers, body: JSON.stringify(body) });
  return call(() => apiTask.action({ request, params: { projectSlug: slug, taskId }, context: {} }));
}

const messagesWithText = (text: string) => prisma.message.count({ where: { text } });

describe("Idempotency-Key on the JSON API", () => {
  it("answers a repeated prompt submit again without storing it twice; another key or answer is still refused", async () => {
    const task = (await requestTask({ projectId, userId: labeler.id, type: "initial_prompt", acknowledge: true }))!;
    const key = crypto.randomUUID();
    const text = freshText("prompt");

    const bad = await answer(task.id, { text }, "no good");
    expect(bad).toMatchObject({ status: 400, body: { code: "bad_input", error: expect.stringMatching(/submit key/) } });
    expect(await messagesWithText(text)).toBe(0);

    const first = await answer(task.id, { text }, key);
    expect(first).toMatchObject({ status: 200, body: { ok: true } });
    expect(first.body).not.toHaveProperty("replayed");
    const retry = await answer(task.id, { text }, key);
    expect(retry).toMatchObject({ status: 200, body: { ok: true, replayed: true, task: { id: task.id, state: "done" } } });
    expect(await messagesWithText(text)).toBe(1);

    // A different key is a different submit: the task is finished, so it is a conflict.
    expect((await answer(task.id, { text }, crypto.randomUUID())).status).toBe(409);
    expect((await answer(task.id, { text })).status).toBe(409);
    expect(await messagesWithText(text)).toBe(1);
  });

  it("replays reviews and skips the same way", async () => {
    // A prompt to review: someone else writes it.
    const author = await createTestUser();
    await addToProject(projectId, author.user.id, "labeler");
    await doTask(projectId, author.user.id, "initial_prompt");
    const review = (await requestTask({ projectId, userId: labeler.id, type: "label_initial_prompt", acknowledge: true }))!;
    expect(review).toBeTruthy();
    const key = crypto.randomUUID();
    expect((await answer(review.id, { labels: GOOD_LABELS }, key)).status).toBe(200);
    expect(await answer(review.id, { labels: GOOD_LABELS }, key)).toMatchObject({ status: 200, body: { replayed: true } });
    expect(await prisma.label.count({ where: { taskId: review.id } })).toBe(1);

    const skipped = (await requestTask({ projectId, userId: labeler.id, type: "initial_prompt", acknowledge: true }))!;
    const skipKey = crypto.randomUUID();
    expect((await answer(skipped.id, { skip: true }, skipKey)).status).toBe(200);
    expect(await answer(skipped.id, { skip: true }, skipKey)).toMatchObject({ status: 200, body: { replayed: true, task: { state: "skipped" } } });
  });
});

describe("the task page's form", () => {
  it("carries a fresh key per page load, and a repeated post of the same form goes on to the next task", async () => {
    const task = (await requestTask({ projectId, userId: labeler.id, type: "initial_prompt" }))!;
    const params = { projectSlug: slug, taskId: task.id };
    const page = await call(() => taskPage.loader({ request: makeRequest(`/projects/${slug}/tasks/${task.id}`, { cookie: labeler.cookie }), params, context: {} }));
    const again = await call(() => taskPage.loader({ request: makeRequest(`/projects/${slug}/tasks/${task.id}`, { cookie: labeler.cookie }), params, context: {} }));
    const key = (page.body as { submitKey: string }).submitKey;
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    expect((again.body as { submitKey: string }).submitKey).not.toBe(key);

    const text = freshText("form prompt");
    const post = () =>
      call(() =>
        taskPage.action({
          request: makeRequest(`/projects/${slug}/tasks/${task.id}`, { cookie: labeler.cookie, form: { intent: "prompt", text, next: "random", submitKey: key } }),
          params,
          context: {},
        }),
      );
    const first = await post();
    expect(first.status).toBe(302);
    const repeated = await post();
    expect(repeated.status).toBe(302);
    expect(repeated.location).toMatch(/saved=1/);
    expect(await messagesWithText(text)).toBe(1);
  });
});

/** Holds a lock in another session while `submit` runs against a fresh web server, kills that
 *  server the moment the submit waits for the lock, then lets the lock go and waits until the
 *  dead server's waiting session has ended. */
async function killWhileWaiting(lock: (holder: pg.Client) => Promise<unknown>, submit: (url: string) => Promise<Response>, cookie: string) {
  const server = await startWebServer();
  servers.push(server);
  // A first request loads the server's route modules, so the timed part below is the submit alone.
  const open = await fetch(`${server.url}/api/projects/${slug}/tasks`, { headers: { Cookie: cookie, Accept: "application/json" } });
  expect(open.status).toBe(200);
  await open.text();
  const holder = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await holder.connect();
  // Sessions waiting for a lock this one holds (other test files share the database).
  const waiters = async () =>
    (await holder.query("SELECT pid FROM pg_stat_activity WHERE pg_blocking_pids(pid) @> ARRAY[pg_backend_pid()]")).rows.map((r) => r.pid as number);
  try {
    await holder.query("BEGIN");
    await lock(holder);
    const inFlight = submit(server.url).catch((e: Error) => e);
    let waiting = await waiters();
    for (let i = 0; i < 600 && waiting.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      waiting = await waiters();
    }
    if (waiting.length === 0) {
      const activity = (await holder.query("SELECT state, wait_event_type, left(query, 120) AS query FROM pg_stat_activity WHERE datname = current_database()")).rows;
      throw new Error(`the submit never waited for the lock: ${JSON.stringify(activity)}\n${server.output().slice(-2000)}`);
    }
    server.child.kill("SIGKILL");
    expect(await inFlight).toBeInstanceOf(Error); // the connection dropped: the client never heard back
    await server.stop();
    await holder.query("COMMIT");
    // Once the lock is free the dead server's session ends what it was doing (its statement
    // commits, or its transaction rolls back when it finds the client gone), then exits. Taking
    // the task's row is no sign of that: a new locker can win the row before the waiter wakes.
    const alive = async () => (await holder.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1)", [waiting])).rows[0].n as number;
    for (let i = 0; i < 300 && (await alive()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await alive()).toBe(0);
  } finally {
    await holder.end();
  }
}

describe("a web server killed during a submit", () => {
  it("in the middle of its transaction: nothing of it is stored, and the retry with the same key on a new server stores it once", async () => {
    // With the lottery off the last review of a prompt runs the full transaction (it moves the
    // tree, maybe straight to growing): an accepted prompt takes the project's growing-slot lock,
    // which another session holds here.
    const [writer, reviewer] = [await createTestUser(), await createTestUser()];
    await addToProject(projectId, writer.user.id, "labeler");
    await addToProject(projectId, reviewer.user.id, "labeler");
    const promptTask = (await requestTask({ projectId, userId: writer.user.id, type: "initial_prompt" }))!;
    await submitPrompt(projectId, promptTask.id, writer.user.id, { text: freshText("prompt to review") });
    const task = (await requestTask({ projectId, userId: reviewer.user.id, type: "label_initial_prompt", acknowledge: true }))!;
    const [messageId, treeId] = [task.messageId!, task.treeId!];
    const key = crypto.randomUUID();
    const post = (url: string) =>
      fetch(`${url}/api/projects/${slug}/tasks/${task.id}`, {
        method: "POST",
        headers: { Cookie: reviewer.cookie, "Content-Type": "application/json", Origin: url, "Idempotency-Key": key },
        body: JSON.stringify({ labels: GOOD_LABELS }),
      });
    await killWhileWaiting((holder) => holder.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`growing:${projectId}`]), post, reviewer.cookie);

    // Postgres rolled the dead server's transaction back: nothing of the submit is stored.
    expect(await prisma.label.count({ where: { messageId } })).toBe(0);
    expect((await prisma.message.findUniqueOrThrow({ where: { id: messageId } })).reviewResult).toBe("pending");
    expect((await prisma.messageTree.findUniqueOrThrow({ where: { id: treeId } })).state).toBe("initial_prompt_review");
    expect((await prisma.task.findUniqueOrThrow({ where: { id: task.id } })).state).toBe("acknowledged");

    const second = await startWebServer();
    servers.push(second);
    const retry = await post(second.url);
    expect(retry.status).toBe(200);
    expect(await retry.json()).toMatchObject({ ok: true, reviewResult: "accepted" });
    expect(await (await post(second.url)).json()).toMatchObject({ ok: true, replayed: true });
    expect(await prisma.label.count({ where: { messageId } })).toBe(1);
    expect((await prisma.messageTree.findUniqueOrThrow({ where: { id: treeId } })).state).not.toBe("initial_prompt_review");
  });

  it("while its single statement waits: the statement still runs whole, and the retry with the same key is answered without storing it again", async () => {
    const writer = await createTestUser();
    await addToProject(projectId, writer.user.id, "labeler");
    const task = (await requestTask({ projectId, userId: writer.user.id, type: "initial_prompt", acknowledge: true }))!;
    const key = crypto.randomUUID();
    const text = freshText("interrupted prompt");
    const post = (url: string) =>
      fetch(`${url}/api/projects/${slug}/tasks/${task.id}`, {
        method: "POST",
        headers: { Cookie: writer.cookie, "Content-Type": "application/json", Origin: url, "Idempotency-Key": key },
        body: JSON.stringify({ text }),
      });
    await killWhileWaiting((holder) => holder.query("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", [task.id]), post, writer.cookie);

    // A new prompt is one statement (submit_prompt): once the task's lock was free it ran to its
    // end, though nobody was left to hear the answer. It is whole, and it carries the key.
    expect(await messagesWithText(text)).toBe(1);
    expect(await prisma.task.findUniqueOrThrow({ where: { id: task.id } })).toMatchObject({ state: "done", submitKey: key });

    const second = await startWebServer();
    servers.push(second);
    const retry = await post(second.url);
    expect(retry.status).toBe(200);
    expect(await retry.json()).toMatchObject({ ok: true, replayed: true });
    expect(await messagesWithText(text)).toBe(1);
  });
});
