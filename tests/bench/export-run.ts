// One export through the real job path, in its own process so that its peak RSS is its own:
// createExport (row + queue) → a BullMQ worker running the export processor → the row succeeds.
// Prints one line "RESULT {json}", then deletes the export's files.
// Usage: DATABASE_URL=… QUEUE_PREFIX=… DATA_DIR=… tsx tests/bench/export-run.ts <format> <projectId>
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { jobBackend } from "~/jobs/backend.server.ts";
import { closeQueues, queue } from "~/jobs/enqueue.server.ts";
import { createExport, deleteExport } from "~/models/datasets/exports.server.ts";
import { createQueueWorker } from "../../workers/harness.ts";
import { exportDataset } from "../../workers/processors/export.ts";

export const RESULT_PREFIX = "RESULT ";

const [format, projectId] = process.argv.slice(2);
const backend = await jobBackend();
const worker = createQueueWorker("export", exportDataset, { prisma, dataDir: env().DATA_DIR, ortThreads: 1 }, { backend, maxAttempts: 1 });
await worker.waitUntilReady();

const finished = new Promise<void>((resolve, reject) => {
  worker.on("completed", () => resolve());
  worker.on("failed", (_job, error) => reject(error));
});
// Connected before the clock starts, as a running web server is and as the anchor's client is:
// in a fresh process the first query and the queue's connection took ~0.15 s of createExport.
await prisma.$queryRaw`SELECT 1`;
await (await queue("export")).waitUntilReady();
const started = performance.now();
const cpuBefore = process.cpuUsage();
const row = await createExport({ projectId, createdById: null, request: { format } });
await finished;
const wallSeconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const done = await prisma.datasetExport.findUniqueOrThrow({ where: { id: row.id } });
const files = done.files as { bytes: number; rows: number }[];
const manifest = done.manifest as { source: { messages: number; trees: number } };
const result = {
  format,
  status: done.status,
  wall_s: Number(wallSeconds.toFixed(3)),
  messages: manifest.source.messages,
  trees: manifest.source.trees,
  rows_out: files.reduce((n, f) => n + f.rows, 0),
  bytes_out: files.reduce((n, f) => n + f.bytes, 0),
  peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  // This process's CPU (its threads included) during the export; Postgres's is not in it.
  cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
  cpu_system_s: Number((cpu.system / 1e6).toFixed(3)),
};
await deleteExport(projectId, row.id);
await worker.close();
await closeQueues();
await prisma.$disconnect();
console.log(`${RESULT_PREFIX}${JSON.stringify(result)}`);
