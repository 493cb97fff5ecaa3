// Deletes the files of exports past their retention on a timer, not only when the next export
// starts: a project that stops exporting still gets its disk back.
import { purgeExpiredExports } from "~/models/datasets/exports.server.ts";
import { repeatEvery } from "./every.ts";

export const startRetentionSweep = (everySeconds: number) =>
  repeatEvery(everySeconds, "retention sweep", async () => {
    const n = await purgeExpiredExports();
    if (n > 0) console.log(`expired exports deleted: ${n}`);
  });
