// An import job's own process, spawned by workers/processors/import.ts for each attempt with a
// heap of its own (docs/decisions/0021-imports-in-their-own-process.md): a large file's garbage
// never grows the worker, and the heap limit makes it collected early. Progress goes to the
// parent, which writes it to the job and the row. The process ends when its parent does, so a
// worker killed mid import leaves no importer behind to race the retry.
// Usage (from the processor only): node --import tsx workers/import-process.ts <importId> <attempt> <maxFlatMessages>
import { pgPool, prisma, sqlClient } from "~/db.server.ts";
import { PermanentImportError, runImport } from "~/models/datasets/run-import.server.ts";
import type { ImportProcessMessage } from "./processors/import.ts";

if (!process.send) throw new Error("workers/import-process.ts runs only as a child of the import processor");
process.on("disconnect", () => process.exit(1));

const send = (message: ImportProcessMessage) =>
  new Promise<void>((resolve) => {
    if (!process.connected) return resolve();
    process.send?.(message, undefined, {}, () => resolve());
  });

const [importId, attempt, maxFlatMessages] = process.argv.slice(2);
let code = 0;
try {
  await runImport(
    importId,
    { attempt: Number(attempt), progress: (fraction) => send({ kind: "progress", fraction }) },
    { prisma, pgPool, maxFlatMessages: Number(maxFlatMessages) },
  );
} catch (error) {
  code = 1;
  await send({ kind: "failed", permanent: error instanceof PermanentImportError, message: error instanceof Error ? error.message : String(error) });
}
await Promise.all([prisma.$disconnect(), pgPool.end(), sqlClient.end()]);
process.exit(code);
