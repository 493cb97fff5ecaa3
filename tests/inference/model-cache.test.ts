// The worker's model cache: jobs of several queues share one process, so a model a job holds is
// never disposed under it, however many others are loaded meanwhile; idle ones are dropped.

import { afterAll, expect, it } from "vitest";
import { disposeModels, leaseModel, loadedModelDirs } from "../../workers/model-cache";
import { removeTempDirs, writeTinyModel } from "./tiny-model";

afterAll(async () => {
  await disposeModels();
  removeTempDirs();
});

it("keeps a leased model usable while others load, and drops only idle ones", async () => {
  const [a, b, c] = [1, 2, 3].map((seed) => writeTinyModel({ seed }).dir);
  const prompt = { prompts: [[{ role: "prompter" as const, text: "hello" }]], k: 1, seed: 5, maxNewTokens: 4 };

  const held = await leaseModel(a, 1);
  const before = await held.model.generate(prompt);
  for (const dir of [b, c]) (await leaseModel(dir, 1)).release();
  // Three loaded, over the idle limit of two, but `a` is held: `b`, the oldest idle one, went.
  expect(loadedModelDirs()).toEqual([a, c]);
  const during = await held.model.generate(prompt);
  expect(during.results[0].completions[0].text).toBe(before.results[0].completions[0].text);

  held.release();
  held.release(); // a second release changes nothing
  const again = await leaseModel(b, 1);
  expect(loadedModelDirs()).toEqual([c, b]);
  again.release();
});
