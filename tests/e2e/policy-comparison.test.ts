// A manager compares two policies in the browser: picks them, a reward model, a prompt snapshot,
// the number of prompts and a seed; the page follows the worker's progress, then shows the replies
// side by side with scores and lengths, the means and the win rate; the manager promotes B.
import fs from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import type { ComparisonResult } from "~/domain/sampling/comparison.ts";
import { launchBrowser, screenshot, signIn } from "../helpers/browser.ts";
import { comparisonProject } from "../helpers/comparison.ts";
import { startWebServer, startWorkers, type RunningProcess } from "../helpers/server.ts";
import { addToProject, createTestUser } from "../helpers/users.ts";

let server: Awaited<ReturnType<typeof startWebServer>>;
let workers: RunningProcess;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let setup: Awaited<ReturnType<typeof comparisonProject>>;

beforeAll(async () => {
  setup = await comparisonProject("cmpui");
  server = await startWebServer();
  workers = startWorkers({ ORT_INTRA_OP_THREADS: "1", SAMPLING_SCHEDULE_SECONDS: "0" });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([server?.stop(), workers?.stop()]);
  fs.rmSync(env().DATA_DIR, { recursive: true, force: true });
});

it("compares two policies side by side with reward-model scores, lengths and the win rate, and promotes B", { timeout: 300_000 }, async () => {
  const { password, user } = await createTestUser();
  await addToProject(setup.project.id, user.id, "manager");
  const page = await browser.context.newPage();
  await signIn(page, `${server.url}/login?redirectTo=/projects/cmpui/compare`, user.email, password);
  await page.waitForURL((url) => url.pathname === "/projects/cmpui/compare");

  // A training run's page links here with its base and its output preselected.
  await page.goto(`${server.url}/projects/cmpui/compare?a=${setup.base.id}&b=${setup.other.id}`);
  expect(await page.locator('select[name="policyAId"]').inputValue()).toBe(setup.base.id);
  expect(await page.locator('select[name="policyBId"]').inputValue()).toBe(setup.other.id);
  await page.selectOption('select[name="rewardModelId"]', setup.reward.id);
  await page.selectOption('select[name="exportId"]', setup.prompts.id);
  await page.fill('input[name="prompts"]', "4");
  await page.fill('input[name="seed"]', "7");
  await page.click('button:has-text("Compare")');
  await page.waitForURL(/\/compare\/[0-9a-f-]{36}$/);
  await expect.poll(() => page.locator("body").textContent(), { timeout: 240_000 }).toContain("succeeded");

  const id = page.url().split("/").at(-1)!;
  const result = (await prisma.policyComparison.findUniqueOrThrow({ where: { id } })).result as unknown as ComparisonResult;
  const s = result.summary;
  await expect.poll(() => page.locator('[data-testid="win-rate"]').textContent()).toContain(s.winRateB!.toFixed(3));
  const summary = page.locator('[data-testid="comparison-summary"]');
  expect(await summary.locator('tr[data-side="A"]').textContent()).toContain(s.meanScoreA!.toFixed(3));
  expect(await summary.locator('tr[data-side="B"]').textContent()).toContain(s.meanScoreB!.toFixed(3));
  expect(await summary.locator('tr[data-side="B"]').textContent()).toContain(s.meanTokensB.toFixed(1));

  const rows = page.locator('[data-testid="comparison-rows"] tbody tr');
  expect(await rows.count()).toBe(4);
  const first = rows.first();
  expect(await first.textContent()).toContain(setup.prompts.validation[0]);
  expect(await first.textContent()).toContain("seed 7");
  expect(await first.locator('td[data-side="A"] [data-testid="reply-figures"]').textContent()).toContain(`score ${result.rows[0].a.score!.toFixed(3)} · ${result.rows[0].a.tokens} tokens`);
  expect(await first.locator('td[data-side="B"] [data-testid="reply-figures"]').textContent()).toContain(`score ${result.rows[0].b.score!.toFixed(3)} · ${result.rows[0].b.tokens} tokens`);
  await screenshot(page, "policy-comparison");

  await page.click('tr[data-side="B"] button:has-text("Make B the active policy")');
  await expect.poll(() => page.locator('[role="status"]').textContent()).toContain(`${setup.other.name} is now the active policy`);
  expect((await prisma.project.findUniqueOrThrow({ where: { id: setup.project.id } })).activePolicyId).toBe(setup.other.id);
  await page.goto(`${server.url}/projects/cmpui/sampling`);
  expect(await page.locator('[data-testid="active-policy"]').textContent()).toBe(setup.other.name);
  // The list of comparisons carries each one's win rate.
  await page.goto(`${server.url}/projects/cmpui/compare`);
  expect(await page.locator(`tr[data-comparison-id="${id}"]`).textContent()).toContain(s.winRateB!.toFixed(3));
});
