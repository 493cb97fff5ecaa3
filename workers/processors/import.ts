// Import jobs: app/models/datasets/run-import.server.ts does the work; this adapts it to the harness.
import { UnrecoverableError } from "bullmq";
import { PermanentImportError, runImport } from "~/models/datasets/run-import.server.ts";
import type { Processor } from "../harness.ts";

export const importDataset: Processor<"import"> = async ({ importId }, ctx, deps) => {
  try {
    await runImport(importId, { attempt: ctx.job.attemptsMade + 1, progress: ctx.progress }, { prisma: deps.prisma });
  } catch (error) {
    if (error instanceof PermanentImportError) throw new UnrecoverableError(error.message);
    throw error;
  }
};
