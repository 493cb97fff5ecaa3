// Export benchmark (`npm run bench:export`). For 1,000,000 and then 100,000 messages: seed a
// scratch database (scripts/bench/seed-export-data.ts), read every message column with
// `COPY … TO STDOUT` into a null sink in this process (the anchor), then run the SFT messages
// export and the pairwise preferences export through the real job path, each in its own child
// process (tests/bench/export-run.ts) so that its peak RSS is its own. Outputs and the scratch
// databases are deleted afterwards. The last line printed is one JSON object:
//   rows = source messages; rows_per_s = rows / the slower export's wall time;
//   copy_rows_per_s = rows / the anchor's time (the faster of its rounds); ratio = rows_per_s / copy_rows_per_s;
//   peak_rss_mb / peak_rss_mb_100k = the larger of the two exports' peak RSS at each size.
// The anchor and the exports run in two interleaved rounds; each counts its faster time (the
// exports also their larger peak RSS).
// Targets: ratio ≥ 0.5; peak RSS < 256 MB and within 10% of the 100k figure.
// `--sizes 100000` runs other sizes (the first is reported as rows); `--profile` writes a CPU
// profile of each export process and prints where its time went; `--keep-database` leaves the
// seeded databases in place (their URLs are printed) for a closer look.
import { execFileSync, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { seedExportData } from "../../scripts/bench/seed-export-data.ts";
import { summarizeProfile } from "./profile.ts";
import { ensureDatabase, migrateDeploy, withAdminClient, withDatabase } from "../../scripts/lib/database.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const RESULT_PREFIX = "RESULT ";
const FORMATS = ["sft_messages", "pairwise_trl"] as const;
/** Rounds of the anchor and each export; each counts its fastest round. */
const RUNS = 2;
const { values } = parseArgs({
  options: { sizes: { type: "string", default: "1000000,100000" }, profile: { type: "boolean", default: false }, "keep-database": { type: "boolean", default: false } },
});
const sizes = (values.sizes as string).split(",").map(Number);
const base = process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const log = (msg: string) => console.log(`[bench:export] ${msg}`);

interface ExportResult {
  format: string;
  status: string;
  wall_s: number;
  messages: number;
  rows_out: number;
  bytes_out: number;
  peak_rss_mb: number;
  cpu_s: number;
  cpu_system_s: number;
}

/** The anchor: every column of every message, read by this process and thrown away. */
async function copyAnchor(url: string): Promise<{ seconds: number; bytes: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ columns: string }>(
      `SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) AS columns
       FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'messages'`,
    );
    let bytes = 0;
    const started = performance.now();
    await pipeline(
      client.query(copyTo(`COPY (SELECT ${rows[0].columns} FROM messages) TO STDOUT`)),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          bytes += chunk.length;
          done();
        },
      }),
    );
    return { seconds: (performance.now() - started) / 1000, bytes };
  } finally {
    await client.end();
  }
}

/**
 * Leaves the seeded database as one in use would be: vacuumed (hint bits and visibility maps
 * set), checkpointed and on disk, so that flushing gigabytes just loaded does not land in
 * whichever measurement runs first.
 */
async function settle(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const started = performance.now();
    await client.query("VACUUM (ANALYZE)");
    await client.query("CHECKPOINT");
    // And the files the load left dirty anywhere (WAL, temporary files) are written out.
    execFileSync("sync");
    log(`vacuumed, checkpointed and synced in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await client.end();
  }
}

function printProfile(dir: string, format: string) {
  const file = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => path.join(dir, f))
    .sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0];
  if (file) for (const line of summarizeProfile(file)) log(`profile ${format}: ${line}`);
}

function runExport(url: string, format: string, projectId: string, dataDir: string): Promise<ExportResult> {
  const profileDir = path.resolve("test-output", `bench-export-profile-${format}-${crypto.randomBytes(4).toString("hex")}`);
  const profile = values.profile ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...profile, "--import", "tsx", path.join(here, "export-run.ts"), format, projectId], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, DATABASE_URL: url, QUEUE_PREFIX: `bench-export-${crypto.randomBytes(4).toString("hex")}`, DATA_DIR: dataDir, NODE_ENV: "production" },
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = stdout.split("\n").find((l) => l.startsWith(RESULT_PREFIX));
      if (values.profile && fs.existsSync(profileDir)) printProfile(profileDir, format);
      if (code !== 0 || !line) reject(new Error(`export-run ${format} exited with ${code}\n${stdout}`));
      else resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as ExportResult);
    });
  });
}

async function measure(size: number) {
  const name = `rlhf_bench_export_${size}`;
  const url = withDatabase(base, name);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rlhf-bench-export-"));
  await withAdminClient(base, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  try {
    await ensureDatabase(url);
    await migrateDeploy(url);
    const t = performance.now();
    const seeded = await seedExportData(url, { messages: size });
    log(`${size.toLocaleString()} messages in ${seeded.trees.toLocaleString()} trees, ${seeded.sets.toLocaleString()} ranked sets, ${seeded.labels.toLocaleString()} labels, ${seeded.rankings.toLocaleString()} rankings: seeded in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    await settle(url);
    // Rounds of anchor, SFT export, pairs export: this machine's speed drifts (by a third, at
    // times, within a minute), and interleaving lets a slow spell hit the anchor and the exports
    // alike instead of one of them.
    const anchors: Array<{ seconds: number; bytes: number }> = [];
    const runs = new Map<string, ExportResult[]>(FORMATS.map((f) => [f, []]));
    for (let round = 0; round < RUNS; round++) {
      const a = await copyAnchor(url);
      anchors.push(a);
      log(`COPY anchor: ${a.seconds.toFixed(2)} s (${(a.bytes / 1e6).toFixed(0)} MB) → ${Math.round(size / a.seconds).toLocaleString()} rows/s`);
      for (const format of FORMATS) {
        const result = await runExport(url, format, seeded.projectId, dataDir);
        if (result.messages !== size) throw new Error(`${format} read ${result.messages} messages, expected ${size}`);
        runs.get(format)!.push(result);
        log(`${format}: ${result.wall_s.toFixed(2)} s, ${Math.round(size / result.wall_s).toLocaleString()} messages/s, ${result.rows_out.toLocaleString()} rows, ${(result.bytes_out / 1e6).toFixed(0)} MB, exporter CPU ${result.cpu_s.toFixed(2)} s (${result.cpu_system_s.toFixed(2)} s in the kernel), peak RSS ${result.peak_rss_mb} MB`);
      }
    }
    const anchor = Math.min(...anchors.map((a) => a.seconds));
    // The fastest run's time, as for the anchor; the largest peak RSS.
    const exports = FORMATS.map((format) => {
      const all = runs.get(format)!;
      const fastest = all.reduce((a, b) => (b.wall_s < a.wall_s ? b : a));
      return { ...fastest, peak_rss_mb: Math.max(...all.map((r) => r.peak_rss_mb)) };
    });
    return { size, anchor, exports };
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
    if (values["keep-database"]) log(`kept ${url}`);
    else await withAdminClient(base, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  }
}

const results = [];
for (const size of sizes) results.push(await measure(size));
const [main] = results;
const small = results.find((r) => r.size === 100_000) ?? results[results.length - 1];
const slowest = Math.max(...main.exports.map((e) => e.wall_s));
const rowsPerS = main.size / slowest;
const copyRowsPerS = main.size / main.anchor;
const peak = Math.max(...main.exports.map((e) => e.peak_rss_mb));
const peak100k = Math.max(...small.exports.map((e) => e.peak_rss_mb));
log(`targets: ratio ≥ 0.5 (${(rowsPerS / copyRowsPerS).toFixed(2)}); peak RSS < 256 MB (${peak}) and within 10% of ${peak100k} MB (${(((peak - peak100k) / peak100k) * 100).toFixed(1)}%)`);
console.log(
  JSON.stringify({
    bench: "export",
    rows: main.size,
    rows_per_s: Math.round(rowsPerS),
    copy_rows_per_s: Math.round(copyRowsPerS),
    ratio: Number((rowsPerS / copyRowsPerS).toFixed(3)),
    peak_rss_mb: peak,
    peak_rss_mb_100k: peak100k,
    sft_s: main.exports.find((e) => e.format === "sft_messages")?.wall_s,
    pairs_s: main.exports.find((e) => e.format === "pairwise_trl")?.wall_s,
    copy_s: Number(main.anchor.toFixed(3)),
  }),
);
