// Ends lapsed task holds on a timer. A hold lapses by the clock, which no write marks, so the
// slots of its tree (docs/decisions/0024-task-slots.md) count the place as taken until this
// sweep ends the task and the tasks trigger gives the place back.
import { expireLapsedTasks } from "~/models/labeling/task-slots.server.ts";

export function startTaskExpirySweep(everySeconds: number): () => Promise<void> {
  if (everySeconds <= 0) return async () => {};
  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    running = running
      .then(async () => {
        let ended = 0;
        // Batches until the backlog is gone (after downtime it can be large).
        for (let n = await expireLapsedTasks(); n > 0; n = await expireLapsedTasks()) ended += n;
        if (ended > 0) console.log(`lapsed tasks ended: ${ended}`);
      })
      .catch((e: Error) => console.error("task expiry sweep:", e.message));
  };
  const timer = setInterval(tick, everySeconds * 1000);
  tick();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
