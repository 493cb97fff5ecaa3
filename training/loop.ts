// The training loop trainers share: draw micro-batches in the seeded data order, take optimizer steps,
// report each one, checkpoint every N steps, and resume from the newest intact checkpoint.

import type { Gpt2Config } from "../inference/models/gpt2";
import type { Batch } from "./batch";
import { checkIdentity, latestCheckpoint, pruneCheckpoints, saveCheckpoint, type CheckpointIdentity } from "./checkpoint";
import type { DataOrder } from "./data-order";
import { NonFiniteError, type StepResult, type Trainer } from "./trainer";

export interface TrainingLoop {
  trainer: Trainer;
  config: Gpt2Config;
  /** Which examples form each micro-batch. */
  order: DataOrder;
  /** Builds a micro-batch from example indices. */
  batch: (indices: number[]) => Batch;
  /** Optimizer steps to reach. */
  steps: number;
  checkpoints?: {
    dir: string;
    /** Save every this many steps (and after the last). */
    every: number;
    /** Checkpoints kept (default 2). */
    keep?: number;
  };
  /** Skip a batch whose step is refused as non-finite instead of stopping (default false); 10 in a row stop the run. */
  skipNonFinite?: boolean;
  onStep?: (r: StepResult) => void | Promise<void>;
  /** Saved with each checkpoint and handed back on resume (run ids, metrics so far). */
  extra?: () => Record<string, unknown>;
  /** Called once, before the first step, with the `extra` of the checkpoint the loop resumed from. */
  onResume?: (extra: Record<string, unknown>, step: number) => void;
  /**
   * Asked after each step (and its checkpoint): true ends the loop at this step boundary (a cancel,
   * early stopping), saving a checkpoint first when checkpoints are on.
   */
  shouldStop?: () => boolean | Promise<boolean>;
  log?: (line: string) => void;
}

export interface LoopResult {
  /** The step the loop resumed from (0 for a fresh run). */
  resumedFrom: number;
  /** The `extra` of the checkpoint resumed from. */
  resumedExtra: Record<string, unknown> | null;
  steps: StepResult[];
  skipped: NonFiniteError[];
  /** True when shouldStop ended the loop before `steps`. */
  stopped: boolean;
}

export function loopIdentity(loop: Pick<TrainingLoop, "trainer" | "config">): CheckpointIdentity {
  return {
    config: loop.config,
    head: loop.trainer.head,
    trainable: loop.trainer.stepParams.filter((p) => p.trainable).map((p) => p.name).sort(),
  };
}

const MAX_SKIPS_IN_A_ROW = 10;

export async function runTrainingLoop(loop: TrainingLoop): Promise<LoopResult> {
  const log = loop.log ?? (() => {});
  const identity = loopIdentity(loop);
  let resumedFrom = 0;
  let resumedExtra: Record<string, unknown> | null = null;
  if (loop.checkpoints) {
    const found = latestCheckpoint(loop.checkpoints.dir, log);
    if (found) {
      checkIdentity(found.file, found.checkpoint.identity, identity);
      loop.trainer.restore(found.checkpoint.state);
      if (found.checkpoint.data) loop.order.restore(found.checkpoint.data);
      resumedFrom = found.checkpoint.state.step;
      resumedExtra = found.checkpoint.extra;
      log(`resumed from ${found.file} (step ${resumedFrom})`);
      loop.onResume?.(resumedExtra ?? {}, resumedFrom);
    }
  }
  const steps: StepResult[] = [];
  const skipped: NonFiniteError[] = [];
  let inARow = 0;
  const save = () => {
    const ck = loop.checkpoints!;
    const file = saveCheckpoint(ck.dir, { identity, state: loop.trainer.state(), data: loop.order.state(), extra: loop.extra?.() ?? {} });
    pruneCheckpoints(ck.dir, ck.keep ?? 2);
    log(`saved ${file}`);
  };
  while (loop.trainer.step < loop.steps) {
    const micro = Array.from({ length: loop.trainer.accumulation }, () => loop.batch(loop.order.next()));
    try {
      const r = await loop.trainer.trainStep(micro);
      inARow = 0;
      steps.push(r);
      await loop.onStep?.(r);
    } catch (err) {
      if (!(err instanceof NonFiniteError) || !loop.skipNonFinite) throw err;
      skipped.push(err);
      inARow++;
      if (inARow >= MAX_SKIPS_IN_A_ROW) throw new Error(`${MAX_SKIPS_IN_A_ROW} steps in a row refused; last: ${err.message}`);
      log(`${err.message}; batch skipped`);
      continue;
    }
    const step = loop.trainer.step;
    const saved = loop.checkpoints && (step % loop.checkpoints.every === 0 || step === loop.steps);
    if (saved) save();
    if (step < loop.steps && (await loop.shouldStop?.())) {
      if (loop.checkpoints && !saved) save();
      log(`stopped at step ${step}`);
      return { resumedFrom, resumedExtra, steps, skipped, stopped: true };
    }
  }
  return { resumedFrom, resumedExtra, steps, skipped, stopped: false };
}
