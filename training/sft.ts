// The SFT trainer: demonstrations (conversations ending in an assistant reply) → a policy. Each
// conversation goes through the base model's chat template and tokenizer; the loss counts only the
// assistant's tokens (its reply and the end-of-turn token, not the role header). Batches group
// similar lengths; validation loss is measured every N steps; training can stop early when it stops
// improving. The result is written as an Optimum-layout model directory with the base's tokenizer.

import { existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import type { Conversation } from "../inference/chat-template";
import { locateModelFiles } from "../inference/loader/model-files";
import { loadModelTokenizer, type ModelTokenizer } from "../inference/loader/tokenizer";
import { readGpt2ModelDir, writeGpt2ModelDir } from "../inference/models/gpt2-dir";
import type { Gpt2Config, Gpt2Weights } from "../inference/models/gpt2";
import { lmBatch, type Batch, type LmExample } from "./batch";
import { DataOrder } from "./data-order";
import { LmEvaluator } from "./evaluate";
import { runTrainingLoop } from "./loop";
import { causalLmObjective } from "./objectives";
import type { SftConfig } from "./sft-config";
import { Trainer } from "./trainer";

/** Input the trainer cannot use (wrong model, no data): the run fails with this message. */
export class SftInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SftInputError";
  }
}

export interface SftBase {
  dir: string;
  config: Gpt2Config;
  weights: Gpt2Weights;
  tokenizer: ModelTokenizer;
}

/** Reads a base model for SFT, saying plainly why one cannot be used. */
export function loadSftBase(dir: string): SftBase {
  let hf: Record<string, unknown>;
  try {
    hf = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new SftInputError(`base model: ${dir}/config.json cannot be read (${(err as Error).message})`);
  }
  if (hf.model_type !== "gpt2") throw new SftInputError(`base model: architecture ${JSON.stringify(hf.model_type)} is not supported; the SFT trainer trains GPT-2 family models`);
  let read: ReturnType<typeof readGpt2ModelDir>;
  try {
    read = readGpt2ModelDir(dir);
  } catch (err) {
    throw new SftInputError(`base model: its weights cannot be read as GPT-2 (${(err as Error).message})`);
  }
  if (read.head !== "lm") throw new SftInputError("base model: it is a reward/value model (score head); SFT starts from a language model");
  let tokenizer: ModelTokenizer;
  try {
    const files = locateModelFiles(dir);
    tokenizer = loadModelTokenizer(files.tokenizer, files.tokenizerConfig);
  } catch (err) {
    throw new SftInputError(`base model: tokenizer cannot be loaded (${(err as Error).message})`);
  }
  if (tokenizer.vocabSize > read.config.vocabSize)
    throw new SftInputError(`base model: the tokenizer has ${tokenizer.vocabSize} tokens but the model only ${read.config.vocabSize}`);
  if (!tokenizer.specialTokens.eos_token) throw new SftInputError("base model: tokenizer_config.json names no eos_token, so trained replies could never end");
  return { dir, config: read.config, weights: read.weights, tokenizer };
}

export interface SftTokenized {
  examples: LmExample[];
  /** Conversations left out: no assistant token left within maxLength, or no assistant turn. */
  dropped: number;
  /** Conversations cut to maxLength. */
  truncated: number;
  /** Tokens the loss counts. */
  targetTokens: number;
}

/**
 * Tokenizes conversations through the chat template: each turn is the text the template adds for
 * it, so a turn's tokens are known exactly; the assistant header is context, the reply and its
 * end-of-turn token are targets.
 */
export function tokenizeSft(conversations: Conversation[], tokenizer: ModelTokenizer, maxLength: number): SftTokenized {
  const examples: LmExample[] = [];
  let dropped = 0;
  let truncated = 0;
  let targetTokens = 0;
  for (const conversation of conversations) {
    const ids: number[] = [];
    const lossMask: number[] = [];
    const add = (text: string, target: 0 | 1) => {
      for (const id of tokenizer.encode(text)) {
        ids.push(id);
        lossMask.push(target);
      }
    };
    let rendered = "";
    const piece = (next: string): string => {
      if (!next.startsWith(rendered)) throw new SftInputError("the chat template does not render a conversation as the extension of its first turns; SFT cannot tell the assistant's tokens");
      const text = next.slice(rendered.length);
      rendered = next;
      return text;
    };
    for (let i = 0; i < conversation.length; i++) {
      const turns = conversation.slice(0, i + 1);
      if (conversation[i].role === "assistant") {
        add(piece(tokenizer.chat.renderTurns(conversation.slice(0, i), true)), 0);
        add(piece(tokenizer.chat.renderTurns(turns, false)), 1);
      } else add(piece(tokenizer.chat.renderTurns(turns, false)), 0);
    }
    if (ids.length > maxLength) {
      ids.length = maxLength;
      lossMask.length = maxLength;
      truncated++;
    }
    // The first token is never a target (nothing predicts it).
    const targets = lossMask.reduce((a, m, t) => a + (t > 0 ? m : 0), 0);
    if (targets === 0) {
      dropped++;
      continue;
    }
    targetTokens += targets;
    examples.push({ ids, lossMask });
  }
  return { examples, dropped, truncated, targetTokens };
}

export interface SftStepReport {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Tokens (not padding) in this step's batches, and since the run began. */
  tokens: number;
  tokensSeen: number;
  tokensPerSecond: number;
  etaSeconds: number;
}

export interface SftEvalReport {
  step: number;
  validationLoss: number;
  validationPerplexity: number;
}

export interface SftHooks {
  onStep?: (r: SftStepReport) => void | Promise<void>;
  onEval?: (r: SftEvalReport) => void | Promise<void>;
  /** Asked after each step: true stops at this step boundary (a checkpoint is saved). */
  shouldStop?: () => boolean | Promise<boolean>;
  log?: (line: string) => void;
}

export interface SftRunOptions {
  base: SftBase;
  train: Conversation[];
  validation: Conversation[];
  config: SftConfig;
  /** Where the trained model directory goes (written whole, then renamed into place). */
  outputDir: string;
  /** Checkpoints (and resume) when given. */
  checkpointDir?: string;
  intraOpThreads?: number;
  hooks?: SftHooks;
}

export interface SftMetrics {
  trainLoss: number;
  validationLoss: number | null;
  validationPerplexity: number | null;
  bestValidationLoss: number | null;
  tokensSeen: number;
  trainExamples: number;
  validationExamples: number;
  droppedExamples: number;
  truncatedExamples: number;
}

export interface SftResult {
  /** completed: all steps; early-stopped: validation loss stopped improving; stopped: shouldStop (nothing written). */
  status: "completed" | "early-stopped" | "stopped";
  step: number;
  totalSteps: number;
  metrics: SftMetrics;
  outputDir: string | null;
}

function batchTokens(b: Batch): number {
  let n = 0;
  for (const v of b.attention_mask.data as BigInt64Array) n += Number(v);
  return n;
}

export async function trainSft(opts: SftRunOptions): Promise<SftResult> {
  const { base, config: cfg, hooks = {} } = opts;
  const log = hooks.log ?? (() => {});
  if (cfg.maxLength > base.config.nPositions) throw new SftInputError(`maxLength ${cfg.maxLength} exceeds the base model's context of ${base.config.nPositions} tokens`);
  const train = tokenizeSft(opts.train, base.tokenizer, cfg.maxLength);
  const validation = tokenizeSft(opts.validation, base.tokenizer, cfg.maxLength);
  if (train.examples.length === 0) throw new SftInputError(`no training example has an assistant token within maxLength (${opts.train.length} conversations read)`);
  log(`${train.examples.length} training conversations (${train.targetTokens} target tokens, ${train.truncated} cut, ${train.dropped} left out), ${validation.examples.length} for validation`);

  const pad = base.config.padTokenId;
  const order = new DataOrder(train.examples.map((e) => e.ids.length), { batchSize: cfg.batchSize, seed: cfg.seed });
  const totalSteps = cfg.maxSteps || Math.max(1, Math.ceil((cfg.epochs * order.batchesPerEpoch) / cfg.gradientAccumulation));
  const trainer = await Trainer.create({
    config: base.config,
    objective: causalLmObjective(),
    weights: base.weights,
    optimizer: { weightDecay: cfg.weightDecay, maxGradNorm: cfg.maxGradNorm },
    schedule: { peakLr: cfg.learningRate, warmupSteps: Math.round(cfg.warmupRatio * totalSteps), totalSteps, minLrRatio: cfg.minLrRatio },
    accumulation: cfg.gradientAccumulation,
    intraOpThreads: opts.intraOpThreads,
    log,
  });
  const evaluator = validation.examples.length ? await LmEvaluator.create(base.config, { intraOpThreads: opts.intraOpThreads }) : null;
  // Validation batches sorted by length: little padding, and the same batches at every evaluation.
  const valSorted = [...validation.examples].sort((a, b) => a.ids.length - b.ids.length);
  const valBatches: Batch[] = [];
  for (let i = 0; i < valSorted.length; i += cfg.batchSize) valBatches.push(lmBatch(valSorted.slice(i, i + cfg.batchSize), { padTokenId: pad }));

  let tokensSeen = 0;
  let best: number | null = null;
  let evalsWithoutGain = 0;
  let lastVal: SftEvalReport | null = null;
  let lastLoss = Number.NaN;
  let earlyStop = false;
  const started = performance.now();
  let startStep = 0;
  let stepTokens = 0;
  let tokensHere = 0; // since this process started (a resumed run's rate is its own)
  const evaluate = async (step: number) => {
    if (!evaluator) return;
    const e = await evaluator.evaluate(trainer.state().weights, valBatches);
    lastVal = { step, validationLoss: e.loss, validationPerplexity: e.perplexity };
    if (best === null || e.loss < best) {
      best = e.loss;
      evalsWithoutGain = 0;
    } else evalsWithoutGain++;
    await hooks.onEval?.(lastVal);
    if (cfg.earlyStoppingPatience > 0 && evalsWithoutGain >= cfg.earlyStoppingPatience) {
      earlyStop = true;
      log(`early stop at step ${step}: validation loss ${e.loss.toFixed(4)} has not improved on ${best.toFixed(4)} for ${evalsWithoutGain} evaluations`);
    }
  };

  try {
    const result = await runTrainingLoop({
      trainer,
      config: base.config,
      order,
      batch: (indices) => {
        const b = lmBatch(indices.map((i) => train.examples[i]), { padTokenId: pad });
        stepTokens += batchTokens(b);
        return b;
      },
      steps: totalSteps,
      checkpoints: opts.checkpointDir ? { dir: opts.checkpointDir, every: cfg.checkpointEvery, keep: 2 } : undefined,
      extra: () => ({ tokensSeen, best, evalsWithoutGain, lastVal }),
      onResume: (extra, step) => {
        tokensSeen = Number(extra.tokensSeen ?? 0);
        best = (extra.best as number | null) ?? null;
        evalsWithoutGain = Number(extra.evalsWithoutGain ?? 0);
        lastVal = (extra.lastVal as SftEvalReport | null) ?? null;
        startStep = step;
      },
      onStep: async (r) => {
        tokensSeen += stepTokens;
        tokensHere += stepTokens;
        const tokens = stepTokens;
        stepTokens = 0;
        lastLoss = r.loss;
        const seconds = (performance.now() - started) / 1000;
        const stepsHere = r.step - startStep;
        await hooks.onStep?.({
          step: r.step,
          totalSteps,
          loss: r.loss,
          lr: r.lr,
          gradNorm: r.gradNorm,
          tokens,
          tokensSeen,
          tokensPerSecond: seconds > 0 ? tokensHere / seconds : 0,
          etaSeconds: stepsHere > 0 ? ((totalSteps - r.step) * seconds) / stepsHere : 0,
        });
        if (r.step % cfg.evalEvery === 0 || r.step === totalSteps) await evaluate(r.step);
      },
      shouldStop: async () => earlyStop || ((await hooks.shouldStop?.()) ?? false),
      log,
    });
    const status = result.stopped ? (earlyStop ? "early-stopped" : "stopped") : "completed";
    const v = lastVal as SftEvalReport | null;
    const metrics: SftMetrics = {
      trainLoss: lastLoss,
      validationLoss: v?.validationLoss ?? null,
      validationPerplexity: v?.validationPerplexity ?? null,
      bestValidationLoss: best,
      tokensSeen,
      trainExamples: train.examples.length,
      validationExamples: validation.examples.length,
      droppedExamples: train.dropped + validation.dropped,
      truncatedExamples: train.truncated + validation.truncated,
    };
    if (status === "stopped") return { status, step: trainer.step, totalSteps, metrics, outputDir: null };
    writeModelDir(opts.outputDir, base, trainer.weights());
    return { status, step: trainer.step, totalSteps, metrics, outputDir: opts.outputDir };
  } finally {
    await trainer.dispose();
    await evaluator?.dispose();
  }
}

/** Writes the model next to its final place and renames it in, so a crash never leaves half a model there. */
function writeModelDir(dir: string, base: SftBase, weights: Gpt2Weights): void {
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  try {
    writeGpt2ModelDir(partial, { config: base.config, weights, tokenizerFrom: base.dir });
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    renameSync(partial, dir);
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    throw err;
  }
}
