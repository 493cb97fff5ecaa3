// Writing tasks (initial prompts and replies) and editing one's own message while its tree grows.
import crypto from "node:crypto";
import type { WorkflowConfig } from "~/domain/projects/workflow.ts";
import { TASK_TYPE_INFO } from "~/domain/tasks/task-types.ts";
import { treeCreatedEvent } from "~/domain/trees/state-machine.ts";
import { replyCapacity } from "~/domain/trees/tree-facts.ts";
import { projectConfig } from "./config.server.ts";
import { assertUuid, badInput, conflict, LabelingError, notFound } from "./errors.server.ts";
import { createInitialPrompt, insertReply, lockReplyParent } from "./messages.server.ts";
import { limitReplies } from "./rate-limits.server.ts";
import { assertNotReplayed, completeTask, ownTask, withOpenTask, type TaskRef } from "./tasks.server.ts";
import { assertNotDuplicate, checkMessageText, textHash } from "./text.server.ts";
import { db, inTransaction } from "./transaction.server.ts";
import { lockTree } from "./tree-state.server.ts";
import { NOW, treeStatesJson } from "./sql.server.ts";

export interface WritingInput {
  text: unknown;
  /** Initial prompts only: the conversation's language (default: the project's first). */
  lang?: string | null;
}

/**
 * The common new prompt in one statement (`submit_prompt`, migration 20261208140000): its tree,
 * the prompt and the task closed when every check of the full path passes. Null otherwise; nothing
 * was written then.
 */
export async function promptAtOnce(
  projectId: string, taskId: string, userId: string, prompt: { text: string; hash: string; lang: string }, submitKey: string | null,
  config: WorkflowConfig,
): Promise<{ treeId: string; messageId: string } | null> {
  const treeId = crypto.randomUUID();
  const messageId = crypto.randomUUID();
  const event = treeCreatedEvent(treeId, undefined, "created", userId);
  const [row] = await db.$queryRaw<Array<{ outcome: "done" | "slow" }>>`
    SELECT submit_prompt(${taskId}::uuid, ${projectId}::uuid, ${userId}::uuid, ${treeId}::uuid, ${messageId}::uuid, ${prompt.text},
                         ${prompt.hash}, ${prompt.lang}, ${event.toState}, ${event.reason}, ${config.duplicateWindowMinutes}::int,
                         ${submitKey}::text) AS outcome`;
  return row.outcome === "done" ? { treeId, messageId } : null;
}

/** Submits an initial-prompt task: a new tree waiting for review of its prompt. */
export async function submitPrompt(
  projectId: string,
  /** The task id, or the task already read with getOwnTask. */
  taskId: TaskRef,
  userId: string,
  input: WritingInput,
  /** The client's idempotency key (see SubmitReplayed). */
  submitKey: string | null = null,
): Promise<{ treeId: string; messageId: string }> {
  const config = await projectConfig(projectId);
  const text = checkMessageText(input.text, config);
  const lang = input.lang || config.languages[0];
  if (!config.languages.includes(lang)) throw badInput(`This project collects ${config.languages.join(", ")}, not ${lang}.`);
  const task = await ownTask(projectId, taskId, userId);
  assertNotReplayed(task, submitKey);
  if (task.type !== "initial_prompt") throw badInput(`Task ${task.id} is not an initial prompt task.`);
  await limitReplies(projectId, userId, "prompter", config);
  const hash = textHash(text);
  const stored = await promptAtOnce(projectId, task.id, userId, { text, hash, lang }, submitKey, config);
  if (stored) return stored;
  return withOpenTask(task, { projectId, userId, submitKey }, ["prompt"], {}, async (tx, t) => {
    await assertNotDuplicate(tx, userId, hash, config);
    const created = await createInitialPrompt(tx, { projectId, authorUserId: userId, text, textHash: hash, lang });
    await completeTask(tx, t.id, created.messageId);
    return created;
  });
}

const REPLY_TREE_STATES = treeStatesJson("reply");

/**
 * The common reply in one statement (`submit_reply`, migration 20261208130000): stored, counted on
 * its parent and closing its task when every check of the full path passes. Null when the submit
 * is anything else (a refusal, which the full path words); nothing was written then.
 */
export async function replyAtOnce(
  projectId: string, taskId: string, userId: string, text: string, hash: string, submitKey: string | null, config: WorkflowConfig,
): Promise<{ messageId: string } | null> {
  const messageId = crypto.randomUUID();
  const capacity = [replyCapacity("prompter", config), replyCapacity("assistant", config)];
  const [row] = await db.$queryRaw<Array<{ outcome: "done" | "slow" }>>`
    SELECT submit_reply(${taskId}::uuid, ${projectId}::uuid, ${userId}::uuid, ${messageId}::uuid, ${text}, ${hash},
                        ${REPLY_TREE_STATES}::jsonb, ${capacity}::int[], ${config.duplicateWindowMinutes}::int, ${submitKey}::text) AS outcome`;
  return row.outcome === "done" ? { messageId } : null;
}

/**
 * Submits a reply task: one reply per labeler per parent, the parent's reply limit checked under
 * its row lock, the labeler's own duplicate text refused.
 */
export async function submitReply(
  projectId: string,
  /** The task id, or the task already read with getOwnTask. */
  taskId: TaskRef,
  userId: string,
  input: WritingInput,
  /** The client's idempotency key (see SubmitReplayed). */
  submitKey: string | null = null,
): Promise<{ messageId: string }> {
  const config = await projectConfig(projectId);
  const text = checkMessageText(input.text, config);
  const task = await ownTask(projectId, taskId, userId);
  assertNotReplayed(task, submitKey);
  const role = TASK_TYPE_INFO[task.type].producesRole;
  if (TASK_TYPE_INFO[task.type].kind !== "reply" || !role) throw badInput(`Task ${task.id} is not a reply task.`);
  await limitReplies(projectId, userId, role, config);
  const hash = textHash(text);
  const stored = await replyAtOnce(projectId, task.id, userId, text, hash, submitKey, config);
  if (stored) return stored;
  return withOpenTask(task, { projectId, userId, submitKey }, ["reply"], {}, async (tx, t) => {
    const parent = await lockReplyParent(tx, t.messageId!, config, userId);
    if (!parent || parent.deleted || parent.reviewResult !== "accepted") {
      throw conflict("The message you are replying to was removed.");
    }
    if (parent.repliedBy) throw conflict("You already replied to this message.");
    if (parent.room <= 0) throw conflict("This message already has all the replies it takes.");
    await assertNotDuplicate(tx, userId, hash, config);
    const messageId = await insertReply(tx, { parent, text, textHash: hash, authorUserId: userId, taskId: t.id });
    return { messageId };
  });
}

/**
 * Replaces the text of the labeler's own message while its tree is still being written (prompt
 * review or growing); the previous text goes to message_revisions.
 */
export async function editOwnMessage(
  projectId: string,
  messageId: string,
  userId: string,
  rawText: unknown,
): Promise<void> {
  assertUuid(messageId, "message");
  const config = await projectConfig(projectId);
  const text = checkMessageText(rawText, config);
  const hash = textHash(text);
  await inTransaction(async (tx) => {
    const [msg] = await tx.$queryRaw<Array<{ tree_id: string; project_id: string; author_user_id: string | null }>>`
      SELECT tree_id, project_id, author_user_id FROM messages WHERE id = ${messageId}::uuid`;
    if (!msg || msg.project_id !== projectId) throw notFound("No such message in this project.");
    if (msg.author_user_id !== userId) throw new LabelingError("forbidden", "Only the author can edit a message.");
    const tree = await lockTree(tx, msg.tree_id);
    if (!tree || (tree.state !== "growing" && tree.state !== "initial_prompt_review")) {
      throw conflict("Messages can be edited only while their conversation is still growing.");
    }
    const [current] = await tx.$queryRaw<Array<{ text: string; deleted: boolean }>>`
      SELECT text, deleted FROM messages WHERE id = ${messageId}::uuid FOR NO KEY UPDATE`;
    if (current.deleted) throw conflict("This message was deleted by a moderator.");
    if (current.text === text) return;
    await assertNotDuplicate(tx, userId, hash, config, messageId);
    await tx.$executeRaw`
      INSERT INTO message_revisions (message_id, text, edited_by_id, created_at)
      VALUES (${messageId}::uuid, ${current.text}, ${userId}::uuid, ${NOW})`;
    await tx.$executeRaw`
      UPDATE messages SET text = ${text}, text_hash = ${hash}, updated_at = ${NOW} WHERE id = ${messageId}::uuid`;
  });
}
