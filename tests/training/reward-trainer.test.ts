// The reward-model trainer end to end on tiny models: it learns a separable preference (held-out
// accuracy well above chance and above the length baselines), centres the served scores on the
// demonstrations, serves the scores its training graph computes, and stops and resumes to the same
// model as an uninterrupted run.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Gpt2Config } from "../../inference/models/gpt2";
import { readGpt2ModelDir } from "../../inference/models/gpt2-dir";
import { Rng } from "../../inference/sampling/rng";
import { rankingBatch } from "../../training/batch";
import { rewardObjective } from "../../training/objectives";
import { Trainer } from "../../training/trainer";
import type { RankedSet } from "../../training/reward/data";
import { encodeRankedSets, modelDirTokenizer, RewardEncoder } from "../../training/reward/encode";
import { foldScoreBias } from "../../training/reward/model";
import { RewardScorer } from "../../training/reward/score";
import { REWARD_METADATA_FILE, RewardInputError, trainRewardModel, type RewardRunContext } from "../../training/reward/trainer";
import { NonFiniteError } from "../../training/trainer";
import { removeTempDirs, tempDir, writeTinyModel } from "../inference/tiny-model";

afterAll(removeTempDirs);

const GOOD = "abcde";
const BAD = "vwxyz";

/**
 * K = 3 replies per prompt: the best drawn from GOOD letters, the worst from BAD ones, the middle
 * half and half; lengths random (3–8), so length says nothing about rank.
 */
function separableSets(n: number, seed: number): RankedSet[] {
  const rng = new Rng(seed);
  const pick = (alphabet: string) => alphabet[Math.floor(rng.nextFloat() * alphabet.length)];
  const reply = (goodShare: number) => Array.from({ length: 3 + Math.floor(rng.nextFloat() * 6) }, () => pick(rng.nextFloat() < goodShare ? GOOD : BAD)).join("");
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

interface Recorded {
  ctx: RewardRunContext;
  progress: { step: number; total: number; metrics: Record<string, number> }[];
  logged: { step: number; values: Record<string, number> }[];
  evaluations: number[];
}

function context(checkpointDir: string, stopAt?: number): Recorded {
  const rec: Recorded = {
    progress: [],
    logged: [],
    evaluations: [],
    ctx: {
      checkpointDir,
      progress: (step, total, metrics) => void rec.progress.push({ step, total, metrics }),
      logMetrics: (step, values) => void rec.logged.push({ step, values }),
      evaluation: (step) => void rec.evaluations.push(step),
      shouldStop: () => stopAt !== undefined && rec.progress.at(-1)!.step >= stopAt,
    },
  };
  return rec;
}

const FRESH: Gpt2Config = { vocabSize: 260, nPositions: 48, nEmbd: 32, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5, bosTokenId: 0, eosTokenId: 0, padTokenId: 0 };

describe("reward-model trainer", () => {
  const tokenizerModel = writeTinyModel();
  const train = separableSets(160, 1);
  const validation = separableSets(40, 2);

  it("learns a separable preference: held-out accuracy far above chance and the length baselines; scores centred on the demonstrations", async () => {
    const out = tempDir();
    const rec = context(tempDir());
    const r = await trainRewardModel(
      {
        backbone: { config: FRESH, tokenizerDir: tokenizerModel.dir },
        train,
        validation,
        outputDir: out,
        hyper: { lr: 3e-3, promptsPerBatch: 8, epochs: 2, warmupRatio: 0.1, evalEvery: 10, seed: 3 },
        intraOpThreads: 1,
      },
      rec.ctx,
    );
    expect(r.status).toBe("completed");
    expect(r.totalSteps).toBe(40);
    expect(rec.progress.map((p) => p.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    for (const p of rec.progress) for (const v of Object.values(p.metrics)) expect(Number.isFinite(v)).toBe(true);
    // Every step's tokens: 8 sets of 3 replies, each prompt + reply + EOS.
    expect(rec.progress[0].metrics.tokens).toBeGreaterThan(8 * 3 * 8);
    expect(rec.evaluations).toEqual([10, 20, 30, 40]);
    expect(rec.logged.filter((l) => "eval_accuracy" in l.values).map((l) => l.step)).toEqual([10, 20, 30, 40]);
    expect(rec.logged.filter((l) => "loss" in l.values)).toHaveLength(40);
    expect(r.data.train).toMatchObject({ pairs: 480, pairsKept: 480, overLengthPairs: 0, setsDropped: 0 });

    const v = r.metadata!.validation!;
    expect(v.pairs).toBe(120);
    expect(v.accuracy).toBeGreaterThan(0.85);
    expect(v.accuracy).toBeGreaterThan(v.longer_wins_accuracy + 0.2);
    expect(v.accuracy).toBeGreaterThan(v.shorter_wins_accuracy + 0.2);
    expect(v.longer_wins_accuracy + v.shorter_wins_accuracy).toBeCloseTo(1, 12);
    expect(v.mean_margin).toBeGreaterThan(0);
    expect(v.calibration.reduce((a, b) => a + b.pairs, 0)).toBe(120);
    // The training-time evaluation of the last step is the served model's, up to the bias.
    const last = r.evaluations.at(-1)!.evaluation;
    expect(last.accuracy).toBeCloseTo(v.accuracy, 6);
    expect(last.mean_margin).toBeCloseTo(v.mean_margin, 3);

    // The demonstrations (every distinct training reply) average 0 on the served model.
    expect(r.metadata!.demonstrations).toBe(480);
    expect(Math.abs(r.metadata!.reward_mean)).toBeLessThan(1e-3);
    expect(r.metadata!.reward_std).toBeGreaterThan(0.1);
    expect(Math.abs(r.metadata!.bias)).toBeGreaterThan(1e-3);
    expect(JSON.parse(readFileSync(path.join(out, REWARD_METADATA_FILE), "utf8"))).toEqual(JSON.parse(JSON.stringify(r.metadata)));
    const hf = JSON.parse(readFileSync(path.join(out, "config.json"), "utf8"));
    expect(hf.architectures).toEqual(["GPT2ForSequenceClassification"]);
    expect(existsSync(path.join(out, "tokenizer.json"))).toBe(true);
  });

  it("serves the scores its training graph computes (1e-4), the folded bias included; backbone from a policy directory", async () => {
    const policy = writeTinyModel({ seed: 5 });
    const out = tempDir();
    const r = await trainRewardModel(
      { backbone: { modelDir: policy.dir }, train: train.slice(0, 40), outputDir: out, hyper: { lr: 1e-3, steps: 4, seed: 2 }, intraOpThreads: 1 },
      context(tempDir()).ctx,
    );
    expect(r.status).toBe("completed");
    const bias = r.metadata!.bias;

    const encoder = new RewardEncoder(modelDirTokenizer(out));
    const sets = encodeRankedSets(validation.slice(0, 6), encoder, 48).sets;
    const sequences = sets.flatMap((s) => s.sequences);
    const served = await RewardScorer.fromDir(out, { intraOpThreads: 1 });
    const servedScores = await served.score(sequences);
    await served.dispose();

    // The exported weights in the training step graph: its `rewards` metric is computed before the update.
    const { config, weights } = readGpt2ModelDir(out);
    const trainer = await Trainer.create({ config, objective: rewardObjective(3), weights, schedule: { peakLr: 1e-9, warmupSteps: 0, totalSteps: 1 }, intraOpThreads: 1 });
    const step = await trainer.trainStep([rankingBatch(sets, 3, { padTokenId: config.padTokenId })]);
    await trainer.dispose();
    const graphScores = step.metrics[0].rewards;
    expect(graphScores).toHaveLength(sequences.length);
    let spread = 0;
    graphScores.forEach((g, i) => {
      expect(Math.abs(g - servedScores[i])).toBeLessThan(1e-4);
      spread = Math.max(spread, Math.abs(g - graphScores[0]));
    });
    expect(spread).toBeGreaterThan(1e-3);

    // Without the fold, every score is higher by exactly the bias.
    const unfolded = await RewardScorer.forConfig(config, { intraOpThreads: 1 });
    unfolded.setWeights(foldScoreBias(weights, -bias));
    const raw = await unfolded.score(sequences);
    await unfolded.dispose();
    raw.forEach((v, i) => expect(Math.abs(v - bias - servedScores[i])).toBeLessThan(1e-4));
  });

  it("stops when asked (checkpoint saved) and resumes to the same model as an uninterrupted run", async () => {
    const spec = (outputDir: string) => ({
      backbone: { config: FRESH, tokenizerDir: tokenizerModel.dir },
      train: train.slice(0, 64),
      validation: validation.slice(0, 8),
      outputDir,
      hyper: { lr: 2e-3, steps: 8, promptsPerBatch: 4, checkpointEvery: 3, evalEvery: 4, seed: 4 },
      intraOpThreads: 1,
    });
    const whole = tempDir();
    await trainRewardModel(spec(whole), context(tempDir()).ctx);

    const ckpt = tempDir();
    const resumed = tempDir();
    const first = await trainRewardModel(spec(resumed), context(ckpt, 5).ctx);
    expect(first).toMatchObject({ status: "stopped", step: 5, modelDir: null });
    expect(existsSync(path.join(ckpt, "checkpoint-000005.ckpt"))).toBe(true);
    const rec = context(ckpt);
    const second = await trainRewardModel(spec(resumed), rec.ctx);
    expect(second).toMatchObject({ status: "completed", step: 8, resumedFrom: 5 });
    expect(rec.progress.map((p) => p.step)).toEqual([6, 7, 8]);
    expect(readFileSync(path.join(resumed, "onnx/model.onnx")).equals(readFileSync(path.join(whole, "onnx/model.onnx")))).toBe(true);
  });

  it("stops a diverging run at the step with the reason, and refuses unusable input by name", async () => {
    const base = { backbone: { config: FRESH, tokenizerDir: tokenizerModel.dir }, train: train.slice(0, 16), hyper: { steps: 2 }, intraOpThreads: 1 };
    // A centering coefficient this large overflows float32 in the first step's gradients.
    const diverged = trainRewardModel({ ...base, outputDir: tempDir(), hyper: { steps: 2, centering: 1e38 } }, context(tempDir()).ctx);
    await expect(diverged).rejects.toThrow(NonFiniteError);
    await expect(diverged).rejects.toThrow(/^step 1 refused: .* is (Infinity|NaN|not finite)/);

    const notAModel = trainRewardModel({ ...base, backbone: { modelDir: tempDir() }, outputDir: tempDir() }, context(tempDir()).ctx);
    await expect(notAModel).rejects.toThrow(RewardInputError);
    await expect(notAModel).rejects.toThrow(/^backbone: /);
    const tooLong = trainRewardModel({ ...base, outputDir: tempDir(), hyper: { steps: 2, maxLength: 8 } }, context(tempDir()).ctx);
    await expect(tooLong).rejects.toThrow(/no training set has a rankable pair within 8 tokens \(16 sets read, 48 of 48 pairs over length\)/);
    const noMargins = trainRewardModel({ ...base, outputDir: tempDir(), hyper: { steps: 2, margins: true } }, context(tempDir()).ctx);
    await expect(noMargins).rejects.toThrow(/margins were asked for, but the training data carries none/);
    const beyondContext = trainRewardModel({ ...base, outputDir: tempDir(), hyper: { maxLength: 100 } }, context(tempDir()).ctx);
    await expect(beyondContext).rejects.toThrow(/maxLength 100 exceeds the model's context of 48 tokens/);
  });
});
