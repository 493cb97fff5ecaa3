// Writing messages into trees: a new tree from an initial prompt, and replies under a parent
// locked for the count of its children. Also used by the sampler for model replies.
import crypto from "node:crypto";
import type { WorkflowConfig } from "~/domain/projects/workflow.ts";
import type { MessageRole, ReviewResult } from "~/domain/trees/enums.ts";
import { treeCreatedEvent } from "~/domain/trees/state-machine.ts";
import { replyCapacity } from "~/domain/trees/tree-facts.ts";
import { conflict } from "./errors.server.ts";
import type { Tx } from "./tree-state.server.ts";
import { NOW, OPEN_TASK, sqlTypes } from "./sql.server.ts";

/** Starts a tree in initial_prompt_review with the prompt as its root; records the creation event. */
export async function createInitialPrompt(
  tx: Tx,
  input: { projectId: string; authorUserId: string; text: string; textHash: string; lang: string },
): Promise<{ treeId: string; messageId: string }> {
  const treeId = crypto.randomUUID();
  const messageId = crypto.randomUUID();
  const event = treeCreatedEvent(treeId, undefined, "created", input.authorUserId);
  await tx.$executeRaw`
    WITH tree AS (
      INSERT INTO message_trees (id, project_id, state, lang, created_at, updated_at, state_changed_at)
      VALUES (${treeId}::uuid, ${input.projectId}::uuid, ${event.toState}::"TreeState", ${input.lang}, ${NOW}, ${NOW}, ${NOW})
      RETURNING id),
    event AS (
      INSERT INTO tree_state_events (tree_id, from_state, to_state, reason, actor_id, created_at)
      SELECT id, NULL, ${event.toState}::"TreeState", ${event.reason}, ${event.actorId}::uuid, ${NOW} FROM tree)
    INSERT INTO messages (id, tree_id, project_id, parent_id, depth, role, text, lang, author_user_id, text_hash, created_at, updated_at)
    SELECT ${messageId}::uuid, id, ${input.projectId}::uuid, NULL, 0, 'prompter', ${input.text}, ${input.lang},
           ${input.authorUserId}::uuid, ${input.textHash}, ${NOW}, ${NOW}
    FROM tree`;
  return { treeId, messageId };
}

export interface ReplyParent {
  id: string;
  treeId: string;
  projectId: string;
  role: MessageRole;
  depth: number;
  lang: string;
  deleted: boolean;
  reviewResult: ReviewResult;
  /** Replies that are neither deleted nor rejected. */
  liveChildren: number;
  /** Reply tasks handed out and not answered yet. */
  openReplyTasks: number;
  /** Live replies it can still take: capacity minus live replies (open tasks not subtracted). */
  room: number;
  /** The user passed as `replierId` already replied to it (deleted or not). */
  repliedBy: boolean;
}

/**
 * Locks the parent row and counts its replies. Every writer of replies (labelers' submissions,
 * the sampler's model replies) goes through this lock, so the per-parent limit holds. A model
 * writer should keep `room - openReplyTasks` for labelers already writing.
 */
export async function lockReplyParent(
  tx: Tx,
  parentId: string,
  config: WorkflowConfig,
  replierId: string | null = null,
): Promise<ReplyParent | null> {
  // Lock first, count in the next statement: a statement that waited for the lock still reads
  // other rows as of its start (READ COMMITTED), and could miss a reply the holder just wrote.
  const locked = await tx.$queryRaw<Array<{ id: string }>>`SELECT id FROM messages WHERE id = ${parentId}::uuid FOR NO KEY UPDATE`;
  if (locked.length === 0) return null;
  const rows = await tx.$queryRaw<
    Array<{
      id: string; tree_id: string; project_id: string; role: MessageRole; depth: number; lang: string; deleted: boolean;
      review_result: ReviewResult; live: number; open: number; replied: boolean;
    }>
  >`
    SELECT p.id, p.tree_id, p.project_id, p.role::text AS role, p.depth, p.lang, p.deleted, p.review_result::text AS review_result,
           (SELECT count(*)::int FROM messages c WHERE c.parent_id = p.id AND NOT c.deleted AND c.review_result <> 'rejected') AS live,
           (SELECT count(*)::int FROM tasks k WHERE k.message_id = p.id AND k.type IN ${sqlTypes("reply")} AND ${OPEN_TASK}) AS open,
           EXISTS (SELECT 1 FROM messages c WHERE c.parent_id = p.id AND c.author_user_id = ${replierId}::uuid) AS replied
    FROM messages p WHERE p.id = ${parentId}::uuid`;
  if (rows.length === 0) return null;
  const p = rows[0];
  return {
    id: p.id,
    treeId: p.tree_id,
    projectId: p.project_id,
    role: p.role,
    depth: p.depth,
    lang: p.lang,
    deleted: p.deleted,
    reviewResult: p.review_result,
    liveChildren: p.live,
    openReplyTasks: p.open,
    room: replyCapacity(p.role, config) - p.live,
    repliedBy: p.replied,
  };
}

export interface ReplyInput {
  parent: ReplyParent;
  text: string;
  textHash: string;
  /** Exactly one of the two authors. */
  authorUserId?: string | null;
  modelVersionId?: string | null;
  modelName?: string | null;
  samplingParams?: unknown;
  seed?: bigint | number | null;
  logprobs?: unknown;
  samplingRunId?: string | null;
  /** The reply task this answers: marked done in the same statement. */
  taskId?: string | null;
}

/** Inserts a reply under a parent locked by lockReplyParent, counts it on the parent and closes
 *  the task it answers, in one statement. */
export async function insertReply(tx: Tx, input: ReplyInput): Promise<string> {
  const { parent } = input;
  if (parent.room <= 0) throw conflict("This message already has all the replies it takes.");
  const id = crypto.randomUUID();
  const role: MessageRole = parent.role === "prompter" ? "assistant" : "prompter";
  const synthetic = !!input.modelVersionId;
  const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
  await tx.$executeRaw`
    WITH reply AS (
      INSERT INTO messages (id, tree_id, project_id, parent_id, depth, role, text, lang, author_user_id, model_version_id,
                            synthetic, model_name, sampling_params, seed, logprobs, sampling_run_id, text_hash, created_at, updated_at)
      VALUES (${id}::uuid, ${parent.treeId}::uuid, ${parent.projectId}::uuid, ${parent.id}::uuid, ${parent.depth + 1},
              ${role}::"MessageRole", ${input.text}, ${parent.lang}, ${input.authorUserId ?? null}::uuid,
              ${input.modelVersionId ?? null}::uuid, ${synthetic}, ${input.modelName ?? null}, ${json(input.samplingParams)}::jsonb,
              ${input.seed === undefined || input.seed === null ? null : BigInt(input.seed)}::bigint, ${json(input.logprobs)}::jsonb,
              ${input.samplingRunId ?? null}::uuid, ${input.textHash}, ${NOW}, ${NOW})
      RETURNING id),
    parent AS (
      UPDATE messages SET children_count = children_count + 1 WHERE id = ${parent.id}::uuid RETURNING id),
    done AS (
      UPDATE tasks SET state = 'done', done_at = ${NOW}, result_message_id = ${id}::uuid,
        acknowledged_at = COALESCE(acknowledged_at, ${NOW})
      WHERE id = ${input.taskId ?? null}::uuid RETURNING id)
    SELECT count(*) FROM reply`;
  parent.liveChildren++;
  parent.room--;
  return id;
}
