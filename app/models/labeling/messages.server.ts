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
    INSERT INTO message_trees (id, project_id, state, lang, created_at, updated_at, state_changed_at)
    VALUES (${treeId}::uuid, ${input.projectId}::uuid, ${event.toState}::"TreeState", ${input.lang}, ${NOW}, ${NOW}, ${NOW})`;
  await tx.$executeRaw`
    INSERT INTO tree_state_events (tree_id, from_state, to_state, reason, actor_id)
    VALUES (${treeId}::uuid, NULL, ${event.toState}::"TreeState", ${event.reason}, ${event.actorId}::uuid)`;
  await tx.$executeRaw`
    INSERT INTO messages (id, tree_id, project_id, parent_id, depth, role, text, lang, author_user_id, text_hash, created_at, updated_at)
    VALUES (${messageId}::uuid, ${treeId}::uuid, ${input.projectId}::uuid, NULL, 0, 'prompter', ${input.text}, ${input.lang},
            ${input.authorUserId}::uuid, ${input.textHash}, ${NOW}, ${NOW})`;
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
}

/**
 * Locks the parent row and counts its replies. Every writer of replies (labelers' submissions,
 * the sampler's model replies) goes through this lock, so the per-parent limit holds. A model
 * writer should keep `room - openReplyTasks` for labelers already writing.
 */
export async function lockReplyParent(tx: Tx, parentId: string, config: WorkflowConfig): Promise<ReplyParent | null> {
  const rows = await tx.$queryRaw<
    Array<{ id: string; tree_id: string; project_id: string; role: MessageRole; depth: number; lang: string; deleted: boolean; review_result: ReviewResult }>
  >`
    SELECT id, tree_id, project_id, role::text AS role, depth, lang, deleted, review_result::text AS review_result
    FROM messages WHERE id = ${parentId}::uuid FOR NO KEY UPDATE`;
  if (rows.length === 0) return null;
  const p = rows[0];
  const [counts] = await tx.$queryRaw<Array<{ live: number; open: number }>>`
    SELECT (SELECT count(*)::int FROM messages c WHERE c.parent_id = ${parentId}::uuid AND NOT c.deleted
              AND c.review_result <> 'rejected') AS live,
           (SELECT count(*)::int FROM tasks k WHERE k.message_id = ${parentId}::uuid
              AND k.type IN ${sqlTypes("reply")} AND ${OPEN_TASK}) AS open`;
  return {
    id: p.id,
    treeId: p.tree_id,
    projectId: p.project_id,
    role: p.role,
    depth: p.depth,
    lang: p.lang,
    deleted: p.deleted,
    reviewResult: p.review_result,
    liveChildren: counts.live,
    openReplyTasks: counts.open,
    room: replyCapacity(p.role, config) - counts.live,
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
}

/** Inserts a reply under a parent locked by lockReplyParent and counts it on the parent. */
export async function insertReply(tx: Tx, input: ReplyInput): Promise<string> {
  const { parent } = input;
  if (parent.room <= 0) throw conflict("This message already has all the replies it takes.");
  const id = crypto.randomUUID();
  const role: MessageRole = parent.role === "prompter" ? "assistant" : "prompter";
  const synthetic = !!input.modelVersionId;
  const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
  await tx.$executeRaw`
    INSERT INTO messages (id, tree_id, project_id, parent_id, depth, role, text, lang, author_user_id, model_version_id,
                          synthetic, model_name, sampling_params, seed, logprobs, sampling_run_id, text_hash, created_at, updated_at)
    VALUES (${id}::uuid, ${parent.treeId}::uuid, ${parent.projectId}::uuid, ${parent.id}::uuid, ${parent.depth + 1},
            ${role}::"MessageRole", ${input.text}, ${parent.lang}, ${input.authorUserId ?? null}::uuid,
            ${input.modelVersionId ?? null}::uuid, ${synthetic}, ${input.modelName ?? null}, ${json(input.samplingParams)}::jsonb,
            ${input.seed === undefined || input.seed === null ? null : BigInt(input.seed)}::bigint, ${json(input.logprobs)}::jsonb,
            ${input.samplingRunId ?? null}::uuid, ${input.textHash}, ${NOW}, ${NOW})`;
  await tx.$executeRaw`UPDATE messages SET children_count = children_count + 1 WHERE id = ${parent.id}::uuid`;
  parent.liveChildren++;
  parent.room--;
  return id;
}
