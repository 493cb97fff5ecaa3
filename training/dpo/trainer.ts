// DPO: preference pairs straight into the policy, no reward model. The loss compares how much more
// the policy prefers the chosen reply over the rejected one than the frozen reference does:
// −log σ(β·[(log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))]) (Rafailov et al.), with IPO and
// hinge as options and label smoothing. Each pair is two rows of one batch; the reference's
// log-probabilities are computed once per pair before training. Metrics use TRL's names.

import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Turn } from "../../inference/chat-template";
import { writeGpt2ModelDir } from "../../inference/models/gpt2-dir";
import { float32 } from "../../inference/onnx/tensor";
import type { Batch } from "../batch";
import { pruneCheckpoints, saveCheckpoint } from "../checkpoint";
import { DataOrder } from "../data-order";
import { loopIdentity, runTrainingLoop } from "../loop";
import type { RankedSet } from "../reward/data";
import { RewardEncoder } from "../reward/encode";
import { rolloutBatch, RolloutForward, type RolloutSequence } from "../rl/model";
import { loadSftBase, SftInputError } from "../sft";
import { NonFiniteError, Trainer, type StepResult } from "../trainer";
import { dpoLoss, type DpoRunConfig } from "./config";
import { dpoObjective, DPO_METRICS } from "./objective";

export interface DpoTrainingSpec {
  /** The SFT policy: the starting weights and the frozen reference. */
  policyDir: string;
  train: readonly RankedSet[];
  validation?: readonly RankedSet[];
  outputDir: string;
  /** Parsed with parseDpoConfig. */
  config: DpoRunConfig;
  intraOpThreads?: number;
}

export interface DpoRunContext {
  checkpointDir: string;
  /** After every optimizer step: loss, lr, grad_norm, tokens, ms and the TRL metrics of the step. */
  progress(step: number, total: number, metrics: Record<string, number>): void | Promise<void>;
  /** The step's values, and eval_* (TRL's names prefixed) at evaluation steps. */
  logMetrics(step: number, values: Record<string, number>): void | Promise<void>;
  shouldStop(): boolean | Promise<boolean>;
  log?(line: string): void;
}

export class DpoInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DpoInputError";
  }
}

export interface DpoEvaluation {
  pairs: number;
  loss: number;
  /** TRL's names: rewards/chosen, rewards/rejected, rewards/accuracies, rewards/margins, logps/chosen, logps/rejected. */
  metrics: Record<string, number>;
}

export interface DpoTrainingResult {
  status: "completed" | "stopped";
  step: number;
  totalSteps: number;
  resumedFrom: number;
  data: { pairs: number; overLength: number; identical: number; validationPairs: number };
  evaluations: { step: number; evaluation: DpoEvaluation }[];
  modelDir: string | null;
}

export const DPO_METADATA_FILE = "dpo_run.json";

/** A pair as the policy produces it: prompt (chat template, generation header) + reply + EOS. */
interface EncodedPair {
  chosen: RolloutSequence;
  rejected: RolloutSequence;
  /** Reference log-probabilities of the replies (summed over their tokens). */
  ref: [number, number];
}

class StopRequested extends Error {}

export async function trainDpo(spec: DpoTrainingSpec, ctx: DpoRunContext): Promise<DpoTrainingResult> {
  const c = spec.config;
  const log = ctx.log ?? (() => {});
  let base;
  try {
    base = loadSftBase(spec.policyDir);
  } catch (err) {
    throw new DpoInputError(err instanceof SftInputError ? err.message.replace(/^base model/, "policy") : `policy: ${(err as Error).message}`);
  }
  const { config } = base;
  const maxLength = c.maxLength || Math.min(512, config.nPositions);
  if (maxLength > config.nPositions) throw new DpoInputError(`maxLength ${maxLength} exceeds the policy's context of ${config.nPositions} tokens`);
  let encoder: RewardEncoder;
  try {
    encoder = new RewardEncoder(base.tokenizer);
  } catch (err) {
    throw new DpoInputError(`policy: ${(err as Error).message}`);
  }

  const promptLengths = new Map<string, number>();
  const encode = (sets: readonly RankedSet[]) => {
    const pairs: Omit<EncodedPair, "ref">[] = [];
    let overLength = 0;
    let identical = 0;
    for (const s of sets) {
      const key = JSON.stringify(s.prompt);
      let promptLength = promptLengths.get(key);
      if (promptLength === undefined) {
        promptLength = base.tokenizer.encode(base.tokenizer.chat.render(s.prompt as Turn[])).length;
        promptLengths.set(key, promptLength);
      }
      const seqs = s.completions.map((comp) => encoder.sequence(s.prompt, comp.text));
      for (let i = 0; i < s.completions.length; i++) {
        for (let j = 0; j < s.completions.length; j++) {
          if (!(s.completions[i].rank < s.completions[j].rank)) continue;
          if (seqs[i].length > maxLength || seqs[j].length > maxLength) {
            overLength++;
            continue;
          }
          // The same tokens on both sides teach nothing (the loss's gradient is zero) and skew the metrics.
          if (seqs[i].length === seqs[j].length && seqs[i].every((t, n) => t === seqs[j][n])) {
            identical++;
            continue;
          }
          pairs.push({ chosen: { ids: seqs[i], promptLength }, rejected: { ids: seqs[j], promptLength } });
        }
      }
    }
    return { pairs, overLength, identical };
  };
  const train = encode(spec.train);
  const validation = spec.validation?.length ? encode(spec.validation) : null;
  if (train.pairs.length === 0) {
    throw new DpoInputError(`no preference pair fits within ${maxLength} tokens (${spec.train.length} sets read, ${train.overLength} pairs over length, ${train.identical} with identical replies)`);
  }
  log(`DPO data: ${train.pairs.length} training pairs (${train.overLength} over ${maxLength} tokens and ${train.identical} with identical replies skipped), ${validation?.pairs.length ?? 0} validation pairs`);

  // The reference's log-probabilities, once per pair.
  const forward = await RolloutForward.create(config, "logprobs", { intraOpThreads: spec.intraOpThreads });
  const withRef = async (pairs: Omit<EncodedPair, "ref">[]): Promise<EncodedPair[]> => {
    const rows = pairs.flatMap((p) => [p.chosen, p.rejected]);
    const lp = (await forward.run(base.weights, rows, config.padTokenId)).map(sumOf);
    return pairs.map((p, i) => ({ ...p, ref: [lp[2 * i], lp[2 * i + 1]] }));
  };
  const trainPairs = await withRef(train.pairs);
  const validationPairs = validation ? await withRef(validation.pairs) : [];

  const order = new DataOrder(trainPairs.map((p) => Math.max(p.chosen.ids.length, p.rejected.ids.length)), { batchSize: c.pairsPerBatch, seed: c.seed });
  const totalSteps = c.steps || Math.max(1, Math.ceil((c.epochs * order.batchesPerEpoch) / c.accumulation));
  const evalEvery = c.evalEvery || Math.max(1, Math.round(totalSteps / 10));
  const loss = dpoLoss(c);
  const trainer = await Trainer.create({
    config,
    objective: dpoObjective({ beta: c.beta, loss, labelSmoothing: c.labelSmoothing }),
    weights: base.weights,
    optimizer: { maxGradNorm: c.maxGradNorm, weightDecay: 0 },
    schedule: { peakLr: c.lr, warmupSteps: Math.round(c.warmupRatio * totalSteps), totalSteps, minLrRatio: c.minLrRatio },
    accumulation: c.accumulation,
    intraOpThreads: spec.intraOpThreads,
    log,
  });

  const evaluations: DpoTrainingResult["evaluations"] = [];
  const evaluate = async (step: number) => {
    if (validationPairs.length === 0) return;
    const rows = validationPairs.flatMap((p) => [p.chosen, p.rejected]);
    const lp = (await forward.run(trainer.state().weights, rows, config.padTokenId)).map(sumOf);
    const evaluation = dpoEvaluation(validationPairs.map((p, i) => ({ chosen: lp[2 * i], rejected: lp[2 * i + 1], ref: p.ref })), c.beta, loss, c.labelSmoothing);
    evaluations.push({ step, evaluation });
    await ctx.logMetrics(step, { eval_loss: evaluation.loss, ...Object.fromEntries(Object.entries(evaluation.metrics).map(([k, v]) => [`eval_${k}`, v])) });
    log(`step ${step}: validation loss ${evaluation.loss.toFixed(4)}, reward accuracy ${evaluation.metrics["rewards/accuracies"].toFixed(3)} on ${evaluation.pairs} pairs`);
  };

  let stepTokens = 0;
  const batchOf = (indices: number[]): Batch => {
    const pairs = indices.map((i) => trainPairs[i]);
    const rows = pairs.flatMap((p) => [p.chosen, p.rejected]);
    for (const r of rows) stepTokens += r.ids.length;
    return { ...rolloutBatch(rows, config.padTokenId), ref_logps: float32([pairs.length, 2], pairs.flatMap((p) => p.ref)) };
  };
  const onStep = async (r: StepResult) => {
    const avg = (name: string) => mean(r.metrics.flatMap((m) => m[name] ?? []));
    const metrics: Record<string, number> = { loss: r.loss, lr: r.lr, grad_norm: r.gradNorm, tokens: stepTokens, ms: r.ms };
    for (const [key, name] of Object.entries(DPO_METRICS)) metrics[name] = avg(key);
    stepTokens = 0;
    await ctx.progress(r.step, totalSteps, metrics);
    const { ms: _ms, ...values } = metrics;
    await ctx.logMetrics(r.step, values);
    if (r.step % evalEvery === 0 || r.step === totalSteps) await evaluate(r.step);
    if (r.step < totalSteps && (await ctx.shouldStop())) {
      saveCheckpoint(ctx.checkpointDir, { identity: loopIdentity({ trainer, config }), state: trainer.state(), data: order.state(), extra: {} });
      pruneCheckpoints(ctx.checkpointDir, 2);
      throw new StopRequested();
    }
  };

  let resumedFrom = 0;
  const data = { pairs: trainPairs.length, overLength: train.overLength, identical: train.identical, validationPairs: validationPairs.length };
  try {
    try {
      const loopResult = await runTrainingLoop({ trainer, config, order, batch: batchOf, steps: totalSteps, checkpoints: { dir: ctx.checkpointDir, every: c.checkpointEvery }, onStep, log });
      resumedFrom = loopResult.resumedFrom;
    } catch (err) {
      if (err instanceof StopRequested) return { status: "stopped", step: trainer.step, totalSteps, resumedFrom, data, evaluations, modelDir: null };
      if (err instanceof NonFiniteError) throw new DpoInputError(err.message);
      throw err;
    }
    writeGpt2ModelDir(spec.outputDir, { config, weights: trainer.weights(), tokenizerFrom: spec.policyDir });
    const last = evaluations.at(-1)?.evaluation ?? null;
    writeFileSync(
      path.join(spec.outputDir, DPO_METADATA_FILE),
      JSON.stringify({ beta: c.beta, loss, label_smoothing: c.labelSmoothing, steps: trainer.step, max_length: maxLength, data, validation: last }, null, 2) + "\n",
    );
    return { status: "completed", step: trainer.step, totalSteps, resumedFrom, data, evaluations, modelDir: spec.outputDir };
  } finally {
    await forward.dispose();
    await trainer.dispose();
  }
}

/** The loss and TRL's metrics from summed log-probabilities (policy and reference) of each pair. */
export function dpoEvaluation(pairs: { chosen: number; rejected: number; ref: [number, number] }[], beta: number, loss: ReturnType<typeof dpoLoss>, labelSmoothing: number): DpoEvaluation {
  const logSigmoid = (x: number) => Math.min(x, 0) - Math.log1p(Math.exp(-Math.abs(x)));
  let total = 0;
  const m = { "rewards/chosen": 0, "rewards/rejected": 0, "rewards/accuracies": 0, "rewards/margins": 0, "logps/chosen": 0, "logps/rejected": 0 };
  for (const p of pairs) {
    const rc = beta * (p.chosen - p.ref[0]);
    const rr = beta * (p.rejected - p.ref[1]);
    const z = rc - rr;
    total += loss === "sigmoid" ? -(1 - labelSmoothing) * logSigmoid(z) - labelSmoothing * logSigmoid(-z) : loss === "ipo" ? (z / beta - 1 / (2 * beta)) ** 2 : Math.max(0, 1 - z);
    m["rewards/chosen"] += rc;
    m["rewards/rejected"] += rr;
    m["rewards/accuracies"] += rc > rr ? 1 : 0;
    m["rewards/margins"] += z;
    m["logps/chosen"] += p.chosen;
    m["logps/rejected"] += p.rejected;
  }
  const n = Math.max(1, pairs.length);
  return { pairs: pairs.length, loss: total / n, metrics: Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v / n])) };
}

function sumOf(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s;
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}
