// The Imports and Datasets pages in a real browser against the production build: an upload whose
// bad lines are reported on its own page (grouped, collapsed, a page at a time), a good one, the
// list of imports with their counts, an export followed to the end, and its download.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { launchBrowser, screenshot } from "../../helpers/browser.ts";
import { startWebServer } from "../../helpers/server.ts";
import { addToProject, createTestUser } from "../../helpers/users.ts";
import { closeAll, datasetProject, startWorkers } from "./harness.ts";

let server: Awaited<ReturnType<typeof startWebServer>>;
let browser: Awaited<ReturnType<typeof launchBrowser>>;

beforeAll(async () => {
  startWorkers();
  server = await startWebServer();
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await closeAll();
});

it("a manager imports prompts, exports them and downloads the file", async () => {
  const project = await datasetProject("pages");
  const manager = await createTestUser({ name: "Grace" });
  await addToProject(project.id, manager.user.id, "manager");
  const [name, value] = manager.cookie.split("=");
  await browser.context.addCookies([{ name, value, url: server.url }]);
  const page = await browser.context.newPage();

  const dir = path.resolve(env().DATA_DIR, "inputs");
  fs.mkdirSync(dir, { recursive: true });
  const bad = path.join(dir, "prompts-bad.jsonl");
  // 120 refused lines of one kind, 40 of another, 30 skipped with a warning, 2 good prompts.
  const badLines = [
    '"What is 2 + 2?"',
    ...Array.from({ length: 120 }, () => '{"prompt": 5}'),
    ...Array.from({ length: 40 }, (_, i) => `{"prompt": "unterminated ${i}`),
    ...Array.from({ length: 30 }, () => '""'),
    '"Name a colour."',
  ];
  fs.writeFileSync(bad, `${badLines.join("\n")}\n`);
  const good = path.join(dir, "prompts.jsonl");
  fs.writeFileSync(good, '"What is 2 + 2?"\n"Name a colour."\n{"prompt": "Why is the sky blue?"}\n');

  await page.goto(`${server.url}/projects/pages/imports`);
  await page.setInputFiles('input[name="file"]', bad);
  await page.selectOption('select[name="format"]', "prompts");
  await page.click('button:has-text("Import")');
  // The upload leads to the import's own page, which follows it to the end.
  await page.waitForURL(/\/projects\/pages\/imports\/[0-9a-f-]{36}$/);
  await expect.poll(() => page.textContent("body"), { timeout: 30_000 }).toContain("failed");
  expect(await page.textContent('[aria-label="Status"]')).toContain("none imported (file rejected) · 30 warned (30 skipped) · 160 refused");
  const refused = page.locator('section[aria-label="Refused lines"] details');
  expect(await refused.count()).toBe(2);
  expect(await refused.first().locator("summary").textContent()).toBe("prompt: must be a string or a list of {role, content} messages — 120 lines");
  expect(await refused.nth(1).locator("summary").textContent()).toMatch(/^malformed JSON: .* — 40 lines$/);
  expect(await page.locator('section[aria-label="Warnings"] summary').textContent()).toBe("a text is empty (skipped) — 30 lines");
  // Every group starts collapsed: the page stays short.
  expect(await page.locator("details[open]").count()).toBe(0);
  expect(await page.evaluate(() => document.documentElement.scrollHeight)).toBeLessThan(1_200);
  await refused.first().locator("summary").click();
  expect(await refused.first().locator("tbody tr").count()).toBe(50);
  expect(await refused.first().locator("tbody tr").first().textContent()).toBe("2prompt: must be a string or a list of {role, content} messages");
  await refused.first().locator('a:has-text("Next")').click();
  await expect.poll(() => page.url()).toContain("page=2");
  // The address changes before React renders the new page: wait for the list itself.
  await expect.poll(() => page.locator("details[open] nav").textContent()).toContain("page 2 of 3");
  expect(await page.locator("details[open]").count()).toBe(1);
  expect(await page.locator("details[open] tbody tr").first().textContent()).toMatch(/^52prompt/);
  await screenshot(page, "datasets-import-report");
  expect(await prisma.message.count({ where: { projectId: project.id } })).toBe(0);

  await page.goto(`${server.url}/projects/pages/imports`);
  await page.setInputFiles('input[name="file"]', good);
  await page.selectOption('select[name="format"]', "prompts");
  await page.click('button:has-text("Import")');
  await page.waitForURL(/\/imports\/[0-9a-f-]{36}$/);
  await expect.poll(() => page.textContent('[aria-label="Status"]'), { timeout: 30_000 }).toContain("succeeded");
  expect(await page.textContent('[aria-label="Status"]')).toContain("created 3 trees, 3 messages, 3 prompts");

  // The list: one row per import, newest first, with its counts.
  await page.goto(`${server.url}/projects/pages/imports`);
  const rows = page.locator('table[aria-label="Imports"] tbody tr');
  expect(await rows.count()).toBe(2);
  expect(await rows.first().textContent()).toContain("3 imported · 0 warned · 0 refused");
  expect(await rows.nth(1).textContent()).toContain("none imported (file rejected) · 30 warned (30 skipped) · 160 refused");
  await screenshot(page, "datasets-imports");

  await page.goto(`${server.url}/projects/pages/datasets`);
  await page.selectOption('select[name="format"]', "prompts_text");
  await page.fill('input[name="validationRatio"]', "0");
  await page.click("summary:has-text('Filters')");
  await page.check('input[name="treeStates"][value="prompt_lottery_waiting"]');
  await page.click('button:has-text("Export")');
  await expect.poll(async () => (await page.locator("tbody tr").first().textContent()) ?? "", { timeout: 30_000 }).toContain("succeeded");
  expect(await page.locator("tbody tr").first().textContent()).toContain("3 train · 0 validation");
  await screenshot(page, "datasets-exports");

  const href = await page.locator('a:has-text("train.jsonl")').getAttribute("href");
  const response = await page.request.get(`${server.url}${href}`);
  expect(response.status()).toBe(200);
  const lines = (await response.text()).trim().split("\n").map((l) => JSON.parse(l) as { prompt: string });
  expect(lines.map((l) => l.prompt).sort()).toEqual(["Name a colour.", "What is 2 + 2?", "Why is the sky blue?"]);
});
