// Runs the queue catch-up (app/jobs/catch-up.server.ts) when the worker starts and then on a
// timer: rows requested while the queue store was down get their jobs once it is back.
import { catchUpQueues } from "~/jobs/catch-up.server.ts";
import type { QueueKey } from "~/jobs/queues.ts";

export function startQueueCatchUp(keys: QueueKey[], everySeconds: number): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  let quiet = false;
  const tick = () => {
    running = running
      .then(() => catchUpQueues(keys))
      .then((r) => {
        quiet = false;
        if (r.enqueued || r.failedRows) console.log(`queue catch-up: ${r.enqueued} jobs put on the queue, ${r.failedRows} rows marked failed`);
      })
      .catch((e: Error) => {
        // One line per outage, not one per tick.
        if (!quiet) console.error(`queue catch-up: ${e.message}`);
        quiet = true;
      });
  };
  const timer = everySeconds > 0 ? setInterval(tick, everySeconds * 1000) : undefined;
  tick();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
