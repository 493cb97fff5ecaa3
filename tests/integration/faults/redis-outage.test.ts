// Redis stopped during labeling, against the production server: the server's queues live in a
// Redis of the test's own (another port, started and stopped here). Labelers keep writing
// through the outage: while it is down, pages and every labeling request keep working (they
// never wait on the queues) and /health names the queues as down; once it is back the same
// server reaches the queues again, and every prompt the server acknowledged is stored once.
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
const crowd: Awaited<ReturnType<typeof createTestUser>>[] = [];
const CROWD = 6;

beforeAll(async () => {
  const project = await createProject({ slug: SLUG, name: "Redis outage", workflowConfig: SMALL_WORKFLOW });
  labeler = await createTestUser({ name: "Lab" });
  await addToProject(project.id, labeler.user.id, "labeler");
  for (let i = 0; i < CROWD; i++) {
    crowd.push(await createTestUser());
    await addToProject(project.id, crowd[i].user.id, "labeler");
  }
  redis = await PrivateRedis.create();
  await redis.start();
  server = await startWebServer({ REDIS_URL: redis.url, QUEUE_BACKEND: "redis" });
});

afterAll(async () => {
  await server?.stop();
  await redis?.kill();
});

const get = (path: string) => fetch(`${server.url}${path}`, { headers: { Cookie: labeler.cookie, Accept: "text/html" }, redirect: "manual", signal: AbortSignal.timeout(20_000) });
const api = (path: string, body: unknown, cookie = labeler.cookie) =>
  fetch(`${server.url}/api/projects/${SLUG}/tasks${path}`, {
    method: "POST",
    headers: { Cookie: cookie, Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });

/** Labelers writing prompts one after another until `stop.now`; what the server answered. */
async function crowdWrites(stop: { now: boolean }) {
  const acknowledged: string[] = [];
  const statuses: Record<number, number> = {};
  const note = (status: number) => (statuses[status] = (statuses[status] ?? 0) + 1);
  await Promise.all(
    crowd.map(async (user, who) => {
      const call = (path: string, body: unknown) => api(path, body, user.cookie);
      for (let n = 0; !stop.now; n++) {
        const taken = await call("", { type: "initial_prompt" });
        note(taken.status);
        if (taken.status !== 200) continue;
        const { task } = (await taken.json()) as { task: { id: string } };
        const text = `A crowd prompt ${who}.${n}.`;
        const answer = await call(`/${task.id}`, { text });
        note(answer.status);
        if (answer.status === 200) acknowledged.push(text);
      }
    }),
  );
  return { acknowledged, statuses };
}

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
    const stop = { now: false };
    const load = crowdWrites(stop);
    const storedSoFar = () => prisma.message.count({ where: { text: { startsWith: "A crowd prompt " } } });
    await waitFor(async () => (await storedSoFar()) >= CROWD, "the crowd's first prompts");

    await redis.kill();
    await waitFor(async () => !(await health()).queues.ok, "/health to see the queues down");
    for (const path of ["/", `/projects/${SLUG}`, `/projects/${SLUG}/tasks`, "/account"]) expect((await get(path)).status, path).toBe(200);
    const during = await writePrompt("A prompt while Redis is down.");
    expect((await get(`/projects/${SLUG}/tasks/${during}`)).status).toBeLessThan(500);
    expect(await prisma.message.count({ where: { text: { in: ["A prompt before the outage.", "A prompt while Redis is down."] } } })).toBe(2);
    const beforeRestart = await storedSoFar();
    await waitFor(async () => (await storedSoFar()) >= beforeRestart + CROWD, "the crowd to go on writing while Redis is down");

    await redis.start();
    await waitFor(async () => (await health()).queues.ok, "/health to reach the queues again", 60_000);
    await writePrompt("A prompt after the outage.");
    const afterRestart = await storedSoFar();
    await waitFor(async () => (await storedSoFar()) >= afterRestart + CROWD, "the crowd's prompts after the outage");
    stop.now = true;
    const { acknowledged, statuses } = await load;
    expect(await prisma.message.count({ where: { text: { startsWith: "A prompt " } } })).toBe(3);

    // Nothing failed, and every acknowledged prompt is stored exactly once.
    expect(Object.keys(statuses).filter((status) => Number(status) >= 500), JSON.stringify(statuses)).toEqual([]);
    const stored = await prisma.message.groupBy({ by: ["text"], where: { text: { startsWith: "A crowd prompt " } }, _count: true });
    expect(stored.filter((row) => row._count !== 1)).toEqual([]);
    expect(stored.map((row) => row.text).sort()).toEqual([...acknowledged].sort());
    expect(server.child.exitCode).toBeNull();
  });
});
