// PPO and RLOO on tiny models: the advantage arithmetic against hand-computed values, the recomputed
// log-probabilities against the sampler's own, both trainers raising a reward model's held-out score
// with the KL to the reference measured, a stopped run resuming to the same weights as an
// uninterrupted one, and each kind of unusable input refused with its reason.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadCausalLM } from "../../inference/causal-lm";
import { OASST_CHAT_TEMPLATE, type Conversation } from "../../inference/chat-template";
import { initGpt2ScoreHead, type Gpt2Config } from "../../inference/models/gpt2";
import { readGpt2ModelDir, writeGpt2ModelDir } from "../../inference/models/gpt2-dir";
import { float32 } from "../../inference/onnx/tensor";
import { bytesOnlyTokenizerJson } from "../../inference/tokenizer/byte-level";
import { DEMO_SPECIAL_TOKENS, EOT } from "../../inference/tokenizer/demo-tokenizer";
import { ConfigError } from "../../training/sft-config";
import {
  adaptKlCoef,
  klPerToken,
  grpoAdvantages,
  parseRlConfig,
  ppoAdvantages,
  RL_METADATA_FILE,
  RlDivergenceError,
  RlInputError,
  rlooAdvantages,
  RolloutForward,
  trainRl,
  whiten,
  type RlAlgorithm,
  type RlRunContext,
} from "../../training/rl";
import { removeTempDirs, tempDir, TINY, writeTinyModel } from "../inference/tiny-model";

afterAll(removeTempDirs);

const f64 = (xs: number[]) => Float64Array.from(xs);

describe("advantages", () => {
  it("PPO: per-token KL penalty, the score on the last token, GAE returns, whitened advantages", () => {
    const a = ppoAdvantages([{ logprobs: f64([-1, -2, -0.5]), refLogprobs: f64([-1.5, -2, -0.25]), values: f64([0.5, 0.2, 0.1]), score: 1 }], {
      klCoef: 0.1,
      kl: "k1",
      gamma: 1,
      lam: 0.95,
      whitenRewards: false,
    });
    // KL [0.5, 0, −0.25] → rewards [−0.05, 0, 0.025 + 1]; δ = [−0.05 + 0.2 − 0.5, 0 + 0.1 − 0.2, 1.025 − 0.1].
    const delta = [-0.35, -0.1, 0.925];
    const adv2 = delta[2];
    const adv1 = delta[1] + 0.95 * adv2;
    const adv0 = delta[0] + 0.95 * adv1;
    expect([...a.returns[0]].map((x) => +x.toFixed(12))).toEqual([adv0 + 0.5, adv1 + 0.2, adv2 + 0.1].map((x) => +x.toFixed(12)));
    expect(a.kl[0]).toBeCloseTo(0.25, 12);
    expect(a.nonScoreReward[0]).toBeCloseTo(-0.025, 12);
    const w = [...a.advantages[0]];
    const m = w.reduce((s, x) => s + x, 0) / 3;
    expect(m).toBeCloseTo(0, 12);
    expect(w.reduce((s, x) => s + (x - m) ** 2, 0) / 2).toBeCloseTo(1, 6);
    // Order is kept: whitening is affine.
    expect(w[2] > w[1] && w[1] > w[0]).toBe(adv2 > adv1 && adv1 > adv0);
  });

  it("whitening without the mean shift keeps the mean", () => {
    const out = whiten([f64([1, 2]), f64([3, 6])], false);
    const flat = out.flatMap((r) => [...r]);
    expect(flat.reduce((s, x) => s + x, 0) / 4).toBeCloseTo(3, 12);
  });

  it("RLOO: each reward minus the mean of the other K − 1, with the sequence-level KL in the reward", () => {
    const same = (score: number) => ({ logprobs: f64([-1, -1]), refLogprobs: f64([-1, -1]), score });
    const r = rlooAdvantages([same(1), same(2), same(3), same(6), same(0), same(0), same(0), same(4)], 4, { klCoef: 0.05, kl: "k1", normalize: false });
    expect(r.advantages.slice(0, 4)).toEqual([1 - 11 / 3, 2 - 10 / 3, 3 - 9 / 3, 6 - 6 / 3].map((x) => expect.closeTo(x, 12)));
    expect(r.advantages.slice(4).reduce((s, x) => s + x, 0)).toBeCloseTo(0, 12);
    const kl = rlooAdvantages([{ logprobs: f64([-1, -1]), refLogprobs: f64([-2, -1.5]), score: 0 }, same(0)], 2, { klCoef: 0.5, kl: "k1", normalize: false });
    expect(kl.kl[0]).toBeCloseTo(1.5, 12);
    expect(kl.advantages[0]).toBeCloseTo(-0.75, 12);
    expect(() => rlooAdvantages([same(0), same(1), same(2)], 2, { klCoef: 0, kl: "k1", normalize: false })).toThrow(/groups of 2/);
  });

  it("GRPO: scores normalised within each prompt's group (unbiased std), or only centred; groups without spread counted", () => {
    const g = grpoAdvantages([1, 2, 3, 6, 5, 5, 5, 5], 4, true);
    const sd = Math.sqrt(((1 - 3) ** 2 + (2 - 3) ** 2 + 0 + (6 - 3) ** 2) / 3);
    expect(g.advantages.slice(0, 4)).toEqual([-2, -1, 0, 3].map((d) => expect.closeTo(d / (sd + 1e-4), 12)));
    expect(g.advantages.slice(4)).toEqual([0, 0, 0, 0]);
    expect(g.zeroStdShare).toBe(0.5);
    expect(grpoAdvantages([1, 2, 3, 6], 4, false).advantages).toEqual([-2, -1, 0, 3]);
  });

  it("k3 is non-negative and zero where the policies agree; the adaptive β moves toward the target", () => {
    const k3 = klPerToken(f64([-1, -2, -0.1, -3]), f64([-1, -0.5, -2, -3.5]), "k3");
    expect(k3[0]).toBe(0);
    for (const v of k3) expect(v).toBeGreaterThanOrEqual(0);
    expect(adaptKlCoef(0.05, 12, 6, 100)).toBeCloseTo(0.05 * (1 + 0.2 * 100 / 10_000), 15);
    expect(adaptKlCoef(0.05, 5.4, 6, 100)).toBeCloseTo(0.05 * (1 - 0.1 * 100 / 10_000), 15);
  });
});

/**
 * A reward model on the policy's tokenizer: a random backbone with a large score head, so scores vary
 * (scoreScale multiplies the head; specialTokens reorders the vocabulary's special tokens).
 */
function writeRewardModel(opts: { config?: Partial<Gpt2Config>; chatTemplate?: string; scoreScale?: number; specialTokens?: string[] } = {}): string {
  const { config, weights } = writeTinyModel({ seed: 9, config: opts.config });
  const head = initGpt2ScoreHead(config, 10);
  weights.set("score.weight", float32(head.dims, (head.data as Float32Array).map((x) => x * (opts.scoreScale ?? 50))));
  const dir = tempDir();
  writeGpt2ModelDir(dir, {
    config,
    weights,
    head: "score",
    tokenizer: bytesOnlyTokenizerJson(opts.specialTokens ?? [...DEMO_SPECIAL_TOKENS]),
    specialTokens: { bos: EOT, eos: EOT, pad: EOT },
    chatTemplate: opts.chatTemplate ?? OASST_CHAT_TEMPLATE,
  });
  return dir;
}

const POLICY = writeTinyModel({ seed: 7 }).dir;
const REWARD = writeRewardModel({});
const PROMPTS: Conversation[] = Array.from({ length: 48 }, (_, i) => [{ role: "prompter", text: `question ${i}?` }]);

interface Recorded {
  ctx: RlRunContext;
  metrics: Map<number, Record<string, number>>;
  iterations: number[];
}

function recorder(checkpointDir: string, stopAt?: number): Recorded {
  const metrics = new Map<number, Record<string, number>>();
  const iterations: number[] = [];
  let last = 0;
  return {
    metrics,
    iterations,
    ctx: {
      checkpointDir,
      progress: (i) => {
        iterations.push(i);
        last = i;
      },
      logMetrics: (i, values) => {
        metrics.set(i, { ...metrics.get(i), ...values });
      },
      shouldStop: () => stopAt !== undefined && last >= stopAt,
    },
  };
}

function run(algorithm: RlAlgorithm, config: Record<string, number>, ctx: RlRunContext, over: { rewardModelDir?: string; referenceDir?: string; prompts?: Conversation[] } = {}) {
  const out = tempDir();
  return {
    out,
    result: trainRl(
      {
        algorithm,
        policyDir: POLICY,
        rewardModelDir: over.rewardModelDir ?? REWARD,
        referenceDir: over.referenceDir,
        prompts: over.prompts ?? PROMPTS.slice(0, 32),
        evalPrompts: PROMPTS.slice(32),
        outputDir: out,
        config: parseRlConfig(algorithm, { promptsPerIteration: 8, maxNewTokens: 4, lr: 3e-4, epochs: 2, minibatchSize: 8, evalPrompts: 16, ...config }),
        intraOpThreads: 1,
      },
      ctx,
    ),
  };
}

const TRL_METRICS = [
  "objective/kl",
  "objective/entropy",
  "objective/non_score_reward",
  "objective/rlhf_reward",
  "objective/scores",
  "policy/approxkl_avg",
  "policy/clipfrac_avg",
  "loss/policy_avg",
  "val/num_eos_tokens",
];

describe("rollouts", () => {
  it("the recomputed log-probabilities on logits / temperature equal the sampler's when no filter is on", async () => {
    const lm = await loadCausalLM(POLICY, { log: () => {} });
    const out = await lm.generate({ prompts: PROMPTS.slice(0, 4), k: 2, temperature: 0.7, maxNewTokens: 10, seed: 3, keepDuplicates: true });
    await lm.dispose();
    const rows = out.results.flatMap((r) => r.completions.map((c) => ({ ids: [...lm.tokenizer.encode(r.promptText), ...c.tokenIds], promptLength: lm.tokenizer.encode(r.promptText).length, sampler: c.logprobs })));
    expect(rows).toHaveLength(8);
    const { config, weights } = readGpt2ModelDir(POLICY);
    const forward = await RolloutForward.create(config, "logprobs", { temperature: 0.7 });
    const recomputed = await forward.run(weights, rows, config.padTokenId, 3);
    await forward.dispose();
    rows.forEach((r, i) => {
      expect(recomputed[i]).toHaveLength(r.sampler.length);
      r.sampler.forEach((lp, t) => expect(Math.abs(recomputed[i][t] - lp)).toBeLessThan(1e-4));
    });
  });
});

describe("trainers", () => {
  it("PPO raises the held-out score; the first rollout's KL is exactly 0; TRL's metrics every iteration; a servable policy", async () => {
    const rec = recorder(tempDir());
    const { out, result } = run("ppo", { iterations: 12, evalEvery: 12, samplesPerPrompt: 2 }, rec.ctx);
    const r = await result;
    expect(r.status).toBe("completed");
    expect(rec.iterations).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    for (const i of rec.iterations) for (const name of [...TRL_METRICS, "loss/value_avg", "val/clipfrac_avg"]) expect(Number.isFinite(rec.metrics.get(i)![name]), `${name} at ${i}`).toBe(true);
    expect(rec.metrics.get(1)!["objective/kl"]).toBe(0);
    const [before, after] = [r.evaluations[0], r.evaluations.at(-1)!];
    expect([before.iteration, after.iteration]).toEqual([0, 12]);
    expect(before.meanKl).toBe(0);
    expect(after.meanScore - before.meanScore).toBeGreaterThan(2);
    expect(after.meanKl).toBeGreaterThan(0);
    expect(after.meanKl).toBeLessThan(20);
    expect(rec.metrics.get(12)!["eval/scores"]).toBe(after.meanScore);
    const lm = await loadCausalLM(out, { log: () => {} });
    const sampled = await lm.generate({ prompts: PROMPTS.slice(32, 33), maxNewTokens: 4, seed: 1 });
    await lm.dispose();
    expect(sampled.results[0].completions[0].numTokens).toBeGreaterThan(0);
    const meta = JSON.parse(readFileSync(path.join(out, RL_METADATA_FILE), "utf8"));
    expect(meta.algorithm).toBe("ppo");
    expect(meta.evaluations).toHaveLength(2);
  }, 120_000);

  it("RLOO raises the held-out score with K samples per prompt and no value model", async () => {
    const rec = recorder(tempDir());
    const r = await run("rloo", { iterations: 8, evalEvery: 8, promptsPerIteration: 4, samplesPerPrompt: 4 }, rec.ctx).result;
    expect(r.status).toBe("completed");
    for (const name of TRL_METRICS) expect(Number.isFinite(rec.metrics.get(8)![name]), name).toBe(true);
    expect(rec.metrics.get(8)!["loss/value_avg"]).toBeUndefined();
    expect(r.evaluations.at(-1)!.meanScore - r.evaluations[0].meanScore).toBeGreaterThan(2);
  }, 120_000);

  it("GRPO raises the held-out score with the KL to the reference in its loss, logging TRL's GRPO names", async () => {
    const rec = recorder(tempDir());
    const r = await run("grpo", { iterations: 8, evalEvery: 8, promptsPerIteration: 4, samplesPerPrompt: 4 }, rec.ctx).result;
    expect(r.status).toBe("completed");
    const last = rec.metrics.get(8)!;
    for (const name of ["reward", "reward_std", "frac_reward_zero_std", "kl", "clip_ratio/region_mean", "entropy", "completions/mean_length", ...TRL_METRICS]) expect(Number.isFinite(last[name]), name).toBe(true);
    expect(last.kl).toBeGreaterThan(0);
    expect(last["objective/non_score_reward"]).toBe(0);
    expect(r.evaluations.at(-1)!.meanScore - r.evaluations[0].meanScore).toBeGreaterThan(2);
  }, 120_000);

  it("a run stopped after an iteration resumes to the weights of an uninterrupted run, keeping its evaluations", async () => {
    const config = { iterations: 3, evalEvery: 3, checkpointEvery: 1 };
    const whole = run("ppo", config, recorder(tempDir()).ctx);
    await whole.result;
    const dir = tempDir();
    const first = run("ppo", config, recorder(dir, 1).ctx);
    const stopped = await first.result;
    expect(stopped.status).toBe("stopped");
    expect(stopped.iteration).toBe(1);
    expect(existsSync(path.join(first.out, "config.json"))).toBe(false);
    const rec = recorder(dir);
    const second = run("ppo", config, rec.ctx);
    const resumed = await second.result;
    expect(resumed.resumedFrom).toBe(1);
    expect(rec.iterations).toEqual([2, 3]);
    // The evaluation before the first iteration came back with the checkpoint.
    expect(resumed.evaluations.map((e) => e.iteration)).toEqual([0, 3]);
    expect(resumed.evaluations[0]).toEqual(stopped.evaluations[0]);
    const a = readGpt2ModelDir(whole.out).weights;
    const b = readGpt2ModelDir(second.out).weights;
    for (const [name, t] of a) expect(Buffer.from((b.get(name)!.data as Float32Array).buffer).equals(Buffer.from((t.data as Float32Array).buffer)), name).toBe(true);
  }, 180_000);
});

describe("unusable input", () => {
  it("a reward model with another chat template or vocabulary, a reference of another architecture, prompts that leave no room: refused with the reason", async () => {
    const otherTemplate = writeRewardModel({ chatTemplate: "{% for m in messages %}{{ m['content'] }}{% endfor %}" });
    await expect(run("ppo", { iterations: 1 }, recorder(tempDir()).ctx, { rewardModelDir: otherTemplate }).result).rejects.toThrow(/reward model's chat template differs/);
    const [eot, prompter, assistant, system] = DEMO_SPECIAL_TOKENS;
    const otherVocabulary = writeRewardModel({ specialTokens: [eot, assistant, prompter, system] });
    const vocab = run("rloo", { iterations: 1 }, recorder(tempDir()).ctx, { rewardModelDir: otherVocabulary }).result;
    await expect(vocab).rejects.toThrow(RlInputError);
    await expect(vocab).rejects.toThrow(/^the reward model's tokenizer differs from the policy's: it would read the policy's token ids as other words$/);
    const bigger = writeTinyModel({ seed: 3, config: { nLayer: TINY.nLayer + 1 } }).dir;
    await expect(run("ppo", { iterations: 1 }, recorder(tempDir()).ctx, { referenceDir: bigger }).result).rejects.toThrow(RlInputError);
    await expect(run("ppo", { iterations: 1 }, recorder(tempDir()).ctx, { referenceDir: bigger }).result).rejects.toThrow(/reference has another architecture/);
    const long = [[{ role: "prompter" as const, text: "x".repeat(TINY.nPositions) }]];
    await expect(run("rloo", { iterations: 1 }, recorder(tempDir()).ctx, { prompts: long }).result).rejects.toThrow(/no prompt fits/);
    await expect(run("ppo", { iterations: 1 }, recorder(tempDir()).ctx, { rewardModelDir: POLICY }).result).rejects.toThrow(/is not a reward model/);
    expect(() => parseRlConfig("rloo", { samplesPerPrompt: 1 })).toThrow(ConfigError);
    expect(() => parseRlConfig("ppo", { klEstimator: 2 })).toThrow(/klEstimator must be 1 \(k1\) or 3 \(k3\)/);
  }, 120_000);

  it("the divergence guard stops a run whose KL passes the limit, naming the iteration", async () => {
    const out = run("rloo", { iterations: 4, klLimit: 1e-6, promptsPerIteration: 4, samplesPerPrompt: 4, evalPrompts: 0 }, recorder(tempDir()).ctx);
    const err = await out.result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RlDivergenceError);
    expect((err as Error).message).toMatch(/^iteration 2: the KL to the reference is [0-9.]+ nats per response, past the limit of 0\.000001/);
    expect(existsSync(path.join(out.out, "config.json"))).toBe(false);
  }, 60_000);

  it("the divergence guard stops a run whose reward model scores NaN, naming the iteration", async () => {
    // The registry refuses such a model (its test score is NaN); the trainer checks the scores anyway.
    const poisoned = writeRewardModel({ scoreScale: NaN });
    const out = run("rloo", { iterations: 2, promptsPerIteration: 4, samplesPerPrompt: 4, evalPrompts: 0 }, recorder(tempDir()).ctx, { rewardModelDir: poisoned });
    const err = await out.result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RlDivergenceError);
    expect((err as Error).message).toBe("iteration 1: the score of response 0 is not finite");
    expect(existsSync(path.join(out.out, "config.json"))).toBe(false);
  }, 60_000);
});
