// Export jobs: app/models/datasets/run-export.server.ts does the work; this adapts it to the harness.
import { UnrecoverableError } from "bullmq";
import { env } from "~/env.server.ts";
import { PermanentExportError } from "~/models/datasets/errors.server.ts";
import { runExport } from "~/models/datasets/run-export.server.ts";
import type { Processor } from "../harness.ts";

export const exportDataset: Processor<"export"> = async ({ exportId }, ctx, deps) => {
  try {
    await runExport(
      exportId,
      { attempt: ctx.job.attemptsMade + 1, progress: ctx.progress },
      { prisma: deps.prisma, dataDir: deps.dataDir, databaseUrl: env().DATABASE_URL },
    );
  } catch (error) {
    if (error instanceof PermanentExportError) throw new UnrecoverableError(error.message);
    throw error;
  }
};
