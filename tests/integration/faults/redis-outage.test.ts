// Redis stopped during labeling, against the production server: the server's queues live in a
// Redis of the test's own (another port, started and stopped here). While it is down, pages
// and every labeling request keep working (they never wait on the queues) and /health names
// the queues as down; once it is back the same server reaches the queues again.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { createProject } from "~/models/project.server.ts";
import { startWebServer, waitFor } from "../../helpers/server.ts";
import { PrivateRedis } from "../../helpers/private-redis.ts";
import { addToProject, createTestUser } from "../../helpers/users.ts";
import { SMALL_WORKFLOW } from "../labeling/fixtures.ts";

const SLUG = "redis-outage";
let redis: PrivateRedis;
let server: Awaited<ReturnType<typeof startWebServer>>;
let labeler: Awaited<ReturnType<typeof createTestUser>>;



beforeAll(async () => {
  const project = await createProject({ slug: SLUG, name: "Redis outage", workflowConfig: SMALL_WORKFLOW });
  labeler = await createTestUser({ name: "Lab" });
  await addToProject(project.id, labeler.user.id, "labeler");
  redis = await PrivateRedis.create();
  await redis.start();
  server = await startWebServer({ REDIS_URL: redis.url, QUEUE_BACKEND: "redis" });
});

afterAll(async () => {
  await server?.stop();
  await redis?.kill();
});

const get = (path: string) => fetch(`${server.url}${path}`, { headers: { Cookie: labeler.cookie, Accept: "text/html" }, redirect: "manual", signal: AbortSignal.timeout(20_000) });
const api = (path: string, body: unknown) =>
  fetch(`${server.url}/api/projects/${SLUG}/tasks${path}`, {
    method: "POST",
    headers: { Cookie: labeler.cookie, Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
const health = async () => (await (await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(20_000) })).json()) as { queues: { ok: boolean } };

/** Takes a prompt task and writes it; returns the task id. */
async function writePrompt(text: string): Promise<string> {
  const taken = await api("", { type: "initial_prompt" });
  expect(taken.status).toBe(200);
  const { task } = (await taken.json()) as { task: { id: string } };
  const answer = await api(`/${task.id}`, { text });
  expect(answer.status, await answer.clone().text()).toBe(200);
  return task.id;
}

describe("Redis unavailable", () => {
  it("keeps pages and labeling working while it is down, and the server reaches the queues again once it is back", async () => {
    expect((await health()).queues.ok).toBe(true);
    await writePrompt("A prompt before the outage.");

    await redis.kill();
    await waitFor(async () => !(await health()).queues.ok, "/health to see the queues down");
    for (const path of ["/", `/projects/${SLUG}`, `/projects/${SLUG}/tasks`, "/account"]) expect((await get(path)).status, path).toBe(200);
    const during = await writePrompt("A prompt while Redis is down.");
    expect((await get(`/projects/${SLUG}/tasks/${during}`)).status).toBeLessThan(500);
    expect(await prisma.message.count({ where: { text: { in: ["A prompt before the outage.", "A prompt while Redis is down."] } } })).toBe(2);

    await redis.start();
    await waitFor(async () => (await health()).queues.ok, "/health to reach the queues again", 60_000);
    await writePrompt("A prompt after the outage.");
    expect(await prisma.message.count({ where: { text: { startsWith: "A prompt " } } })).toBe(3);
    expect(server.child.exitCode).toBeNull();
  });
});
