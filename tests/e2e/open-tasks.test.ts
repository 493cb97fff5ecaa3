// A labeler's open tasks in a real browser: the first choice in a task's form marks it started,
// the project page lists the tasks held (started or not) with Continue and Release, and
// releasing one — from the list or from the task page — frees it; asked for a kind of task it
// holds the only place of, the next-task page links to the held task.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { prisma } from "~/db.server.ts";
import { createProject } from "~/models/project.server.ts";
import { requestTask } from "~/models/labeling/tasks.server.ts";
import { submitPrompt } from "~/models/labeling/writing.server.ts";
import { launchBrowser, screenshot, signIn } from "../helpers/browser.ts";
import { startWebServer } from "../helpers/server.ts";
import { addToProject, createTestUser } from "../helpers/users.ts";

let server: Awaited<ReturnType<typeof startWebServer>>;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;

beforeAll(async () => {
  server = await startWebServer();
  browser = await launchBrowser();
  page = await browser.context.newPage();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const PASSWORD = "correct horse battery";
const task = (id: string) => prisma.task.findUniqueOrThrow({ where: { id } });

it("lists the labeler's open tasks on the project page and releases them", async () => {
  const slug = "e2e-open-tasks";
  const project = await createProject({ slug, name: "Sourdough help", workflowConfig: { reviewsPerPrompt: 1 } });
  const author = await createTestUser({ email: "author@open.test", password: PASSWORD, name: "author" });
  const labeler = await createTestUser({ email: "labeler@open.test", password: PASSWORD, name: "labeler" });
  await addToProject(project.id, author.user.id, "labeler");
  await addToProject(project.id, labeler.user.id, "labeler");
  const question = "My sourdough starter smells of nail polish after a week in the fridge. Is it ruined, and how do I revive it?";
  const t = await requestTask({ projectId: project.id, userId: author.user.id, type: "initial_prompt" });
  await submitPrompt(project.id, t!.id, author.user.id, { text: question });
  // A new-prompt task the labeler reserved and never opened.
  const unopened = (await requestTask({ projectId: project.id, userId: labeler.user.id, type: "initial_prompt" }))!;

  await signIn(page, `${server.url}/login`, "labeler@open.test", PASSWORD);
  await page.waitForURL(`${server.url}/`);

  // A review, opened from the project page: reserved, not started until the first choice.
  await page.goto(`${server.url}/projects/${slug}`);
  await page.selectOption('select[name="type"]', "label_initial_prompt");
  await page.click('button:has-text("Start labeling")');
  await page.waitForURL(/\/tasks\/[0-9a-f-]{36}/);
  const reviewId = page.url().match(/tasks\/([0-9a-f-]{36})/)![1];
  expect(await page.textContent('[data-testid="task-hold"]')).toContain("goes back to the others 15 minutes later");
  expect((await task(reviewId)).startedAt).toBeNull();
  await screenshot(page, "open-tasks-task-page");
  await page.check('input[name="label.spam"][value="0"]');
  await expect.poll(async () => (await task(reviewId)).startedAt).not.toBeNull();

  // The project page lists both, oldest first.
  await page.goto(`${server.url}/projects/${slug}`);
  const rows = page.locator('[data-testid="my-open-tasks"] tbody tr');
  await expect.poll(() => rows.count()).toBe(2);
  const unopenedRow = page.locator(`tr[data-task-id="${unopened.id}"]`);
  const reviewRow = page.locator(`tr[data-task-id="${reviewId}"]`);
  expect(await unopenedRow.textContent()).toMatch(/Write a new prompt.*A new conversation.*just now.*Not started.*goes back in 1[45] min/);
  expect(await reviewRow.textContent()).toMatch(/Review a prompt.*My sourdough starter smells.*just now.*Started.*kept 47 h more/);
  // The open-tasks table counts them as the labeler's beside what they could get.
  const forYou = async (name: string) => page.locator('[data-testid="open-tasks"] tr', { hasText: name }).locator("td").nth(2).textContent();
  expect([await forYou("Review a prompt"), await forYou("Write a new prompt")]).toEqual(["0 · you hold 1", "0 · you hold 1"]);
  await screenshot(page, "open-tasks-project-page");

  // Release from the list: the task is free again, the other stays.
  await unopenedRow.locator('button:has-text("Release")').click();
  await page.waitForURL(/released=1/);
  expect(await page.textContent('[role="status"]')).toContain("Released");
  await expect.poll(() => rows.count()).toBe(1);
  expect((await task(unopened.id)).state).toBe("released");

  // Continue the review, then let it go from its own page.
  await reviewRow.locator('a:has-text("Continue")').click();
  await page.waitForURL(new RegExp(`/tasks/${reviewId}`));
  expect(await page.textContent(".bubble.highlight")).toContain("sourdough");
  expect(await page.locator('[data-testid="task-hold"]').count()).toBe(0); // started: no "goes back" warning
  await page.click('button:has-text("Release for now")');
  await page.waitForURL(new RegExp(`/projects/${slug}\\?released=1`));
  expect(await page.locator('[data-testid="my-open-tasks"]').count()).toBe(0);
  expect((await task(reviewId)).state).toBe("released");
  // Released, not skipped: the same review is offered again.
  await page.selectOption('select[name="type"]', "label_initial_prompt");
  await page.click('button:has-text("Start labeling")');
  await page.waitForURL(/\/tasks\/[0-9a-f-]{36}/);
  expect(await page.textContent(".bubble.highlight")).toContain("sourdough");
});

it("an open task page keeps its task while visible, and says when the task went to someone else", async () => {
  const slug = "e2e-heartbeat";
  const project = await createProject({ slug, name: "Heartbeats", workflowConfig: { reviewsPerPrompt: 1 } });
  const author = await createTestUser({ email: "author@beat.test", password: PASSWORD, name: "author" });
  const other = await createTestUser({ email: "other@beat.test", password: PASSWORD, name: "other" });
  await createTestUser({ email: "labeler@beat.test", password: PASSWORD, name: "labeler" }).then((u) => addToProject(project.id, u.user.id, "labeler"));
  await addToProject(project.id, author.user.id, "labeler");
  await addToProject(project.id, other.user.id, "labeler");
  const t = await requestTask({ projectId: project.id, userId: author.user.id, type: "initial_prompt" });
  await submitPrompt(project.id, t!.id, author.user.id, { text: "Which houseplants survive a dark hallway?" });

  await browser.context.clearCookies();
  await signIn(page, `${server.url}/login`, "labeler@beat.test", PASSWORD);
  await page.waitForURL(`${server.url}/`);
  await page.goto(`${server.url}/projects/${slug}`);
  await page.selectOption('select[name="type"]', "label_initial_prompt");
  await page.click('button:has-text("Start labeling")');
  await page.waitForURL(/\/tasks\/[0-9a-f-]{36}/);
  const id = page.url().match(/tasks\/([0-9a-f-]{36})/)![1];

  // A minute of the hold left; the page coming back into view renews it.
  await prisma.$executeRaw`UPDATE tasks SET expires_at = (now() AT TIME ZONE 'UTC') + interval '1 minute' WHERE id = ${id}::uuid`;
  await page.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
  // The page reports through a request of its own: give it the time a busy machine takes.
  await expect.poll(async () => (await task(id)).expiresAt.getTime() - Date.now(), { timeout: 15_000 }).toBeGreaterThan(10 * 60_000);

  // Left past its window and taken by someone else: the next report says so on the page.
  await prisma.$executeRaw`UPDATE tasks SET expires_at = (now() AT TIME ZONE 'UTC') - interval '1 minute' WHERE id = ${id}::uuid`;
  const taken = await requestTask({ projectId: project.id, userId: other.user.id, type: "label_initial_prompt" });
  expect(taken).not.toBeNull();
  await page.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
  await expect.poll(() => page.locator('[data-testid="task-lost"]').textContent(), { timeout: 15_000 }).toMatch(/left unstarted for more than 15 minutes, and meanwhile its place was taken/);
  await screenshot(page, "open-tasks-lost");
  await page.click('[data-testid="task-lost"] a:has-text("Get a new task")');
  await page.waitForURL(new RegExp(`/projects/${slug}/tasks$`));
});

it("asked for a kind of task whose only place the labeler holds, the next-task page points to the held task", async () => {
  const slug = "e2e-held-only";
  const project = await createProject({ slug, name: "Held only", workflowConfig: { reviewsPerPrompt: 1 } });
  const author = await createTestUser({ email: "author@held.test", password: PASSWORD, name: "author" });
  const labeler = await createTestUser({ email: "labeler@held.test", password: PASSWORD, name: "labeler" });
  await addToProject(project.id, author.user.id, "labeler");
  await addToProject(project.id, labeler.user.id, "labeler");
  const t = await requestTask({ projectId: project.id, userId: author.user.id, type: "initial_prompt" });
  await submitPrompt(project.id, t!.id, author.user.id, { text: "How long should a cast-iron pan be seasoned in the oven?" });
  // The prompt's one review place, reserved by the labeler (say, in another tab).
  const held = (await requestTask({ projectId: project.id, userId: labeler.user.id, type: "label_initial_prompt" }))!;

  await browser.context.clearCookies();
  await signIn(page, `${server.url}/login`, "labeler@held.test", PASSWORD);
  await page.waitForURL(`${server.url}/`);
  await page.goto(`${server.url}/projects/${slug}/tasks`);
  // The picker counts the held place as the labeler's, not as one they could get.
  expect(await page.locator('select[name="type"] option[value="label_initial_prompt"]').textContent()).toBe("Review a prompt (0 · you hold 1)");
  await page.selectOption('select[name="type"]', "label_initial_prompt");
  await page.click('button:has-text("Get a task")');
  const notice = page.locator('[data-testid="no-task"]');
  await expect.poll(() => notice.count()).toBe(1);
  expect(await notice.textContent()).toMatch(/No new "Review a prompt" task is available for you right now\. You hold one already: continue your "Review a prompt" task\./);
  await screenshot(page, "open-tasks-held-only");
  await notice.locator("a").click();
  await page.waitForURL(new RegExp(`/tasks/${held.id}`));
  expect(await page.textContent(".bubble.highlight")).toContain("cast-iron");

  // Nothing held of the kind asked for: the notice says to pick another kind.
  await page.goto(`${server.url}/projects/${slug}/tasks`);
  await page.selectOption('select[name="type"]', "rank_assistant_replies");
  await page.click('button:has-text("Get a task")');
  await expect.poll(() => notice.count()).toBe(1);
  expect(await notice.textContent()).toBe('No new "Rank assistant replies" task is available for you right now. Pick another kind, or come back later.');
  expect(await notice.locator("a").count()).toBe(0);
});
