// The processor of each queue this worker process serves.
import type { QueueKey } from "~/jobs/queues.ts";
import type { Processor } from "../harness.ts";
import { comparison } from "./comparison.ts";
import { exportDataset } from "./export.ts";
import { importDataset } from "./import.ts";
import { playground } from "./playground.ts";
import { reward } from "./reward.ts";
import { sampling } from "./sampling.ts";
import { training } from "./training.ts";

export const PROCESSORS: { [K in QueueKey]?: Processor<K> } = {
  sampling,
  playground,
  export: exportDataset,
  import: importDataset,
  training,
  comparison,
  reward,
};
