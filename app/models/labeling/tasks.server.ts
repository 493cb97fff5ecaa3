// Handing out tasks: the weighted draw over what the project needs, slot locks, holds (shown,
// started, kept alive, released) and expiry; and the guard every submission goes through.
import crypto from "node:crypto";
import type { SessionCheck } from "~/auth/session-check.server.ts";
import { Prisma } from "~/generated/prisma/client.ts";
import type { WorkflowConfig } from "~/domain/projects/workflow.ts";
import { chooseLabelForm } from "~/domain/tasks/label-form.ts";
import { holdUntil, isOpenState, type TaskState } from "~/domain/tasks/lifecycle.ts";
import { computeNeeds, initialPromptsNeeded } from "~/domain/tasks/needs.ts";
import { defaultRng, type Rng } from "~/domain/tasks/rng.ts";
import { TASK_TYPE_INFO, TASK_TYPES, type TaskKind, type TaskType } from "~/domain/tasks/task-types.ts";
import { autoModerationActions } from "~/domain/trees/moderation.ts";
import type { MessageRole } from "~/domain/trees/enums.ts";
import { TRANSITION_REASONS, type TreeState } from "~/domain/trees/state-machine.ts";
import { projectConfig, projectRankingOrder } from "./config.server.ts";
import { assertUuid, badInput, conflict, LabelingError, notFound } from "./errors.server.ts";
import { rateLimitError, writeLimit, writeLimitError } from "./rate-limits.server.ts";
import { promptCounts, toSnapshots, treeFacts } from "./snapshot.server.ts";
import { db, inTransaction, type SqlDb, type Tx } from "./transaction.server.ts";
import { transitionTree, type LockedTree } from "./tree-state.server.ts";
import { CLOCK, NOW, OPEN_TASK } from "./sql.server.ts";

export type { TaskState };

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
  createdAt: Date;
  /** End of the task's hold: past it, the task holds no place (docs/decisions/0007). */
  expiresAt: Date;
  acknowledgedAt: Date | null;
  /** The labeler's first edit or choice in the task's form. */
  startedAt: Date | null;
  /** The client's key of the submit that finished the task (see SubmitReplayed). */
  submitKey: string | null;
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
  created_at: Date;
  expires_at: Date;
  acknowledged_at: Date | null;
  started_at: Date | null;
  submit_key: string | null;
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
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  acknowledgedAt: r.acknowledged_at,
  startedAt: r.started_at,
  submitKey: r.submit_key,
});

/** The task columns as TaskRow names them, for tasks aliased k. */
const TASK_COLUMNS = Prisma.sql`k.id, k.project_id, k.type::text AS type, k.state::text AS state, k.assignee_id, k.tree_id,
  k.message_id, k.sibling_ids::text[] AS sibling_ids, k.full_form, k.created_at, k.expires_at, k.acknowledged_at, k.started_at, k.submit_key`;

async function readTask(db: SqlDb, taskId: string, forUpdate = false): Promise<TaskRecord | null> {
  const rows = forUpdate
    ? await db.$queryRaw<TaskRow[]>`SELECT ${TASK_COLUMNS} FROM tasks k WHERE k.id = ${taskId}::uuid FOR NO KEY UPDATE`
    : await db.$queryRaw<TaskRow[]>`SELECT ${TASK_COLUMNS} FROM tasks k WHERE k.id = ${taskId}::uuid`;
  return rows.length ? toTask(rows[0]) : null;
}

/** readTask with the caller read through the session check: a refused check fails the read. */
async function readTaskChecked(taskId: string, caller: Prisma.Sql): Promise<TaskRecord | null> {
  const rows = await db.$queryRaw<TaskRow[]>`SELECT ${TASK_COLUMNS}, ${caller} AS caller FROM tasks k WHERE k.id = ${taskId}::uuid`;
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
  /** The session check the draw's statement carries (the JSON API), in place of a lookup before it. */
  check?: SessionCheck;
}

/** Random numbers handed to the draw: two per try (group, candidate) and one per ranked reply;
 *  past them the database draws its own. */
const DRAW_RANDOMS = 40;
export const LABEL_TYPES = TASK_TYPES.filter((t) => TASK_TYPE_INFO[t].kind === "label" && TASK_TYPE_INFO[t].generated);

type DrawRow = TaskRow & { outcome: "task" | "none" | "rate_limited" | "write_limited"; retry_after: number | null; limited_role: MessageRole | null };

/**
 * Draws the next task for a labeler, or null when the project needs nothing they may do: one
 * statement, `draw_task` (migration 20261207100000_task_slots, docs/decisions/0024), over the
 * task slots the database keeps per tree. It counts the request against the labeler's limit,
 * leaves out writing tasks whose role they have no messages left for (asked for by type, that is
 * a 429 that says when), draws a group by the project's weights among those holding a slot the
 * labeler may take, locks the slot's tree, re-reads the slot under the lock and writes the task.
 * The random numbers come from `req.rng`, so a seeded generator gives the same draw.
 */
export async function requestTask(req: TaskRequest): Promise<TaskRecord | null> {
  return (await drawTask(req, Prisma.empty))?.task ?? null;
}

/** The caller's id as a statement's argument: through the session check when one is given. */
export const callerSql = (userId: string, check: SessionCheck | undefined) => check?.user(userId) ?? Prisma.sql`${userId}::uuid`;

/**
 * requestTask, and with the drawn task whatever `extra` (one select-list item named `extra`, over
 * the task row `k`) reads in the same statement: the JSON API answers a draw with the task's
 * conversation without another round trip.
 */
export async function drawTask<Extra>(req: TaskRequest, extra: Prisma.Sql): Promise<{ task: TaskRecord; extra: Extra } | null> {
  const type = req.type ?? "random";
  if (type !== "random" && !TASK_TYPE_INFO[type]?.generated) throw badInput(`"${type}" tasks are not handed out.`);
  const config = await projectConfig(req.projectId);
  const lang = req.lang ?? null;
  if (lang !== null && !config.languages.includes(lang)) throw badInput(`This project collects ${config.languages.join(", ")}, not ${lang}.`);
  const order = await projectRankingOrder(req.projectId);
  const rng = req.rng ?? defaultRng;
  const explicit = type !== "random";
  const fullForm = LABEL_TYPES.filter((t) => chooseLabelForm(t, config, rng, explicit) === "full");
  const random = Array.from({ length: DRAW_RANDOMS }, () => rng());
  const w = config.drawWeights;
  const { taskRequests, replies } = config.rateLimits;
  const rm = order.mode === "uncertainty" ? order.rewardModelId : null;
  const extraColumn = extra === Prisma.empty ? Prisma.empty : Prisma.sql`, ${extra} AS extra`;
  const [row] = await db.$queryRaw<Array<DrawRow & { extra: Extra }>>`
    SELECT d.outcome, d.retry_after, d.limited_role, ${TASK_COLUMNS} ${extraColumn}
    FROM draw_task(${req.projectId}::uuid, ${callerSql(req.userId, req.check)}, ${type}::text, ${lang}::text, ${!!req.acknowledge},
                   ${[w.ranking, w.labelReply, w.labelPrompt, w.reply, w.initialPrompt]}::float8[],
                   ${[taskRequests.count, taskRequests.windowSeconds]}::int[],
                   ${[replies.assistant.count, replies.assistant.windowSeconds, replies.prompter.count, replies.prompter.windowSeconds]}::int[],
                   ${[config.maxActiveTrees, config.maxPromptsInReview, config.promptLottery.maxWaiting]}::int[],
                   ${fullForm}::text[], ${firstHoldMinutes(config)}::int, ${rm}::uuid, ${rm ? order.secondRewardModelId : null}::uuid,
                   ${random}::float8[]) d
    LEFT JOIN LATERAL (SELECT (d.task).*) k ON true`;
  switch (row.outcome) {
    case "task":
      return { task: toTask(row), extra: row.extra };
    case "none":
      return null;
    case "rate_limited":
      throw rateLimitError("task requests", taskRequests, row.retry_after!);
    case "write_limited":
      throw writeLimitError(writeLimit(row.limited_role!, config, row.retry_after!));
  }
}

/** A lock that serialises handing out (and renewing holds of) a project's new-prompt tasks; the
 *  draw takes the same one. */
const lockPrompts = (tx: Tx, projectId: string) => tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`prompts:${projectId}`}, 0))`;

/** Whether the project takes one more new prompt from this labeler (one open prompt task each). */
async function promptNeeded(tx: Tx, projectId: string, userId: string, config: WorkflowConfig): Promise<boolean> {
  const counts = await promptCounts(tx, projectId, userId);
  return counts.heldByUser === 0 && initialPromptsNeeded(counts, config) > 0;
}

/** Minutes a new task holds its place before it is seen or started. */
const firstHoldMinutes = (config: WorkflowConfig) => Math.min(config.unstartedTaskMinutes, config.taskExpiryMinutes);

// ─── One task ───────────────────────────────────────────────────────────────

/**
 * The labeler's own task in this project; a 404 for unknown ids, a 403 for someone else's. With a
 * session check (a text submit of the JSON API), the read carries it.
 */
export async function getOwnTask(projectId: string, taskId: string, userId: string, check?: SessionCheck): Promise<TaskRecord> {
  assertUuid(taskId, "task");
  const task = check ? await readTaskChecked(taskId, callerSql(userId, check)) : await readTask(db, taskId);
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

/** Refuses a task that was answered or let go (409). */
function assertNotFinished(task: TaskRecord): void {
  if (task.state === "done") throw conflict("This task was already submitted.");
  if (task.state === "skipped") throw conflict("This task was skipped.");
  if (task.state === "cancelled") throw conflict("This task was cancelled: the conversation moved on.");
  if (task.state === "released") throw conflict("You released this task. Request a new one.");
}

function assertOpen(task: TaskRecord): void {
  assertNotFinished(task);
  if (task.state === "expired" || task.expiresAt.getTime() <= Date.now()) throw new TaskExpired();
}

class TaskExpired extends Error {}
const expiredError = () => new LabelingError("expired", "This task expired. Request a new one.");

/** The project and labeler a submitted task must belong to. */
export interface TaskOwner {
  projectId: string;
  userId: string;
  /** The client's idempotency key for this submit, if it sent one. */
  submitKey?: string | null;
}

/**
 * A submit repeated with the key of the one that finished the task: the client lost the first
 * answer (a dropped connection, a restarted server) and retried. Nothing is stored again; routes
 * answer it as a success.
 */
export class SubmitReplayed extends Error {
  constructor(readonly task: TaskRecord) {
    super(`Task ${task.id} was already submitted with this key.`);
    this.name = "SubmitReplayed";
  }
}

const SUBMIT_KEY = /^[A-Za-z0-9_.:-]{8,128}$/;

/** A submit key from a header or form field: absent is fine, malformed is refused. */
export function parseSubmitKey(value: unknown): string | null {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value !== "string" || !SUBMIT_KEY.test(value)) {
    throw badInput("The submit key must be 8 to 128 letters, digits or . _ : - characters.", { submitKey: "malformed" });
  }
  return value;
}

/** Throws SubmitReplayed when this submit repeats the one that finished the task. */
export function assertNotReplayed(task: TaskRecord, submitKey: string | null | undefined): void {
  if (submitKey && task.submitKey === submitKey && (task.state === "done" || task.state === "skipped")) throw new SubmitReplayed(task);
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
      assertNotReplayed(task, owner.submitKey);
      assertOpen(task);
      // Kept only if the submit commits: the key then names the submit that finished the task.
      if (owner.submitKey) await tx.$executeRaw`UPDATE tasks SET submit_key = ${owner.submitKey} WHERE id = ${task.id}::uuid`;
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
    SELECT ${TASK_COLUMNS},
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
export async function skipTask(projectId: string, taskId: string, userId: string, reason = "", submitKey: string | null = null): Promise<void> {
  const config = await projectConfig(projectId);
  const kinds = ["prompt", "reply", "label", "rank"] as const;
  await withOpenTask(taskId, { projectId, userId, submitKey }, kinds, { anyTreeState: true }, async (tx, task, tree) => {
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

// ─── Holds ──────────────────────────────────────────────────────────────────

/** What the labeler's page reports: it is open and visible, or the labeler began answering. */
export type TaskSignal = "seen" | "started";

/**
 * Keeps the labeler's task: marks it shown, and started on the first edit or choice in its
 * form, and extends its hold (holdUntil). A task whose hold ended before it was started is
 * taken up again when the project still needs it from this labeler; otherwise a 410.
 *
 * Runs under the task's tree lock (the prompt lock for prompt tasks), which every draw of that
 * tree takes too, and decides by the clock read after the lock: a hold is renewed or found ended
 * wholly before or after any draw that counts it, never while one is deciding.
 */
export async function touchTask(projectId: string, taskId: string, userId: string, signal: TaskSignal): Promise<TaskRecord> {
  assertUuid(taskId, "task");
  const config = await projectConfig(projectId);
  const outcome = await inTransaction(async (tx) => {
    const { task } = await lockOwnTask(tx, taskId, { projectId, userId });
    assertNotFinished(task);
    if (!task.treeId) await lockPrompts(tx, projectId);
    const [{ now }] = await tx.$queryRaw<Array<{ now: Date }>>`SELECT ${CLOCK} AS now`;
    const holding = isOpenState(task.state) && task.expiresAt > now;
    if (!holding) {
      const until = holdUntil(task, now, config, signal === "started");
      if (task.startedAt || until <= now) return "expired" as const;
      // Counted as ended while the project's needs are read, so its own place counts as free.
      await tx.$executeRaw`UPDATE tasks SET state = 'expired' WHERE id = ${task.id}::uuid`;
      if (!(await stillNeeded(tx, task, config))) return "taken" as const;
    }
    const until = holdUntil(task, now, config, signal === "started");
    const expiresAt = holding && task.expiresAt > until ? task.expiresAt : until;
    const [row] = await tx.$queryRaw<TaskRow[]>`
      UPDATE tasks AS k SET state = 'acknowledged', acknowledged_at = COALESCE(k.acknowledged_at, ${now}::timestamp),
        started_at = CASE WHEN ${signal === "started"} THEN COALESCE(k.started_at, ${now}::timestamp) ELSE k.started_at END,
        expires_at = ${expiresAt}::timestamp
      WHERE k.id = ${task.id}::uuid
      RETURNING ${TASK_COLUMNS}`;
    return toTask(row);
  });
  if (outcome === "expired") {
    await markExpired(taskId);
    throw expiredError();
  }
  if (outcome === "taken") {
    throw new LabelingError(
      "expired",
      `This task was left unstarted for more than ${config.unstartedTaskMinutes} minutes, and meanwhile its place was taken or is no longer needed. Request a new one.`,
    );
  }
  return outcome;
}

/** Whether the project still needs the (lapsed) task's target from its labeler, read under the
 *  tree's or prompts' lock. */
async function stillNeeded(tx: Tx, task: TaskRecord, config: WorkflowConfig): Promise<boolean> {
  if (!task.treeId) return promptNeeded(tx, task.projectId, task.assigneeId, config);
  const read = await treeFacts(tx, [task.treeId], task.assigneeId);
  const needs = computeNeeds({ trees: toSnapshots(read), treeCounts: {}, openPromptTasks: Number.MAX_SAFE_INTEGER }, read.user, config);
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((id) => b.includes(id));
  return needs.some((c) => c.type === task.type && c.messageId === task.messageId && same(c.siblingIds, task.siblingIds));
}

/**
 * The labeler lets go of their task: its place is free for others at once. Not a skip: it does
 * not count towards the skip limit, and the task may be offered to them again. A 404 for unknown
 * ids, a 403 for someone else's task, a 409 for one answered or let go, a 410 if its hold had
 * already ended.
 */
export async function releaseTask(projectId: string, taskId: string, userId: string): Promise<void> {
  const kinds = ["prompt", "reply", "label", "rank"] as const;
  await withOpenTask(taskId, { projectId, userId }, kinds, { anyTreeState: true }, async (tx, task) => {
    await tx.$executeRaw`UPDATE tasks SET state = 'released', released_at = ${NOW} WHERE id = ${task.id}::uuid`;
  });
}

/** A task the labeler holds, as their list of open tasks shows it. */
export interface OpenTask {
  id: string;
  type: TaskType;
  treeId: string | null;
  /** The start of the conversation's first message (null for a new prompt). */
  conversationStart: string | null;
  reservedAt: Date;
  startedAt: Date | null;
  expiresAt: Date;
}

/** Open tasks the labeler holds in this project, oldest first. */
export async function listOpenTasks(projectId: string, userId: string): Promise<OpenTask[]> {
  const rows = await db.$queryRaw<Array<{ id: string; type: TaskType; tree_id: string | null; start: string | null; created_at: Date; started_at: Date | null; expires_at: Date }>>`
    SELECT k.id, k.type::text AS type, k.tree_id, left(r.text, 160) AS start, k.created_at, k.started_at, k.expires_at
    FROM tasks k
    LEFT JOIN messages r ON r.tree_id = k.tree_id AND r.parent_id IS NULL
    WHERE k.assignee_id = ${userId}::uuid AND k.project_id = ${projectId}::uuid AND ${OPEN_TASK}
    ORDER BY k.created_at, k.id
    LIMIT 200`;
  return rows.map((r) => ({
    id: r.id,
    type: r.type,
    treeId: r.tree_id,
    conversationStart: r.start,
    reservedAt: r.created_at,
    startedAt: r.started_at,
    expiresAt: r.expires_at,
  }));
}

/**
 * The labeler's oldest open task of `type` (of any type for "random"). A draw never hands a
 * labeler a place they already hold, so when it finds nothing new this may be what they want.
 */
export async function heldTask(projectId: string, userId: string, type: TaskType | "random"): Promise<{ id: string; type: TaskType } | null> {
  const held = (await listOpenTasks(projectId, userId)).find((t) => type === "random" || t.type === type);
  return held ? { id: held.id, type: held.type } : null;
}
