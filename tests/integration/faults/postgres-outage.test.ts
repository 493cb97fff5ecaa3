// Postgres unreachable, against the production server: the server reaches the test's database
// through a TCP proxy that the test cuts (every open connection dropped, new ones refused) and
// restores. While it is cut, pages and the API answer 503 with a short reason and nothing is
// stored; once it is back the same server process serves and stores again, without a restart.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { createProject } from "~/models/project.server.ts";
import { startWebServer, waitFor } from "../../helpers/server.ts";
import { addToProject, createTestUser } from "../../helpers/users.ts";
import { SMALL_WORKFLOW } from "../labeling/fixtures.ts";

/** A TCP proxy to Postgres that can be cut and restored on the same port. */
class CuttableProxy {
  private server: net.Server | null = null;
  private sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => this.server!.listen(this.port, "127.0.0.1", resolve).once("error", reject));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Drops every connection and refuses new ones, as a stopped Postgres would. */
  async cut(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server!.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

const SLUG = "outage";
const databaseUrl = new URL(process.env.DATABASE_URL!);
const proxy = new CuttableProxy({ host: databaseUrl.hostname, port: Number(databaseUrl.port || 5432) });
let server: Awaited<ReturnType<typeof startWebServer>>;
let labeler: Awaited<ReturnType<typeof createTestUser>>;

beforeAll(async () => {
  const project = await createProject({ slug: SLUG, name: "Outage", workflowConfig: SMALL_WORKFLOW });
  labeler = await createTestUser({ name: "Lab" });
  await addToProject(project.id, labeler.user.id, "labeler");
  await proxy.open();
  const viaProxy = new URL(databaseUrl);
  viaProxy.hostname = "127.0.0.1";
  viaProxy.port = String(proxy.port);
  server = await startWebServer({ DATABASE_URL: viaProxy.toString() });
});

afterAll(async () => {
  await server?.stop();
  await proxy.cut().catch(() => {});
});

const page = () => fetch(`${server.url}/projects/${SLUG}`, { headers: { Cookie: labeler.cookie, Accept: "text/html" }, redirect: "manual" });
const api = (path: string, body: unknown, key?: string) =>
  fetch(`${server.url}/api/projects/${SLUG}/tasks${path}`, {
    method: "POST",
    headers: { Cookie: labeler.cookie, Accept: "application/json", "Content-Type": "application/json", ...(key ? { "Idempotency-Key": key } : {}) },
    body: JSON.stringify(body),
  });

describe("Postgres unreachable", () => {
  it("answers 503 with a reason while it is down and serves again once it is back, without a restart", async () => {
    expect((await page()).status).toBe(200);
    const taken = await api("", { type: "initial_prompt" });
    expect(taken.status).toBe(200);
    const { task } = (await taken.json()) as { task: { id: string } };
    const pid = server.child.pid;

    await proxy.cut();
    const down = await page();
    expect(down.status).toBe(503);
    expect(down.headers.get("retry-after")).toBe("5");
    const html = await down.text();
    expect(html).toContain("The database cannot be reached right now");
    expect(html).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);

    const submit = await api(`/${task.id}`, { text: "Written while the database was away." }, "outage-submit-1");
    expect(submit.status).toBe(503);
    expect(((await submit.json()) as { error: string }).error).toMatch(/database cannot be reached/);
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { database: { ok: boolean } }).database.ok).toBe(false);
    // The test reaches Postgres directly: nothing of the refused submit was stored.
    expect(await prisma.message.count({ where: { text: "Written while the database was away." } })).toBe(0);

    await proxy.open();
    await waitFor(async () => (await page()).status === 200, "the page to come back", 60_000);
    const retried = await api(`/${task.id}`, { text: "Written while the database was away." }, "outage-submit-1");
    expect(retried.status).toBe(200);
    expect(await prisma.message.count({ where: { text: "Written while the database was away." } })).toBe(1);
    expect((await prisma.task.findUniqueOrThrow({ where: { id: task.id } })).state).toBe("done");
    // The same process throughout.
    expect(server.child.pid).toBe(pid);
    expect(server.child.exitCode).toBeNull();
  });
});
