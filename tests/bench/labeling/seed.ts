// Seeds a labeling benchmark database: a project with the default workflow (rate limits lifted),
// trees in every task-handing state so that no group of the draw runs dry within a run, finished
// trees as most of a project in use has, seed authors, and the simulated labelers with their
// sessions and their share of the project's reviews and rankings. Every seeded message comes with the history that brought it there (its writing task,
// its reviews with their tasks, the rankings of finished trees), so tables have the sizes, and the
// planner the statistics, of a project in use.
//
// Rows go in through COPY, one stream per table on its own connection, generated tree by tree so
// that a million messages never sit in memory. Foreign keys and triggers are not checked while
// loading (session_replication_role = replica: the rows are consistent by construction) and the
// secondary indexes are dropped first and built again afterwards from their definitions, as the
// migrations made them; then everything is vacuumed and analyzed.
import crypto from "node:crypto";
import { once } from "node:events";
import pg from "pg";
import { from as copyFrom, type CopyStreamQuery } from "pg-copy-streams";
import { defaultWorkflowConfig } from "~/domain/projects/workflow.ts";

/** The labelers of a seed, made once so that every database of a run has the same ones. */
export interface BenchPeople {
  labelerIds: string[];
  /** One session per labeler (same order): the cookie carries the id. */
  sessionIds: string[];
  passwordHash: string;
}

export interface BenchSeed {
  projectId: string;
  slug: string;
  trees: Record<string, number>;
  rows: Record<string, number>;
  seconds: number;
}

export interface SeedSizes {
  /** Trees in ranking: a prompt with three accepted replies, one follow-up and three replies to it. */
  rankingTrees: number;
  /** Prompts waiting for their reviews. */
  reviewTrees: number;
  /** Accepted prompts waiting for a growing slot. */
  waitingTrees: number;
  /** Finished trees (ready for export), 16 messages with their rankings: history, as a project in use has. */
  finishedTrees: number;
  /** Authors of the seeded messages, who also review and rank them; at least 40. */
  authors: number;
}

const LIFTED = { count: 1_000_000_000, windowSeconds: 1 };
const SEEDED_TABLES = ["users", "project_members", "sessions", "message_trees", "tree_state_events", "messages", "tasks", "labels", "rankings"];

export function benchPeople(labelers: number, passwordHash: string): BenchPeople {
  const ids = (n: number) => Array.from({ length: n }, () => crypto.randomUUID());
  return {
    labelerIds: ids(labelers),
    sessionIds: Array.from({ length: labelers }, () => crypto.randomBytes(32).toString("hex")),
    passwordHash,
  };
}

/** A value in COPY's text format. */
function field(v: unknown): string {
  if (v === null || v === undefined) return "\\N";
  const s = typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v);
  return /[\\\t\n\r]/.test(s) ? s.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r") : s;
}

/** One table's COPY stream on its own connection; rows are buffered and written in large chunks. */
class CopyStream {
  rows = 0;
  private buffer: string[] = [];
  private stream!: CopyStreamQuery;
  private done!: Promise<void>;

  constructor(
    private client: pg.Client,
    readonly table: string,
    readonly columns: string[],
  ) {}

  async open() {
    await this.client.query("SET session_replication_role = replica");
    this.stream = this.client.query(copyFrom(`COPY ${this.table} (${this.columns.map((c) => `"${c}"`).join(", ")}) FROM STDIN`));
    this.done = new Promise((resolve, reject) => {
      this.stream.on("finish", () => resolve());
      this.stream.on("error", reject);
    });
  }

  push(values: unknown[]) {
    const line = values.map(field).join("\t") + "\n";
    this.buffer.push(line);
    this.rows++;
  }

  /** Writes what is buffered; waits when Postgres is behind. */
  async flush() {
    if (this.buffer.length === 0) return;
    const chunk = this.buffer.join("");
    this.buffer = [];
    if (!this.stream.write(chunk)) await once(this.stream, "drain");
  }

  async close() {
    await this.flush();
    this.stream.end();
    await this.done;
  }
}

export async function seedBench(databaseUrl: string, sizes: SeedSizes, people: BenchPeople, progress: (msg: string) => void): Promise<BenchSeed> {
  const started = performance.now();
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  const clients: pg.Client[] = [];
  try {
    const projectId = crypto.randomUUID();
    const slug = "bench";
    const config = { ...defaultWorkflowConfig(), rateLimits: { taskRequests: LIFTED, replies: { assistant: LIFTED, prompter: LIFTED } } };
    await admin.query(
      `INSERT INTO projects (id, slug, name, workflow_config, updated_at) VALUES ($1, $2, 'Labeling benchmark', $3, now() AT TIME ZONE 'UTC')`,
      [projectId, slug, JSON.stringify(config)],
    );

    // Secondary indexes (not those behind constraints), built again after the load.
    const { rows: indexes } = await admin.query<{ name: string; def: string }>(
      `SELECT i.indexname AS name, i.indexdef AS def FROM pg_indexes i
       WHERE i.schemaname = current_schema() AND i.tablename = ANY($1)
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`,
      [SEEDED_TABLES],
    );
    for (const ix of indexes) await admin.query(`DROP INDEX "${ix.name}"`);

    const open = async (table: string, columns: string[]) => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      clients.push(client);
      const stream = new CopyStream(client, table, columns);
      await stream.open();
      return stream;
    };
    const users = await open("users", ["id", "email", "display_name", "password_hash"]);
    const members = await open("project_members", ["project_id", "user_id", "role"]);
    const sessions = await open("sessions", ["id", "user_id", "expires_at", "user_agent"]);
    const treeRows = await open("message_trees", ["id", "project_id", "state", "lang", "created_at", "updated_at", "state_changed_at"]);
    const events = await open("tree_state_events", ["tree_id", "from_state", "to_state", "reason"]);
    const messages = await open("messages", [
      "id", "tree_id", "project_id", "parent_id", "depth", "role", "text", "lang", "author_user_id", "review_result", "review_count",
      "ranking_count", "consensus_rank", "text_hash", "created_at", "updated_at",
    ]);
    const tasks = await open("tasks", [
      "id", "project_id", "type", "state", "assignee_id", "tree_id", "message_id", "full_form", "created_at", "expires_at",
      "acknowledged_at", "done_at", "result_message_id",
    ]);
    const labels = await open("labels", ["id", "message_id", "user_id", "task_id", "values", "created_at"]);
    const rankings = await open("rankings", ["id", "parent_message_id", "user_id", "task_id", "order", "created_at"]);
    const streams = [users, members, sessions, treeRows, events, messages, tasks, labels, rankings];

    const { labelerIds, sessionIds, passwordHash } = people;
    const authors = Array.from({ length: Math.max(40, sizes.authors) }, () => crypto.randomUUID());
    authors.forEach((id, i) => users.push([id, `author${i}@bench.local`, `author${i}`, passwordHash]));
    const expires = new Date(Date.now() + 30 * 86_400_000).toISOString().replace("Z", "");
    labelerIds.forEach((id, i) => {
      users.push([id, `labeler${i}@bench.local`, `labeler${i}`, passwordHash]);
      members.push([projectId, id, "labeler"]);
      sessions.push([sessionIds[i], id, expires, "bench"]);
    });

    const counts: Record<string, number> = {};
    // Timestamps one millisecond apart, ending now: finished history first, then the open work.
    const totalRows =
      sizes.finishedTrees * 160 + sizes.rankingTrees * 70 + sizes.reviewTrees * 4 + sizes.waitingTrees * 10 + config.maxActiveTrees * 10;
    let clock = Date.now() - totalRows - 60_000;
    const at = () => new Date((clock += 1)).toISOString().replace("Z", "");
    let n = 0;
    const author = () => authors[n++ % authors.length];
    const tree = (state: string) => {
      const id = crypto.randomUUID();
      const t = at();
      treeRows.push([id, projectId, state, "en", t, t, t]);
      events.push([id, null, state, "seeded"]);
      counts[state] = (counts[state] ?? 0) + 1;
      return id;
    };
    const doneTask = (type: string, assignee: string, treeId: string, messageId: string | null, result: string | null = null) => {
      const id = crypto.randomUUID();
      const t = at();
      tasks.push([id, projectId, type, "done", assignee, treeId, messageId, false, t, t, t, t, result]);
      return id;
    };
    // Reviews and rankings come from the labelers in turn (authors only write), so each labeler's
    // own history grows with the project as in a project in use: the draw reads it on every request.
    const crew = labelerIds.length >= 3 ? labelerIds : authors;
    let turn = 0;
    const threeOfCrew = () => [0, 1, 2].map(() => crew[turn++ % crew.length]);
    const filler = Array.from({ length: 8 }, (_, i) => "Some words to read. ".repeat(4 + i));
    const labelValues = JSON.stringify({ spam: 0, fails_task: 0, quality: 0.75 });
    /** `rank`: the reply's place in its finished set's consensus, ranked by three. */
    const message = (treeId: string, parent: { id: string; depth: number } | null, role: string, review: string, rank: number | null = null) => {
      const id = crypto.randomUUID();
      const text = `${role} message ${n} ${crypto.randomBytes(6).toString("hex")}: ${filler[n % 8]}`;
      const t = at();
      const authorId = author();
      const depth = parent ? parent.depth + 1 : 0;
      messages.push([
        id, treeId, projectId, parent?.id ?? null, depth, role, text, "en", authorId, review, review === "pending" ? 0 : 3,
        rank === null ? 0 : 3, rank, crypto.createHash("sha256").update(text).digest("hex"), t, t,
      ]);
      doneTask(parent ? `${role}_reply` : "initial_prompt", authorId, treeId, parent?.id ?? null, id);
      if (review !== "pending") {
        const labelType = parent ? `label_${role}_reply` : "label_initial_prompt";
        for (const reviewer of threeOfCrew()) {
          const taskId = doneTask(labelType, reviewer, treeId, id);
          labels.push([crypto.randomUUID(), id, reviewer, taskId, labelValues, at()]);
        }
      }
      return { id, depth };
    };
    const rank = (treeId: string, parentId: string, childIds: string[]) => {
      const order = JSON.stringify(childIds.map((c) => [c]));
      for (const ranker of threeOfCrew()) {
        const taskId = doneTask("rank_assistant_replies", ranker, treeId, parentId);
        rankings.push([crypto.randomUUID(), parentId, ranker, taskId, order, at()]);
      }
    };
    const threeReplies = (t: string, parent: { id: string; depth: number }, ranked = false) =>
      [0, 1, 2].map((i) => message(t, parent, "assistant", "accepted", ranked ? i : null));

    const flush = () => Promise.all(streams.map((s) => s.flush()));
    const batch = async (count: number, what: string, make: () => void) => {
      for (let i = 0; i < count; i++) {
        make();
        if (i % 500 === 499) await flush();
        if (i % 20_000 === 19_999) progress(`seeding: ${i + 1} of ${count} ${what}, ${messages.rows} messages so far`);
      }
      await flush();
    };
    await batch(sizes.finishedTrees, "finished trees", () => {
      const t = tree("ready_for_export");
      const root = message(t, null, "prompter", "accepted");
      const replies = threeReplies(t, root, true);
      rank(t, root.id, replies.map((r) => r.id));
      for (const reply of replies) {
        const followUp = message(t, reply, "prompter", "accepted");
        rank(t, followUp.id, threeReplies(t, followUp, true).map((r) => r.id));
      }
    });
    await batch(sizes.rankingTrees, "trees in ranking", () => {
      const t = tree("ranking");
      const root = message(t, null, "prompter", "accepted");
      const replies = threeReplies(t, root);
      threeReplies(t, message(t, replies[0], "prompter", "accepted"));
    });
    await batch(sizes.reviewTrees, "trees in review", () => message(tree("initial_prompt_review"), null, "prompter", "pending"));
    await batch(sizes.waitingTrees, "waiting trees", () => message(tree("prompt_lottery_waiting"), null, "prompter", "accepted"));
    await batch(config.maxActiveTrees, "growing trees", () => message(tree("growing"), null, "prompter", "accepted"));
    await Promise.all(streams.map((s) => s.close()));
    const rows = Object.fromEntries(streams.map((s) => [s.table, s.rows]));
    progress(`seeding: ${messages.rows} messages, ${tasks.rows} tasks loaded in ${((performance.now() - started) / 1000).toFixed(1)} s; building ${indexes.length} indexes`);

    // Two builders at a time, one per core.
    const queue = [...indexes];
    await Promise.all(
      clients.slice(0, 2).map(async (c) => {
        await c.query("SET maintenance_work_mem = '256MB'");
        for (let ix = queue.shift(); ix; ix = queue.shift()) await c.query(ix.def);
      }),
    );
    // Vacuumed as well as analyzed: a project in use has its visibility map set (index-only scans
    // skip the heap) and its hint bits written, which a fresh load would otherwise pay during the run.
    await admin.query("VACUUM (ANALYZE)");
    // The load bypassed the triggers that keep the task slots: the draw's slots, computed once here
    // the way a migration does for existing trees.
    progress("seeding: computing the task slots of the trees that hand out tasks");
    await admin.query(`SELECT refresh_task_slots_of(ARRAY(SELECT id FROM message_trees WHERE state IN ('initial_prompt_review', 'growing', 'ranking')))`);
    await admin.query("VACUUM (ANALYZE) task_slots");
    return { projectId, slug, trees: counts, rows, seconds: (performance.now() - started) / 1000 };
  } finally {
    await Promise.all(clients.map((c) => c.end()));
    await admin.end();
  }
}
