// The import job: a first pass reads the whole file and checks every line (and, for
// Open-Assistant data, that its ids are free), a second pass writes the good items in batches,
// one transaction each. In "reject_file" mode any bad line stops the job after the first pass,
// so nothing is written. Lines are streamed: a file of any size is never held in memory
// (except flat Open-Assistant message files, whose messages wait until their trees are complete).
// A large file's import runs in a process of its own (workers/import-process.ts, decision 0021).
import crypto from "node:crypto";
import fs from "node:fs";
import zlib from "node:zlib";
import { createOaImportReader, isWholeTreeValue, type OaImportOptions, type ParsedOaTree } from "~/domain/datasets/oasst-import.ts";
import { parseJsonLine } from "~/domain/datasets/import-lines.ts";
import type { ImportLineError, ImportWarning, LineResult, WarningKind } from "~/domain/datasets/import-lines.ts";
import { parseHhPreferenceLine, parseTrlPreferenceLine, type ImportedPreference } from "~/domain/datasets/preference-import.ts";
import { parsePromptLine, type ImportedPrompt } from "~/domain/datasets/prompt-import.ts";
import { parseWorkflowConfig } from "~/domain/projects/workflow.ts";
import type { Prisma, PrismaClient } from "~/generated/prisma/client.ts";
import type pg from "pg";
import {
  IMPORT_FORMAT_KEYS,
  IMPORT_MODE_KEYS,
  REPORTED_ERRORS,
  REPORTED_WARNINGS,
  type ImportFormat,
  type ImportReport,
  uploadedName,
} from "./import-spec.ts";
import { noCounts, oaConflicts, writeOaTrees, writePreferences, writePrompts, type ImportTarget, type WriteCounts } from "./import-store.server.ts";

export interface ImportJobContext {
  attempt: number;
  progress(fraction: number): Promise<void>;
}

export interface ImportJobDeps {
  prisma: PrismaClient;
  /** Plain connections: Open-Assistant messages are written by COPY. */
  pgPool: pg.Pool;
  /** Messages a flat Open-Assistant file may hold (tests make it small). */
  maxFlatMessages?: number;
}

/**
 * Flat Open-Assistant message files become trees only once every message is read, so they are
 * held in memory: about 2 KB a message. Open-Assistant's own full exports hold under 300,000.
 */
export const MAX_FLAT_MESSAGES = 500_000;

/**
 * The import process's heap (MB). Everything but flat message files streams: one batch of items
 * at a time, plus every message id of the file (off the heap, 27 to 53 bytes an id). A small
 * heap keeps the process small: V8 otherwise lets garbage pile up to a share of the machine's
 * memory before collecting it.
 */
export const STREAMING_HEAP_MB = 128;
/** Flat messages a streamed file may still hold (a few flat lines among trees). */
export const STREAMING_FLAT_MESSAGES = 10_000;
/** The heap of an import whose file starts with flat messages: room for MAX_FLAT_MESSAGES. */
export const FLAT_HEAP_MB = 1_536;

/**
 * The heap an import's process gets, told by the file's first line: Open-Assistant flat message
 * files need room to hold every message, everything else streams.
 */
export async function importHeap(format: string, filePath: string): Promise<{ heapMb: number; maxFlatMessages: number; explain: string }> {
  const streaming = {
    heapMb: STREAMING_HEAP_MB,
    maxFlatMessages: STREAMING_FLAT_MESSAGES,
    explain: "a line may be larger than the importer's memory allows: split the file, or import Open-Assistant data as a tree file",
  };
  if (format !== "oasst" || !fs.existsSync(filePath)) return streaming;
  try {
    for await (const [text] of fileLines(filePath, () => undefined)) {
      if (typeof text !== "string") return streaming;
      if (text.trim() === "") continue;
      const json = parseJsonLine(text);
      if (!json.ok || isWholeTreeValue(json.value)) return streaming;
      return {
        heapMb: FLAT_HEAP_MB,
        maxFlatMessages: MAX_FLAT_MESSAGES,
        explain: "flat message files are assembled into trees in memory: import the export's tree file (one tree per line) instead",
      };
    }
  } catch {
    // An unreadable file is reported by the import itself.
  }
  return streaming;
}

/** A failure a retry cannot fix (bad request, missing file, a rejected file): give up at once. */
export class PermanentImportError extends Error {
  override name = "PermanentImportError";
}

const BATCH = { oasst: 100, hh: 500, trl_preference: 500, prompts: 500 } as const satisfies Record<ImportFormat, number>;
const VALIDATE_SHARE = 0.4;
const PROGRESS_INTERVAL_MS = 250;
const REPORT_INTERVAL_MS = 1_000;

type Item = ParsedOaTree | ImportedPreference | ImportedPrompt;

/**
 * Longest line read: Open-Assistant's largest trees are a few hundred kilobytes on one line. A
 * longer line (a binary file, a file without line breaks) is skipped without being held.
 */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

/** A line that cannot be read as text: over-long, not UTF-8, or cut by the end of a gzip stream. */
export interface UnreadableLine {
  unreadable: string;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const utf8 = new TextDecoder("utf-8", { fatal: true });

function isGzip(filePath: string): boolean {
  const fd = fs.openSync(filePath, "r");
  try {
    const head = Buffer.alloc(2);
    return fs.readSync(fd, head, 0, 2, 0) === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads a file line by line (numbered from 1; "\r\n" ends a line too), gzip or not (told by its
 * first bytes), reporting how many bytes of the file were read and handing over the file's own
 * bytes (for its hash). A line over `maxBytes` comes as unreadable whatever its length: memory
 * stays bounded by one line. So does a line that is not UTF-8, and the line a truncated gzip
 * stream ends in.
 */
export async function* fileLines(
  filePath: string,
  onBytes: (bytes: number, chunk: Buffer) => void,
  maxBytes = MAX_LINE_BYTES,
): AsyncGenerator<[string | UnreadableLine, number]> {
  const raw = fs.createReadStream(filePath, { highWaterMark: 1 << 20 });
  raw.on("data", (chunk) => onBytes(raw.bytesRead, chunk as Buffer));
  const gunzip = isGzip(filePath) ? zlib.createGunzip() : null;
  const stream: AsyncIterable<Buffer> = gunzip ? raw.pipe(gunzip) : raw;
  raw.on("error", (error) => gunzip?.destroy(error));
  let parts: Buffer[] = [];
  let held = 0;
  let overlong = false;
  let n = 0;
  const text = (last: Buffer): string | UnreadableLine => {
    if (overlong || held + last.length > maxBytes) return { unreadable: `the line is longer than ${maxBytes / 1024 ** 2} MB` };
    const bytes = parts.length ? Buffer.concat([...parts, last]) : last;
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
    try {
      return utf8.decode(bytes.subarray(0, end));
    } catch {
      return { unreadable: "the line is not valid UTF-8 (the file may be in another encoding, or binary)" };
    }
  };
  try {
    try {
      for await (const chunk of stream) {
        let start = 0;
        for (let nl = chunk.indexOf(0x0a, start); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
          yield [text(chunk.subarray(start, nl)), ++n];
          parts = [];
          held = 0;
          overlong = false;
          start = nl + 1;
        }
        if (start < chunk.length && !overlong) {
          const rest = chunk.subarray(start);
          if (held + rest.length > maxBytes) {
            // From here to the next line break is thrown away as it is read.
            overlong = true;
            parts = [];
            held = 0;
          } else {
            // A copy: the stream may reuse the chunk's memory.
            parts.push(Buffer.from(rest));
            held += rest.length;
          }
        }
      }
    } catch (error) {
      if (!gunzip || (error as NodeJS.ErrnoException).code !== "Z_BUF_ERROR") {
        if (gunzip) throw new PermanentImportError(`The gzip data cannot be read after line ${n}: ${(error as Error).message}`);
        throw error;
      }
      yield [{ unreadable: `the gzip data ends early (a truncated file): line ${n + 1} is incomplete` }, ++n];
      return;
    }
    if (held > 0 || overlong) yield [text(Buffer.alloc(0)), ++n];
  } finally {
    raw.destroy();
    gunzip?.destroy();
  }
}

/** One pass over the file: every line parsed, good items handed over in file order. */
async function* parsedItems(
  format: ImportFormat,
  filePath: string,
  options: OaImportOptions,
  onLine: (result: LineResult<unknown> | { kind: "buffered"; line: number }) => void,
  onBytes: (bytes: number, chunk: Buffer) => void,
  maxFlatMessages = MAX_FLAT_MESSAGES,
): AsyncGenerator<{ line: number; item: Item }> {
  const reader = format === "oasst" ? createOaImportReader(options) : null;
  let held = 0;
  for await (const [text, line] of fileLines(filePath, onBytes)) {
    let result: LineResult<Item> | { kind: "buffered"; line: number; count: number };
    if (typeof text !== "string") result = { kind: "error", line, errors: [{ line, reason: text.unreadable }] };
    else if (reader) result = reader.push(text, line);
    else if (format === "hh") result = parseHhPreferenceLine(text, line, options);
    else if (format === "trl_preference") result = parseTrlPreferenceLine(text, line, options);
    else result = parsePromptLine(text, line, { ...options, format: "auto" });
    onLine(result);
    if (result.kind === "item") yield { line, item: result.item };
    else if (result.kind === "buffered" && (held += result.count) > maxFlatMessages) {
      throw new PermanentImportError(
        `The file holds more than ${maxFlatMessages.toLocaleString("en")} flat messages (line ${line}), more than are assembled into trees in memory: import the export's tree file (one tree per line) instead, or split this one by message_tree_id.`,
      );
    }
  }
  if (reader) {
    // Flat messages make trees only once the whole file is read.
    const assembled = reader.finish();
    if (assembled.errors.length > 0) onLine({ kind: "error", line: assembled.errors[0].line, errors: assembled.errors });
    for (const [line, warnings] of groupByLine(assembled.warnings)) onLine({ kind: "skipped", line, warnings });
    for (const tree of assembled.trees) yield { line: tree.lines[0], item: tree };
  }
}

function groupByLine(warnings: readonly ImportWarning[]): Map<number, ImportWarning[]> {
  const out = new Map<number, ImportWarning[]>();
  for (const w of warnings) out.set(w.line, [...(out.get(w.line) ?? []), w]);
  return out;
}

/** Warnings by kind (each line counted once per kind), the first REPORTED_WARNINGS listed. */
class WarningLog {
  readonly shown: ImportWarning[] = [];
  readonly counts: Partial<Record<WarningKind, number>> = {};
  lines = 0;
  private listed = 0;
  private total = 0;
  add(warnings: readonly ImportWarning[]): void {
    this.lines += 1;
    for (const kind of new Set(warnings.map((w) => w.kind))) this.counts[kind] = (this.counts[kind] ?? 0) + 1;
    for (const w of warnings) {
      this.total += 1;
      if (this.listed < REPORTED_WARNINGS) {
        this.shown.push(w);
        this.listed += 1;
      }
    }
  }
  get truncated(): boolean {
    return this.total > this.listed;
  }
}

class ErrorLog {
  readonly shown: ImportLineError[] = [];
  private readonly lines = new Set<number>();
  private counted = 0;
  add(errors: readonly ImportLineError[]): void {
    for (const e of errors) {
      if (!this.lines.has(e.line)) {
        this.counted += 1;
        // Only the reported lines are remembered; beyond that they are counted.
        if (this.lines.size < REPORTED_ERRORS) this.lines.add(e.line);
      }
      if (this.shown.length < REPORTED_ERRORS) this.shown.push(e);
    }
  }
  get badLines(): number {
    return this.counted;
  }
  get truncated(): boolean {
    return this.counted > this.lines.size || this.shown.length >= REPORTED_ERRORS;
  }
}

/**
 * Database work that overlaps with reading the file: `run` waits for the previous piece to end
 * (so pieces run one at a time, in order, and at most two batches are held), then starts the next
 * one without waiting for it. A failure comes out of the next `run` or `idle`.
 */
class OneAtATime {
  private current: Promise<void> = Promise.resolve();
  async run(work: () => Promise<void>): Promise<void> {
    await this.current;
    this.current = work();
    // Handled here so that a failure is not reported as unhandled before it is awaited.
    this.current.catch(() => undefined);
  }
  idle(): Promise<void> {
    return this.current;
  }
}

export async function runImport(importId: string, ctx: ImportJobContext, deps: ImportJobDeps): Promise<void> {
  const { prisma } = deps;
  const row = await prisma.datasetImport.findUnique({ where: { id: importId }, include: { project: { select: { workflowConfig: true } } } });
  if (!row) throw new PermanentImportError(`No import ${importId}`);
  const format = IMPORT_FORMAT_KEYS.find((f) => f === row.format);
  const mode = IMPORT_MODE_KEYS.find((m) => m === row.mode);
  if (!format || !mode) throw new PermanentImportError(`Unknown import format or mode: ${row.format} / ${row.mode}`);
  const config = parseWorkflowConfig(row.project.workflowConfig);
  if (!config.success) throw new PermanentImportError("The project's workflow config is invalid.");
  if (!fs.existsSync(row.sourcePath)) throw new PermanentImportError(`The file ${row.sourcePath} is gone.`);
  const stat = fs.statSync(row.sourcePath);
  const options: OaImportOptions = { maxTextLength: config.config.importMaxTextLength, allowedLangs: config.config.languages };
  const target: ImportTarget = {
    importId,
    projectId: row.projectId,
    createdById: row.createdById,
    lang: config.config.languages[0],
    now: new Date(),
  };

  const report: ImportReport = {
    phase: "validating",
    file: { name: uploadedName(row.sourcePath), bytes: stat.size, sha256: null },
    lines: 0,
    blank: 0,
    items: 0,
    skipped: 0,
    warnedLines: 0,
    warningCounts: {},
    warnings: [],
    warningsTruncated: false,
    badLines: 0,
    errors: [],
    errorsTruncated: false,
    created: { trees: 0, messages: 0, pairs: 0, prompts: 0 },
    alreadyPresent: 0,
    sameFileAs: null,
  };
  const save = () =>
    prisma.datasetImport.update({
      where: { id: importId },
      data: { report: report as unknown as Prisma.InputJsonValue, sourceSha256: report.file.sha256 },
    });
  let lastProgress = 0;
  let lastSave = Date.now();
  // Counts so far, shown on the import's page while it runs.
  let live = () => undefined as void;
  const progress = async (fraction: number) => {
    if (Date.now() - lastProgress < PROGRESS_INTERVAL_MS) return;
    lastProgress = Date.now();
    await ctx.progress(fraction);
    if (Date.now() - lastSave >= REPORT_INTERVAL_MS) {
      lastSave = Date.now();
      live();
      await save();
    }
  };

  await save();

  // Pass 1: parse everything, check Open-Assistant ids against the database, hash the file.
  const errors = new ErrorLog();
  const warnings = new WarningLog();
  const hash = crypto.createHash("sha256");
  let bytesRead = 0;
  const countLine = (result: LineResult<unknown> | { kind: "buffered"; line: number }) => {
    report.lines = Math.max(report.lines, result.line);
    if (result.kind === "error") errors.add(result.errors);
    else if (result.kind === "blank") report.blank += 1;
    else if (result.kind === "skipped") {
      report.skipped += 1;
      warnings.add(result.warnings);
    } else if (result.kind === "item" && result.warnings) warnings.add(result.warnings);
  };
  let pending: { line: number; item: Item }[] = [];
  const checkConflicts = async (batch: { line: number; item: Item }[]) => {
    if (format !== "oasst" || batch.length === 0) return batch;
    const conflicts = await oaConflicts(deps.pgPool, row.projectId, batch.map((b) => (b.item as ParsedOaTree).tree));
    for (const [i, reason] of conflicts) errors.add([{ line: batch[i].line, reason }]);
    return batch.filter((_, i) => !conflicts.has(i));
  };
  live = () => {
    report.badLines = errors.badLines;
    report.warnedLines = warnings.lines;
    report.warningCounts = warnings.counts;
  };
  const onBytes = (bytes: number, chunk: Buffer) => {
    bytesRead = bytes;
    hash.update(chunk);
  };
  // Each batch is checked while the next one is read.
  const checking = new OneAtATime();
  for await (const entry of parsedItems(format, row.sourcePath, options, countLine, onBytes, deps.maxFlatMessages)) {
    pending.push(entry);
    if (pending.length >= BATCH[format]) {
      const batch = pending;
      pending = [];
      await checking.run(async () => void (report.items += (await checkConflicts(batch)).length));
      await progress((VALIDATE_SHARE * bytesRead) / Math.max(1, stat.size));
    }
  }
  const last = pending;
  pending = [];
  await checking.run(async () => void (report.items += (await checkConflicts(last)).length));
  await checking.idle();
  report.file.sha256 = hash.digest("hex");
  report.badLines = errors.badLines;
  report.errors = [...errors.shown].sort((a, b) => a.line - b.line);
  report.errorsTruncated = errors.truncated;
  report.warnings = [...warnings.shown].sort((a, b) => a.line - b.line);
  report.warningsTruncated = warnings.truncated;
  report.warningCounts = warnings.counts;
  report.warnedLines = warnings.lines;
  const earlier = await prisma.datasetImport.findFirst({
    where: { projectId: row.projectId, sourceSha256: report.file.sha256, status: "succeeded", id: { not: importId } },
    orderBy: { createdAt: "asc" },
    select: { id: true },
  });
  report.sameFileAs = earlier?.id ?? null;

  if (mode === "reject_file" && report.badLines > 0) {
    report.phase = "rejected";
    await save();
    throw new PermanentImportError(
      `${report.badLines} bad line${report.badLines === 1 ? "" : "s"} (first: line ${report.errors[0]?.line}): the file was rejected and nothing was imported.`,
    );
  }

  // Pass 2: the same lines again; good items are written in batches.
  report.phase = "writing";
  await save();
  const now = fs.statSync(row.sourcePath);
  if (now.size !== stat.size || now.mtimeMs !== stat.mtimeMs) throw new PermanentImportError("The file changed while it was being imported.");
  const totals: WriteCounts = noCounts();
  live = () => {
    report.created = { trees: totals.trees, messages: totals.messages, pairs: totals.pairs, prompts: totals.prompts };
    report.alreadyPresent = totals.alreadyPresent;
  };
  const add = (c: WriteCounts) => {
    totals.trees += c.trees;
    totals.messages += c.messages;
    totals.pairs += c.pairs;
    totals.prompts += c.prompts;
    totals.alreadyPresent += c.alreadyPresent;
  };
  const write = async (batch: { line: number; item: Item }[]) => {
    if (format === "oasst") {
      // Trees a concurrent import has taken since the first pass are left out.
      add(await writeOaTrees(deps.pgPool, target, batch.map((b) => (b.item as ParsedOaTree).tree), { skipTaken: true }));
    } else if (format === "prompts") add(await writePrompts(prisma, target, batch.map((b) => b.item as ImportedPrompt)));
    else add(await writePreferences(prisma, target, batch.map((b) => b.item as ImportedPreference)));
    written += batch.length;
  };
  // Writing's progress counts items (the first pass counted them): a small file is read from disk
  // in one chunk, and a gzip file's bytes run ahead of its lines. Below 1 until the end.
  let written = 0;
  const writeProgress = () => progress(VALIDATE_SHARE + (1 - VALIDATE_SHARE) * Math.min(0.99, written / Math.max(1, report.items)));
  // Each batch is written (one at a time, in file order) while the next one is read.
  const writing = new OneAtATime();
  for await (const entry of parsedItems(format, row.sourcePath, options, () => undefined, () => undefined, deps.maxFlatMessages)) {
    pending.push(entry);
    if (pending.length >= BATCH[format]) {
      const batch = pending;
      pending = [];
      await writing.run(() => write(batch));
      await writeProgress();
    }
  }
  const rest = pending;
  await writing.run(() => write(rest));
  await writing.idle();
  report.phase = "done";
  report.created = { trees: totals.trees, messages: totals.messages, pairs: totals.pairs, prompts: totals.prompts };
  report.alreadyPresent = totals.alreadyPresent;
  await save();
}
