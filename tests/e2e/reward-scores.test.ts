// An admin scores a project's replies from the reward model's page; the project page then shows
// how often the model agrees with the consensus on finished trees, and a finished tree's page shows
// each reply's reward score beside its consensus rank.
import fs from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { seedDemoTrees } from "~/models/demo-trees.server.ts";
import { launchBrowser, screenshot, signIn } from "../helpers/browser.ts";
import { startWebServer, startWorkers, type RunningProcess } from "../helpers/server.ts";
import { DEMO_POLICY_DIR, registeredRewardModel, trainingProject } from "../helpers/training.ts";
import { createTestUser } from "../helpers/users.ts";

let server: Awaited<ReturnType<typeof startWebServer>>;
let workers: RunningProcess;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let setup: Awaited<ReturnType<typeof trainingProject>>;
let rm: Awaited<ReturnType<typeof registeredRewardModel>>;

beforeAll(async () => {
  setup = await trainingProject("rmscores");
  await seedDemoTrees(setup.project.id);
  rm = await registeredRewardModel("rm-ui", DEMO_POLICY_DIR);
  server = await startWebServer();
  workers = startWorkers({ ORT_INTRA_OP_THREADS: "1" });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([server?.stop(), workers?.stop()]);
  fs.rmSync(env().DATA_DIR, { recursive: true, force: true });
});

it("scores the replies from the model page and shows scores and agreement where people look", { timeout: 600_000 }, async () => {
  const { password, user } = await createTestUser({ role: "admin" });
  const page = await browser.context.newPage();
  await signIn(page, `${server.url}/login?redirectTo=/admin/models`, user.email, password);
  await page.waitForURL(/\/admin\/models$/);
  await page.click('a:has-text("rm-ui")');
  await page.waitForURL(new RegExp(`/admin/reward-models/${rm.id}$`));
  await page.selectOption('select[name="projectId"]', setup.project.id);
  await page.click('button:has-text("Score replies")');
  await expect.poll(() => page.locator('[data-testid="scoring-summary"]').textContent().catch(() => ""), { timeout: 300_000 }).toMatch(/Scored \d+ of \d+ replies/);

  await page.goto(`${server.url}/projects/rmscores`);
  const row = page.locator('[data-testid="agreement-row"]');
  await expect.poll(() => row.count()).toBe(1);
  expect(await row.textContent()).toMatch(/^rm-ui\d+\.\d%\d+/);
  await screenshot(page, "reward-agreement");

  // A finished tree with a ranked, scored reply.
  const reply = await prisma.message.findFirstOrThrow({
    where: { projectId: setup.project.id, consensusRank: { not: null }, tree: { state: "ready_for_export" }, rewardScores: { some: {} } },
    include: { rewardScores: true },
  });
  await page.goto(`${server.url}/projects/rmscores/trees/${reply.treeId}`);
  const node = page.locator(`li[data-message-id="${reply.id}"] > .bubble`);
  expect(await node.locator('[data-testid="consensus-rank"]').textContent()).toBe(`consensus rank ${reply.consensusRank! + 1}`);
  expect(await node.locator('[data-testid="reward-badge"]').textContent()).toBe(`reward ${reply.rewardScores[0].score.toFixed(3)}`);
  await screenshot(page, "reward-scores-tree");
});

it("sets the project's ranking order to a reward model's uncertainty on the settings page, refusing it without a model", { timeout: 300_000 }, async () => {
  const { password, user } = await createTestUser({ role: "admin" });
  // Signed out of the first test's session: this admin signs in afresh.
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  await signIn(page, `${server.url}/login?redirectTo=/projects/rmscores/settings`, user.email, password);
  await page.waitForURL(/\/projects\/rmscores\/settings$/);
  const card = page.locator('[data-testid="ranking-order"]');
  expect(await card.locator('[data-testid="ranking-order-summary"]').textContent()).toBe("Now: sibling sets are offered for ranking at random.");

  await card.locator('select[name="mode"]').selectOption("uncertainty");
  await card.locator('button:has-text("Save ranking order")').click();
  await expect.poll(() => card.locator('[role="alert"]').textContent().catch(() => ""), { timeout: 60_000 }).toMatch(/The uncertainty order needs a reward model/);
  expect((await prisma.project.findUniqueOrThrow({ where: { id: setup.project.id } })).rankingOrder).toBe("random");

  await card.locator('select[name="mode"]').selectOption("uncertainty");
  await card.locator('select[name="rewardModelId"]').selectOption(rm.id);
  await card.locator('button:has-text("Save ranking order")').click();
  await expect
    .poll(() => page.locator('[data-testid="ranking-order-summary"]').textContent(), { timeout: 60_000 })
    .toBe("Now: sibling sets whose top rm-ui margin is smallest are offered for ranking first.");
  const stored = await prisma.project.findUniqueOrThrow({ where: { id: setup.project.id } });
  expect([stored.rankingOrder, stored.rankingRewardModelId]).toEqual(["uncertainty", rm.id]);
  await screenshot(page, "ranking-order-settings");
});
