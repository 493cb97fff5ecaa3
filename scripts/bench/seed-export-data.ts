// Benchmark data for exports: Open-Assistant-shaped trees (prompts with up to three ranked
// assistant replies, one prompter follow-up per reply, depth ≤ 5), text lengths drawn like the
// oasst sample (prompts ~130 characters on average, replies ~800), three labels per message,
// three rankings and a consensus per sibling set. Written with COPY FROM STDIN, fast enough for
// a million messages in well under a minute.
import crypto from "node:crypto";
import { once } from "node:events";
import type { Writable } from "node:stream";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { seededRng, shuffled, type Rng } from "~/domain/tasks/rng.ts";

export interface SeedOptions {
  messages: number;
  seed?: number;
}

export interface SeedResult {
  projectId: string;
  projectSlug: string;
  userId: string;
  trees: number;
  messages: number;
  labels: number;
  rankings: number;
  sets: number;
}

const LABELERS = 200;
const MAX_DEPTH = 5;
const WORDS =
  "the of and to in is that for it as with was on be by this are or from at an but not have which you one all they can more will about would there their what so if out up when into has only some other could time like than then these two may first any new very also how most even where after well such over through because each just those people how much many think right still last need again however part know example model answer question data value result point number water small large light power simple system order place course line form state house show start world both city process result set end between under never".split(
    " ",
  );
/** Non-ASCII text found in about 7% of the oasst sample's messages. */
const NON_ASCII = ["naïve café", "数据集", "→", "😀", "—", "’s", "über", "Привет"];

/**
 * An ASCII corpus to cut messages from, with line breaks, quotes and backslashes about as often
 * as in the oasst sample (37%, 13% and 1% of its messages).
 */
function makeCorpus(rng: Rng, size: number): string {
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    const word = WORDS[Math.floor(rng() * WORDS.length)];
    const r = rng();
    const sep = r < 1 / 8000 ? " \\ " : r < 1 / 180 ? ".\n" : r < 1 / 150 ? ' "' : r < 0.08 ? ". " : r < 0.13 ? ", " : " ";
    parts.push(word, sep);
    length += word.length + sep.length;
  }
  return parts.join("");
}

/** Log-normal text length, clamped to [min, max]. */
function textLength(rng: Rng, median: number, sigma: number, min: number, max: number): number {
  const z = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  return Math.max(min, Math.min(max, Math.round(median * Math.exp(sigma * z))));
}

/** COPY text format: backslash, newline, carriage return and tab are escaped. */
function copyText(value: string): string {
  return /[\\\n\r\t]/.test(value) ? value.replace(/[\\\n\r\t]/g, (c) => (c === "\\" ? "\\\\" : c === "\n" ? "\\n" : c === "\r" ? "\\r" : "\\t")) : value;
}

/** Buffers COPY lines and writes them in ~256 kB chunks, waiting when the socket is full. */
class CopyWriter {
  private buffer: string[] = [];
  private bytes = 0;
  rows = 0;
  constructor(private readonly stream: Writable) {}
  async row(fields: (string | number | boolean | null)[]): Promise<void> {
    const line = fields.map((f) => (f === null ? "\\N" : typeof f === "string" ? copyText(f) : String(f))).join("\t") + "\n";
    this.buffer.push(line);
    this.bytes += line.length;
    this.rows += 1;
    if (this.bytes > 256 * 1024) await this.flush();
  }
  private async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const chunk = this.buffer.join("");
    this.buffer = [];
    this.bytes = 0;
    if (!this.stream.write(chunk)) await once(this.stream, "drain");
  }
  async end(): Promise<void> {
    await this.flush();
    const done = new Promise<void>((resolve, reject) => {
      this.stream.once("finish", resolve);
      this.stream.once("error", reject);
    });
    this.stream.end();
    await done;
  }
}

interface Node {
  id: string;
  parent: Node | null;
  role: "prompter" | "assistant";
  depth: number;
  children: Node[];
}

/** One tree of about `target` messages, grown breadth first in the Open-Assistant shape. */
function growTree(rng: Rng, target: number): Node[] {
  const root: Node = { id: crypto.randomUUID(), parent: null, role: "prompter", depth: 0, children: [] };
  const nodes = [root];
  const open = [root];
  while (open.length > 0 && nodes.length < target) {
    const parent = open.shift() as Node;
    if (parent.depth >= MAX_DEPTH) continue;
    const replies = parent.role === "prompter" ? (rng() < 0.6 ? 3 : rng() < 0.6 ? 2 : 1) : rng() < 0.55 ? 1 : 0;
    for (let i = 0; i < replies && nodes.length < target; i++) {
      const child: Node = {
        id: crypto.randomUUID(),
        parent,
        role: parent.role === "prompter" ? "assistant" : "prompter",
        depth: parent.depth + 1,
        children: [],
      };
      parent.children.push(child);
      nodes.push(child);
      open.push(child);
    }
  }
  return nodes;
}

/** Inserts the data into an empty, migrated database. Foreign keys and triggers are skipped while loading. */
export async function seedExportData(databaseUrl: string, options: SeedOptions): Promise<SeedResult> {
  const rng = seededRng(options.seed ?? 7);
  const corpus = makeCorpus(rng, 2_000_000);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("SET session_replication_role = replica");
    const projectId = crypto.randomUUID();
    const projectSlug = "bench";
    await client.query(
      `INSERT INTO projects (id, slug, name, workflow_config, updated_at) VALUES ($1, $2, 'Export benchmark', '{}', now())`,
      [projectId, projectSlug],
    );
    const userIds = Array.from({ length: LABELERS }, () => crypto.randomUUID());
    await client.query(
      `INSERT INTO users (id, email, display_name, password_hash)
       SELECT id, 'labeler' || n || '@bench.local', 'Labeler ' || n, 'x' FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, n)`,
      [userIds],
    );
    await client.query(`INSERT INTO project_members (project_id, user_id, role) SELECT $1, id, 'labeler' FROM unnest($2::uuid[]) AS id`, [
      projectId,
      userIds,
    ]);
    const modelId = crypto.randomUUID();
    await client.query(
      `INSERT INTO model_versions (id, name, kind, path, architecture, files, config, tokenizer, vocab_size, context_length, param_count)
       VALUES ($1, 'bench-gpt', 'policy', '/dev/null', 'gpt2', '[]', '{}', '{}', 8192, 512, 1000000)`,
      [modelId],
    );

    // Indexes are built once after loading: far faster than keeping them up to date row by row.
    const { rows: indexes } = await client.query<{ name: string; definition: string }>(
      `SELECT indexname AS name, indexdef AS definition FROM pg_indexes
       WHERE schemaname = 'public' AND tablename IN ('messages', 'labels', 'rankings', 'sibling_consensus', 'message_trees')
         AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u', 'x'))`,
    );
    const { rows: uniques } = await client.query<{ name: string; table: string; definition: string }>(
      `SELECT c.conname AS name, t.relname AS "table", pg_get_constraintdef(c.oid) AS definition
       FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
       WHERE c.contype = 'u' AND t.relname IN ('messages', 'labels', 'rankings')`,
    );
    for (const u of uniques) await client.query(`ALTER TABLE "${u.table}" DROP CONSTRAINT "${u.name}"`);
    for (const i of indexes) await client.query(`DROP INDEX "${i.name}"`);

    const open = (table: string, columns: string) => new CopyWriter(client.query(copyFrom(`COPY ${table} (${columns}) FROM STDIN`)));
    // One COPY at a time per connection: trees and messages first, then the rest in a second pass over the kept rows.
    const trees = open("message_trees", "id, project_id, state, lang, origin, created_at, updated_at, state_changed_at");
    const start = Date.UTC(2026, 0, 1);
    const treeRows: { id: string; nodes: Node[]; createdAt: number }[] = [];
    let messages = 0;
    while (messages < options.messages) {
      const target = Math.min(options.messages - messages, 4 + Math.floor(rng() * 17));
      const nodes = growTree(rng, target);
      const createdAt = start + Math.floor(rng() * 300 * 86_400_000);
      treeRows.push({ id: nodes[0].id, nodes, createdAt });
      const at = new Date(createdAt).toISOString();
      await trees.row([nodes[0].id, projectId, "ready_for_export", "en", "app", at, at, at]);
      messages += nodes.length;
    }
    await trees.end();

    const messageWriter = open(
      "messages",
      "id, tree_id, project_id, parent_id, depth, role, text, lang, author_user_id, model_version_id, synthetic, model_name, sampling_params, seed, deleted, review_count, review_result, consensus_rank, ranking_count, children_count, text_hash, created_at, updated_at",
    );
    const ranks = new Map<string, number>();
    const sets: { parent: Node; treeId: string; order: string[]; createdAt: number }[] = [];
    for (const tree of treeRows) {
      for (const node of tree.nodes) {
        if (node.children.length >= 2) {
          const order = shuffled(node.children.map((c) => c.id), rng);
          order.forEach((id, i) => ranks.set(id, i));
          sets.push({ parent: node, treeId: tree.id, order, createdAt: tree.createdAt });
        }
      }
      for (const node of tree.nodes) {
        const length = node.role === "prompter" ? textLength(rng, 80, 1, 8, 4000) : textLength(rng, 560, 0.9, 20, 4000);
        const offset = Math.floor(rng() * (corpus.length - length));
        let text = corpus.slice(offset, offset + length).trim() || "hello";
        if (rng() < 0.07) {
          const at = Math.floor(rng() * text.length);
          text = `${text.slice(0, at)} ${NON_ASCII[Math.floor(rng() * NON_ASCII.length)]} ${text.slice(at)}`;
        }
        const synthetic = node.role === "assistant" && rng() < 0.4;
        const review = node.depth === 0 ? "accepted" : rng() < 0.95 ? "accepted" : rng() < 0.6 ? "rejected" : "pending";
        const at = new Date(tree.createdAt + node.depth * 3_600_000 + Math.floor(rng() * 3_000_000)).toISOString();
        await messageWriter.row([
          node.id,
          tree.id,
          projectId,
          node.parent?.id ?? null,
          node.depth,
          node.role,
          text,
          "en",
          synthetic ? null : userIds[Math.floor(rng() * LABELERS)],
          synthetic ? modelId : null,
          synthetic,
          synthetic ? "bench-gpt" : null,
          synthetic ? '{"temperature":0.8,"top_p":0.95}' : null,
          synthetic ? Math.floor(rng() * 2 ** 31) : null,
          node.depth > 0 && rng() < 0.01,
          3,
          review,
          ranks.get(node.id) ?? null,
          node.parent !== null && node.parent.children.length >= 2 ? 3 : 0,
          node.children.length,
          crypto.createHash("sha256").update(text).digest("hex"),
          at,
          at,
        ]);
        ranks.delete(node.id);
      }
    }
    await messageWriter.end();

    const labels = open("labels", "id, message_id, user_id, values, full_form, created_at");
    for (const tree of treeRows) {
      const at = new Date(tree.createdAt + 86_400_000).toISOString();
      for (const node of tree.nodes) {
        const first = Math.floor(rng() * LABELERS);
        for (let k = 0; k < 3; k++) {
          const spam = rng() < 0.03 ? 1 : 0;
          const quality = Math.floor(rng() * 5) / 4;
          await labels.row([
            crypto.randomUUID(),
            node.id,
            userIds[(first + k * 7) % LABELERS],
            `{"spam": ${spam}, "lang_mismatch": 0, "quality": ${quality}}`,
            false,
            at,
          ]);
        }
      }
    }
    await labels.end();

    const rankings = open("rankings", "id, parent_message_id, user_id, \"order\", not_rankable, created_at");
    for (const set of sets) {
      const first = Math.floor(rng() * LABELERS);
      const at = new Date(set.createdAt + 2 * 86_400_000).toISOString();
      for (let k = 0; k < 3; k++) {
        // Labelers mostly agree with the consensus; one in four swaps two neighbours.
        const order = [...set.order];
        if (rng() < 0.25) {
          const i = Math.floor(rng() * (order.length - 1));
          [order[i], order[i + 1]] = [order[i + 1], order[i]];
        }
        await rankings.row([crypto.randomUUID(), set.parent.id, userIds[(first + k * 11) % LABELERS], JSON.stringify(order.map((id) => [id])), false, at]);
      }
    }
    await rankings.end();

    const consensus = open(
      "sibling_consensus",
      "parent_message_id, tree_id, ranks, bt_scores, pair_confidence, kendall_tau, ranking_count, computed_at",
    );
    for (const set of sets) {
      const k = set.order.length;
      const ranksJson = Object.fromEntries(set.order.map((id, i) => [id, i]));
      const scores = Object.fromEntries(set.order.map((id, i) => [id, (k - 1) / 2 - i]));
      const confidence = Object.fromEntries(
        set.order.map((a) => [a, Object.fromEntries(set.order.filter((b) => b !== a).map((b) => [b, 1 / (1 + Math.exp(scores[b] - scores[a]))]))]),
      );
      await consensus.row([
        set.parent.id,
        set.treeId,
        JSON.stringify(ranksJson),
        JSON.stringify(scores),
        JSON.stringify(confidence),
        0.8,
        3,
        new Date(set.createdAt + 3 * 86_400_000).toISOString(),
      ]);
    }
    await consensus.end();

    for (const i of indexes) await client.query(i.definition);
    for (const u of uniques) await client.query(`ALTER TABLE "${u.table}" ADD CONSTRAINT "${u.name}" ${u.definition}`);
    await client.query("SET session_replication_role = origin");
    await client.query("ANALYZE");
    return {
      projectId,
      projectSlug,
      userId: userIds[0],
      trees: treeRows.length,
      messages,
      labels: labels.rows,
      rankings: rankings.rows,
      sets: sets.length,
    };
  } finally {
    await client.end();
  }
}
