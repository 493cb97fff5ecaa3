// One import through the real job path, in its own process so that its peak RSS is its own:
// createImport (row + queue) → a BullMQ worker running the import processor → the row succeeds.
// Prints one line "RESULT {json}".
// Usage: DATABASE_URL=… QUEUE_PREFIX=… DATA_DIR=… tsx tests/bench/import-run.ts <format> <projectId> <file>
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { closeJobBackend, jobBackend } from "~/jobs/backend.server.ts";
import { closeQueues, queue } from "~/jobs/enqueue.server.ts";
import type { ImportReport } from "~/models/datasets/import-spec.ts";
import { createImport } from "~/models/datasets/imports.server.ts";
import { createQueueWorker } from "../../workers/harness.ts";
import { importDataset } from "../../workers/processors/import.ts";

export const RESULT_PREFIX = "RESULT ";

const [format, projectId, file] = process.argv.slice(2);
const backend = await jobBackend();
const worker = createQueueWorker("import", importDataset, { prisma, dataDir: env().DATA_DIR, ortThreads: 1 }, { backend, maxAttempts: 1 });
await worker.waitUntilReady();
await prisma.$queryRaw`SELECT 1`;
await (await queue("import")).waitUntilReady();

// The page's view of the import while it runs: progress and counts from the row.
const seen: { at_s: number; progress: number; phase: string }[] = [];
const started = performance.now();
const cpuBefore = process.cpuUsage();
const row = await createImport({ projectId, createdById: null, request: { format, mode: "reject_file" }, sourcePath: file });
// Followed as the page follows it: the row's status, progress and counts, every second.
for (;;) {
  const r = await prisma.datasetImport.findUniqueOrThrow({ where: { id: row.id }, select: { status: true, progress: true, report: true } });
  seen.push({ at_s: (performance.now() - started) / 1000, progress: r.progress, phase: (r.report as Partial<ImportReport>).phase ?? "" });
  if (r.status === "succeeded" || r.status === "failed") break;
  await new Promise((resolve) => setTimeout(resolve, 1_000));
}
const wallSeconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const done = await prisma.datasetImport.findUniqueOrThrow({ where: { id: row.id } });
const report = done.report as unknown as ImportReport;
const result = {
  status: done.status,
  error: done.error,
  wall_s: Number(wallSeconds.toFixed(3)),
  lines: report.lines,
  trees: report.created.trees,
  messages: report.created.messages,
  bad_lines: report.badLines,
  peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
  progress_seen: seen.filter((s) => s.progress > 0 && s.progress < 1).length,
};
await worker.close();
await closeQueues();
await closeJobBackend();
await prisma.$disconnect();
console.log(`${RESULT_PREFIX}${JSON.stringify(result)}`);
