// PPO, RLOO and GRPO: a policy that starts from an SFT model learns to earn a reward model's score while a
// KL penalty keeps it near that model (the frozen reference). Each iteration: rollouts through the
// sampler's own generation code (the current weights written as a servable model directory and
// loaded like any policy), log-probabilities recomputed with a forward pass on logits / temperature
// (the sampler's are taken after its filters), scores from the served reward model, advantages
// (GAE with a value model for PPO; leave-one-out over K samples for RLOO; normalised within each
// prompt's group for GRPO, whose KL is in the loss), then epochs of clipped updates over
// minibatches. Metrics use TRL's names.

import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadCausalLM } from "../../inference/causal-lm";
import type { Conversation } from "../../inference/chat-template";
import type { Gpt2Config, Gpt2Weights } from "../../inference/models/gpt2";
import { writeGpt2ModelDir } from "../../inference/models/gpt2-dir";
import { tokenizerDifference } from "../../inference/loader/tokenizer-checks";
import { Rng } from "../../inference/sampling/rng";
import { checkpointFileName, checkIdentity, latestCheckpoint, loadCheckpoint, pruneCheckpoints, saveCheckpoint } from "../checkpoint";
import { DataOrder } from "../data-order";
import { loopIdentity } from "../loop";
import { rewardModelInit } from "../reward/model";
import { RewardScorer } from "../reward/score";
import { loadSftBase, SftInputError } from "../sft";
import { NonFiniteError, Trainer, type StepResult } from "../trainer";
import { adaptKlCoef, grpoAdvantages, klPerToken, ppoAdvantages, rlooAdvantages, type KlEstimator, type RolloutTokens } from "./advantages";
import type { RlAlgorithm, RlRunConfig } from "./config";
import { policyObjective, rolloutBatch, RolloutForward, valueObjective, type RolloutSequence } from "./model";

export interface RlTrainingSpec {
  algorithm: RlAlgorithm;
  /** The SFT policy: the starting weights, and the frozen reference unless referenceDir is given. */
  policyDir: string;
  referenceDir?: string;
  /** A reward model directory (input_ids, attention_mask → logits [B, 1]); PPO's value model starts from it. */
  rewardModelDir: string;
  prompts: readonly Conversation[];
  /** Held-out prompts for the evaluations (default: none, evaluations then use the last training prompts). */
  evalPrompts?: readonly Conversation[];
  outputDir: string;
  /** Parsed with parseRlConfig (training/rl/config.ts). */
  config: RlRunConfig;
  intraOpThreads?: number;
}

export interface RlRunContext {
  /** Checkpoints of this run (and the rollout policy's directory); the run resumes from the newest intact one. */
  checkpointDir: string;
  /** After each iteration: the iteration's TRL metrics (objective/…, policy/…, loss/…, val/…) and timings. */
  progress(iteration: number, total: number, metrics: Record<string, number>): void | Promise<void>;
  /** Values at an iteration: the metrics as in progress, and eval/scores, eval/kl… at evaluations. */
  logMetrics(iteration: number, values: Record<string, number>): void | Promise<void>;
  /** Asked after every iteration; true saves a checkpoint and returns with status "stopped". */
  shouldStop(): boolean | Promise<boolean>;
  log?(line: string): void;
}

/** Input the trainer cannot use (models, tokenizers, prompts): the run fails with this message. */
export class RlInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RlInputError";
  }
}

/** The divergence guard: KL past the limit, or a non-finite log-probability, score or value. */
export class RlDivergenceError extends Error {
  constructor(
    readonly iteration: number,
    message: string,
  ) {
    super(`iteration ${iteration}: ${message}`);
    this.name = "RlDivergenceError";
  }
}

/** Held-out prompts sampled with a fixed seed: the reward model's mean score and the KL to the reference. */
export interface RlEvaluation {
  iteration: number;
  prompts: number;
  meanScore: number;
  /** Mean over responses of Σ_t (log π − log π_ref). */
  meanKl: number;
  meanLength: number;
  eosShare: number;
}

export interface RlTrainingResult {
  status: "completed" | "stopped";
  iteration: number;
  iterations: number;
  resumedFrom: number;
  evaluations: RlEvaluation[];
  modelDir: string | null;
  /** The rollout's time split of this session (ms). */
  timing: { rolloutMs: number; scoringMs: number; updateMs: number; rolloutTokens: number; updateTokens: number };
}

export const RL_METADATA_FILE = "rl_run.json";

interface IterationRows {
  sequences: RolloutSequence[];
  ended: boolean[];
}

export async function trainRl(spec: RlTrainingSpec, ctx: RlRunContext): Promise<RlTrainingResult> {
  const c = spec.config;
  const log = ctx.log ?? (() => {});
  const ppo = spec.algorithm === "ppo";
  const grpo = spec.algorithm === "grpo";
  const k = c.samplesPerPrompt;
  if (!ppo && k < 2) throw new RlInputError(`${spec.algorithm.toUpperCase()} needs at least 2 samples per prompt: each sample is measured against the others of its prompt`);
  const klKind: KlEstimator = c.klEstimator === 3 ? "k3" : "k1";
  const klBeta = grpo ? c.beta : 0;

  const policy = input("policy", () => loadSftBase(spec.policyDir));
  const reference = spec.referenceDir ? input("reference", () => loadSftBase(spec.referenceDir!)) : policy;
  if (JSON.stringify(reference.config) !== JSON.stringify(policy.config)) {
    throw new RlInputError(`the reference has another architecture than the policy (${describe(reference.config)} vs ${describe(policy.config)}): the KL penalty compares the two token by token`);
  }
  checkRewardModel(spec.rewardModelDir);
  checkSameTokenizer(spec.policyDir, spec.rewardModelDir, "reward model");
  if (spec.referenceDir) checkSameTokenizer(spec.policyDir, spec.referenceDir, "reference");
  const valueInit = ppo ? input("value model (from the reward model)", () => rewardModelInit({ modelDir: spec.rewardModelDir }, c.seed)) : null;
  const rewardContext = readContextLength(spec.rewardModelDir);

  // Prompts that leave no room for a response, or whose sequences the reward model cannot read, are dropped.
  const fits = (conv: Conversation) => {
    const n = policy.tokenizer.encode(policy.tokenizer.chat.render(conv)).length;
    return n + 1 <= policy.config.nPositions && n + c.maxNewTokens <= rewardContext && n > 0;
  };
  const prompts = spec.prompts.filter(fits);
  if (prompts.length === 0) {
    throw new RlInputError(`no prompt fits: each needs room for ${c.maxNewTokens} new tokens within the policy's ${policy.config.nPositions} and the reward model's ${rewardContext} positions (${spec.prompts.length} prompts read)`);
  }
  if (prompts.length < spec.prompts.length) log(`${spec.prompts.length - prompts.length} of ${spec.prompts.length} prompts are too long for ${c.maxNewTokens} new tokens and were left out`);
  const held = (spec.evalPrompts?.length ? spec.evalPrompts.filter(fits) : prompts.slice(-c.evalPrompts)).slice(0, c.evalPrompts);

  const order = new DataOrder(prompts.map(() => 1), { batchSize: Math.min(c.promptsPerIteration, prompts.length), seed: c.seed, bucketing: false });
  const rowsPerIteration = Math.min(c.promptsPerIteration, prompts.length) * k;
  const minibatches = Math.ceil(rowsPerIteration / Math.min(c.minibatchSize, rowsPerIteration));
  const stepsPerIteration = c.epochs * minibatches;
  const schedule = { peakLr: c.lr, warmupSteps: 0, totalSteps: c.iterations * stepsPerIteration, minLrRatio: 1 };
  const optimizer = { maxGradNorm: c.maxGradNorm, weightDecay: 0 };
  const padTokenId = policy.config.padTokenId;

  const policyTrainer = await Trainer.create({ config: policy.config, objective: policyObjective({ temperature: c.temperature, clip: c.cliprange, klBeta }), weights: policy.weights, optimizer, schedule, intraOpThreads: spec.intraOpThreads, log });
  const valueTrainer = valueInit
    ? await Trainer.create({ config: valueInit.config, objective: valueObjective({ clip: c.cliprangeValue, vfCoef: c.vfCoef }), weights: valueInit.weights, optimizer, schedule, intraOpThreads: spec.intraOpThreads, log })
    : null;
  const logprobForward = await RolloutForward.create(policy.config, "logprobs", { temperature: c.temperature, intraOpThreads: spec.intraOpThreads });
  const valueForward = valueInit ? await RolloutForward.create(valueInit.config, "values", { intraOpThreads: spec.intraOpThreads }) : null;
  const scorer = await RewardScorer.fromDir(spec.rewardModelDir, { intraOpThreads: spec.intraOpThreads });
  const referenceWeights = reference.weights;

  const dirs = { policy: path.join(ctx.checkpointDir, "policy"), value: path.join(ctx.checkpointDir, "value"), rollout: path.join(ctx.checkpointDir, "rollout-policy") };
  let klCoef = c.klCoef;
  let iteration = 0;
  const timing = { rolloutMs: 0, scoringMs: 0, updateMs: 0, rolloutTokens: 0, updateTokens: 0 };
  const evaluations: RlEvaluation[] = [];

  const identity = { policy: loopIdentity({ trainer: policyTrainer, config: policy.config }), value: valueTrainer && loopIdentity({ trainer: valueTrainer, config: valueInit!.config }) };
  const found = latestCheckpoint(dirs.policy, log);
  if (found) {
    checkIdentity(found.file, found.checkpoint.identity, identity.policy);
    policyTrainer.restore(found.checkpoint.state);
    if (found.checkpoint.data) order.restore(found.checkpoint.data);
    if (valueTrainer) {
      // The value model is saved first, so its checkpoint of the same step exists.
      const file = path.join(dirs.value, checkpointFileName(found.checkpoint.state.step));
      if (!existsSync(file)) throw new Error(`checkpoint ${found.file} has no value-model checkpoint beside it (${file})`);
      const v = loadCheckpoint(file);
      checkIdentity(file, v.identity, identity.value!);
      valueTrainer.restore(v.state);
    }
    iteration = Number(found.checkpoint.extra.iteration);
    klCoef = Number(found.checkpoint.extra.klCoef);
    // The evaluations so far (the one before the first iteration among them) stay the run's.
    evaluations.push(...((found.checkpoint.extra.evaluations as RlEvaluation[] | undefined) ?? []));
    log(`resumed from ${found.file} (iteration ${iteration})`);
  }
  const resumedFrom = iteration;
  const save = () => {
    const extra = { iteration, klCoef, evaluations };
    if (valueTrainer) {
      saveCheckpoint(dirs.value, { identity: identity.value!, state: valueTrainer.state(), data: null, extra });
      pruneCheckpoints(dirs.value, 3);
    }
    saveCheckpoint(dirs.policy, { identity: identity.policy, state: policyTrainer.state(), data: order.state(), extra });
    pruneCheckpoints(dirs.policy, 2);
  };

  /** The current policy as the sampler serves it: a model directory loaded through inference/. */
  const sample = async (batch: readonly Conversation[], samples: number, seed: number): Promise<IterationRows> => {
    writeGpt2ModelDir(dirs.rollout, { config: policy.config, weights: policyTrainer.weights(), tokenizerFrom: spec.policyDir });
    const lm = await loadCausalLM(dirs.rollout, { intraOpThreads: spec.intraOpThreads, log: () => {} });
    try {
      const out = await lm.generate({ prompts: [...batch], k: samples, temperature: c.temperature, topK: 0, topP: 1, repetitionPenalty: 1, maxNewTokens: c.maxNewTokens, seed, keepDuplicates: true });
      const sequences: RolloutSequence[] = [];
      const ended: boolean[] = [];
      for (const r of out.results) {
        const promptIds = lm.tokenizer.encode(r.promptText);
        for (const comp of r.completions) {
          sequences.push({ ids: [...promptIds, ...comp.tokenIds], promptLength: promptIds.length });
          ended.push(comp.finishReason === "eos");
        }
      }
      return { sequences, ended };
    } finally {
      await lm.dispose();
    }
  };

  const scoreOf = async (rows: IterationRows): Promise<{ raw: Float64Array; shaped: number[] }> => {
    const raw = await scorer.score(rows.sequences.map((s) => s.ids));
    const shaped = [...raw].map((s, i) => {
      let v = rows.ended[i] ? s : s - c.missingEosPenalty;
      if (c.rewardClip > 0) v = Math.min(Math.max(v, -c.rewardClip), c.rewardClip);
      return v;
    });
    return { raw, shaped };
  };

  const evaluate = async (): Promise<void> => {
    if (held.length === 0) return;
    const rows = await sample(held, k, (c.seed + 0x5eed) >>> 0);
    const { raw } = await scoreOf(rows);
    const logp = await logprobForward.run(policyTrainer.state().weights, rows.sequences, padTokenId);
    const ref = await logprobForward.run(referenceWeights, rows.sequences, padTokenId);
    const kl = logp.map((l, i) => sumOf(klPerToken(l, ref[i], "k1")));
    const e: RlEvaluation = {
      iteration,
      prompts: held.length,
      meanScore: mean(raw),
      meanKl: mean(kl),
      meanLength: mean(rows.sequences.map((s) => s.ids.length - s.promptLength)),
      eosShare: mean(rows.ended.map(Number)),
    };
    evaluations.push(e);
    log(`evaluation at iteration ${iteration}: mean score ${e.meanScore.toFixed(4)} on ${e.prompts} held-out prompts, KL to the reference ${e.meanKl.toFixed(4)}`);
    await ctx.logMetrics(iteration, { "eval/scores": e.meanScore, "eval/kl": e.meanKl, "eval/response_length": e.meanLength, "eval/eos_share": e.eosShare });
  };

  const finiteOrStop = (what: string, xs: ArrayLike<number>) => {
    for (let i = 0; i < xs.length; i++) if (!Number.isFinite(xs[i])) throw new RlDivergenceError(iteration + 1, `${what} of response ${i} is not finite`);
  };

  try {
    if (iteration === 0) await evaluate();
    while (iteration < c.iterations) {
      const t0 = performance.now();
      const batch = order.next().map((i) => prompts[i]);
      const rows = await sample(batch, k, mix(c.seed, iteration + 1));
      const t1 = performance.now();
      const { raw, shaped } = await scoreOf(rows);
      finiteOrStop("the score", raw);
      const weightsNow = policyTrainer.state().weights;
      const logprobs = await logprobForward.run(weightsNow, rows.sequences, padTokenId);
      const refLogprobs = await logprobForward.run(referenceWeights, rows.sequences, padTokenId);
      const values = valueForward ? await valueForward.run(valueTrainer!.state().weights, rows.sequences, padTokenId) : null;
      logprobs.forEach((l) => finiteOrStop("a log-probability", l));
      values?.forEach((v) => finiteOrStop("a value", v));
      const tokens: RolloutTokens[] = rows.sequences.map((_, i) => ({ logprobs: logprobs[i], refLogprobs: refLogprobs[i], values: values?.[i], score: shaped[i] }));

      let perTokenAdvantages: Float64Array[];
      let returns: Float64Array[] | null = null;
      let kl: number[];
      let nonScore: number[];
      let groupStats: Record<string, number> = {};
      if (grpo) {
        // The reward stays the reward model's; the KL to the reference is in the loss instead.
        const a = grpoAdvantages(shaped, k, c.scaleRewards === 1);
        perTokenAdvantages = a.advantages.map((v, i) => new Float64Array(logprobs[i].length).fill(v));
        kl = tokens.map((t) => sumOf(klPerToken(t.logprobs, t.refLogprobs, "k1")));
        nonScore = kl.map(() => 0);
        groupStats = { reward: mean(shaped), reward_std: a.meanStd, frac_reward_zero_std: a.zeroStdShare };
      } else if (ppo) {
        const a = ppoAdvantages(tokens, { klCoef, kl: klKind, gamma: c.gamma, lam: c.lam, whitenRewards: c.whitenRewards === 1 });
        perTokenAdvantages = a.advantages;
        returns = a.returns;
        kl = a.kl;
        nonScore = a.nonScoreReward;
      } else {
        const a = rlooAdvantages(tokens, k, { klCoef, kl: klKind, normalize: c.normalizeAdvantages === 1 });
        perTokenAdvantages = a.advantages.map((v, i) => new Float64Array(logprobs[i].length).fill(v));
        kl = a.kl;
        nonScore = a.nonScoreReward;
      }
      const meanKl = mean(kl);
      if (!Number.isFinite(meanKl)) throw new RlDivergenceError(iteration + 1, "the KL to the reference is not finite");
      if (c.klLimit > 0 && meanKl > c.klLimit) {
        throw new RlDivergenceError(iteration + 1, `the KL to the reference is ${meanKl.toFixed(3)} nats per response, past the limit of ${c.klLimit}`);
      }
      const t2 = performance.now();

      // Epochs of minibatches in a seeded order; the policy and the value model step side by side.
      const rng = new Rng(mix(c.seed ^ 0x7a11, iteration + 1));
      const policySteps: StepResult[] = [];
      const valueSteps: StepResult[] = [];
      const mbSize = Math.min(c.minibatchSize, rows.sequences.length);
      for (let epoch = 0; epoch < c.epochs; epoch++) {
        const perm = shuffled(rows.sequences.length, rng);
        for (let at = 0; at < perm.length; at += mbSize) {
          const idx = perm.slice(at, at + mbSize);
          const seqs = idx.map((i) => rows.sequences[i]);
          const perToken: Record<string, Float64Array[]> = { old_logprobs: idx.map((i) => logprobs[i]), advantages: idx.map((i) => perTokenAdvantages[i]) };
          if (klBeta > 0) perToken.ref_logprobs = idx.map((i) => refLogprobs[i]);
          policySteps.push(await policyTrainer.trainStep([rolloutBatch(seqs, padTokenId, perToken)]));
          if (valueTrainer) {
            try {
              valueSteps.push(await valueTrainer.trainStep([rolloutBatch(seqs, padTokenId, { old_values: idx.map((i) => values![i]), returns: idx.map((i) => returns![i]) })]));
            } catch (err) {
              // Both models have the same tensor names: say which one diverged.
              if (err instanceof NonFiniteError) throw new RlDivergenceError(iteration + 1, `the value model's ${err.message}`);
              throw err;
            }
          }
        }
      }
      const t3 = performance.now();
      iteration++;
      if (c.klTarget > 0) klCoef = adaptKlCoef(klCoef, meanKl, c.klTarget, rows.sequences.length);

      const responseTokens = rows.sequences.reduce((a, s) => a + s.ids.length - s.promptLength, 0);
      const updateTokens = rows.sequences.reduce((a, s) => a + s.ids.length, 0) * c.epochs;
      timing.rolloutMs += t1 - t0;
      timing.scoringMs += t2 - t1;
      timing.updateMs += t3 - t2;
      timing.rolloutTokens += responseTokens;
      timing.updateTokens += updateTokens;
      const metrics: Record<string, number> = {
        "objective/kl": meanKl,
        "objective/entropy": mean(logprobs.map((l) => -sumOf(l))),
        "objective/non_score_reward": mean(nonScore),
        "objective/rlhf_reward": mean(shaped.map((s, i) => s + nonScore[i])),
        "objective/scores": mean(raw),
        "policy/approxkl_avg": stepMean(policySteps, "approxkl"),
        "policy/clipfrac_avg": stepMean(policySteps, "clipfrac"),
        "policy/entropy_avg": stepMean(policySteps, "entropy"),
        "loss/policy_avg": mean(policySteps.map((s) => s.loss)),
        "val/num_eos_tokens": rows.ended.filter(Boolean).length,
        "val/response_length": responseTokens / rows.sequences.length,
        ...(valueTrainer ? { "loss/value_avg": stepMean(valueSteps, "value_loss"), "val/clipfrac_avg": stepMean(valueSteps, "clipfrac") } : {}),
        // TRL's GRPO names beside the shared ones.
        ...(grpo
          ? { ...groupStats, kl: klBeta > 0 ? stepMean(policySteps, "kl") : mean(kl.map((x, i) => x / logprobs[i].length)), "clip_ratio/region_mean": stepMean(policySteps, "clipfrac"), entropy: stepMean(policySteps, "entropy"), "completions/mean_length": responseTokens / rows.sequences.length }
          : {}),
        kl_coef: klCoef,
        lr: policySteps.at(-1)!.lr,
        grad_norm: mean(policySteps.map((s) => s.gradNorm)),
        rollout_ms: t1 - t0,
        scoring_ms: t2 - t1,
        update_ms: t3 - t2,
        rollout_tokens: responseTokens,
        update_tokens: updateTokens,
      };
      await ctx.progress(iteration, c.iterations, metrics);
      await ctx.logMetrics(iteration, metrics);
      if (iteration % c.evalEvery === 0 || iteration === c.iterations) await evaluate();
      const saved = iteration % c.checkpointEvery === 0 || iteration === c.iterations;
      if (saved) save();
      if (iteration < c.iterations && (await ctx.shouldStop())) {
        if (!saved) save();
        log(`stopped at iteration ${iteration}`);
        return { status: "stopped", iteration, iterations: c.iterations, resumedFrom, evaluations, modelDir: null, timing };
      }
    }

    writeGpt2ModelDir(spec.outputDir, { config: policy.config, weights: policyTrainer.weights(), tokenizerFrom: spec.policyDir });
    const metadata = {
      algorithm: spec.algorithm,
      iterations: iteration,
      config: c,
      kl_coef: klCoef,
      evaluations,
    };
    writeFileSync(path.join(spec.outputDir, RL_METADATA_FILE), JSON.stringify(metadata, null, 2) + "\n");
    return { status: "completed", iteration, iterations: c.iterations, resumedFrom, evaluations, modelDir: spec.outputDir, timing };
  } catch (err) {
    if (err instanceof NonFiniteError) throw new RlDivergenceError(iteration + 1, err.message);
    throw err;
  } finally {
    rmSync(dirs.rollout, { recursive: true, force: true });
    await scorer.dispose();
    await logprobForward.dispose();
    await valueForward?.dispose();
    await policyTrainer.dispose();
    await valueTrainer?.dispose();
  }
}

function input<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof RlInputError) throw err;
    const message = (err as Error).message.replace(/^base model: /, "");
    throw new RlInputError(`${what}: ${err instanceof SftInputError ? message : (err as Error).message}`);
  }
}

function describe(c: Gpt2Config): string {
  return `${c.nLayer} layers × ${c.nEmbd}, vocabulary ${c.vocabSize}, ${c.nPositions} positions`;
}

/** The reward model must read the policy's token ids as the policy meant them: same vocabulary and chat template. */
function checkSameTokenizer(policyDir: string, otherDir: string, what: string): void {
  let diff: ReturnType<typeof tokenizerDifference>;
  try {
    diff = tokenizerDifference(policyDir, otherDir);
  } catch (err) {
    throw new RlInputError(`${what}: ${(err as Error).message}`);
  }
  if (diff === "vocabulary") throw new RlInputError(`the ${what}'s tokenizer differs from the policy's: it would read the policy's token ids as other words`);
  if (diff === "chat template") throw new RlInputError(`the ${what}'s chat template differs from the policy's: it would see prompts laid out differently than it was trained on`);
}

function checkRewardModel(dir: string): void {
  let hf: { architectures?: unknown };
  try {
    hf = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")) as { architectures?: unknown };
  } catch (err) {
    throw new RlInputError(`reward model: ${dir}/config.json cannot be read (${(err as Error).message})`);
  }
  const arch = Array.isArray(hf.architectures) ? hf.architectures.map(String) : [];
  if (!arch.some((a) => a.endsWith("ForSequenceClassification"))) {
    throw new RlInputError(`reward model: ${dir} is not a reward model (architectures ${JSON.stringify(arch)}; expected a sequence classifier with one score)`);
  }
}

function readContextLength(dir: string): number {
  try {
    const hf = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")) as { n_positions?: number; max_position_embeddings?: number };
    return hf.n_positions ?? hf.max_position_embeddings ?? Number.MAX_SAFE_INTEGER;
  } catch (err) {
    throw new RlInputError(`reward model: ${dir}/config.json cannot be read (${(err as Error).message})`);
  }
}

/** A per-iteration seed from the run's seed. */
function mix(seed: number, n: number): number {
  return (Math.imul(seed ^ 0x2545f491, 0x9e3779b1) ^ Math.imul(n, 0x85ebca6b)) >>> 0;
}

function shuffled(n: number, rng: Rng): number[] {
  const xs = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.nextFloat() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

function stepMean(steps: StepResult[], name: string): number {
  return mean(steps.flatMap((s) => s.metrics.flatMap((m) => m[name] ?? [])));
}

function sumOf(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s;
}

function mean(xs: ArrayLike<number>): number {
  return xs.length ? sumOf(xs) / xs.length : 0;
}
