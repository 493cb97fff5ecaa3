// Dataset exports: the row (an immutable snapshot that training runs reference), its job, its
// files under DATA_DIR/exports/<id>/ with a manifest, downloads, deletion and retention.
import fs from "node:fs";
import path from "node:path";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import type { DatasetExport, PrismaClient } from "~/generated/prisma/client.ts";
import type { Prisma } from "~/generated/prisma/client.ts";
import { enqueue } from "~/jobs/enqueue.server.ts";
import { recordAudit } from "~/models/audit.server.ts";
import { DatasetError } from "./errors.server.ts";
import {
  ExportFiltersSchema,
  ExportOptionsSchema,
  ExportOutputSchema,
  ExportRequestSchema,
  ExportSplitSchema,
  EXPORT_FORMAT_KEYS,
  type ExportConfig,
  type ExportFilters,
  type ExportFormat,
  type ExportRequest,
} from "./export-spec.ts";
import type { ExportFile } from "./export-files.server.ts";
import { z } from "zod";

export const EXPORTS_DIR = "exports";

export function exportsRoot(dataDir = env().DATA_DIR): string {
  return path.resolve(dataDir, EXPORTS_DIR);
}

/** The finished export's directory (it only exists once every file and the manifest are complete). */
export function exportDir(exportId: string, dataDir = env().DATA_DIR): string {
  return path.join(exportsRoot(dataDir), exportId);
}

/** Removes the export's directory and any unfinished attempt of it. */
export function removeExportFiles(exportId: string, dataDir = env().DATA_DIR): void {
  const root = exportsRoot(dataDir);
  if (!fs.existsSync(root)) return;
  for (const name of fs.readdirSync(root)) {
    if (name === exportId || name.startsWith(`${exportId}.tmp-`)) fs.rmSync(path.join(root, name), { recursive: true, force: true });
  }
}

function zodMessage(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
}

/** An export request checked for this project (the schema, and labelers who belong to it); a DatasetError (400) otherwise. */
export async function parseExportRequest(projectId: string, request: unknown): Promise<ExportRequest> {
  const parsed = ExportRequestSchema.safeParse(request);
  if (!parsed.success) throw new DatasetError(zodMessage(parsed.error));
  const { labelerIds } = parsed.data.filters;
  if (labelerIds.length > 0) {
    const known = await prisma.user.count({
      where: { id: { in: labelerIds }, OR: [{ role: "admin" }, { memberships: { some: { projectId } } }] },
    });
    if (known < new Set(labelerIds).size) throw new DatasetError("filters.labelerIds: every labeler must be a member of the project");
  }
  return parsed.data;
}

/** Creates the export row and queues its job. */
export async function createExport(input: { projectId: string; createdById: string | null; request: unknown }): Promise<DatasetExport> {
  const { format, filters, options, split, output, retentionDays } = await parseExportRequest(input.projectId, input.request);
  const config: ExportConfig = { options, split, output };
  const row = await prisma.$transaction(async (tx) => {
    const created = await tx.datasetExport.create({
      data: {
        projectId: input.projectId,
        format,
        filters: filters as Prisma.InputJsonValue,
        config: config as unknown as Prisma.InputJsonValue,
        createdById: input.createdById,
        expiresAt: retentionDays ? new Date(Date.now() + retentionDays * 86_400_000) : null,
      },
    });
    await recordAudit(tx, {
      actorId: input.createdById,
      action: "export.created",
      targetType: "export",
      targetId: created.id,
      summary: `${format} export of project ${input.projectId}`,
      details: { projectId: input.projectId, format, filters: filters as Prisma.InputJsonObject },
    });
    return created;
  });
  await enqueue("export", { exportId: row.id });
  return row;
}

export interface StoredExportSpec {
  format: ExportFormat;
  filters: ExportFilters;
  config: ExportConfig;
}

/** The row's request, parsed again (the job trusts nothing it did not validate). */
export function storedSpec(row: Pick<DatasetExport, "format" | "filters" | "config">): StoredExportSpec | { error: string } {
  const format = z.enum(EXPORT_FORMAT_KEYS).safeParse(row.format);
  const filters = ExportFiltersSchema.safeParse(row.filters);
  const config = z
    .object({ options: ExportOptionsSchema, split: ExportSplitSchema, output: ExportOutputSchema })
    .safeParse(row.config);
  if (!format.success) return { error: `unknown format ${JSON.stringify(row.format)}` };
  if (!filters.success) return { error: `filters: ${zodMessage(filters.error)}` };
  if (!config.success) return { error: `config: ${zodMessage(config.error)}` };
  return { format: format.data, filters: filters.data, config: config.data };
}

const LIST_FIELDS = {
  id: true,
  format: true,
  status: true,
  progress: true,
  filters: true,
  config: true,
  files: true,
  rowCounts: true,
  manifest: true,
  error: true,
  createdAt: true,
  finishedAt: true,
  expiresAt: true,
  createdBy: { select: { displayName: true, email: true } },
} as const;

/** The project's exports, newest first (deleted ones are gone from the list). */
export async function listExports(projectId: string, take = 50) {
  return prisma.datasetExport.findMany({
    where: { projectId, deletedAt: null },
    orderBy: { createdAt: "desc" },
    take,
    select: LIST_FIELDS,
  });
}

export async function getExport(projectId: string, exportId: string) {
  if (!z.string().uuid().safeParse(exportId).success) throw new DatasetError("No such export.", 404);
  const row = await prisma.datasetExport.findFirst({ where: { id: exportId, projectId, deletedAt: null }, select: LIST_FIELDS });
  if (!row) throw new DatasetError("No such export.", 404);
  return row;
}

/**
 * Deletes the export's files and hides it. The row stays (training runs keep pointing at it);
 * a queued export is cancelled, a running one throws its files away when it ends.
 */
export async function deleteExport(projectId: string, exportId: string, actorId: string | null = null, dataDir = env().DATA_DIR): Promise<void> {
  const row = await getExport(projectId, exportId);
  await prisma.$transaction(async (tx) => {
    await tx.$executeRaw`
      UPDATE dataset_exports SET deleted_at = now(),
        status = CASE WHEN status = 'queued' THEN 'cancelled'::"JobStatus" ELSE status END
      WHERE id = ${exportId}::uuid`;
    await recordAudit(tx, {
      actorId,
      action: "export.deleted",
      targetType: "export",
      targetId: exportId,
      summary: `Deleted ${row.format} export of project ${projectId}`,
      details: { projectId },
    });
  });
  removeExportFiles(exportId, dataDir);
}

/** Deletes the files of exports past their retention date; returns how many. */
export async function purgeExpiredExports(db: PrismaClient = prisma, dataDir = env().DATA_DIR): Promise<number> {
  const expired = await db.$queryRaw<{ id: string }[]>`
    UPDATE dataset_exports SET deleted_at = now()
    WHERE expires_at < now() AND deleted_at IS NULL AND status <> 'running'
    RETURNING id::text`;
  for (const { id } of expired) removeExportFiles(id, dataDir);
  await removeLeftoverFiles(db, dataDir);
  return expired.length;
}

const EXPORT_DIR_NAME = /^([0-9a-f-]{36})(?:\.tmp-\d+)?$/;

/** Files of exports already marked deleted: a process that died between the commit and the removal leaves them. */
async function removeLeftoverFiles(db: PrismaClient, dataDir: string): Promise<void> {
  const root = exportsRoot(dataDir);
  if (!fs.existsSync(root)) return;
  const ids = [...new Set(fs.readdirSync(root).flatMap((name) => EXPORT_DIR_NAME.exec(name)?.[1] ?? []))];
  if (ids.length === 0) return;
  const deleted = await db.$queryRaw<{ id: string }[]>`
    SELECT id::text FROM dataset_exports WHERE id = ANY(${ids}::uuid[]) AND deleted_at IS NOT NULL`;
  for (const { id } of deleted) removeExportFiles(id, dataDir);
}

export interface DownloadableFile {
  path: string;
  name: string;
  bytes: number;
  contentType: string;
}

const CONTENT_TYPES: [RegExp, string][] = [
  [/\.jsonl\.gz$/, "application/gzip"],
  [/\.jsonl$/, "application/x-ndjson; charset=utf-8"],
  [/\.parquet$/, "application/vnd.apache.parquet"],
  [/\.json$/, "application/json; charset=utf-8"],
];

/** A finished export's file (a data file or manifest.json) that may be downloaded. */
export async function exportFile(projectId: string, exportId: string, fileName: string, dataDir = env().DATA_DIR): Promise<DownloadableFile> {
  const row = await getExport(projectId, exportId);
  if (row.status !== "succeeded") throw new DatasetError("The export is not finished.", 409);
  const names = [...(row.files as unknown as ExportFile[]).map((f) => f.name), "manifest.json"];
  if (!names.includes(fileName)) throw new DatasetError("No such file in this export.", 404);
  const filePath = path.join(exportDir(exportId, dataDir), fileName);
  if (!fs.existsSync(filePath)) throw new DatasetError("The export's files are gone.", 410);
  const contentType = CONTENT_TYPES.find(([re]) => re.test(fileName))?.[1] ?? "application/octet-stream";
  return { path: filePath, name: fileName, bytes: fs.statSync(filePath).size, contentType };
}
