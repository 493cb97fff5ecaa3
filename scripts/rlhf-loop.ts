// `npm run loop`: the whole RLHF loop at tiny scale on the configured database and queue (or those
// of a running `npm start`), with a worker process of its own: a new project whose trees get model
// replies, rankings by a known rule, exports, a reward model, an RLOO policy that is promoted and
// sampled again. Prints each stage, then one JSON line with the before/after figures.
import crypto from "node:crypto";
import { runLoop } from "./lib/rlhf-loop.ts";
import { runWithWorker } from "./lib/with-worker.ts";

const slug = process.argv[2] ?? `loop-${crypto.randomBytes(3).toString("hex")}`;

await runWithWorker("the loop", async (log) => {
  const result = await runLoop({ slug, log });
  console.log(JSON.stringify({ loop: "rlhf", ...result }));
});
