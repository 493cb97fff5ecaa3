// The job contract shared by the web app and the workers: every queue's name and the Zod
// schema of its payload. Payloads carry row ids only; the row holds config, progress and result.
import { z } from "zod";

const RowId = z.string().uuid();

export const QUEUES = {
  sampling: {
    name: "sampling",
    payload: z.object({ samplingRunId: RowId }),
    /** The row a job belongs to; its id is the BullMQ jobId (dedupe on enqueue). */
    rowIdOf: (p: { samplingRunId: string }) => p.samplingRunId,
  },
  export: {
    name: "export",
    payload: z.object({ exportId: RowId }),
    rowIdOf: (p: { exportId: string }) => p.exportId,
  },
  import: {
    name: "import",
    payload: z.object({ importId: RowId }),
    rowIdOf: (p: { importId: string }) => p.importId,
  },
  playground: {
    name: "playground",
    payload: z.object({ generationId: RowId }),
    rowIdOf: (p: { generationId: string }) => p.generationId,
  },
  training: {
    name: "training",
    payload: z.object({ trainingRunId: RowId }),
    rowIdOf: (p: { trainingRunId: string }) => p.trainingRunId,
  },
  comparison: {
    name: "comparison",
    payload: z.object({ comparisonId: RowId }),
    rowIdOf: (p: { comparisonId: string }) => p.comparisonId,
  },
  reward: {
    name: "reward",
    payload: z.object({ rewardJobId: RowId }),
    rowIdOf: (p: { rewardJobId: string }) => p.rewardJobId,
  },
} as const;

export type QueueKey = keyof typeof QUEUES;
export type Payload<K extends QueueKey> = z.infer<(typeof QUEUES)[K]["payload"]>;

/** Which table holds a queue's rows (status, progress, error, timestamps). */
export const ROW_TABLE: Record<
  QueueKey,
  "sampling_runs" | "playground_generations" | "dataset_exports" | "dataset_imports" | "training_runs" | "policy_comparisons" | "reward_jobs"
> = {
  sampling: "sampling_runs",
  playground: "playground_generations",
  export: "dataset_exports",
  import: "dataset_imports",
  training: "training_runs",
  comparison: "policy_comparisons",
  reward: "reward_jobs",
};

export function jobIdFor<K extends QueueKey>(queue: K, payload: Payload<K>): string {
  return `${queue}-${(QUEUES[queue].rowIdOf as (p: Payload<K>) => string)(payload)}`;
}

export const HEARTBEAT_INTERVAL_MS = 5_000;
export const HEARTBEAT_STALE_MS = 20_000;
