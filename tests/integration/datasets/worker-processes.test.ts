// Dataset jobs in real worker processes. Killed (SIGKILL) in the middle of a job, another worker
// process takes the job over once its lock expires: an export's attempt leaves only its temporary
// directory and the export ends complete, byte for byte what an uninterrupted run writes; an
// import ends with every item once. Exports past their retention are swept on a timer.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, beforeAll, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { closeQueues } from "~/jobs/enqueue.server.ts";
import { createExport, exportDir, exportsRoot } from "~/models/datasets/exports.server.ts";
import { createImport } from "~/models/datasets/imports.server.ts";
import type { ExportFile } from "~/models/datasets/export-files.server.ts";
import * as importPage from "~/routes/projects.$projectSlug.imports.$importId.tsx";
import { seedExportData } from "../../../scripts/bench/seed-export-data.ts";
import { startWorkers, waitFor } from "../../helpers/server.ts";
import { addToProject, createTestUser } from "../../helpers/users.ts";

// A job whose worker stops answering is taken over after two seconds instead of a minute; every
// import runs in its own process, as large files do.
const WORKER_ENV = { JOB_LOCK_SECONDS: "2", SAMPLING_SCHEDULE_SECONDS: "0", IMPORT_OWN_PROCESS_MB: "0" };
const REQUEST = { format: "pairwise_trl", output: { gzip: true }, split: { seed: "crash", validationRatio: 0.2 } };

let projectId = "";
const running: Array<ReturnType<typeof startWorkers>> = [];

beforeAll(async () => {
  // Enough messages for the export to take a few seconds: time to kill it halfway.
  projectId = (await seedExportData(env().DATABASE_URL, { messages: 60_000 })).projectId;
}, 120_000);

afterAll(async () => {
  await Promise.all(running.map((w) => w.stop()));
  await closeQueues();
});

/** Processes running the import `importId` (workers/import-process.ts), from /proc. */
function importProcesses(importId: string): number[] {
  return fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => {
    try {
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      return args.some((a) => a.endsWith("import-process.ts")) && args.includes(importId);
    } catch {
      return false;
    }
  });
}

const sha256 = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const entries = (exportId: string) => (fs.existsSync(exportsRoot()) ? fs.readdirSync(exportsRoot()).filter((e) => e.startsWith(exportId)) : []);

async function finished(exportId: string) {
  await waitFor(async () => (await prisma.datasetExport.findUniqueOrThrow({ where: { id: exportId } })).status === "succeeded", "the export to succeed", 90_000);
  return prisma.datasetExport.findUniqueOrThrow({ where: { id: exportId } });
}

it("resumes an export whose worker was killed, without a partial or duplicate file", async () => {
  const first = startWorkers(WORKER_ENV);
  running.push(first);
  const row = await createExport({ projectId, createdById: null, request: REQUEST });
  await waitFor(async () => (await prisma.datasetExport.findUniqueOrThrow({ where: { id: row.id } })).progress >= 0.1, "the export to be under way", 60_000);
  first.child.kill("SIGKILL");
  await first.stop();

  // What the killed attempt left cannot pass for a finished export.
  const interrupted = await prisma.datasetExport.findUniqueOrThrow({ where: { id: row.id } });
  expect(interrupted.status).toBe("running");
  expect(interrupted.manifest).toBeNull();
  expect(entries(row.id)).toEqual([`${row.id}.tmp-1`]);

  const second = startWorkers(WORKER_ENV);
  running.push(second);
  const done = await finished(row.id);
  expect(done.attempts).toBe(2);
  expect(entries(row.id)).toEqual([row.id]);
  const files = done.files as unknown as ExportFile[];
  expect(files.map((f) => f.name).sort()).toEqual(["train.jsonl.gz", "validation.jsonl.gz"]);
  for (const f of files) {
    const file = path.join(exportDir(row.id), f.name);
    expect(sha256(file)).toBe(f.sha256);
    const lines = zlib.gunzipSync(fs.readFileSync(file)).toString("utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(f.rows);
    // Each pair once: a resumed export appends nothing twice.
    expect(new Set(lines).size).toBe(lines.length);
  }

  // The same request run without interruption writes the same bytes.
  const clean = await finished((await createExport({ projectId, createdById: null, request: REQUEST })).id);
  expect((clean.files as unknown as ExportFile[]).map((f) => f.sha256)).toEqual(files.map((f) => f.sha256));
}, 180_000);

it("resumes an import whose worker was killed, creating each prompt once", async () => {
  const { id: target } = await prisma.project.create({ data: { slug: "crash-import", name: "Crash import", workflowConfig: {} } });
  const prompts = Array.from({ length: 12_000 }, (_, i) => `Prompt number ${i}: explain ${crypto.randomBytes(6).toString("hex")} in a few words.`);
  const file = path.join(env().DATA_DIR, "crash-prompts.txt");
  fs.mkdirSync(env().DATA_DIR, { recursive: true });
  fs.writeFileSync(file, `${prompts.join("\n")}\n`);
  const request = { format: "prompts", mode: "reject_file" };
  const trees = () => prisma.messageTree.count({ where: { projectId: target } });

  const manager = await createTestUser();
  await addToProject(target, manager.user.id, "manager");

  const first = startWorkers(WORKER_ENV);
  running.push(first);
  const row = await createImport({ projectId: target, createdById: null, request, sourcePath: file });
  // The import's page as a manager sees it.
  const page = async () =>
    (await importPage.loader({
      request: new Request(`http://localhost/projects/crash-import/imports/${row.id}`, { headers: { Cookie: manager.cookie } }),
      params: { projectSlug: "crash-import", importId: row.id },
      context: {},
    })) as Awaited<ReturnType<typeof importPage.loader>>;
  // Past validation (the first part of the progress), while prompts are being written: the page
  // shows the progress and the prompts created so far.
  await waitFor(async () => {
    const { row: r, report } = await page();
    return r.status === "running" && r.progress > 0 && r.progress < 1 && report.phase === "writing" && (report.created?.prompts ?? 0) > 0;
  }, "the import's page to show it writing prompts", 60_000);
  const importers = importProcesses(row.id);
  expect(importers).toHaveLength(1);
  // Frozen mid-write (a quiet machine writes the rest in a moment), then its worker is killed.
  process.kill(importers[0], "SIGSTOP");
  const written = await trees();
  expect(written).toBeGreaterThan(0);
  expect(written).toBeLessThan(prompts.length);
  first.child.kill("SIGKILL");
  await first.stop();
  process.kill(importers[0], "SIGCONT");
  // The import's own process ends with its worker: nothing goes on writing beside the next attempt.
  await waitFor(async () => importProcesses(row.id).length === 0, "the import process to end with its worker", 30_000);

  const second = startWorkers(WORKER_ENV);
  running.push(second);
  await waitFor(async () => (await prisma.datasetImport.findUniqueOrThrow({ where: { id: row.id } })).status === "succeeded", "the import to succeed", 90_000);
  expect(await trees()).toBe(prompts.length);
  const { row: finished, report } = await page();
  expect(finished).toMatchObject({ status: "succeeded", progress: 1 });
  expect(report).toMatchObject({ phase: "done", items: prompts.length });
  const texts = await prisma.message.findMany({ where: { projectId: target, parentId: null }, select: { text: true } });
  expect(new Set(texts.map((m) => m.text))).toEqual(new Set(prompts));

  // The same file again adds nothing.
  const again = await createImport({ projectId: target, createdById: null, request, sourcePath: file });
  await waitFor(async () => (await prisma.datasetImport.findUniqueOrThrow({ where: { id: again.id } })).status === "succeeded", "the second import", 90_000);
  expect(await trees()).toBe(prompts.length);
}, 180_000);

it("sweeps exports past their retention without waiting for the next export", async () => {
  const workers = startWorkers({ ...WORKER_ENV, RETENTION_SWEEP_SECONDS: "1" });
  running.push(workers);
  const row = await finished((await createExport({ projectId, createdById: null, request: { format: "prompts_text", split: { validationRatio: 0 } } })).id);
  expect(entries(row.id)).toEqual([row.id]);
  await prisma.datasetExport.update({ where: { id: row.id }, data: { expiresAt: new Date(Date.now() - 1_000) } });
  // The row is marked first and its files go right after, so wait for both.
  await waitFor(async () => (await prisma.datasetExport.findUniqueOrThrow({ where: { id: row.id } })).deletedAt !== null && entries(row.id).length === 0, "the sweep", 30_000);
}, 120_000);
