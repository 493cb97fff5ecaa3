// Handing out tasks: the weighted draw over what the project needs, slot locks, acknowledge on
// show, skip and expiry; and the guard every submission goes through.
import crypto from "node:crypto";
import type { WorkflowConfig } from "~/domain/projects/workflow.ts";
import { drawTask } from "~/domain/tasks/draw.ts";
import { chooseLabelForm } from "~/domain/tasks/label-form.ts";
import { computeNeeds, initialPromptsNeeded, type TaskCandidate } from "~/domain/tasks/needs.ts";
import { defaultRng, shuffled, type Rng } from "~/domain/tasks/rng.ts";
import { TASK_TYPE_INFO, type TaskKind, type TaskType } from "~/domain/tasks/task-types.ts";
import { autoModerationActions } from "~/domain/trees/moderation.ts";
import { TRANSITION_REASONS, type TreeState } from "~/domain/trees/state-machine.ts";
import { projectConfig } from "./config.server.ts";
import { assertUuid, badInput, conflict, LabelingError, notFound } from "./errors.server.ts";
import { limitTaskRequests } from "./rate-limits.server.ts";
import { candidateTreeFacts, lockTreeFacts, promptCounts, toSnapshots } from "./snapshot.server.ts";
import { db, inTransaction, type SqlDb, type Tx } from "./transaction.server.ts";
import { transitionTree, type LockedTree } from "./tree-state.server.ts";
import { NOW } from "./sql.server.ts";

export type TaskState = "assigned" | "acknowledged" | "done" | "skipped" | "expired" | "cancelled";

export interface TaskRecord {
  id: string;
  projectId: string;
  type: TaskType;
  state: TaskState;
  assigneeId: string;
  treeId: string | null;
  /** Parent to reply to, message to label, or parent whose replies are ranked. */
  messageId: string | null;
  /** Ranking tasks: the replies, in the order shown to this labeler. */
  siblingIds: string[];
  fullForm: boolean;
  expiresAt: Date;
  acknowledgedAt: Date | null;
}

type TaskRow = {
  id: string;
  project_id: string;
  type: TaskType;
  state: TaskState;
  assignee_id: string;
  tree_id: string | null;
  message_id: string | null;
  sibling_ids: string[];
  full_form: boolean;
  expires_at: Date;
  acknowledged_at: Date | null;
};

const toTask = (r: TaskRow): TaskRecord => ({
  id: r.id,
  projectId: r.project_id,
  type: r.type,
  state: r.state,
  assigneeId: r.assignee_id,
  treeId: r.tree_id,
  messageId: r.message_id,
  siblingIds: r.sibling_ids,
  fullForm: r.full_form,
  expiresAt: r.expires_at,
  acknowledgedAt: r.acknowledged_at,
});

async function readTask(db: SqlDb, taskId: string, forUpdate = false): Promise<TaskRecord | null> {
  const rows = forUpdate
    ? await db.$queryRaw<TaskRow[]>`
        SELECT id, project_id, type::text AS type, state::text AS state, assignee_id, tree_id, message_id,
               sibling_ids::text[] AS sibling_ids, full_form, expires_at, acknowledged_at
        FROM tasks WHERE id = ${taskId}::uuid FOR NO KEY UPDATE`
    : await db.$queryRaw<TaskRow[]>`
        SELECT id, project_id, type::text AS type, state::text AS state, assignee_id, tree_id, message_id,
               sibling_ids::text[] AS sibling_ids, full_form, expires_at, acknowledged_at
        FROM tasks WHERE id = ${taskId}::uuid`;
  return rows.length ? toTask(rows[0]) : null;
}

const words = (s: string) => s.replaceAll("_", " ");
const withArticle = (phrase: string) => `${/^[aeiou]/.test(phrase) ? "an" : "a"} ${phrase}`;

// ─── Next task ──────────────────────────────────────────────────────────────

export interface TaskRequest {
  projectId: string;
  userId: string;
  /** A task type the labeler chose, or "random": the server draws by the project's weights. */
  type?: TaskType | "random";
  /** Only trees in this language (one of the project's languages). */
  lang?: string | null;
  /** The caller shows the task in the same response (the JSON API): store it acknowledged. */
  acknowledge?: boolean;
  rng?: Rng;
}

/** Trees per state the draw looks at: enough for variety, few enough to stay cheap. */
const TREES_PER_STATE = 6;
/** Draws tried before giving up; a try fails when another labeler holds the tree or took the slot. */
const DRAW_ATTEMPTS = 8;

function statesFor(type: TaskType | "random", config: WorkflowConfig): Set<TreeState> {
  if (type !== "random") {
    const state = TASK_TYPE_INFO[type].treeState;
    return new Set(state ? [state] : []);
  }
  const w = config.drawWeights;
  const states = new Set<TreeState>();
  if (w.labelPrompt > 0) states.add("initial_prompt_review");
  if (w.labelReply > 0 || w.reply > 0) states.add("growing");
  if (w.ranking > 0) states.add("ranking");
  return states;
}

/**
 * Draws the next task for a labeler, or null when the project needs nothing they may do.
 * Candidates come from a cheap snapshot; the drawn one is re-checked against a fresh view of its
 * tree under the tree's row lock before the task row is written, so finished plus open tasks
 * never exceed what the project configured (reviews, replies per parent, rankings per set).
 */
export async function requestTask(req: TaskRequest): Promise<TaskRecord | null> {
  const type = req.type ?? "random";
  if (type !== "random" && !TASK_TYPE_INFO[type]?.generated) throw badInput(`"${type}" tasks are not handed out.`);
  const config = await projectConfig(req.projectId);
  const lang = req.lang ?? null;
  if (lang !== null && !config.languages.includes(lang)) throw badInput(`This project collects ${config.languages.join(", ")}, not ${lang}.`);
  await limitTaskRequests(req.projectId, req.userId, config);
  const rng = req.rng ?? defaultRng;

  const read = await candidateTreeFacts(db, {
    projectId: req.projectId,
    userId: req.userId,
    lang,
    states: statesFor(type, config),
    perState: TREES_PER_STATE,
    config,
  });
  // Prompts are drawn rarely (OA weight 0.01): assume the project takes one, and count only when
  // one is drawn (tryAssign counts under the prompt lock anyway).
  const wantPrompts = type === "initial_prompt" || (type === "random" && config.drawWeights.initialPrompt > 0);
  let candidates = computeNeeds({ trees: toSnapshots(read), treeCounts: {}, openPromptTasks: 0 }, read.user, config);
  if (!wantPrompts) candidates = candidates.filter((c) => c.type !== "initial_prompt");

  const assign = { projectId: req.projectId, userId: req.userId, config, rng, explicit: type !== "random", acknowledge: !!req.acknowledge, lang };
  const busy: TaskCandidate[] = [];
  for (let attempt = 0; attempt < DRAW_ATTEMPTS && candidates.length > 0; attempt++) {
    const drawn = drawTask(candidates, config.drawWeights, rng, type);
    if (!drawn) break;
    const outcome = await tryAssign(drawn, assign, true);
    if (typeof outcome === "object") return outcome;
    if (outcome === "locked") {
      busy.push(drawn);
      candidates = candidates.filter((c) => c.treeId !== drawn.treeId);
    } else {
      candidates = candidates.filter((c) => c !== drawn);
    }
  }
  // Every try met a tree another labeler was holding: wait for one of them.
  for (const drawn of busy.slice(0, 2)) {
    const outcome = await tryAssign(drawn, assign, false);
    if (typeof outcome === "object") return outcome;
  }
  return null;
}

interface AssignContext {
  projectId: string;
  userId: string;
  config: WorkflowConfig;
  rng: Rng;
  /** The labeler chose the task type (label tasks then use the full form). */
  explicit: boolean;
  acknowledge: boolean;
  lang: string | null;
}

/** Assigns the candidate if it still holds under the lock: the task, "locked" or "gone". */
async function tryAssign(c: TaskCandidate, ctx: AssignContext, skipLocked: boolean): Promise<TaskRecord | "locked" | "gone"> {
  return inTransaction(async (tx) => {
    if (c.type === "initial_prompt") {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`prompts:${ctx.projectId}`}, 0))`;
      if (initialPromptsNeeded(await promptCounts(tx, ctx.projectId), ctx.config) <= 0) return "gone";
      return insertTask(tx, c, ctx);
    }
    const locked = await lockTreeFacts(tx, c.treeId!, ctx.userId, { skipLocked });
    if (!locked) return "locked";
    const fresh = computeNeeds(
      { trees: toSnapshots(locked), treeCounts: {}, openPromptTasks: Number.MAX_SAFE_INTEGER },
      locked.user,
      ctx.config,
    );
    const match = fresh.find((n) => n.type === c.type && n.messageId === c.messageId);
    return match ? insertTask(tx, match, ctx) : "gone";
  });
}

async function insertTask(tx: Tx, c: TaskCandidate, ctx: AssignContext): Promise<TaskRecord> {
  const info = TASK_TYPE_INFO[c.type];
  const fullForm = info.kind === "label" && chooseLabelForm(c.type, ctx.config, ctx.rng, ctx.explicit) === "full";
  const siblingIds = info.kind === "rank" ? shuffled(c.siblingIds, ctx.rng) : [];
  const state: TaskState = ctx.acknowledge ? "acknowledged" : "assigned";
  const rows = await tx.$queryRaw<TaskRow[]>`
    INSERT INTO tasks (id, project_id, type, state, assignee_id, tree_id, message_id, sibling_ids, full_form,
                       created_at, expires_at, acknowledged_at)
    VALUES (${crypto.randomUUID()}::uuid, ${ctx.projectId}::uuid, ${c.type}::"TaskType", ${state}::"TaskState",
            ${ctx.userId}::uuid, ${c.treeId}::uuid, ${c.messageId}::uuid, ${siblingIds}::uuid[], ${fullForm}, ${NOW},
            ${NOW} + make_interval(mins => ${ctx.config.taskExpiryMinutes}::int),
            CASE WHEN ${ctx.acknowledge} THEN ${NOW} END)
    RETURNING id, project_id, type::text AS type, state::text AS state, assignee_id, tree_id, message_id,
              sibling_ids::text[] AS sibling_ids, full_form, expires_at, acknowledged_at`;
  return toTask(rows[0]);
}

// ─── One task ───────────────────────────────────────────────────────────────

/** The labeler's own task in this project; a 404 for unknown ids, a 403 for someone else's. */
export async function getOwnTask(projectId: string, taskId: string, userId: string): Promise<TaskRecord> {
  assertUuid(taskId, "task");
  const task = await readTask(db, taskId);
  if (!task || task.projectId !== projectId) throw notFound("No such task in this project.");
  if (task.assigneeId !== userId) throw new LabelingError("forbidden", "This task belongs to another labeler.");
  return task;
}

/** A task id from a request, or the record a caller already read with getOwnTask. */
export type TaskRef = string | TaskRecord;

export async function ownTask(projectId: string, ref: TaskRef, userId: string): Promise<TaskRecord> {
  if (typeof ref === "string") return getOwnTask(projectId, ref, userId);
  if (ref.projectId !== projectId || ref.assigneeId !== userId) throw new LabelingError("forbidden", "This task belongs to another labeler.");
  return ref;
}

async function markExpired(taskId: string): Promise<void> {
  await db.$executeRaw`
    UPDATE tasks SET state = 'expired' WHERE id = ${taskId}::uuid AND state IN ('assigned', 'acknowledged')`;
}

function assertOpen(task: TaskRecord): void {
  if (task.state === "done") throw conflict("This task was already submitted.");
  if (task.state === "skipped") throw conflict("This task was skipped.");
  if (task.state === "cancelled") throw conflict("This task was cancelled: the conversation moved on.");
  if (task.state === "expired" || task.expiresAt.getTime() <= Date.now()) throw new TaskExpired();
}

class TaskExpired extends Error {}
const expiredError = () => new LabelingError("expired", "This task expired. Request a new one.");

/** Marks the task as shown to its labeler. Expired and finished tasks are refused. */
export async function acknowledgeTask(projectId: string, taskId: string, userId: string): Promise<TaskRecord> {
  const task = await getOwnTask(projectId, taskId, userId);
  try {
    assertOpen(task);
  } catch (error) {
    if (error instanceof TaskExpired) {
      await markExpired(taskId);
      throw expiredError();
    }
    throw error;
  }
  if (task.state === "assigned") {
    await db.$executeRaw`
      UPDATE tasks SET state = 'acknowledged', acknowledged_at = ${NOW} WHERE id = ${taskId}::uuid AND state = 'assigned'`;
    return { ...task, state: "acknowledged", acknowledgedAt: new Date() };
  }
  return task;
}

/** The project and labeler a submitted task must belong to. */
export interface TaskOwner {
  projectId: string;
  userId: string;
}

/**
 * Runs a submission in one transaction with the task's tree locked, then the task row: the task
 * must be this labeler's in this project, of the right kind, open, unexpired, and its tree still
 * in the state the task belongs to. The task is read only under its lock, so a task id from a
 * request needs no read before the transaction. Any error rolls everything back. `fn` must use
 * only `tx`: a query on the global client while holding the tree lock could wait for a pooled
 * connection forever.
 */
export async function withOpenTask<T>(
  ref: TaskRef,
  owner: TaskOwner,
  kinds: readonly TaskKind[],
  /** anyTreeState: a labeler may always let go of a task (skip), whatever the tree's state. */
  opts: { anyTreeState?: boolean },
  fn: (tx: Tx, task: TaskRecord, tree: LockedTree | null) => Promise<T>,
): Promise<T> {
  const taskId = typeof ref === "string" ? ref : ref.id;
  assertUuid(taskId, "task");
  try {
    return await inTransaction(async (tx) => {
      const { tree, task } = await lockOwnTask(tx, taskId, owner);
      const kind = TASK_TYPE_INFO[task.type].kind;
      if (!kinds.includes(kind)) throw badInput(`Task ${task.id} is ${withArticle(words(task.type))} task, not a ${kinds.join(" or ")} task.`);
      assertOpen(task);
      if (tree && tree.state !== TASK_TYPE_INFO[task.type].treeState && !opts.anyTreeState) {
        throw conflict(`The conversation moved on (it is ${words(tree.state)} now); this task can no longer be submitted.`);
      }
      return fn(tx, task, tree);
    });
  } catch (error) {
    if (error instanceof TaskExpired) {
      await markExpired(taskId);
      throw expiredError();
    }
    throw error;
  }
}

/**
 * Locks the task's tree, then the task, in one statement: row locks are taken in the order the
 * locking clause names them, so the tree comes first as everywhere else (see
 * tree-state.server.ts). A task without a tree (an initial prompt) is locked alone. A 404 for
 * unknown ids and tasks of other projects, a 403 for someone else's task.
 */
async function lockOwnTask(tx: Tx, taskId: string, owner: TaskOwner): Promise<{ tree: LockedTree | null; task: TaskRecord }> {
  const [row] = await tx.$queryRaw<Array<TaskRow & { tree_state: TreeState; tree_state_before_halt: TreeState | null; tree_lang: string }>>`
    SELECT k.id, k.project_id, k.type::text AS type, k.state::text AS state, k.assignee_id, k.tree_id, k.message_id,
           k.sibling_ids::text[] AS sibling_ids, k.full_form, k.expires_at, k.acknowledged_at,
           t.state::text AS tree_state, t.state_before_halt::text AS tree_state_before_halt, t.lang AS tree_lang
    FROM message_trees t JOIN tasks k ON k.tree_id = t.id
    WHERE k.id = ${taskId}::uuid
    FOR NO KEY UPDATE OF t, k`;
  const task = row ? toTask(row) : await readTask(tx, taskId, true);
  if (!task || task.projectId !== owner.projectId) throw notFound("No such task in this project.");
  if (task.assigneeId !== owner.userId) throw new LabelingError("forbidden", "This task belongs to another labeler.");
  const tree: LockedTree | null = row
    ? { id: row.tree_id!, projectId: row.project_id, state: row.tree_state, stateBeforeHalt: row.tree_state_before_halt, lang: row.tree_lang }
    : null;
  return { tree, task };
}

/** Marks the task done; `resultMessageId` is the message a writing task produced. */
export async function completeTask(tx: Tx, taskId: string, resultMessageId: string | null = null): Promise<void> {
  await tx.$executeRaw`
    UPDATE tasks SET state = 'done', done_at = ${NOW}, result_message_id = ${resultMessageId}::uuid,
      acknowledged_at = COALESCE(acknowledged_at, ${NOW})
    WHERE id = ${taskId}::uuid`;
}

/**
 * Skips a task: it is not offered to this labeler again. Reply skips on one message count
 * towards the project's skip limit, which halts the tree.
 */
export async function skipTask(projectId: string, taskId: string, userId: string, reason = ""): Promise<void> {
  const config = await projectConfig(projectId);
  const kinds = ["prompt", "reply", "label", "rank"] as const;
  await withOpenTask(taskId, { projectId, userId }, kinds, { anyTreeState: true }, async (tx, task, tree) => {
    await tx.$executeRaw`
      UPDATE tasks SET state = 'skipped', skipped_at = ${NOW}, skip_reason = ${reason.slice(0, 500) || null}
      WHERE id = ${task.id}::uuid`;
    if (!tree || !task.messageId || TASK_TYPE_INFO[task.type].kind !== "reply") return;
    const [facts] = await tx.$queryRaw<Array<{ skips: number; is_root: boolean }>>`
      SELECT (SELECT count(*)::int FROM tasks k WHERE k.message_id = m.id AND k.state = 'skipped'
                AND k.type IN ('assistant_reply', 'prompter_reply')) AS skips,
             m.parent_id IS NULL AS is_root
      FROM messages m WHERE m.id = ${task.messageId}::uuid`;
    const actions = autoModerationActions({ isRoot: facts.is_root, redFlags: 0, replySkips: facts.skips }, config);
    if (actions.includes("halt_tree") && tree.state === "growing") {
      await transitionTree(tx, tree, "halted_by_moderator", TRANSITION_REASONS.skipLimit);
      await tx.$executeRaw`
        INSERT INTO moderation_actions (action, target_type, target_id, reason)
        VALUES ('auto_halt_tree', 'tree', ${tree.id}, ${`${facts.skips} reply skips on message ${task.messageId}`})`;
    }
  });
}

/** Marks open tasks past their expiry as expired (they already stopped holding slots). */
export async function expireTasks(projectId: string): Promise<number> {
  return db.$executeRaw`
    UPDATE tasks SET state = 'expired'
    WHERE id IN (SELECT id FROM tasks WHERE project_id = ${projectId}::uuid AND state IN ('assigned', 'acknowledged')
                   AND expires_at <= ${NOW} FOR UPDATE SKIP LOCKED)`;
}
