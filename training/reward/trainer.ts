// The reward-model trainer: ranked sets → a GPT-2 sequence classifier whose score orders replies as
// people did. Each batch element is one ranked set with all K·(K−1)/2 pairs in its loss and each
// completion forwarded once (InstructGPT); one epoch by default. Evaluates on the validation sets
// while it trains, then centres the scores (the demonstrations average 0) and writes the model in
// Hugging Face's sequence-classification layout with its score statistics.

import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Turn } from "../../inference/chat-template";
import { writeGpt2ModelDir } from "../../inference/models/gpt2-dir";
import { rankingBatch } from "../batch";
import { pruneCheckpoints, saveCheckpoint } from "../checkpoint";
import { DataOrder } from "../data-order";
import { loopIdentity, runTrainingLoop } from "../loop";
import { rewardObjective } from "../objectives";
import { Trainer, type StepResult } from "../trainer";
import type { RankedSet } from "./data";
import { encodeRankedSets, modelDirTokenizer, RewardEncoder, type EncodeReport } from "./encode";
import { evaluateRewardModel, type RewardEvaluation } from "./evaluate";
import { foldScoreBias, rewardModelInit, type RewardBackbone } from "./model";
import { RewardScorer } from "./score";

/**
 * What a run hands the trainer: where checkpoints go (a run resumes from the newest intact one
 * there), and callbacks for progress, metrics and cancellation.
 */
export interface RewardRunContext {
  /** Checkpoints of this run; the trainer resumes from the newest intact one. */
  checkpointDir: string;
  /** After every optimizer step: loss, accuracy, margin, lr, grad_norm, tokens (non-pad tokens of the step), ms. */
  progress(step: number, total: number, metrics: Record<string, number>): void | Promise<void>;
  /**
   * Values at a step: the step's metrics as in progress, and at evaluation steps eval_accuracy,
   * eval_mean_margin, eval_pairs, eval_longer_wins_accuracy, eval_shorter_wins_accuracy.
   */
  logMetrics(step: number, values: Record<string, number>): void | Promise<void>;
  /** The whole evaluation at an evaluation step (with its calibration table), for plots and the run page. */
  evaluation?(step: number, evaluation: RewardEvaluation): void | Promise<void>;
  /** Asked after every step; true saves a checkpoint and returns with status "stopped". */
  shouldStop(): boolean | Promise<boolean>;
  log?(line: string): void;
}

/** Input the trainer cannot use (backbone, tokenizer, data): a run fails with this message, no retry. */
export class RewardInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RewardInputError";
  }
}

export interface RewardHyperparameters {
  /** Passes over the training sets (InstructGPT: 1; a second overfits). */
  epochs: number;
  /** Optimizer steps (overrides epochs). */
  steps?: number;
  /** Ranked sets per micro-batch (each is K rows). */
  promptsPerBatch: number;
  accumulation: number;
  lr: number;
  /** Warmup as a share of the steps. */
  warmupRatio: number;
  /** Cosine floor as a share of lr. */
  minLrRatio: number;
  beta1: number;
  beta2: number;
  weightDecay: number;
  maxGradNorm: number;
  /** Longest prompt + reply in tokens; longer completions are dropped with their pairs (default min(512, context)). */
  maxLength?: number;
  /** Use the sets' margins (−log σ(r_w − r_l − m)). */
  margins: boolean;
  /** TRL's center_rewards_coefficient (0: off). */
  centering: number;
  seed: number;
  /** Evaluate on the validation sets every this many steps (default: about 10 evaluations). */
  evalEvery?: number;
  checkpointEvery: number;
}

/** InstructGPT's and TRL's RM settings (DOMAIN.md), one epoch. */
export const REWARD_DEFAULTS: RewardHyperparameters = {
  epochs: 1,
  promptsPerBatch: 8,
  accumulation: 1,
  lr: 9e-6,
  warmupRatio: 0.03,
  minLrRatio: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  weightDecay: 0,
  maxGradNorm: 1,
  margins: false,
  centering: 0,
  seed: 1,
  checkpointEvery: 50,
};

export interface RewardTrainingSpec {
  backbone: RewardBackbone;
  train: readonly RankedSet[];
  validation?: readonly RankedSet[];
  /**
   * Replies whose mean score the bias sets to 0 after training (InstructGPT normalises on the
   * labelers' demonstrations). Default: every distinct completion of the training sets.
   */
  demonstrations?: readonly { prompt: Turn[]; text: string }[];
  /** Where the reward model is written. */
  outputDir: string;
  hyper?: Partial<RewardHyperparameters>;
  intraOpThreads?: number;
}

/** Score statistics written beside the model (reward_model.json) and returned with the run. */
export interface RewardModelMetadata {
  /** Subtracted from every score (folded into ln_f's shift), so the demonstrations average 0. */
  bias: number;
  demonstrations: number;
  /** The served model's score mean and standard deviation over the demonstrations. */
  reward_mean: number;
  reward_std: number;
  steps: number;
  max_length: number;
  validation: RewardEvaluation | null;
}

export interface RewardTrainingResult {
  status: "completed" | "stopped";
  step: number;
  totalSteps: number;
  resumedFrom: number;
  data: { train: Omit<EncodeReport, "sets">; validation: Omit<EncodeReport, "sets"> | null };
  /** Evaluations on the validation sets during this session of the run. */
  evaluations: { step: number; evaluation: RewardEvaluation }[];
  /** Null when stopped before the end. */
  modelDir: string | null;
  metadata: RewardModelMetadata | null;
}

class StopRequested extends Error {}

export const REWARD_METADATA_FILE = "reward_model.json";

export async function trainRewardModel(spec: RewardTrainingSpec, ctx: RewardRunContext): Promise<RewardTrainingResult> {
  const hp: RewardHyperparameters = { ...REWARD_DEFAULTS, ...spec.hyper };
  const log = ctx.log ?? (() => {});
  const init = inputStep("backbone", () => rewardModelInit(spec.backbone, hp.seed));
  const { config } = init;
  const maxLength = hp.maxLength ?? Math.min(512, config.nPositions);
  if (maxLength > config.nPositions) throw new RewardInputError(`maxLength ${maxLength} exceeds the model's context of ${config.nPositions} tokens`);
  const encoder = inputStep("tokenizer", () => new RewardEncoder(modelDirTokenizer(init.tokenizerDir)));
  if (encoder.tokenizer.vocabSize > config.vocabSize) throw new RewardInputError(`the tokenizer has ${encoder.tokenizer.vocabSize} tokens but the model only ${config.vocabSize}`);

  const train = encodeRankedSets(spec.train, encoder, maxLength);
  const validation = spec.validation?.length ? encodeRankedSets(spec.validation, encoder, maxLength) : null;
  const stats = (r: EncodeReport) => ({ pairs: r.pairs, pairsKept: r.pairsKept, overLengthCompletions: r.overLengthCompletions, overLengthPairs: r.overLengthPairs, setsDropped: r.setsDropped });
  if (train.sets.length === 0) {
    throw new RewardInputError(`no training set has a rankable pair within ${maxLength} tokens (${spec.train.length} sets read, ${train.overLengthPairs} of ${train.pairs} pairs over length)`);
  }
  if (hp.margins && !train.sets.some((s) => s.margins)) {
    throw new RewardInputError("margins were asked for, but the training data carries none (a pairwise \"margin\" key, or Bradley–Terry scores in kway rows)");
  }
  log(`reward data: ${train.sets.length} sets, ${train.pairsKept} pairs (${train.overLengthPairs} over ${maxLength} tokens dropped)`);

  const k = Math.max(...train.sets.map((s) => s.sequences.length));
  const order = new DataOrder(
    train.sets.map((s) => Math.max(...s.sequences.map((q) => q.length)) * s.sequences.length),
    { batchSize: hp.promptsPerBatch, seed: hp.seed },
  );
  const totalSteps = hp.steps ?? Math.max(1, Math.ceil((hp.epochs * order.batchesPerEpoch) / hp.accumulation));
  const evalEvery = hp.evalEvery ?? Math.max(1, Math.round(totalSteps / 10));
  const trainer = await Trainer.create({
    config,
    objective: rewardObjective(k, { margins: hp.margins, centering: hp.centering }),
    weights: init.weights,
    optimizer: { beta1: hp.beta1, beta2: hp.beta2, weightDecay: hp.weightDecay, maxGradNorm: hp.maxGradNorm },
    schedule: { peakLr: hp.lr, warmupSteps: Math.round(hp.warmupRatio * totalSteps), totalSteps, minLrRatio: hp.minLrRatio },
    accumulation: hp.accumulation,
    intraOpThreads: spec.intraOpThreads,
    log,
  });
  const scorer = await RewardScorer.forConfig(config, { intraOpThreads: spec.intraOpThreads });
  const evaluations: RewardTrainingResult["evaluations"] = [];
  const evaluate = async (step: number) => {
    if (!validation) return;
    scorer.setWeights(trainer.weights());
    const evaluation = await evaluateRewardModel(spec.validation!, encoder, scorer, maxLength);
    evaluations.push({ step, evaluation });
    await ctx.logMetrics(step, {
      eval_accuracy: evaluation.accuracy,
      eval_mean_margin: evaluation.mean_margin,
      eval_pairs: evaluation.pairs,
      eval_longer_wins_accuracy: evaluation.longer_wins_accuracy,
      eval_shorter_wins_accuracy: evaluation.shorter_wins_accuracy,
    });
    await ctx.evaluation?.(step, evaluation);
  };
  let stepTokens = 0;
  const batchOf = (indices: number[]) => {
    const sets = indices.map((i) => train.sets[i]);
    for (const s of sets) for (const q of s.sequences) stepTokens += q.length;
    return rankingBatch(sets, k, { padTokenId: config.padTokenId, margins: hp.margins });
  };
  const onStep = async (r: StepResult) => {
    const metrics = { ...stepMetrics(r), tokens: stepTokens };
    stepTokens = 0;
    await ctx.progress(r.step, totalSteps, metrics);
    await ctx.logMetrics(r.step, metrics);
    if (r.step % evalEvery === 0 || r.step === totalSteps) await evaluate(r.step);
    if (r.step < totalSteps && (await ctx.shouldStop())) {
      saveCheckpoint(ctx.checkpointDir, { identity: loopIdentity({ trainer, config }), state: trainer.state(), data: order.state(), extra: {} });
      pruneCheckpoints(ctx.checkpointDir, 2);
      throw new StopRequested();
    }
  };

  let resumedFrom = 0;
  const result = (status: RewardTrainingResult["status"], modelDir: string | null, metadata: RewardModelMetadata | null): RewardTrainingResult => ({
    status,
    step: trainer.step,
    totalSteps,
    resumedFrom,
    data: { train: stats(train), validation: validation && stats(validation) },
    evaluations,
    modelDir,
    metadata,
  });
  try {
    try {
      const loop = await runTrainingLoop({
        trainer,
        config,
        order,
        batch: batchOf,
        steps: totalSteps,
        checkpoints: { dir: ctx.checkpointDir, every: hp.checkpointEvery },
        onStep,
        log,
      });
      resumedFrom = loop.resumedFrom;
    } catch (err) {
      if (err instanceof StopRequested) return result("stopped", null, null);
      throw err;
    }

    // Centre the scores on the demonstrations, then measure the model as it will be served.
    const demos = spec.demonstrations ?? distinctCompletions(spec.train);
    const demoSeqs = demos.map((d) => encoder.sequence(d.prompt, d.text)).filter((s) => s.length <= maxLength);
    if (demoSeqs.length === 0) throw new RewardInputError(`no demonstration fits in ${maxLength} tokens: the score bias cannot be set`);
    const trained = trainer.weights();
    scorer.setWeights(trained);
    const bias = mean(await scorer.score(demoSeqs));
    writeGpt2ModelDir(spec.outputDir, { config, weights: foldScoreBias(trained, bias), head: "score", tokenizerFrom: init.tokenizerDir });
    const served = await RewardScorer.fromDir(spec.outputDir, { intraOpThreads: spec.intraOpThreads });
    try {
      const demoScores = await served.score(demoSeqs);
      const m = mean(demoScores);
      const metadata: RewardModelMetadata = {
        bias,
        demonstrations: demoSeqs.length,
        reward_mean: m,
        reward_std: Math.sqrt(mean(demoScores.map((v) => (v - m) ** 2))),
        steps: trainer.step,
        max_length: maxLength,
        validation: spec.validation?.length ? await evaluateRewardModel(spec.validation, encoder, served, maxLength) : null,
      };
      writeFileSync(path.join(spec.outputDir, REWARD_METADATA_FILE), JSON.stringify(metadata, null, 2) + "\n");
      return result("completed", spec.outputDir, metadata);
    } finally {
      await served.dispose();
    }
  } finally {
    await scorer.dispose();
    await trainer.dispose();
  }
}

/** Loss, accuracy, margin, learning rate, gradient norm and the rewards of the step's completions. */
function stepMetrics(r: StepResult): Record<string, number> {
  const avg = (name: string) => mean(r.metrics.flatMap((m) => m[name] ?? []));
  return { loss: r.loss, accuracy: avg("accuracy"), margin: avg("margin"), lr: r.lr, grad_norm: r.gradNorm, ms: r.ms };
}

/** Runs a setup step, turning its failure into a RewardInputError that names the step. */
function inputStep<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof RewardInputError) throw err;
    throw new RewardInputError(`${what}: ${(err as Error).message}`);
  }
}

function distinctCompletions(sets: readonly RankedSet[]): { prompt: Turn[]; text: string }[] {
  const seen = new Set<string>();
  const out: { prompt: Turn[]; text: string }[] = [];
  for (const s of sets) {
    for (const c of s.completions) {
      const key = JSON.stringify([s.prompt, c.text]);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ prompt: s.prompt, text: c.text });
    }
  }
  return out;
}

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return xs.length ? s / xs.length : 0;
}
