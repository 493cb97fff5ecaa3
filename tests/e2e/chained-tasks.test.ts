// A labeler works through tasks of every type in a row, as people do: submit → next, skip → next,
// and back and forward. Every task page must start from its own task (empty editor, no answer
// ticked, the task's own replies in the task's order), and what is stored must be what was
// entered on that task's page.
// Answers given before the page's scripts ran survive hydration.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { prisma } from "~/db.server.ts";
import { CHOOSABLE_TASK_TYPES } from "~/models/labeling/dashboard.server.ts";
import { seedDemoTrees } from "~/models/demo-trees.server.ts";
import { requestTask } from "~/models/labeling/tasks.server.ts";
import { submitPrompt } from "~/models/labeling/writing.server.ts";
import { createProject } from "~/models/project.server.ts";
import { TASK_TYPE_INFO, type TaskType } from "~/domain/tasks/task-types.ts";
import { launchBrowser, screenshot } from "../helpers/browser.ts";
import { startWebServer } from "../helpers/server.ts";
import { addToProject, createTestUser } from "../helpers/users.ts";

let server: Awaited<ReturnType<typeof startWebServer>>;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;

beforeAll(async () => {
  server = await startWebServer();
  browser = await launchBrowser();
  page = await browser.context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const PASSWORD = "correct horse battery";
const PER_TYPE = 12;
const UNLIMITED = { count: 100_000, windowSeconds: 60 };

const taskIdOf = (url: string) => /\/tasks\/([0-9a-f-]{36})/.exec(url)?.[1] ?? null;

async function untilUrlChanges(action: () => Promise<void>) {
  const before = page.url();
  await action();
  await page.waitForURL((url) => url.toString() !== before);
}

/** The order the ranking board shows, top first, and the order the form would send. */
async function rankingState() {
  const shown = await page.$$eval('[data-testid="rank-item"]', (els) => els.map((e) => e.getAttribute("data-message-id")!));
  const sent = JSON.parse(await page.inputValue('#task-form input[name="order"]')) as string[][];
  return { shown, sent };
}

/** Asserts the page shows this task and nothing entered on an earlier one. */
async function expectFresh(taskId: string, type: TaskType) {
  await page.waitForSelector(`.task-page[data-task-id="${taskId}"]`);
  const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId } });
  expect(task.type).toBe(type);
  expect(await page.getAttribute(".task-page", "data-task-type")).toBe(type);
  if (task.messageId) {
    const last = page.locator(".conversation .bubble").last();
    expect(await last.getAttribute("data-message-id")).toBe(task.messageId);
  }
  const kind = TASK_TYPE_INFO[type].kind;
  if (kind === "prompt" || kind === "reply") {
    expect(await page.inputValue('#task-form textarea[name="text"]')).toBe("");
  }
  if (kind === "label") {
    expect(await page.locator("#task-form input:checked").count()).toBe(0);
  }
  if (kind === "rank") {
    const { shown, sent } = await rankingState();
    expect(shown).toEqual(task.siblingIds);
    expect(sent).toEqual(task.siblingIds.map((id) => [id]));
    expect(await page.isChecked('#task-form input[name="notRankable"]')).toBe(false);
  }
}

/** Fills the form with answers particular to this task and returns what must be stored. */
async function answer(taskId: string, type: TaskType, n: number): Promise<(userId: string) => Promise<void>> {
  const kind = TASK_TYPE_INFO[type].kind;
  if (kind === "prompt" || kind === "reply") {
    const text = `Answer ${n} for ${type} on task ${taskId}: a short, specific text that only this task gets.`;
    await page.fill('#task-form textarea[name="text"]', text);
    return async () => {
      const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId } });
      expect(task.state).toBe("done");
      const written = await prisma.message.findUniqueOrThrow({ where: { id: task.resultMessageId! } });
      expect(written.text).toBe(text);
      if (task.messageId) expect(written.parentId).toBe(task.messageId);
    };
  }
  if (kind === "label") {
    // A different answer on every task: the n-th choice of each question, wrapping around.
    const expected: Record<string, number> = {};
    const fieldsets = page.locator("#task-form fieldset.label-field");
    for (let i = 0; i < (await fieldsets.count()); i++) {
      const radios = fieldsets.nth(i).locator('input[type="radio"]');
      const choice = radios.nth((n + i) % (await radios.count()));
      await choice.check();
      expected[(await choice.getAttribute("name"))!.slice("label.".length)] = Number(await choice.getAttribute("value"));
    }
    const flags = page.locator('#task-form .label-field.flag input[type="checkbox"]');
    for (let i = 0; i < (await flags.count()); i++) {
      const on = (n + i) % 2 === 0;
      if (on) await flags.nth(i).check();
      expected[(await flags.nth(i).getAttribute("name"))!.slice("label.".length)] = on ? 1 : 0;
    }
    return async (userId) => {
      const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId } });
      expect(task.state).toBe("done");
      const label = await prisma.label.findUniqueOrThrow({ where: { messageId_userId: { messageId: task.messageId!, userId } } });
      expect(label.taskId).toBe(taskId);
      expect(label.values).toEqual(expected);
    };
  }
  // Ranking: move the last reply to the top with its buttons.
  const { shown } = await rankingState();
  const last = shown[shown.length - 1];
  for (let i = shown.length - 1; i > 0; i--) {
    await page.click(`[data-testid="rank-item"][data-message-id="${last}"] button[aria-label$=" up"]`);
  }
  const expected = [last, ...shown.slice(0, -1)];
  await expect.poll(async () => (await rankingState()).shown).toEqual(expected);
  expect((await rankingState()).sent).toEqual(expected.map((id) => [id]));
  return async (userId) => {
    const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId } });
    expect(task.state).toBe("done");
    const ranking = await prisma.ranking.findUniqueOrThrow({ where: { parentMessageId_userId: { parentMessageId: task.messageId!, userId } } });
    expect(ranking.taskId).toBe(taskId);
    expect(ranking.order).toEqual(expected.map((id) => [id]));
  };
}

// About 50 s of browser work on a quiet 2-core machine; the suite's other files share those cores.
it("starts every task fresh through long runs of submits, skips and back/forward", { timeout: 300_000 }, async () => {
  const project = await createProject({
    slug: "chain",
    name: "Chained tasks",
    workflowConfig: {
      rankPrompterReplies: true,
      maxActiveTrees: 14,
      rateLimits: { taskRequests: UNLIMITED, replies: { assistant: UNLIMITED, prompter: UNLIMITED } },
    },
  });
  await seedDemoTrees(project.id, { initialPromptReview: 14, growing: 14, ranking: 14 });
  const { user } = await createTestUser({ email: "chain@e2e.test", password: PASSWORD, name: "Chain" });
  await addToProject(project.id, user.id, "labeler");

  await page.goto(`${server.url}/login`);
  await page.fill('input[name="email"]', "chain@e2e.test");
  await page.fill('input[name="password"]', PASSWORD);
  await untilUrlChanges(() => page.click('button[type="submit"]'));

  for (const type of CHOOSABLE_TASK_TYPES) {
    await page.goto(`${server.url}/projects/chain`);
    await page.selectOption('select[name="type"]', type);
    await untilUrlChanges(() => page.click('button:has-text("Start labeling")'));
    const seen = new Set<string>();
    for (let n = 0; n < PER_TYPE; n++) {
      const taskId = taskIdOf(page.url());
      expect(taskId, `a ${type} task (${n + 1} of ${PER_TYPE})`).not.toBeNull();
      expect(seen.has(taskId!)).toBe(false);
      seen.add(taskId!);
      await expectFresh(taskId!, type);

      if (n % 4 === 3) {
        // Skip, after entering something that must not follow the labeler to the next task.
        await answer(taskId!, type, n);
        await untilUrlChanges(() => page.click('button:has-text("Skip this task")'));
        expect((await prisma.task.findUniqueOrThrow({ where: { id: taskId! } })).state).toBe("skipped");
        await expect.poll(() => page.textContent('[role="status"]')).toContain("Skipped");
        continue;
      }
      const check = await answer(taskId!, type, n);
      if (n === 1) await screenshot(page, `chain-${type}-filled`);
      await untilUrlChanges(() => page.click('#task-form button[type="submit"]'));
      await check(user.id);
      await expect.poll(() => page.textContent('[role="status"]')).toContain("Saved");
      if (n === 1) await screenshot(page, `chain-${type}-next`);

      if (n === 5) {
        // Back to the submitted task, then forward again: the new task's page is still fresh.
        const next = page.url();
        await page.goBack();
        await expect.poll(() => page.textContent("body")).toContain("already submitted");
        await page.goForward();
        await page.waitForURL(next);
        await expectFresh(taskIdOf(next)!, type);
      }
    }
  }
});

// On a slow connection a labeler answers before the page's scripts have run; hydration must keep
// those answers, and the submit must store them.
it("keeps label answers given before the page's scripts ran", { timeout: 120_000 }, async () => {
  const project = await createProject({ slug: "early", name: "Early answers" });
  // A prompt to review, written by someone else.
  const { user: writer } = await createTestUser({ email: "early-writer@e2e.test", password: PASSWORD, name: "Writer" });
  await addToProject(project.id, writer.id, "labeler");
  const write = (await requestTask({ projectId: project.id, userId: writer.id, type: "initial_prompt" }))!;
  await submitPrompt(project.id, write.id, writer.id, { text: "How do tides work, and why are there two a day?" });
  const { user } = await createTestUser({ email: "early@e2e.test", password: PASSWORD, name: "Early" });
  await addToProject(project.id, user.id, "labeler");
  await browser.context.clearCookies();
  await page.goto(`${server.url}/login`);
  await page.fill('input[name="email"]', "early@e2e.test");
  await page.fill('input[name="password"]', PASSWORD);
  await untilUrlChanges(() => page.click('button[type="submit"]'));
  await page.goto(`${server.url}/projects/early`);
  await page.selectOption('select[name="type"]', "label_initial_prompt");
  await untilUrlChanges(() => page.click('button:has-text("Start labeling")'));
  const taskId = taskIdOf(page.url())!;

  // The same page loaded again with its scripts held back until the answers are in.
  let releaseScripts!: () => void;
  const scriptsHeld = new Promise<void>((resolve) => (releaseScripts = resolve));
  await page.route("**/assets/**/*.js", async (route) => {
    await scriptsHeld;
    await route.continue();
  });
  await page.goto(page.url(), { waitUntil: "domcontentloaded" });
  expect(await page.evaluate(() => "__remixRouter" in window)).toBe(false);
  const check = await answer(taskId, "label_initial_prompt", 1);
  const chosen = await page.$$eval("#task-form input:checked", (els) => els.map((e) => `${(e as HTMLInputElement).name}=${(e as HTMLInputElement).value}`));
  releaseScripts();
  await page.waitForFunction(() => "__remixRouter" in window);
  await page.unroute("**/assets/**/*.js");
  // Hydration runs after the router exists; give React its frame.
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0))));
  expect(await page.$$eval("#task-form input:checked", (els) => els.map((e) => `${(e as HTMLInputElement).name}=${(e as HTMLInputElement).value}`))).toEqual(chosen);
  await untilUrlChanges(() => page.click('#task-form button[type="submit"]'));
  await check(user.id);
});
