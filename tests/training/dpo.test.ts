// DPO on a tiny policy: the first step's loss is the loss of a policy equal to its reference (ln 2,
// 1/(4β²), 1 for the three losses), the graph's metrics equal the same formulas in JavaScript, it
// learns a separable preference (held-out reward accuracy and loss), a stopped run resumes to the
// weights of an uninterrupted one, and unusable input is refused with its reason.

import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readGpt2ModelDir } from "../../inference/models/gpt2-dir";
import { Rng } from "../../inference/sampling/rng";
import { DPO_METADATA_FILE, DpoInputError, parseDpoConfig, trainDpo, type DpoRunContext } from "../../training/dpo";
import type { RankedSet } from "../../training/reward/data";
import { ConfigError } from "../../training/sft-config";
import { removeTempDirs, tempDir, writeTinyModel } from "../inference/tiny-model";

afterAll(removeTempDirs);

const POLICY = writeTinyModel({ seed: 7 }).dir;

/** K = 3 replies per prompt: the best from GOOD letters, the worst from BAD ones, the middle mixed; lengths random. */
function separableSets(n: number, seed: number): RankedSet[] {
  const rng = new Rng(seed);
  const pick = (alphabet: string) => alphabet[Math.floor(rng.nextFloat() * alphabet.length)];
  const reply = (good: number) => Array.from({ length: 3 + Math.floor(rng.nextFloat() * 6) }, () => pick(rng.nextFloat() < good ? "abcde" : "vwxyz")).join("");
  return Array.from({ length: n }, (_, i) => ({
    id: `s${seed}-${i}`,
    group: `t${seed}-${i}`,
    prompt: [{ role: "prompter" as const, text: `Q${i}?` }],
    completions: [
      { text: reply(0.5), rank: 1 },
      { text: reply(0), rank: 2 },
      { text: reply(1), rank: 0 },
    ],
    line: i + 1,
  }));
}

function recorder(checkpointDir: string, stopAt?: number) {
  const steps: Record<string, number>[] = [];
  const logged = new Map<number, Record<string, number>>();
  let last = 0;
  const ctx: DpoRunContext = {
    checkpointDir,
    progress: (step, _total, m) => {
      steps.push(m);
      last = step;
    },
    logMetrics: (step, values) => void logged.set(step, { ...logged.get(step), ...values }),
    shouldStop: () => stopAt !== undefined && last >= stopAt,
  };
  return { ctx, steps, logged };
}

const TRAIN = separableSets(48, 1);
const VALIDATION = separableSets(16, 2);
const train = (config: Record<string, number>, ctx: DpoRunContext, sets = TRAIN) => {
  const outputDir = tempDir();
  return { outputDir, result: trainDpo({ policyDir: POLICY, train: sets, validation: VALIDATION, outputDir, config: parseDpoConfig({ pairsPerBatch: 8, lr: 1e-3, warmupRatio: 0, ...config }), intraOpThreads: 1 }, ctx) };
};

describe("DPO", () => {
  it("starts at the loss of a policy equal to its reference, for each loss", async () => {
    for (const [loss, expected] of [
      [1, Math.LN2],
      [2, 1 / (4 * 0.1 ** 2)],
      [3, 1],
    ] as const) {
      const rec = recorder(tempDir());
      await train({ steps: 1, loss, evalEvery: 1 }, rec.ctx).result;
      expect(rec.steps[0].loss).toBeCloseTo(expected, 4);
      expect(rec.steps[0]["rewards/margins"]).toBeCloseTo(0, 5);
      expect(rec.logged.get(1)!.eval_loss).toBeLessThan(loss === 1 ? Math.LN2 : expected);
    }
  }, 120_000);

  it("learns a separable preference: held-out reward accuracy, margins and loss; TRL's metric names every step", async () => {
    const rec = recorder(tempDir());
    const { outputDir, result } = train({ epochs: 2, evalEvery: 6 }, rec.ctx);
    const r = await result;
    expect(r.status).toBe("completed");
    expect(r.data.pairs).toBe(48 * 3);
    for (const name of ["rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected"]) {
      expect(rec.steps.every((s) => Number.isFinite(s[name])), name).toBe(true);
    }
    const last = r.evaluations.at(-1)!.evaluation;
    expect(last.pairs).toBe(16 * 3);
    expect(last.metrics["rewards/accuracies"]).toBeGreaterThan(0.9);
    expect(last.metrics["rewards/margins"]).toBeGreaterThan(0);
    expect(last.loss).toBeLessThan(0.5);
    const meta = JSON.parse(readFileSync(path.join(outputDir, DPO_METADATA_FILE), "utf8"));
    expect([meta.loss, meta.beta, meta.steps]).toEqual(["sigmoid", 0.1, r.step]);
    expect(readGpt2ModelDir(outputDir).head).toBe("lm");
  }, 180_000);

  it("a stopped run resumes to the weights of an uninterrupted run", async () => {
    const config = { steps: 4, checkpointEvery: 2, evalEvery: 4 };
    const whole = train(config, recorder(tempDir()).ctx);
    await whole.result;
    const dir = tempDir();
    expect((await train(config, recorder(dir, 2).ctx).result).status).toBe("stopped");
    const second = train(config, recorder(dir).ctx);
    expect((await second.result).resumedFrom).toBe(2);
    const a = readGpt2ModelDir(whole.outputDir).weights;
    const b = readGpt2ModelDir(second.outputDir).weights;
    for (const [name, t] of a) expect(Buffer.from((b.get(name)!.data as Float32Array).buffer).equals(Buffer.from((t.data as Float32Array).buffer)), name).toBe(true);
  }, 180_000);

  it("refuses pairs that do not fit and settings that do not go together", async () => {
    const long = separableSets(2, 3).map((s) => ({ ...s, prompt: [{ role: "prompter" as const, text: "x".repeat(400) }] }));
    await expect(train({ steps: 1 }, recorder(tempDir()).ctx, long).result).rejects.toThrow(DpoInputError);
    await expect(train({ steps: 1, maxLength: 64 }, recorder(tempDir()).ctx, long).result).rejects.toThrow(/no preference pair fits within 64 tokens \(2 sets read, 6 pairs over length, 0 with identical replies\)/);
    // Ranked differently but written the same: skipped and counted.
    const same = separableSets(4, 4).map((set) => ({ ...set, completions: set.completions.map((c) => ({ ...c, text: "same" })) }));
    await expect(train({ steps: 1 }, recorder(tempDir()).ctx, same).result).rejects.toThrow(/0 pairs over length, 12 with identical replies/);
    const mixed = await train({ steps: 1, evalEvery: 1 }, recorder(tempDir()).ctx, [...same, ...TRAIN.slice(0, 4)]).result;
    expect(mixed.data).toMatchObject({ pairs: 12, identical: 12 });
    expect(() => parseDpoConfig({ loss: 2, labelSmoothing: 0.1 })).toThrow(ConfigError);
    expect(() => parseDpoConfig({ beta: 0 })).toThrow(/beta must be between/);
  });
});
