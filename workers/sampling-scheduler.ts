// Starts sampling runs on its own for projects with automatic sampling on (runs left unfinished
// get their jobs back from the queue catch-up, ./queue-catch-up.ts).
import { scheduleSamplingRuns } from "~/models/sampling.server.ts";

export function startSamplingScheduler(everySeconds: number): () => Promise<void> {
  if (everySeconds <= 0) return async () => {};
  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    running = running
      .then(() => scheduleSamplingRuns())
      .then((ids) => ids.length && console.log(`sampling runs started: ${ids.join(", ")}`))
      .catch((e) => console.error("sampling scheduler:", e.message));
  };
  const timer = setInterval(tick, everySeconds * 1000);
  tick();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
