// A manager starts an external run from the Training page: the form offers the configured
// commands by name (no argv or path field), and the run page shows the command's output while it
// runs, its progress lines as a loss chart, and the registered policy at the end.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { env } from "~/env.server.ts";
import { launchBrowser, screenshot } from "../helpers/browser.ts";
import { startWebServer, startWorkers, type RunningProcess } from "../helpers/server.ts";
import { trainingProject } from "../helpers/training.ts";
import { addToProject, createTestUser } from "../helpers/users.ts";

let server: Awaited<ReturnType<typeof startWebServer>>;
let workers: RunningProcess;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let setup: Awaited<ReturnType<typeof trainingProject>>;

beforeAll(async () => {
  setup = await trainingProject("extui");
  const commandsFile = path.resolve(env().DATA_DIR, "training-commands.json");
  const argv = [process.execPath, "--import", "tsx", "tests/helpers/external-trainer.ts", "{manifest_file}", "{config_file}"];
  fs.writeFileSync(
    commandsFile,
    JSON.stringify({ commands: { "tiny-trainer": { argv, cwd: process.cwd(), description: "the test trainer", produces: "policy", exportFormats: ["sft_messages"], timeoutSeconds: 300 } } }),
  );
  const extra = { RLHF_STUDIO_TRAINING_COMMANDS: commandsFile };
  server = await startWebServer(extra);
  workers = startWorkers({ ORT_INTRA_OP_THREADS: "1", ...extra });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([server?.stop(), workers?.stop()]);
  fs.rmSync(env().DATA_DIR, { recursive: true, force: true });
});

it("starts an external run by command name and streams its log into the run page", { timeout: 600_000 }, async () => {
  const { password, user } = await createTestUser();
  await addToProject(setup.project.id, user.id, "manager");
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/login?redirectTo=/projects/extui/training?kind=external`);
  await page.fill('input[name="email"]', user.email);
  await page.fill('input[name="password"]', password);
  await page.click('button[type="submit"]');
  await page.waitForURL((url) => url.pathname === "/projects/extui/training" && url.search === "?kind=external");
  await expect.poll(() => page.locator('input[name="kind"]').inputValue(), { timeout: 30_000 }).toBe("external");
  expect(await page.locator('form[aria-label="Start a training run"]').textContent()).toContain("tiny-trainer · writes a policy · reads sft_messages · timeout 300 s · the test trainer");
  expect(await page.locator('input[name="argv"], input[name="output_dir"], input[name="path"]').count()).toBe(0);

  await page.check('input[name="command"][value="tiny-trainer"]');
  await page.check(`input[name="exportId"][value="${setup.sft.id}"]`);
  await page.selectOption('select[name="baseModelId"]', setup.base.id);
  await page.fill('textarea[name="config"]', JSON.stringify({ steps: 40, stepMs: 300 }));
  await page.click('button:has-text("Start training")');
  await page.waitForURL(/\/training\/[0-9a-f-]{36}$/, { timeout: 30_000 });
  // The address changes before React renders the run's page: wait for its heading.
  await expect.poll(() => page.locator("h1").textContent()).toBe("External run: tiny-trainer");

  // Lines appear while the command still runs (the page polls while the run is live).
  await expect.poll(() => page.locator('[data-testid="log"]').textContent(), { timeout: 120_000 }).toMatch(/\{"step":\d+,"total":40,"loss"/);
  const whileRunning = await page.locator("body").textContent();
  expect(whileRunning).toMatch(/running|queued/);
  expect(whileRunning).not.toContain("succeeded");
  await screenshot(page, "external-run-live");

  await expect.poll(() => page.locator("body").textContent(), { timeout: 300_000 }).toContain("succeeded");
  await expect.poll(() => page.locator('[data-chart="loss"] canvas').count(), { timeout: 30_000 }).toBe(1);
  expect(await page.locator('[data-testid="log"]').textContent()).toContain("registered tiny-trainer-extui-");
  expect(await page.locator("body").textContent()).toMatch(/tiny-trainer-extui-[0-9a-f]{8} \(policy, parent base-extui\)/);
  expect(await page.locator('[data-testid="external-config"]').textContent()).toContain('"stepMs": 300');
  await screenshot(page, "external-run-done");
});
