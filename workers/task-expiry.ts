// Ends lapsed task holds on a timer. A hold lapses by the clock, which no write marks, so the
// slots of its tree (docs/decisions/0024-task-slots.md) count the place as taken until this
// sweep ends the task and the tasks trigger gives the place back. It also starts waiting prompts
// in growing slots that a race between two transactions left free (fillAllGrowingSlots), and
// moves on growing and ranked trees whose move a dead process never made (advanceStalledTrees).
import { expireLapsedTasks } from "~/models/labeling/task-slots.server.ts";
import { advanceStalledTrees, fillAllGrowingSlots } from "~/models/labeling/tree-state.server.ts";
import { repeatEvery } from "./every.ts";

export const startTaskExpirySweep = (everySeconds: number) =>
  repeatEvery(everySeconds, "task expiry sweep", async () => {
    let ended = 0;
    // Batches until the backlog is gone (after downtime it can be large).
    for (let n = await expireLapsedTasks(); n > 0; n = await expireLapsedTasks()) ended += n;
    if (ended > 0) console.log(`lapsed tasks ended: ${ended}`);
    const started = await fillAllGrowingSlots();
    if (started > 0) console.log(`waiting prompts started growing: ${started}`);
    const moved = await advanceStalledTrees();
    if (moved > 0) console.log(`trees moved on: ${moved}`);
  });
