// Deletes the files of exports past their retention on a timer, not only when the next export
// starts: a project that stops exporting still gets its disk back.
import { purgeExpiredExports } from "~/models/datasets/exports.server.ts";

export function startRetentionSweep(everySeconds: number): () => Promise<void> {
  if (everySeconds <= 0) return async () => {};
  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    running = running
      .then(() => purgeExpiredExports())
      .then((n) => n > 0 && console.log(`expired exports deleted: ${n}`))
      .catch((e: Error) => console.error("retention sweep:", e.message));
  };
  const timer = setInterval(tick, everySeconds * 1000);
  tick();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
