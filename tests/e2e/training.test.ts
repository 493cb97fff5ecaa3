// A manager starts an SFT run from the Training page, watches its progress move on the run page,
// sees the loss chart drawn by uPlot, and the finished run links its registered policy.
import fs from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { env } from "~/env.server.ts";
import { launchBrowser, screenshot, signIn } from "../helpers/browser.ts";
import { startWebServer, startWorkers, type RunningProcess } from "../helpers/server.ts";
import { trainingProject } from "../helpers/training.ts";
import { addToProject, createTestUser } from "../helpers/users.ts";

let server: Awaited<ReturnType<typeof startWebServer>>;
let workers: RunningProcess;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let setup: Awaited<ReturnType<typeof trainingProject>>;

beforeAll(async () => {
  setup = await trainingProject("trainui");
  server = await startWebServer();
  workers = startWorkers({ ORT_INTRA_OP_THREADS: "1" });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([server?.stop(), workers?.stop()]);
  fs.rmSync(env().DATA_DIR, { recursive: true, force: true });
});

it("starts a run, shows live progress and the loss chart, and links the trained model", { timeout: 600_000 }, async () => {
  const { password, user } = await createTestUser();
  await addToProject(setup.project.id, user.id, "manager");
  const page = await browser.context.newPage();
  await signIn(page, `${server.url}/login?redirectTo=/projects/trainui`, user.email, password);
  await page.waitForURL(/\/projects\/trainui$/);
  await page.click('nav >> text="Training"');
  await page.waitForURL(/\/training$/);
  await expect.poll(() => page.locator("body").textContent()).toContain("No runs yet.");

  // The SFT form offers the SFT export, not the pairwise one, and says why.
  expect(await page.locator('input[name="exportId"]').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value))).toEqual([setup.sft.id]);
  expect(await page.locator("fieldset").filter({ hasText: "Export snapshots" }).textContent()).toContain(
    "Not offered here: exports in pairwise_trl, which Supervised fine-tuning does not read.",
  );
  // The reward model's form offers the pairwise export.
  await page.click('nav[aria-label="Kind of run"] >> text="Reward model"');
  await expect.poll(() => page.locator('input[name="exportId"]').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value))).toEqual([setup.pairs.id]);
  await page.click('nav[aria-label="Kind of run"] >> text="Supervised fine-tuning"');
  await expect.poll(() => page.locator('input[name="exportId"]').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value))).toEqual([setup.sft.id]);

  // Without a snapshot chosen: refused with the reason; nothing starts.
  await page.selectOption('select[name="baseModelId"]', setup.base.id);
  await page.click('button:has-text("Start training")');
  await expect.poll(() => page.locator('[role="alert"]').textContent()).toContain("Choose at least one export snapshot.");
  await expect.poll(() => page.locator("body").textContent()).toContain("No runs yet.");

  await page.check(`input[name="exportId"][value="${setup.sft.id}"]`);
  await page.selectOption('select[name="baseModelId"]', setup.base.id);
  await page.fill('input[name="maxSteps"]', "60");
  await page.fill('input[name="learningRate"]', "0.003");
  await page.fill('input[name="batchSize"]', "4");
  await page.fill('input[name="maxLength"]', "192");
  await page.fill('input[name="evalEvery"]', "20");
  await page.fill('input[name="warmupRatio"]', "0");
  await page.click('button:has-text("Start training")');
  await page.waitForURL(/\/training\/[0-9a-f-]{36}$/);

  const step = page.locator('[data-testid="step"]');
  await expect.poll(async () => Number(await step.textContent()), { timeout: 90_000 }).toBeGreaterThan(0);
  const first = Number(await step.textContent());
  await expect.poll(async () => Number(await step.textContent()), { timeout: 60_000 }).toBeGreaterThan(first);
  // uPlot draws into a canvas once there are points.
  await expect.poll(() => page.locator('[data-chart="Loss"] canvas').count(), { timeout: 30_000 }).toBe(1);
  await screenshot(page, "training-run-live");

  await expect.poll(() => page.locator("body").textContent(), { timeout: 120_000 }).toContain("succeeded");
  await expect.poll(() => page.locator('[data-chart="Loss"] .u-legend').textContent()).toContain("validation loss");
  await expect.poll(() => page.locator("body").textContent()).toMatch(/sft-trainui-[0-9a-f]{8}/);
  expect(await page.locator('[data-testid="log"]').textContent()).toContain("registered sft-trainui-");
  const box = await page.locator('[data-chart="Loss"] canvas').boundingBox();
  expect(box!.width).toBeGreaterThan(200);
  await screenshot(page, "training-run-done");

  await page.click('text="← Training"');
  await expect.poll(() => page.locator("tbody tr").first().textContent()).toMatch(/sft.*succeeded.*60\/60.*base-trainui.*sft_messages/);
});
