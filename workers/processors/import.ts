// Import jobs: app/models/datasets/run-import.server.ts does the work. A large file's attempt runs
// in a process of its own (workers/import-process.ts) with a bounded heap, and this relays its
// progress and its outcome; a small file's runs here (docs/decisions/0021-imports-in-their-own-process.md).
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { UnrecoverableError } from "bullmq";
import { pgPool } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { PermanentImportError, importHeap, runImport } from "~/models/datasets/run-import.server.ts";
import type { Processor } from "../harness.ts";

export type ImportProcessMessage =
  | { kind: "progress"; fraction: number }
  | { kind: "failed"; permanent: boolean; message: string };

const CHILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../import-process.ts");
const STDERR_KEPT = 4_000;

/**
 * The import processor; files from `ownProcessBytes` (IMPORT_OWN_PROCESS_MB by default) are
 * imported in a process of their own.
 */
export const importProcessor = ({ ownProcessBytes }: { ownProcessBytes?: number } = {}): Processor<"import"> => async ({ importId }, ctx, deps) => {
  const row = await deps.prisma.datasetImport.findUnique({ where: { id: importId }, select: { sourcePath: true, format: true } });
  if (!row) throw new UnrecoverableError(`No import ${importId}`);
  const bytes = fs.existsSync(row.sourcePath) ? fs.statSync(row.sourcePath).size : 0;
  if (bytes < (ownProcessBytes ?? env().IMPORT_OWN_PROCESS_MB * 1024 ** 2)) {
    try {
      await runImport(importId, { attempt: ctx.job.attemptsMade + 1, progress: ctx.progress }, { prisma: deps.prisma, pgPool });
    } catch (error) {
      if (error instanceof PermanentImportError) throw new UnrecoverableError(error.message);
      throw error;
    }
    return;
  }
  const heap = await importHeap(row.format, row.sourcePath);
  const child = spawn(
    process.execPath,
    [`--max-old-space-size=${heap.heapMb}`, "--import", "tsx", CHILD, importId, String(ctx.job.attemptsMade + 1), String(heap.maxFlatMessages)],
    { stdio: ["ignore", "inherit", "pipe", "ipc"], env: process.env },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    process.stderr.write(chunk);
    stderr = (stderr + chunk.toString()).slice(-STDERR_KEPT);
  });
  let failure: Extract<ImportProcessMessage, { kind: "failed" }> | null = null;
  // Progress in order, one write at a time; later fractions wait for earlier ones.
  let relay = Promise.resolve();
  child.on("message", (message: ImportProcessMessage) => {
    if (message.kind === "progress") relay = relay.then(() => ctx.progress(message.fraction)).catch(() => undefined);
    else failure = message;
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (c, s) => resolve([c, s]));
  });
  await relay;
  if (code === 0) return;
  const failed = failure as Extract<ImportProcessMessage, { kind: "failed" }> | null;
  if (failed) {
    if (failed.permanent) throw new UnrecoverableError(failed.message);
    throw new Error(failed.message);
  }
  if (/heap limit|out of memory/i.test(stderr)) {
    // Another attempt would run out the same way.
    throw new UnrecoverableError(`The import ran out of memory (its heap is ${heap.heapMb} MB): ${heap.explain}`);
  }
  throw new Error(`The import process ended (${signal ?? `exit code ${code}`})${stderr ? `: ${stderr.trim().split("\n").slice(-3).join(" ")}` : ""}`);
};

export const importDataset = importProcessor();
