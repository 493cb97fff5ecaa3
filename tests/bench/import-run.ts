// One import through the real job path, in its own process so that its peak RSS is its own:
// createImport (row + queue) → a BullMQ worker running the import processor (which runs the
// import in a child process) → the row succeeds. Memory is read from /proc while it runs: the
// peak RSS (VmHWM) of every process below this one, summed (an upper bound of their peak
// together, whatever else they spawn), and the largest sum of this process's RSS and theirs.
// Prints one line "RESULT {json}".
import fs from "node:fs";
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

/** Processes below `root`, from /proc (Linux). */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // The name may hold spaces: fields start after its closing parenthesis.
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // Gone meanwhile.
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const [child, ppid] of parent) if (ppid === pid) (out.push(child), walk(child));
  };
  walk(root);
  return out;
}

function statusKb(pid: number | "self", field: "VmHWM" | "VmRSS"): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const childPeakKb = new Map<number, number>();
let treePeakKb = 0;
const sampleMemory = () => {
  let now = statusKb("self", "VmRSS");
  for (const pid of descendants(process.pid)) {
    childPeakKb.set(pid, Math.max(childPeakKb.get(pid) ?? 0, statusKb(pid, "VmHWM")));
    now += statusKb(pid, "VmRSS");
  }
  treePeakKb = Math.max(treePeakKb, now);
};
const sampler = setInterval(sampleMemory, 200);

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
clearInterval(sampler);
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
  peak_rss_mb: Math.round([...childPeakKb.values()].reduce((a, b) => a + b, 0) / 1024),
  import_processes: childPeakKb.size,
  worker_peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  tree_peak_rss_mb: Math.round(treePeakKb / 1024),
  cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
  progress_seen: seen.filter((s) => s.progress > 0 && s.progress < 1).length,
};
await worker.close();
await closeQueues();
await closeJobBackend();
await prisma.$disconnect();
console.log(`${RESULT_PREFIX}${JSON.stringify(result)}`);
