// The demo policy the repository carries (training/assets/demo-policy) is what its generator
// makes: training/demo-policy.ts run again gives the same training state at every segment boundary
// recorded in assets/demo-policy.manifest.json and the same files, byte for byte, with a validation
// loss far below the random model's. On a machine whose CPU kernels round differently (floatKernels)
// the run must be the one the manifest recorded for those kernels, state for state. Slow (the
// whole training run: minutes on 2 cores).

import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { readGpt2ModelDir } from "../../inference/models/gpt2-dir";
import {
  buildDemoPolicy,
  DEMO_POLICY_DIR,
  DEMO_POLICY_MANIFEST,
  DEMO_POLICY_MODEL,
  DEMO_POLICY_SEGMENT,
  DEMO_POLICY_THREADS,
  DEMO_POLICY_TRAINING,
  floatKernels,
  weightsSha256,
  type DemoPolicyManifest,
} from "../../training/demo-policy";
import { removeTempDirs, tempDir } from "../inference/tiny-model";

afterAll(removeTempDirs);

const manifest = JSON.parse(readFileSync(DEMO_POLICY_MANIFEST, "utf8")) as DemoPolicyManifest;

function files(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
}
const fileHashes = (dir: string) => Object.fromEntries(files(dir).sort().map((f) => [f, createHash("sha256").update(readFileSync(path.join(dir, f))).digest("hex")]));

it("the manifest was made by the current generator and describes the committed model", () => {
  expect(manifest.model).toEqual(DEMO_POLICY_MODEL);
  expect(manifest.training).toEqual(DEMO_POLICY_TRAINING);
  expect([manifest.segment, manifest.threads]).toEqual([DEMO_POLICY_SEGMENT, DEMO_POLICY_THREADS]);
  manifest.segments.slice(0, -1).forEach((s, i) => expect(s.step).toBe((i + 1) * DEMO_POLICY_SEGMENT));
  expect(fileHashes(DEMO_POLICY_DIR)).toEqual(manifest.files);
  // The committed weights are the end of the recorded run.
  expect(weightsSha256(readGpt2ModelDir(DEMO_POLICY_DIR).weights)).toBe(manifest.segments.at(-1)!.weights);
});

it("the generator reproduces the committed demo policy", { timeout: 3_600_000 }, async () => {
  const out = path.join(tempDir(), "demo-policy");
  const { result, randomValidationLoss, segments } = await buildDemoPolicy(out);
  expect(result.status).toBe("completed");
  expect(result.metrics.validationLoss!).toBeLessThan(randomValidationLoss - 2);
  expect(files(out).sort()).toEqual(files(DEMO_POLICY_DIR).sort());
  const elsewhere = manifest.segmentsByKernels?.[floatKernels()];
  if (elsewhere && JSON.stringify(segments) !== JSON.stringify(manifest.segments)) {
    // Kernels that round differently from those the committed model was made with: the run is
    // the one recorded for them, state for state; the files without weights are the same bytes.
    expect(segments).toEqual(elsewhere);
    for (const f of files(out).filter((f) => !f.endsWith(".onnx"))) expect(readFileSync(path.join(out, f)).equals(readFileSync(path.join(DEMO_POLICY_DIR, f))), f).toBe(true);
    expect(Math.abs(result.metrics.validationLoss! - manifest.validation.loss)).toBeLessThan(0.1);
    return;
  }
  expect(segments).toEqual(manifest.segments);
  for (const f of files(out)) expect(readFileSync(path.join(out, f)).equals(readFileSync(path.join(DEMO_POLICY_DIR, f))), f).toBe(true);
});
