// A manager starts an RLOO run from the Training page: the kind's form asks for an SFT policy and a
// reward model beside the prompt snapshots, a reward model with another chat template is refused
// with the reason, and the finished run page plots reward, KL, entropy, clip fractions and losses and
// links the registered policy.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { env } from "~/env.server.ts";
import { initGpt2Weights } from "../../inference/models/gpt2.ts";
import { writeGpt2ModelDir } from "../../inference/models/gpt2-dir.ts";
import { bytesOnlyTokenizerJson } from "../../inference/tokenizer/byte-level.ts";
import { DEMO_SPECIAL_TOKENS, EOT } from "../../inference/tokenizer/demo-tokenizer.ts";
import { launchBrowser, screenshot, signIn } from "../helpers/browser.ts";
import { startWebServer, startWorkers, type RunningProcess } from "../helpers/server.ts";
import { promptsSnapshot, TINY_BASE, tinyRewardModel, trainingProject } from "../helpers/training.ts";
import { addToProject, createTestUser } from "../helpers/users.ts";

let server: Awaited<ReturnType<typeof startWebServer>>;
let workers: RunningProcess;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let setup: Awaited<ReturnType<typeof trainingProject>>;
let prompts: Awaited<ReturnType<typeof promptsSnapshot>>;
let rm: Awaited<ReturnType<typeof tinyRewardModel>>;
let foreign: Awaited<ReturnType<typeof tinyRewardModel>>;

beforeAll(async () => {
  setup = await trainingProject("rlui");
  prompts = await promptsSnapshot(setup.project.id);
  rm = await tinyRewardModel(setup.project.id, setup.base, "rm-rlui");
  const other = path.resolve(env().DATA_DIR, "models", "rlui-other-template");
  writeGpt2ModelDir(other, { config: TINY_BASE, weights: initGpt2Weights(TINY_BASE, 1), tokenizer: bytesOnlyTokenizerJson([...DEMO_SPECIAL_TOKENS]), specialTokens: { bos: EOT, eos: EOT, pad: EOT } });
  foreign = await tinyRewardModel(setup.project.id, setup.base, "rm-rlui-other", { tokenizerFrom: other });
  server = await startWebServer();
  workers = startWorkers({ ORT_INTRA_OP_THREADS: "1" });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([server?.stop(), workers?.stop()]);
  fs.rmSync(env().DATA_DIR, { recursive: true, force: true });
});

it("starts an RLOO run with a reward model and shows its reward, KL and policy charts", { timeout: 600_000 }, async () => {
  const { password, user } = await createTestUser();
  await addToProject(setup.project.id, user.id, "manager");
  const page = await browser.context.newPage();
  await signIn(page, `${server.url}/login?redirectTo=/projects/rlui/training?kind=rloo`, user.email, password);
  await page.waitForURL((url) => url.pathname === "/projects/rlui/training" && url.search === "?kind=rloo");
  await expect.poll(() => page.locator('input[name="kind"]').inputValue(), { timeout: 30_000 }).toBe("rloo");
  expect(await page.locator('input[name="samplesPerPrompt"]').inputValue()).toBe("4");

  const fill = async (rewardModelId: string) => {
    await page.check(`input[name="exportId"][value="${prompts.id}"]`);
    await page.selectOption('select[name="baseModelId"]', setup.base.id);
    await page.selectOption('select[name="rewardModelId"]', rewardModelId);
    for (const [name, value] of Object.entries({ iterations: "3", promptsPerIteration: "4", maxNewTokens: "4", lr: "0.0003", epochs: "2", evalPrompts: "8", evalEvery: "1" })) {
      await page.fill(`input[name="${name}"]`, value);
    }
    await page.click('button:has-text("Start training")');
  };
  await fill(foreign.id);
  await expect.poll(() => page.locator('[role="alert"]').textContent(), { timeout: 30_000 }).toContain("has another chat template than base-rlui");

  await fill(rm.id);
  await page.waitForURL(/\/training\/[0-9a-f-]{36}$/, { timeout: 30_000 });
  await expect.poll(() => page.locator("body").textContent(), { timeout: 300_000 }).toContain("succeeded");
  for (const chart of ["Reward", "KL to the reference", "Entropy", "Clip fraction", "Losses"]) {
    await expect.poll(() => page.locator(`[data-chart="${chart}"] canvas`).count(), { timeout: 30_000 }).toBe(1);
  }
  expect(await page.locator('[data-chart="Reward"] .u-legend').textContent()).toMatch(/score \(rollouts\).*held-out score/);
  expect(await page.locator('[data-testid="rl-summary"]').textContent()).toMatch(/held-out score -?\d+\.\d{3} → -?\d+\.\d{3}/);
  expect(await page.locator("body").textContent()).toMatch(/rloo-rlui-[0-9a-f]{8} \(policy, parent base-rlui\)/);
  expect(await page.locator("body").textContent()).toContain("Reward model: rm-rlui");
  await screenshot(page, "rloo-run-done");
});
