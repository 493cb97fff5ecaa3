// The Imports and Datasets pages in a real browser against the production build: an upload whose
// bad line is reported, a good one, an export followed to the end, and its download.
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
  fs.writeFileSync(bad, '"What is 2 + 2?"\n{"prompt": 5}\n"Name a colour."\n');
  const good = path.join(dir, "prompts.jsonl");
  fs.writeFileSync(good, '"What is 2 + 2?"\n"Name a colour."\n{"prompt": "Why is the sky blue?"}\n');

  await page.goto(`${server.url}/projects/pages/imports`);
  await page.setInputFiles('input[name="file"]', bad);
  await page.selectOption('select[name="format"]', "prompts");
  await page.click('button:has-text("Import")');
  await expect.poll(() => page.textContent("body"), { timeout: 30_000 }).toContain("failed");
  await expect.poll(() => page.textContent("table")).toContain("prompt: must be a string or a list");
  expect(await prisma.message.count({ where: { projectId: project.id } })).toBe(0);

  await page.setInputFiles('input[name="file"]', good);
  await page.selectOption('select[name="format"]', "prompts");
  await page.click('button:has-text("Import")');
  await expect.poll(async () => (await page.locator("tbody tr").first().textContent()) ?? "", { timeout: 30_000 }).toContain("succeeded");
  expect(await page.locator("tbody tr").first().textContent()).toContain("created 3 trees, 3 messages, 3 prompts");
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
