// The DPO benchmark's settings, shared by its driver and its child processes.
import type { Gpt2Config } from "../../../inference/models/gpt2";
import type { DEFAULT_ADAMW } from "../../../training/step-graph";
import type { WeightIndex } from "../weights-file";

export const DEFAULT_DPO_BENCH = {
  /** Batches of pairs, cycled through; each pair is two rows. */
  batchCount: 4,
  pairsPerBatch: 8,
  /** Longest prompt + reply kept (tokens). */
  maxLength: 256,
  steps: 10,
  /** The first steps are not timed. */
  warmup: 2,
  beta: 0.1,
  lr: 1e-5,
  threads: 2,
};

export type DpoBenchSpec = typeof DEFAULT_DPO_BENCH & {
  config: Gpt2Config;
  params: WeightIndex;
  batches: { rows: number; length: number; tokens: number }[];
  optimizer: typeof DEFAULT_ADAMW;
};
