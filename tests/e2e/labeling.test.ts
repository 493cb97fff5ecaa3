// The labeling loop in a real browser on a small project (goal tree size 3, 1 review, 3 rankings):
// a prompt is written and accepted, two replies are written and accepted, three labelers rank
// them (one by drag and drop, one by keyboard, one by drag), and the tree reaches
// ready_for_export with its consensus ranks on the tree page.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { prisma } from "~/db.server.ts";
import { createProject } from "~/models/project.server.ts";
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

async function signInAs(email: string) {
  await browser.context.clearCookies();
  await signIn(page, `${server.url}/login`, email, PASSWORD);
  await page.waitForURL(`${server.url}/`);
}

/** From the project page: choose a task type and start. */
async function startTask(slug: string, type: string) {
  await page.goto(`${server.url}/projects/${slug}`);
  await page.selectOption('select[name="type"]', type);
  await page.click('button:has-text("Start labeling")');
  await page.waitForURL(/\/tasks\/[0-9a-f-]{36}/);
}

async function submitAndWait() {
  const before = page.url();
  await page.click('#task-form button[type="submit"]');
  await page.waitForURL((url) => url.toString() !== before);
}

/** Reply ids as the ranking board shows them, top first. */
const shownOrder = () => page.$$eval('[data-testid="rank-item"]', (els) => els.map((e) => e.getAttribute("data-message-id")!));

/** Puts `id` at the bottom with its ↓ button, so the real gesture then has to bring it up. */
async function moveToBottom(id: string) {
  const order = await shownOrder();
  if (order[order.length - 1] !== id) await page.click(`[data-message-id="${id}"] button[aria-label^="Move reply"][aria-label$="down"]`);
  expect((await shownOrder()).at(-1)).toBe(id);
}

async function dragToTop(id: string) {
  await moveToBottom(id);
  const handle = page.locator(`[data-testid="rank-item"][data-message-id="${id}"] .drag-handle`);
  const top = page.locator('[data-testid="rank-item"]').first();
  const from = (await handle.boundingBox())!;
  const to = (await top.boundingBox())!;
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(from.x + from.width / 2, from.y - 10, { steps: 5 });
  await page.mouse.move(to.x + 40, to.y + 5, { steps: 15 });
  await page.mouse.up();
  await expect.poll(async () => (await shownOrder())[0]).toBe(id);
}

async function keyboardToTop(id: string) {
  await moveToBottom(id);
  await page.focus(`[data-testid="rank-item"][data-message-id="${id}"] .drag-handle`);
  // Like a person: dnd-kit measures the new position on the next frames.
  for (const key of ["Space", "ArrowUp", "Space"]) {
    await page.keyboard.press(key);
    await page.waitForTimeout(250);
  }
  await expect.poll(async () => (await shownOrder())[0]).toBe(id);
}

it("runs a tree from prompt to consensus in the browser", async () => {
  const slug = "e2e-labeling";
  const project = await createProject({
    slug,
    name: "Helpfulness study",
    workflowConfig: { goalTreeSize: 3, reviewsPerPrompt: 1, reviewsPerReply: 1, rankingsPerSiblingSet: 3 },
  });
  const people: Record<string, string> = {};
  for (const name of ["author", "reviewer", "writer1", "writer2", "ranker"]) {
    const { user } = await createTestUser({ email: `${name}@e2e.test`, password: PASSWORD, name });
    await addToProject(project.id, user.id, "labeler");
    people[name] = user.id;
  }
  await createTestUser({ email: "admin@e2e.test", password: PASSWORD, role: "admin", name: "Admin" });

  // A prompt, with markdown and an attempted script injection, previewed safely.
  await signInAs("author@e2e.test");
  await startTask(slug, "initial_prompt");
  const prompt = "Explain **recursion** to a child. <script>window.__injected = true</script> <img src=x onerror=\"window.__injected=true\">";
  await page.fill('textarea[name="text"]', prompt);
  await page.click('button[role="tab"]:has-text("Preview")');
  await expect.poll(() => page.locator('[data-testid="preview"] strong').textContent()).toBe("recursion");
  expect(await page.locator('[data-testid="preview"] script, [data-testid="preview"] img').count()).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __injected?: boolean }).__injected)).toBeUndefined();
  await screenshot(page, "labeling-prompt-preview");
  await page.click('button[role="tab"]:has-text("Write")');
  await page.focus('textarea[name="text"]');
  const before = page.url();
  await page.keyboard.press("Control+Enter");
  await page.waitForURL((url) => url.toString() !== before);
  const tree = await prisma.messageTree.findFirstOrThrow({ where: { projectId: project.id } });
  expect(tree.state).toBe("initial_prompt_review");
  const root = await prisma.message.findFirstOrThrow({ where: { treeId: tree.id, parentId: null } });
  expect(root.text).toBe(prompt);

  // Review: accepted, so the tree grows.
  await signInAs("reviewer@e2e.test");
  await startTask(slug, "label_initial_prompt");
  expect(await page.textContent(".bubble.highlight")).toContain("recursion");
  await page.check('input[name="label.spam"][value="0"]');
  await page.check('input[name="label.quality"][value="0.75"]');
  await screenshot(page, "labeling-review");
  await submitAndWait();
  await expect.poll(async () => (await prisma.messageTree.findUniqueOrThrow({ where: { id: tree.id } })).state).toBe("growing");

  // Two assistant replies.
  for (const [who, text] of [
    ["writer1", "Recursion is when something is defined using **itself**, like a picture inside the same picture."],
    ["writer2", "It is a loop."],
  ]) {
    await signInAs(`${who}@e2e.test`);
    await startTask(slug, "assistant_reply");
    expect(await page.textContent(".conversation")).toContain("Explain recursion");
    await page.fill('textarea[name="text"]', text);
    await submitAndWait();
  }
  const replies = await prisma.message.findMany({ where: { treeId: tree.id, parentId: { not: null } } });
  const good = replies.find((r) => r.authorUserId === people.writer1)!.id;
  const weak = replies.find((r) => r.authorUserId === people.writer2)!.id;

  // Both replies reviewed: the tree has its goal size and moves to ranking.
  await signInAs("reviewer@e2e.test");
  await startTask(slug, "label_assistant_reply");
  for (let i = 0; i < 2; i++) {
    await page.check('input[name="label.spam"][value="0"]');
    await submitAndWait();
  }
  await expect.poll(async () => (await prisma.messageTree.findUniqueOrThrow({ where: { id: tree.id } })).state).toBe("ranking");

  // Three rankings: by drag, by keyboard, by drag.
  const plan: Array<[string, string, (id: string) => Promise<void>]> = [
    ["author", good, dragToTop],
    ["reviewer", weak, keyboardToTop],
    ["ranker", good, dragToTop],
  ];
  for (const [who, best, gesture] of plan) {
    await signInAs(`${who}@e2e.test`);
    await startTask(slug, "rank_assistant_replies");
    await expect.poll(() => page.locator('[data-testid="rank-item"]').count()).toBe(2);
    await gesture(best);
    if (who === "reviewer") await screenshot(page, "labeling-ranking");
    await submitAndWait();
    const ranking = await prisma.ranking.findFirstOrThrow({ where: { userId: people[who], parentMessageId: root.id } });
    expect((ranking.order as string[][])[0]).toEqual([best]);
  }
  await expect.poll(async () => (await prisma.messageTree.findUniqueOrThrow({ where: { id: tree.id } })).state).toBe("ready_for_export");
  const ranked = await prisma.message.findMany({ where: { treeId: tree.id, parentId: { not: null } } });
  expect(Object.fromEntries(ranked.map((m) => [m.id, m.consensusRank]))).toEqual({ [good]: 0, [weak]: 1 });

  // The tree page shows the state and the consensus ranks.
  await signInAs("admin@e2e.test");
  await page.goto(`${server.url}/projects/${slug}/trees`);
  await page.click(`[data-testid="tree-list"] a`);
  await page.waitForURL(/\/trees\/[0-9a-f-]{36}/);
  expect(await page.textContent('[data-testid="tree-state"]')).toBe("ready for export");
  expect(await page.textContent(`[data-message-id="${good}"] [data-testid="consensus-rank"]`)).toBe("consensus rank 1");
  expect(await page.textContent(`[data-message-id="${weak}"] [data-testid="consensus-rank"]`)).toBe("consensus rank 2");
  // The consensus table names each reply by its start as the reader sees it, without markdown marks.
  expect(await page.locator('[data-testid="consensus-reply"]').allTextContents()).toEqual([
    "Recursion is when something is defined using itself, like a…",
    "It is a loop.",
  ]);
  await screenshot(page, "labeling-tree-consensus");

  // The project page: open tasks, contributions, the leaderboard.
  await page.goto(`${server.url}/projects/${slug}?period=all_time`);
  await expect.poll(() => page.textContent('[data-testid="leaderboard"]')).toContain("writer1");
  await screenshot(page, "labeling-dashboard");
});
