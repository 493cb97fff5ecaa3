// Starts sampling runs on its own for projects with automatic sampling on (runs left unfinished
// get their jobs back from the queue catch-up, ./queue-catch-up.ts).
import { scheduleSamplingRuns } from "~/models/sampling.server.ts";
import { repeatEvery } from "./every.ts";

export const startSamplingScheduler = (everySeconds: number) =>
  repeatEvery(everySeconds, "sampling scheduler", async () => {
    const ids = await scheduleSamplingRuns();
    if (ids.length) console.log(`sampling runs started: ${ids.join(", ")}`);
  });
