// Dataset imports: uploads streamed to DATA_DIR/uploads, the import row and its job, listings.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { MaxPartSizeExceededError, unstable_createFileUploadHandler } from "@remix-run/node";
import { z } from "zod";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import type { DatasetImport } from "~/generated/prisma/client.ts";
import { enqueue } from "~/jobs/enqueue.server.ts";
import { parseStrictMultipart, TextFieldError } from "~/utils/body.server.ts";
import { DatasetError } from "./errors.server.ts";
import { ImportRequestSchema, MAX_UPLOAD_BYTES, type ImportReport } from "./import-spec.ts";

export function uploadsDir(dataDir = env().DATA_DIR): string {
  return path.resolve(dataDir, "uploads");
}

/** Creates the import row for a file on the server and queues its job. */
export async function createImport(input: {
  projectId: string;
  createdById: string | null;
  request: unknown;
  sourcePath: string;
}): Promise<DatasetImport> {
  const parsed = ImportRequestSchema.safeParse(input.request);
  if (!parsed.success) throw new DatasetError(parsed.error.issues.map((i) => `${i.path.join(".") || "request"}: ${i.message}`).join("; "));
  const sourcePath = path.resolve(input.sourcePath);
  if (!fs.existsSync(sourcePath) || !fs.statSync(sourcePath).isFile()) throw new DatasetError(`No file at ${sourcePath}.`);
  const bytes = fs.statSync(sourcePath).size;
  if (bytes > MAX_UPLOAD_BYTES) {
    throw new DatasetError(`The file has ${bytes.toLocaleString("en")} bytes, larger than the import limit of ${MAX_UPLOAD_BYTES / 1024 ** 3} GB.`, 413);
  }
  const row = await prisma.datasetImport.create({
    data: { projectId: input.projectId, format: parsed.data.format, mode: parsed.data.mode, sourcePath, createdById: input.createdById },
  });
  await enqueue("import", { importId: row.id });
  return row;
}

export interface Upload {
  fields: Record<string, string>;
  file: { path: string; name: string; bytes: number } | null;
}

/**
 * Reads a multipart form, streaming its file part to DATA_DIR/uploads (never into memory).
 * A file over `maxBytes` is refused with a 413 and its partial copy removed.
 */
export async function receiveUpload(request: Request, maxBytes = MAX_UPLOAD_BYTES, dataDir = env().DATA_DIR): Promise<Upload> {
  const directory = uploadsDir(dataDir);
  fs.mkdirSync(directory, { recursive: true });
  const stored: string[] = [];
  const fileHandler = unstable_createFileUploadHandler({
    directory,
    maxPartSize: maxBytes,
    avoidFileConflicts: false,
    file: ({ filename }) => {
      const name = `${crypto.randomUUID()}-${filename.replace(/[^A-Za-z0-9._-]/g, "_").slice(-80)}`;
      stored.push(path.join(directory, name));
      return name;
    },
  });
  let form: FormData;
  try {
    // The file is bytes, checked by the import itself; the other fields are text, read strictly.
    form = await parseStrictMultipart(request, fileHandler, 64 * 1024);
  } catch (error) {
    for (const file of stored) fs.rmSync(file, { force: true });
    if (error instanceof TextFieldError) throw new DatasetError(error.message);
    if (error instanceof MaxPartSizeExceededError) {
      throw new DatasetError(`The file is larger than ${Math.round(maxBytes / 1024 ** 2)} MB.`, 413);
    }
    throw new DatasetError(`The upload could not be read: ${(error as Error).message}`);
  }
  const fields: Record<string, string> = {};
  let name: string | null = null;
  for (const [key, value] of form.entries()) {
    if (typeof value === "string") fields[key] = value;
    else name ??= value.name;
  }
  // Only one file is taken; any other file part is removed at once.
  for (const extra of stored.slice(1)) fs.rmSync(extra, { force: true });
  const saved = stored[0];
  const file = saved && fs.existsSync(saved) ? { path: saved, name: name ?? path.basename(saved), bytes: fs.statSync(saved).size } : null;
  return { fields, file };
}

/** The project's latest imports with their counts (the lines each report lists stay out). */
export async function listImports(projectId: string, take = 50) {
  const rows = await prisma.$queryRaw<
    { id: string; format: string; mode: string; status: string; progress: number; report: Partial<ImportReport>; error: string | null; source_path: string; created_at: Date; finished_at: Date | null; created_by: string | null }[]
  >`
    SELECT i.id::text, i.format, i.mode, i.status::text, i.progress, i.report - 'errors' - 'warnings' AS report, i.error,
           i.source_path, i.created_at, i.finished_at, u.display_name AS created_by
    FROM dataset_imports i LEFT JOIN users u ON u.id = i.created_by_id
    WHERE i.project_id = ${projectId}::uuid
    ORDER BY i.created_at DESC LIMIT ${take}`;
  return rows.map((r) => ({
    id: r.id,
    format: r.format,
    mode: r.mode,
    status: r.status,
    progress: r.progress,
    report: r.report,
    error: r.error,
    sourcePath: r.source_path,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    createdBy: r.created_by === null ? null : { displayName: r.created_by },
  }));
}

export async function getImport(projectId: string, importId: string) {
  if (!z.string().uuid().safeParse(importId).success) throw new DatasetError("No such import.", 404);
  const row = await prisma.datasetImport.findFirst({ where: { id: importId, projectId } });
  if (!row) throw new DatasetError("No such import.", 404);
  return row;
}
