// Import benchmark (`npm run bench:import`). Generates an Open-Assistant tree file of 1,000,000
// messages from the fixture (tests/fixtures/oasst/en_100_tree.jsonl, its trees repeated with new
// ids), imports it at the product's defaults into a fresh project of a scratch database through
// the real job path, in a child process (tests/bench/import-run.ts) so that its peak RSS is its
// own, and compares with the anchor: the same message rows loaded by a bare `COPY … FROM STDIN`
// (pg-copy-streams) into a table shaped like `messages`, in this process, same run. The scratch
// database and the file are deleted afterwards. The last line printed is one JSON object:
//   messages = messages imported; messages_per_s = messages / the import's wall time (both passes:
//   checking every line, then writing); copy_messages_per_s = messages / the anchor's time;
//   ratio = messages_per_s / copy_messages_per_s; peak_rss_mb = the import's peak RSS: the import
//   job runs in a process of its own below the worker, and this sums the peak RSS of every process
//   below the worker (an upper bound of their peak together); worker_peak_rss_mb = the worker's
//   own (it waits, relays progress and polls the row as the page does); tree_peak_rss_mb = the
//   largest RSS of the worker and everything below it at one moment (sampled every 200 ms).
// Target: peak RSS < 300 MB. `--messages 100000` runs another size. BENCH_IMPORT_NODE_ARGS passes
// node options to the importing process (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { ensureDatabase, migrateDeploy, withAdminClient, withDatabase } from "../../scripts/lib/database.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const RESULT_PREFIX = "RESULT ";
const FIXTURE = path.resolve(here, "../fixtures/oasst/en_100_tree.jsonl");
const { values } = parseArgs({ options: { messages: { type: "string", default: "1000000" } } });
const target = Number(values.messages);
const base = process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const log = (msg: string) => console.log(`[bench:import] ${msg}`);

type Node = { message_id: string; parent_id?: string | null; replies?: Node[]; [k: string]: unknown };

/** A deterministic UUID (v4 layout) for copy `n` of an id. */
function copyId(id: string, n: number): string {
  const h = crypto.createHash("sha256").update(`${n}:${id}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function renumber(node: Node, n: number, parent: string | null): Node {
  const id = copyId(node.message_id, n);
  return { ...node, message_id: id, parent_id: parent, replies: (node.replies ?? []).map((r) => renumber(r, n, id)) };
}

const count = (node: Node): number => 1 + (node.replies ?? []).reduce((s, r) => s + count(r), 0);

/** Writes the file; returns its message rows for the anchor as they are generated (no copy held). */
async function generate(file: string): Promise<{ messages: number; trees: number; bytes: number }> {
  const source = fs.readFileSync(FIXTURE, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { message_tree_id: string; tree_state: string; prompt: Node });
  const out = fs.createWriteStream(file);
  let messages = 0;
  let trees = 0;
  for (let n = 0; messages < target; n++) {
    for (const tree of source) {
      if (messages >= target) break;
      const prompt = renumber(tree.prompt, n, null);
      const line = `${JSON.stringify({ message_tree_id: prompt.message_id, tree_state: tree.tree_state, prompt })}\n`;
      if (!out.write(line)) await new Promise<void>((r) => out.once("drain", () => r()));
      messages += count(prompt);
      trees += 1;
    }
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  return { messages, trees, bytes: fs.statSync(file).size };
}

const esc = (v: unknown) => (v === null || v === undefined ? "\\N" : String(v).replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t"));

/** The anchor: the file's messages as `messages` rows, loaded by COPY into a table of the same shape. */
async function copyAnchor(url: string, file: string, projectId: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("CREATE TEMP TABLE anchor_messages (LIKE messages INCLUDING DEFAULTS INCLUDING INDEXES)");
    const now = new Date().toISOString();
    async function* rows() {
      for await (const line of readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })) {
        const tree = JSON.parse(line) as { message_tree_id: string; prompt: Node };
        const out: string[] = [];
        const visit = (m: Node, parent: string | null, depth: number) => {
          out.push(
            [m.message_id, tree.message_tree_id, projectId, parent, depth, m.role, m.text, m.lang ?? "en", m.synthetic ?? false, m.model_name, m.deleted ?? false, m.review_count ?? 0, m.review_result === true ? "accepted" : "pending", m.rank, "x", `oasst:${m.message_id}`, now]
              .map(esc)
              .join("\t"),
          );
          for (const r of m.replies ?? []) visit(r, m.message_id, depth + 1);
        };
        visit(tree.prompt, null, 0);
        yield `${out.join("\n")}\n`;
      }
    }
    const started = performance.now();
    await pipeline(
      Readable.from(rows()),
      client.query(
        copyFrom(
          "COPY anchor_messages (id, tree_id, project_id, parent_id, depth, role, text, lang, synthetic, model_name, deleted, review_count, review_result, consensus_rank, text_hash, import_key, updated_at) FROM STDIN",
        ),
      ),
    );
    return (performance.now() - started) / 1000;
  } finally {
    await client.end();
  }
}

interface ImportResult {
  status: string;
  error: string | null;
  wall_s: number;
  lines: number;
  trees: number;
  messages: number;
  bad_lines: number;
  peak_rss_mb: number;
  import_processes: number;
  worker_peak_rss_mb: number;
  tree_peak_rss_mb: number;
  cpu_s: number;
  progress_seen: number;
}

function runImport(url: string, projectId: string, file: string, dataDir: string): Promise<ImportResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(process.env.BENCH_IMPORT_NODE_ARGS ?? "").split(" ").filter(Boolean), "--import", "tsx", path.join(here, "import-run.ts"), "oasst", projectId, file], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, DATABASE_URL: url, QUEUE_PREFIX: `bench-import-${crypto.randomBytes(4).toString("hex")}`, DATA_DIR: dataDir, NODE_ENV: "production" },
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = stdout.split("\n").find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || !line) reject(new Error(`import-run exited with ${code}\n${stdout}`));
      else resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as ImportResult);
    });
  });
}

const name = `rlhf_bench_import_${target}`;
const url = withDatabase(base, name);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rlhf-bench-import-"));
const file = path.join(dataDir, "oasst-trees.jsonl");
await withAdminClient(base, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
try {
  await ensureDatabase(url);
  await migrateDeploy(url);
  let t = performance.now();
  const generated = await generate(file);
  log(`${generated.messages.toLocaleString()} messages in ${generated.trees.toLocaleString()} trees, ${(generated.bytes / 1e6).toFixed(0)} MB: generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  // A project at default settings.
  const projectId = crypto.randomUUID();
  await client.query(`INSERT INTO projects (id, slug, name, workflow_config, updated_at) VALUES ($1, 'bench-import', 'bench-import', '{}', now())`, [projectId]);
  await client.end();

  t = performance.now();
  const anchor = await copyAnchor(url, file, projectId);
  log(`COPY anchor: ${anchor.toFixed(2)} s → ${Math.round(generated.messages / anchor).toLocaleString()} messages/s`);
  const result = await runImport(url, projectId, file, dataDir);
  if (result.status !== "succeeded") throw new Error(`the import ${result.status}: ${result.error}`);
  if (result.messages !== generated.messages) throw new Error(`imported ${result.messages} messages, expected ${generated.messages}`);
  log(
    `import: ${result.wall_s.toFixed(1)} s, ${Math.round(result.messages / result.wall_s).toLocaleString()} messages/s, worker CPU ${result.cpu_s.toFixed(1)} s, peak RSS ${result.peak_rss_mb} MB (${result.import_processes} import process(es); the worker ${result.worker_peak_rss_mb} MB; worker and import together ${result.tree_peak_rss_mb} MB); progress read from the row ${result.progress_seen} times while it ran`,
  );
  const perS = result.messages / result.wall_s;
  const copyPerS = generated.messages / anchor;
  log(`target: peak RSS < 300 MB (${result.peak_rss_mb})`);
  console.log(
    JSON.stringify({
      bench: "import",
      messages: result.messages,
      trees: result.trees,
      file_mb: Math.round(generated.bytes / 1e6),
      messages_per_s: Math.round(perS),
      copy_messages_per_s: Math.round(copyPerS),
      ratio: Number((perS / copyPerS).toFixed(3)),
      peak_rss_mb: result.peak_rss_mb,
      worker_peak_rss_mb: result.worker_peak_rss_mb,
      tree_peak_rss_mb: result.tree_peak_rss_mb,
      import_s: result.wall_s,
      copy_s: Number(anchor.toFixed(3)),
    }),
  );
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true });
  await withAdminClient(base, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}
