// Shared pieces of the dataset tests: real BullMQ workers for the export and import queues,
// waiting for a row to finish, and reading an export's files back.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import type { Worker } from "bullmq";
import { parquetReadObjects } from "hyparquet";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { jobBackend } from "~/jobs/backend.server.ts";
import { closeQueues } from "~/jobs/enqueue.server.ts";
import { createExport, exportDir } from "~/models/datasets/exports.server.ts";
import { createImport } from "~/models/datasets/imports.server.ts";
import type { ExportFile } from "~/models/datasets/export-files.server.ts";
import type { ExportManifest } from "~/models/datasets/run-export.server.ts";
import { createProject } from "~/models/project.server.ts";
import { createQueueWorker, type JobDeps, type Processor } from "../../../workers/harness.ts";
import { exportDataset } from "../../../workers/processors/export.ts";
import { importDataset } from "../../../workers/processors/import.ts";
import { waitFor } from "../../helpers/server.ts";

const backend = await jobBackend();
const deps: JobDeps = { prisma, dataDir: env().DATA_DIR, ortThreads: 1 };
const workers: Worker[] = [];

export function startWorkers(processors: { export?: Processor<"export">; import?: Processor<"import"> } = {}): Worker[] {
  const started = [
    createQueueWorker("export", processors.export ?? exportDataset, deps, { backend, maxAttempts: 3 }),
    createQueueWorker("import", processors.import ?? importDataset, deps, { backend, maxAttempts: 3 }),
  ];
  workers.push(...started);
  return started;
}

export async function stopWorkers(): Promise<void> {
  await Promise.all(workers.splice(0).map((w) => w.close()));
}

export async function closeAll(): Promise<void> {
  await stopWorkers();
  await closeQueues();
  fs.rmSync(env().DATA_DIR, { recursive: true, force: true });
}

/** A project at default settings (changed only where a test says so). */
export async function datasetProject(slug: string, workflow: Record<string, unknown> = {}) {
  return createProject({ slug, name: slug, workflowConfig: workflow });
}

async function settled<T extends { status: string }>(read: () => Promise<T>, what: string): Promise<T> {
  await waitFor(async () => ["succeeded", "failed", "cancelled"].includes((await read()).status), what, 60_000);
  return read();
}

export async function importFile(projectId: string, file: string, request: { format: string; mode?: string }, createdById: string | null = null) {
  const row = await createImport({ projectId, createdById, request, sourcePath: file });
  return settled(() => prisma.datasetImport.findUniqueOrThrow({ where: { id: row.id } }), `import ${row.id}`);
}

export async function runExportJob(projectId: string, request: Record<string, unknown>, createdById: string | null = null) {
  const row = await createExport({ projectId, createdById, request });
  return settled(() => prisma.datasetExport.findUniqueOrThrow({ where: { id: row.id } }), `export ${row.id}`);
}

export function manifestOf(exportId: string): ExportManifest {
  return JSON.parse(fs.readFileSync(path.join(exportDir(exportId), "manifest.json"), "utf8")) as ExportManifest;
}

/** The rows of one export file, whatever its type. */
export async function readExportFile(exportId: string, file: ExportFile): Promise<Record<string, unknown>[]> {
  const filePath = path.join(exportDir(exportId), file.name);
  if (file.name.endsWith(".parquet")) {
    const bytes = fs.readFileSync(filePath);
    return (await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) })) as Record<string, unknown>[];
  }
  const raw = fs.readFileSync(filePath);
  const text = (file.name.endsWith(".gz") ? zlib.gunzipSync(raw) : raw).toString("utf8");
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export async function readExport(exportId: string): Promise<Record<string, Record<string, unknown>[]>> {
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const file of manifestOf(exportId).files) out[file.split] = await readExportFile(exportId, file);
  return out;
}
