// What a worker gives a training run of any kind, and what a kind's runner gives back. The
// `training` queue's processor (workers/processors/training.ts) owns the row: it validates, sets
// up directories, records progress, metrics and the log, registers the model with its lineage,
// and cleans up after a failure. A kind only trains.
import type { TrainingKindName } from "~/domain/training/kinds.ts";

export interface RunDataset {
  exportId: string;
  format: string;
  /** The export's directory and its files (name, split). */
  dir: string;
  files: { name: string; split: string }[];
}

export interface TrainingRunContext {
  runId: string;
  /** Parsed with the kind's parseConfig (defaults filled in). */
  config: Record<string, number>;
  datasets: RunDataset[];
  baseModel: { id: string; name: string; path: string } | null;
  /** PPO and RLOO: the reward model that scores the samples. */
  rewardModel: { id: string; name: string; path: string } | null;
  /** External runs: the configured command's name and the run's JSON config as stored. */
  command: string | null;
  rawConfig: unknown;
  /** The row's checkpoint record as the previous attempt left it (null on a first attempt). */
  previousCheckpoint: unknown;
  /** Merges fields into the row's checkpoint record (e.g. the process group of an external command). */
  recordCheckpoint(fields: Record<string, unknown>): Promise<void>;
  /** Checkpoints live here; a retried or resumed run continues from the newest intact one. */
  checkpointDir: string;
  /** Write the trained model directory here (whole, then renamed in). */
  outputDir: string;
  ortThreads: number;
  /** Step / total with tokens/s and ETA, to the job and the row. */
  progress(p: { step: number; totalSteps: number; tokensPerSecond: number; etaSeconds: number; latest?: Record<string, number> }): Promise<void>;
  /** Values at a step into training_metrics (loss, lr, grad_norm, validation_loss, tokens_seen…). */
  logMetrics(step: number, values: Record<string, number>): Promise<void>;
  /** True once the run was cancelled: stop at this step boundary (after a checkpoint). */
  shouldStop(): Promise<boolean>;
  /** The registered models that wrote any of these messages, with how many each. */
  modelsThatWrote(messageIds: string[]): Promise<{ name: string; path: string; messages: number }[]>;
  log(line: string): void;
}

export interface TrainingOutcome {
  /** completed: a model is in outputDir; stopped: cancelled (checkpoint kept, nothing to register). */
  status: "completed" | "stopped";
  /** Final metrics, kept on the row. */
  metrics: Record<string, unknown>;
  /** The registry kind of the model, when the run decides it (external commands declare theirs). */
  output?: "policy" | "reward";
}

export interface TrainingRunner {
  kind: TrainingKindName;
  run(ctx: TrainingRunContext): Promise<TrainingOutcome>;
}

/**
 * Input the run cannot use (wrong data, wrong model, a non-finite loss): it fails at once with
 * this message instead of being retried.
 */
export class TrainingInputError extends Error {}
