// A manager starts a reward-model run from the Training page (the kind's own hyperparameters with
// their defaults), and the finished run page plots pairwise accuracy beside the length baselines
// and the margin, shows the calibration table and links the registered reward model.
import fs from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { env } from "~/env.server.ts";
import { launchBrowser, screenshot, signIn } from "../helpers/browser.ts";
import { startWebServer, startWorkers, type RunningProcess } from "../helpers/server.ts";
import { kwaySnapshot, trainingProject } from "../helpers/training.ts";
import { addToProject, createTestUser } from "../helpers/users.ts";

let server: Awaited<ReturnType<typeof startWebServer>>;
let workers: RunningProcess;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let setup: Awaited<ReturnType<typeof trainingProject>>;
let kway: Awaited<ReturnType<typeof kwaySnapshot>>;

beforeAll(async () => {
  setup = await trainingProject("rmui");
  kway = await kwaySnapshot(setup.project.id);
  server = await startWebServer();
  workers = startWorkers({ ORT_INTRA_OP_THREADS: "1" });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([server?.stop(), workers?.stop()]);
  fs.rmSync(env().DATA_DIR, { recursive: true, force: true });
});

it("starts a reward run and shows its accuracy and margin charts and calibration", { timeout: 600_000 }, async () => {
  const { password, user } = await createTestUser();
  await addToProject(setup.project.id, user.id, "manager");
  const page = await browser.context.newPage();
  await signIn(page, `${server.url}/login?redirectTo=/projects/rmui/training`, user.email, password);
  await page.waitForURL((url) => url.pathname === "/projects/rmui/training");
  await page.click('nav[aria-label="Kind of run"] >> text="Reward model"');
  await page.waitForURL(/\?kind=reward$/);
  // The URL changes as the navigation commits; the form re-renders right after.
  await expect.poll(() => page.locator('input[name="kind"]').inputValue()).toBe("reward");
  expect(await page.locator('input[name="lr"]').inputValue()).toBe("0.000009");
  expect(await page.locator("body").textContent()).toContain("InstructGPT's 6B reward model: 9e-6");

  await page.check(`input[name="exportId"][value="${kway.id}"]`);
  await page.selectOption('select[name="baseModelId"]', setup.base.id);
  for (const [name, value] of Object.entries({ steps: "6", promptsPerBatch: "4", lr: "0.001", warmupRatio: "0", evalEvery: "3" })) await page.fill(`input[name="${name}"]`, value);
  await page.click('button:has-text("Start training")');
  await page.waitForURL(/\/training\/[0-9a-f-]{36}$/);
  await expect.poll(() => page.locator("body").textContent(), { timeout: 180_000 }).toContain("succeeded");
  await expect.poll(() => page.locator('[data-chart="Pairwise accuracy"] canvas').count(), { timeout: 30_000 }).toBe(1);
  expect(await page.locator('[data-chart="Pairwise accuracy"] .u-legend').textContent()).toMatch(/validation.*longer reply wins.*shorter reply wins/);
  expect(await page.locator('[data-chart="Margin (r_w − r_l)"] .u-legend').textContent()).toContain("validation");
  expect(await page.locator('section[aria-label="Calibration"] tbody tr').count()).toBeGreaterThan(0);
  expect(await page.locator('[data-testid="reward-summary"]').textContent()).toMatch(/validation accuracy \d\.\d{3} on \d+ pairs/);
  expect(await page.locator("body").textContent()).toMatch(/reward-rmui-[0-9a-f]{8} \(reward model, parent base-rmui\)/);
  await screenshot(page, "reward-run-done");
});
