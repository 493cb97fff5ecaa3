// What a labeler sees for one task: the conversation so far, the replies to rank, the labels to
// give, and the rules the form enforces.
import type { LabelDefinition, LabelTarget } from "~/domain/projects/workflow.ts";
import { labelsForForm } from "~/domain/tasks/label-form.ts";
import { heartbeatSeconds } from "~/domain/tasks/lifecycle.ts";
import { TASK_TYPE_INFO, writtenRole, type TaskType } from "~/domain/tasks/task-types.ts";
import type { MessageRole } from "~/domain/trees/enums.ts";
import { Prisma } from "~/generated/prisma/client.ts";
import { projectConfig } from "./config.server.ts";
import { assertUuid, notFound } from "./errors.server.ts";
import { writeLimits, type WriteLimit } from "./rate-limits.server.ts";
import { drawTask, touchTask, type TaskRecord, type TaskRequest } from "./tasks.server.ts";
import { db } from "./transaction.server.ts";

export interface MessageView {
  id: string;
  role: MessageRole;
  text: string;
  depth: number;
  /** Written by the viewer. */
  mine: boolean;
  /** The model's name for model-written replies, unless the project judges them blind. */
  model: string | null;
  createdAt: string;
}

export interface TaskView {
  task: {
    id: string;
    type: TaskType;
    state: TaskRecord["state"];
    fullForm: boolean;
    /** End of the task's hold (docs/decisions/0007-task-reservations.md). */
    expiresAt: string;
    /** When the labeler first edited or chose something in the form; null before. */
    startedAt: string | null;
    treeId: string | null;
    messageId: string | null;
  };
  /** How the page keeps the task: it reports "seen" every `heartbeatSeconds` while visible, and
   *  "started" on the first edit; unstarted, the task is let go `unstartedMinutes` after. */
  hold: { heartbeatSeconds: number; unstartedMinutes: number };
  /** Writing tasks: the labeler's reply limit for this role is used up until then. */
  writeLimit: WriteLimit | null;
  description: string;
  /** Root first; for label tasks the labeled message is last. */
  conversation: MessageView[];
  /** Ranking tasks: the replies in the order shuffled for this labeler. */
  siblings: MessageView[];
  labelTarget: LabelTarget | null;
  /** Label tasks: the labels of the form (full or simple) in schema order. */
  labels: LabelDefinition[];
  rules: { maxMessageLength: number; tiesAllowed: boolean; languages: string[] };
}

type Row = {
  id: string;
  role: MessageRole;
  text: string;
  depth: number;
  author_user_id: string | null;
  synthetic: boolean;
  model_name: string | null;
  created_at: Date;
};

/** The messages from the root down to `messageId`, root first. */
function pathRows(messageId: string): Promise<Row[]> {
  return db.$queryRaw<Row[]>`
    WITH RECURSIVE path AS (
      SELECT id, parent_id, role, text, depth, author_user_id, synthetic, model_name, created_at
      FROM messages WHERE id = ${messageId}::uuid
      UNION ALL
      SELECT m.id, m.parent_id, m.role, m.text, m.depth, m.author_user_id, m.synthetic, m.model_name, m.created_at
      FROM messages m JOIN path p ON m.id = p.parent_id)
    SELECT id, role::text AS role, text, depth, author_user_id, synthetic, model_name, created_at FROM path ORDER BY depth`;
}

function toView(r: Row, userId: string, blind: boolean): MessageView {
  return {
    id: r.id,
    role: r.role,
    text: r.text,
    depth: r.depth,
    mine: r.author_user_id === userId,
    model: r.synthetic && !blind ? (r.model_name ?? "model") : null,
    createdAt: r.created_at.toISOString(),
  };
}

/** Shows the labeler's task: acknowledges it (first show), renews its hold and gathers what the
 *  page needs. */
export async function showTask(projectId: string, taskId: string, userId: string): Promise<TaskView> {
  return describeTask(await touchTask(projectId, taskId, userId, "seen"), userId);
}

/** The conversation above the task (`k`) and, for a ranking task, the replies it ranks, as one
 *  JSON value: a select-list item that the draw reads in its own statement. The ranked replies
 *  are children of the task's message, looked up under it (see describeTask). */
const TASK_CONTEXT = Prisma.sql`(
  SELECT json_agg(x) FROM (
    WITH RECURSIVE path AS (
      SELECT id, parent_id, role, text, depth, author_user_id, synthetic, model_name, created_at
      FROM messages WHERE id = k.message_id
      UNION ALL
      SELECT m.id, m.parent_id, m.role, m.text, m.depth, m.author_user_id, m.synthetic, m.model_name, m.created_at
      FROM messages m JOIN path p ON m.id = p.parent_id)
    SELECT 'path' AS part, id, role, text, depth, author_user_id, synthetic, model_name, created_at FROM path
    UNION ALL
    SELECT 'sibling', id, role, text, depth, author_user_id, synthetic, model_name, created_at
    FROM messages WHERE parent_id = k.message_id AND id = ANY(k.sibling_ids) AND task_kind(k.type) = 'rank') x)`;

type ContextRow = Row & { part: "path" | "sibling" };

/**
 * Draws the labeler's next task (requestTask) and shows it, the task and its conversation read
 * in one statement. Null when the project has nothing for them.
 */
export async function requestTaskView(req: TaskRequest): Promise<TaskView | null> {
  const drawn = await drawTask<Array<Omit<ContextRow, "created_at"> & { created_at: string }> | null>(req, TASK_CONTEXT);
  if (!drawn) return null;
  // JSON carries a timestamp column as its text: UTC without a zone.
  const rows = (drawn.extra ?? []).map((r) => ({ ...r, created_at: new Date(`${r.created_at}Z`) }));
  return taskView(drawn.task, req.userId, rows);
}

/** The conversation above the task and the replies it ranks, in one query. */
export async function describeTask(task: TaskRecord, userId: string): Promise<TaskView> {
  const info = TASK_TYPE_INFO[task.type];
  const siblingIds = info.kind === "rank" ? task.siblingIds : [];
  // The ranked replies are children of the task's message. Looked up under it (and only for
  // ranking tasks) the statement keeps a generic plan: Postgres assumes an array parameter holds
  // ten ids, so by id alone it planned every execution anew.
  const siblings = siblingIds.length
    ? Prisma.sql`UNION ALL
        SELECT 'sibling', id, role::text, text, depth, author_user_id, synthetic, model_name, created_at
        FROM messages WHERE parent_id = ${task.messageId}::uuid AND id = ANY(${siblingIds}::uuid[])`
    : Prisma.empty;
  const rows = task.messageId
    ? db.$queryRaw<ContextRow[]>`
        WITH RECURSIVE path AS (
          SELECT id, parent_id, role, text, depth, author_user_id, synthetic, model_name, created_at
          FROM messages WHERE id = ${task.messageId}::uuid
          UNION ALL
          SELECT m.id, m.parent_id, m.role, m.text, m.depth, m.author_user_id, m.synthetic, m.model_name, m.created_at
          FROM messages m JOIN path p ON m.id = p.parent_id)
        SELECT 'path' AS part, id, role::text AS role, text, depth, author_user_id, synthetic, model_name, created_at FROM path
        ${siblings}`
    : [];
  return taskView(task, userId, rows);
}

async function taskView(task: TaskRecord, userId: string, context: Promise<ContextRow[]> | ContextRow[]): Promise<TaskView> {
  const config = await projectConfig(task.projectId);
  const info = TASK_TYPE_INFO[task.type];
  const role = writtenRole(task.type);
  const view = (r: Row) => toView(r, userId, config.blindModelReplies);
  const siblingIds = info.kind === "rank" ? task.siblingIds : [];
  const [rows, limits] = await Promise.all([
    context,
    role ? writeLimits(task.projectId, userId, config) : ({} as Partial<Record<MessageRole, WriteLimit>>),
  ]);
  const conversation = rows.filter((r) => r.part === "path").sort((a, b) => a.depth - b.depth);
  const byId = new Map(rows.filter((r) => r.part === "sibling").map((r) => [r.id, r]));
  const target = info.labelTarget;
  return {
    task: {
      id: task.id,
      type: task.type,
      state: task.state,
      fullForm: task.fullForm,
      expiresAt: task.expiresAt.toISOString(),
      startedAt: task.startedAt?.toISOString() ?? null,
      treeId: task.treeId,
      messageId: task.messageId,
    },
    hold: { heartbeatSeconds: heartbeatSeconds(config), unstartedMinutes: config.unstartedTaskMinutes },
    writeLimit: (role && limits[role]) || null,
    description: info.description,
    conversation: conversation.map(view),
    siblings: siblingIds.flatMap((id) => (byId.has(id) ? [view(byId.get(id)!)] : [])),
    labelTarget: target,
    labels: target ? labelsForForm(config.labelSchema, target, task.fullForm ? "full" : "simple") : [],
    rules: { maxMessageLength: config.maxMessageLength, tiesAllowed: config.tiesAllowed, languages: config.languages },
  };
}

export interface MessagePage {
  conversation: MessageView[];
  message: MessageView & { deleted: boolean; reviewResult: string; consensusRank: number | null; treeState: string };
  editable: boolean;
  maxMessageLength: number;
}

/** One message of the project with the conversation above it; its author may edit it while
 *  the tree is still being written. */
export async function showMessage(projectId: string, messageId: string, userId: string): Promise<MessagePage> {
  assertUuid(messageId, "message");
  const [meta] = await db.$queryRaw<Array<{ project_id: string; deleted: boolean; review_result: string; consensus_rank: number | null; tree_state: string }>>`
    SELECT m.project_id, m.deleted, m.review_result::text AS review_result, m.consensus_rank, t.state::text AS tree_state
    FROM messages m JOIN message_trees t ON t.id = m.tree_id WHERE m.id = ${messageId}::uuid`;
  if (!meta || meta.project_id !== projectId || meta.deleted) throw notFound("No such message in this project.");
  const config = await projectConfig(projectId);
  const path = (await pathRows(messageId)).map((r) => toView(r, userId, config.blindModelReplies));
  const message = path[path.length - 1];
  return {
    conversation: path.slice(0, -1),
    message: { ...message, deleted: meta.deleted, reviewResult: meta.review_result, consensusRank: meta.consensus_rank, treeState: meta.tree_state },
    editable: message.mine && (meta.tree_state === "growing" || meta.tree_state === "initial_prompt_review"),
    maxMessageLength: config.maxMessageLength,
  };
}
