// The export job: reads the snapshot tree by tree, writes one file per split into a temporary
// directory with a manifest, and renames the directory when everything is complete. A crash
// leaves only a *.tmp-<attempt> directory, which the next attempt deletes before starting.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { DATASET_SCHEMA_VERSION } from "~/domain/datasets/canonical.ts";
import { emptyExclusions, whyEmpty, type ExclusionCounts } from "~/domain/datasets/exclusions.ts";
import { checkExportLine } from "~/domain/datasets/consumer-schemas.ts";
import { splitForTree, type DatasetSplit } from "~/domain/datasets/split.ts";
import type { Prisma, PrismaClient } from "~/generated/prisma/client.ts";
import { PermanentExportError } from "./errors.server.ts";
import { openJsonl, openParquet, type ExportFile, type SplitWriter } from "./export-files.server.ts";
import { lineFormatOf, needsOf, treeRows, writesMargin, type RowContext } from "./export-formats.server.ts";
import { openExportSource } from "./export-source.server.ts";
import { FileThread } from "./file-thread.server.ts";
import { exportDir, purgeExpiredExports, removeExportFiles, storedSpec } from "./exports.server.ts";
import { rowUnitOf } from "./export-spec.ts";
import { columnsFor } from "./parquet-columns.ts";

export interface ExportJobContext {
  /** 1 for the first try, 2 for the first retry… */
  attempt: number;
  progress(fraction: number): Promise<void>;
}

export interface ExportJobDeps {
  prisma: PrismaClient;
  dataDir: string;
  databaseUrl: string;
}


/**
 * Lines checked against the consumer's schema: all of the first ones, then one in CHECK_EVERY.
 * Zod allocates a lot per check: every line would cost more than writing it, and even one line
 * in 50 raised the exporter's peak memory by a sixth (measured on a million messages).
 */
const CHECK_FIRST = 2_000;
const CHECK_EVERY = 500;

export interface ExportManifest {
  export_id: string;
  project: { id: string; slug: string } | null;
  format: string;
  line_format: string;
  schema_version: number;
  file_type: "jsonl" | "parquet";
  gzip: boolean;
  filters: unknown;
  options: unknown;
  split: { by: "tree"; seed: string; validation_ratio: number; rule: string };
  files: ExportFile[];
  row_counts: Record<DatasetSplit, number>;
  skipped: Record<string, number>;
  /** What the filters left out, by reason: the project's trees and the selected trees' messages. */
  excluded: ExclusionCounts;
  /** Why the export has no rows; null when it has some. */
  empty_reason: string | null;
  source: { trees: number; messages: number; tree_ids_sha256: string; query_sha256: string; snapshot_at: string };
  checks: { consumer_schema: string; lines_checked: number };
  created_by: { id: string; email: string } | null;
  created_at: string;
  completed_at: string;
}

/** fsync of a file or a directory (its entries). */
function syncToDisk(target: string): void {
  const fd = fs.openSync(target, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export async function runExport(exportId: string, ctx: ExportJobContext, deps: ExportJobDeps): Promise<void> {
  const row = await deps.prisma.datasetExport.findUnique({
    where: { id: exportId },
    include: { project: { select: { id: true, slug: true } }, createdBy: { select: { id: true, email: true } } },
  });
  if (!row) throw new PermanentExportError(`No export ${exportId}`);
  if (row.deletedAt) return;
  if (!row.projectId || !row.project) throw new PermanentExportError("The export's project no longer exists.");
  const spec = storedSpec(row);
  if ("error" in spec) throw new PermanentExportError(spec.error);
  const { format, filters, config } = spec;
  await purgeExpiredExports(deps.prisma, deps.dataDir);

  // Whatever an earlier attempt left (a temporary directory, or a directory renamed just before
  // a crash whose row was never updated) is thrown away: this attempt rewrites everything.
  removeExportFiles(exportId, deps.dataDir);
  const tmpDir = `${exportDir(exportId, deps.dataDir)}.tmp-${ctx.attempt}`;

  const lineFormat = lineFormatOf(format);
  const withMargin = writesMargin(format, config.options);
  const splits: DatasetSplit[] = [];
  if (config.split.validationRatio < 1) splits.push("train");
  if (config.split.validationRatio > 0) splits.push("validation");
  const writers = new Map<DatasetSplit, SplitWriter>();
  const source = await openExportSource(deps.databaseUrl, row.projectId, filters, needsOf(format, filters, config.options));
  const fileThread = new FileThread();
  try {
    fs.mkdirSync(tmpDir, { recursive: true });
    for (const split of splits) {
      writers.set(
        split,
        config.output.fileType === "parquet"
          ? await openParquet(tmpDir, split, columnsFor(lineFormat, withMargin), {
              "rlhf_studio.export_id": exportId,
              "rlhf_studio.format": format,
              "rlhf_studio.line_format": lineFormat,
            }, fileThread)
          : await openJsonl(tmpDir, split, { gzip: config.output.gzip }, fileThread),
      );
    }
    const models = await deps.prisma.modelVersion.findMany({ select: { id: true, name: true } });
    const context: RowContext = {
      projectId: row.projectId,
      modelNames: new Map(models.map((m) => [m.id, m.name])),
      includeRankings: config.options.includeRankings,
      keyedRanks: format === "ranked_sets",
      filters,
      options: config.options,
      skipped: new Map(),
      excluded: emptyExclusions().messages,
    };
    const treeIds = crypto.createHash("sha256");
    let trees = 0;
    let messages = 0;
    let lines = 0;
    let checked = 0;
    let lastPercent = 0;
    await ctx.progress(0.01);
    for await (const tree of source.trees()) {
      trees += 1;
      messages += tree.messages.length;
      treeIds.update(`${tree.id}\n`);
      const split = splitForTree(tree.id, { seed: config.split.seed, validationRatio: config.split.validationRatio });
      const writer = writers.get(split) as SplitWriter;
      for (const value of treeRows(format, tree, context)) {
        lines += 1;
        // Checked as a consumer reads it: the JSON text written, parsed back.
        const inspect =
          lines <= CHECK_FIRST || lines % CHECK_EVERY === 0
            ? (json: string) => {
                const check = checkExportLine(lineFormat, JSON.parse(json));
                if (!check.ok) throw new PermanentExportError(`row ${lines} (tree ${tree.id}) does not match the ${lineFormat} schema: ${check.issues.slice(0, 3).join("; ")}`);
                checked += 1;
              }
            : undefined;
        const writing = writer.add(value, inspect);
        if (writing) await writing;
      }
      // Reported at each whole percent of the trees: at most a hundred updates, whatever the size.
      const percent = Math.floor((100 * trees) / Math.max(1, source.treeCount));
      if (percent > lastPercent) {
        lastPercent = percent;
        await ctx.progress(0.01 + 0.97 * Math.min(1, percent / 100));
      }
    }

    const files: ExportFile[] = [];
    for (const split of splits) files.push(await (writers.get(split) as SplitWriter).finish());
    writers.clear();
    const rowCounts = { train: 0, validation: 0 } as Record<DatasetSplit, number>;
    for (const f of files) rowCounts[f.split] += f.rows;
    const excluded: ExclusionCounts = { trees: source.treeExclusions, messages: context.excluded };
    const skipped = Object.fromEntries(context.skipped);
    const emptyReason =
      rowCounts.train + rowCounts.validation > 0
        ? null
        : whyEmpty({
            projectTrees: source.projectTrees,
            selectedTrees: trees,
            messages,
            keptMessages: messages - Object.values(context.excluded).reduce((a, b) => a + b, 0),
            excluded,
            skipped,
            rowsAre: rowUnitOf(format).many,
          });
    const manifest: ExportManifest = {
      export_id: exportId,
      project: row.project,
      format,
      line_format: lineFormat,
      schema_version: DATASET_SCHEMA_VERSION,
      file_type: config.output.fileType,
      gzip: config.output.gzip,
      filters,
      options: config.options,
      split: {
        by: "tree",
        seed: config.split.seed,
        validation_ratio: config.split.validationRatio,
        rule: "validation when int(sha256(f'{seed}:{tree_id}')[:13], 16) / 2**52 < validation_ratio",
      },
      files,
      row_counts: rowCounts,
      skipped,
      excluded,
      empty_reason: emptyReason,
      source: {
        trees,
        messages,
        tree_ids_sha256: treeIds.digest("hex"),
        query_sha256: source.queryHash,
        snapshot_at: source.snapshotAt,
      },
      checks: { consumer_schema: lineFormat, lines_checked: checked },
      created_by: row.createdBy,
      created_at: row.createdAt.toISOString(),
      completed_at: new Date().toISOString(),
    };
    const manifestPath = path.join(tmpDir, "manifest.json");
    fs.writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    // The files were synced as they were finished; the manifest and the directory entries too,
    // before the rename publishes them.
    syncToDisk(manifestPath);
    syncToDisk(tmpDir);

    const still = await deps.prisma.datasetExport.findUnique({ where: { id: exportId }, select: { deletedAt: true } });
    if (!still || still.deletedAt) {
      fs.rmSync(tmpDir, { recursive: true, force: true });
      return;
    }
    fs.renameSync(tmpDir, exportDir(exportId, deps.dataDir));
    syncToDisk(path.dirname(tmpDir));
    await deps.prisma.datasetExport.update({
      where: { id: exportId },
      data: {
        manifest: manifest as unknown as Prisma.InputJsonValue,
        files: files as unknown as Prisma.InputJsonValue,
        rowCounts: rowCounts as unknown as Prisma.InputJsonValue,
      },
    });
  } catch (error) {
    for (const writer of writers.values()) writer.abort();
    fs.rmSync(tmpDir, { recursive: true, force: true });
    throw error;
  } finally {
    await Promise.all([source.close(), fileThread.close()]);
  }
}
