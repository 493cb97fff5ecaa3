// Seeds the labeling benchmark's database with plain SQL: a project with the default workflow
// (rate limits lifted), trees in every task-handing state so that no group of the draw runs dry
// within a run, seed authors, and the simulated labelers. Every seeded message comes with the
// history that brought it there (its writing task, its reviews with their tasks, the rankings of
// finished trees), so tables have the sizes, and the planner the statistics, of a project in use.
import crypto from "node:crypto";
import pg from "pg";
import { defaultWorkflowConfig } from "~/domain/projects/workflow.ts";

export interface BenchSeed {
  projectId: string;
  slug: string;
  labelerIds: string[];
  trees: Record<string, number>;
}

export interface SeedSizes {
  labelers: number;
  /** Trees in ranking: a prompt with three accepted replies, one follow-up and three replies to it. */
  rankingTrees: number;
  /** Prompts waiting for their reviews. */
  reviewTrees: number;
  /** Accepted prompts waiting for a growing slot. */
  waitingTrees: number;
  /** Finished trees (ready for export) with their rankings: history, as a project in use has. */
  finishedTrees: number;
}

const LIFTED = { count: 1_000_000_000, windowSeconds: 1 };

type Row = Record<string, unknown>;

/** One multi-row INSERT per chunk, columns taken from the first row. */
async function insert(client: pg.Client, table: string, rows: Row[]): Promise<void> {
  const cols = Object.keys(rows[0] ?? {});
  for (let i = 0; i < rows.length; i += 2_000) {
    const chunk = rows.slice(i, i + 2_000);
    const values: unknown[] = [];
    const tuples = chunk.map((r) => `(${cols.map((c) => `$${values.push(r[c])}`).join(", ")})`);
    await client.query(`INSERT INTO ${table} (${cols.map((c) => `"${c}"`).join(", ")}) VALUES ${tuples.join(", ")}`, values);
  }
}

export async function seedBench(databaseUrl: string, sizes: SeedSizes, passwordHash: string): Promise<BenchSeed> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const projectId = crypto.randomUUID();
    const slug = "bench";
    const config = { ...defaultWorkflowConfig(), rateLimits: { taskRequests: LIFTED, replies: { assistant: LIFTED, prompter: LIFTED } } };
    await client.query(
      `INSERT INTO projects (id, slug, name, workflow_config, updated_at) VALUES ($1, $2, 'Labeling benchmark', $3, now() AT TIME ZONE 'UTC')`,
      [projectId, slug, JSON.stringify(config)],
    );

    const users: Row[] = [];
    const members: Row[] = [];
    const person = (name: string, labeler: boolean) => {
      const id = crypto.randomUUID();
      users.push({ id, email: `${name}@bench.local`, display_name: name, password_hash: passwordHash });
      if (labeler) members.push({ project_id: projectId, user_id: id, role: "labeler" });
      return id;
    };
    const authors = Array.from({ length: 40 }, (_, i) => person(`author${i}`, false));
    const labelerIds = Array.from({ length: sizes.labelers }, (_, i) => person(`labeler${i}`, true));
    await insert(client, "users", users);
    await insert(client, "project_members", members);

    const trees: Row[] = [];
    const messages: Row[] = [];
    const events: Row[] = [];
    let clock = Date.now() - 86_400_000;
    const at = () => new Date((clock += 10)).toISOString().replace("Z", "");
    let n = 0;
    const author = () => authors[n++ % authors.length];
    const tree = (state: string) => {
      const id = crypto.randomUUID();
      const t = at();
      trees.push({ id, project_id: projectId, state, lang: "en", created_at: t, updated_at: t, state_changed_at: t });
      events.push({ tree_id: id, from_state: null, to_state: state, reason: "seeded" });
      return id;
    };
    const tasks: Row[] = [];
    const labels: Row[] = [];
    const rankings: Row[] = [];
    const doneTask = (type: string, assignee: string, treeId: string, messageId: string | null, result: string | null = null) => {
      const id = crypto.randomUUID();
      const t = at();
      tasks.push({
        id, project_id: projectId, type, state: "done", assignee_id: assignee, tree_id: treeId, message_id: messageId, full_form: false,
        created_at: t, expires_at: t, acknowledged_at: t, done_at: t, result_message_id: result,
      });
      return id;
    };
    const reviewers = (authorId: string) => authors.filter((a) => a !== authorId).slice(n % 30, (n % 30) + 3);
    const message = (treeId: string, parent: { id: string; depth: number } | null, role: string, review: string) => {
      const id = crypto.randomUUID();
      const text = `${role} message ${n} ${crypto.randomBytes(6).toString("hex")}: ${"Some words to read. ".repeat(4 + (n % 8))}`;
      const t = at();
      const authorId = author();
      messages.push({
        id, tree_id: treeId, project_id: projectId, parent_id: parent?.id ?? null, depth: parent ? parent.depth + 1 : 0, role, text,
        lang: "en", author_user_id: authorId, review_result: review, review_count: review === "pending" ? 0 : 3,
        text_hash: crypto.createHash("sha256").update(text).digest("hex"), created_at: t, updated_at: t,
      });
      doneTask(parent ? `${role}_reply` : "initial_prompt", authorId, treeId, parent?.id ?? null, id);
      if (review !== "pending") {
        const labelType = parent ? `label_${role}_reply` : "label_initial_prompt";
        for (const reviewer of reviewers(authorId)) {
          const taskId = doneTask(labelType, reviewer, treeId, id);
          labels.push({ id: crypto.randomUUID(), message_id: id, user_id: reviewer, task_id: taskId, values: JSON.stringify({ spam: 0, fails_task: 0, quality: 0.75 }), created_at: at() });
        }
      }
      return { id, depth: parent ? parent.depth + 1 : 0 };
    };
    const rank = (treeId: string, parentId: string, childIds: string[]) => {
      for (const ranker of authors.slice(n % 30, (n % 30) + 3)) {
        const taskId = doneTask("rank_assistant_replies", ranker, treeId, parentId);
        rankings.push({ id: crypto.randomUUID(), parent_message_id: parentId, user_id: ranker, task_id: taskId, order: JSON.stringify(childIds.map((c) => [c])), created_at: at() });
      }
    };

    for (let i = 0; i < sizes.rankingTrees; i++) {
      const t = tree("ranking");
      const root = message(t, null, "prompter", "accepted");
      const replies = [0, 1, 2].map(() => message(t, root, "assistant", "accepted"));
      const followUp = message(t, replies[0], "prompter", "accepted");
      for (let j = 0; j < 3; j++) message(t, followUp, "assistant", "accepted");
    }
    for (let i = 0; i < sizes.finishedTrees; i++) {
      const t = tree("ready_for_export");
      const root = message(t, null, "prompter", "accepted");
      const replies = [0, 1, 2].map(() => message(t, root, "assistant", "accepted"));
      rank(t, root.id, replies.map((r) => r.id));
      const followUp = message(t, replies[0], "prompter", "accepted");
      const second = [0, 1, 2].map(() => message(t, followUp, "assistant", "accepted"));
      rank(t, followUp.id, second.map((r) => r.id));
    }
    for (let i = 0; i < sizes.reviewTrees; i++) message(tree("initial_prompt_review"), null, "prompter", "pending");
    for (let i = 0; i < sizes.waitingTrees; i++) message(tree("prompt_lottery_waiting"), null, "prompter", "accepted");
    for (let i = 0; i < config.maxActiveTrees; i++) message(tree("growing"), null, "prompter", "accepted");

    await insert(client, "message_trees", trees);
    await insert(client, "messages", messages);
    await insert(client, "tree_state_events", events);
    await insert(client, "tasks", tasks);
    await insert(client, "labels", labels);
    await insert(client, "rankings", rankings);
    await client.query("ANALYZE");
    const counts: Record<string, number> = {};
    for (const t of trees) counts[t.state as string] = (counts[t.state as string] ?? 0) + 1;
    return { projectId, slug, labelerIds, trees: counts };
  } finally {
    await client.end();
  }
}
