// The demo policy the repository carries (training/assets/demo-policy) is what its generator
// makes: training/demo-policy.ts run again gives the same files, byte for byte, and a validation
// loss far below the random model's. Slow (the whole training run: minutes on 2 cores).

import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { buildDemoPolicy, DEMO_POLICY_DIR } from "../../training/demo-policy";
import { removeTempDirs, tempDir } from "../inference/tiny-model";

afterAll(removeTempDirs);

function files(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
}

it("the generator reproduces the committed demo policy", { timeout: 3_600_000 }, async () => {
  const out = path.join(tempDir(), "demo-policy");
  const { result, randomValidationLoss } = await buildDemoPolicy(out);
  expect(result.status).toBe("completed");
  expect(result.metrics.validationLoss!).toBeLessThan(randomValidationLoss - 2);
  expect(files(out).sort()).toEqual(files(DEMO_POLICY_DIR).sort());
  for (const f of files(out)) expect(readFileSync(path.join(out, f)).equals(readFileSync(path.join(DEMO_POLICY_DIR, f))), f).toBe(true);
});
