// The processor of each queue this worker process serves.
import type { QueueKey } from "~/jobs/queues.ts";
import type { Processor } from "../harness.ts";
import { playground } from "./playground.ts";
import { sampling } from "./sampling.ts";

export const PROCESSORS: { [K in QueueKey]?: Processor<K> } = {
  sampling,
  playground,
};
