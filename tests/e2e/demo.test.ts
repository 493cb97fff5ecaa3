// A newcomer's first minutes on a fresh start: the demo labeler signs in and finds every task
// type waiting in the demo project, and the first ranking orders several real replies.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { seedDemo } from "~/models/seed.server.ts";
import { taskTypeName } from "~/components/labeling/task-type-picker.tsx";
import { CHOOSABLE_TASK_TYPES } from "~/models/labeling/dashboard.server.ts";
import { launchBrowser, screenshot, signIn } from "../helpers/browser.ts";
import { startWebServer } from "../helpers/server.ts";

let server: Awaited<ReturnType<typeof startWebServer>>;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
const passwords = { admin: "demo admin password", labeler: "demo labeler password" };

beforeAll(async () => {
  await seedDemo(passwords);
  server = await startWebServer();
  browser = await launchBrowser();
  page = await browser.context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

it("offers the demo labeler every task type at once", async () => {
  await signIn(page, `${server.url}/login`, "labeler@demo.local", passwords.labeler);
  await page.waitForURL(`${server.url}/`);
  await screenshot(page, "demo-labeler-home");
  // One click from home to a task the project needs.
  await page.click('button[aria-label="Start labeling in Demo project"]');
  await page.waitForURL(/\/projects\/demo\/tasks\/[0-9a-f-]{36}/);
  await expect.poll(() => page.locator("#task-form").count()).toBe(1);

  await page.goto(`${server.url}/projects/demo`);
  const options = await page.locator('select[name="type"] option').allTextContents();
  for (const type of CHOOSABLE_TASK_TYPES) {
    const option = options.find((o) => o.startsWith(`${taskTypeName(type)} (`));
    expect(option, type).toBeDefined();
    // "Review a prompt (12)", or "(12 · you hold 1)" for the kind of the task just opened.
    expect(Number(/\((\d+)(?: · you hold \d+)?\)$/.exec(option!)![1]), type).toBeGreaterThan(0);
  }
  await screenshot(page, "demo-labeler-project");

  await page.selectOption('select[name="type"]', "rank_assistant_replies");
  await page.click('button:has-text("Start labeling")');
  await page.waitForURL(/\/tasks\/[0-9a-f-]{36}/);
  await expect.poll(() => page.locator('[data-testid="rank-item"]').count()).toBeGreaterThanOrEqual(2);
  await screenshot(page, "demo-first-ranking");
});
