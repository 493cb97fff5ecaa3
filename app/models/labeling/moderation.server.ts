// Moderation: reports and their automatic thresholds, halting and resuming trees, deleting and
// restoring messages, message history, disabling labelers, the most-flagged authors.
import { prisma } from "~/db.server.ts";
import { Prisma } from "~/generated/prisma/client.ts";
import { setUserDisabled } from "~/models/user.server.ts";
import type { WorkflowConfig } from "~/domain/projects/workflow.ts";
import { formatLabelAnswer } from "~/domain/projects/label-values.ts";
import { autoModerationActions } from "~/domain/trees/moderation.ts";
import { excerpt } from "~/domain/text/excerpt.ts";
import { IllegalTransitionError, isTerminalState, TRANSITION_REASONS, type TreeState } from "~/domain/trees/state-machine.ts";
import { projectConfig } from "./config.server.ts";
import { assertUuid, badInput, conflict, LabelingError, notFound } from "./errors.server.ts";
import { inTransaction } from "./transaction.server.ts";
import { advanceTree, lockTree, transitionTree, type LockedTree, type Tx } from "./tree-state.server.ts";
import { NOW } from "./sql.server.ts";

/** Reasons a labeler can give; every one of them counts as a red flag. */
export const REPORT_REASONS = ["red_flag", "spam", "pii", "offensive", "other"] as const;
export type ReportReason = (typeof REPORT_REASONS)[number];
/**
 * Filed with a "not rankable" ranking, on the parent of the set; not a red flag. It is about the
 * replies the ranking showed (REPORTED_REPLIES_SQL), not about the parent.
 */
export const NOT_RANKABLE_REASON = "not_rankable";

/**
 * The replies a not-rankable report `r` is about: the siblings the reporter's ranking task
 * showed, or the parent's replies when the ranking came without a task.
 */
const REPORTED_REPLIES_SQL = Prisma.sql`
  SELECT s.id FROM messages s
  LEFT JOIN rankings rk ON rk.parent_message_id = r.message_id AND rk.user_id = r.user_id
  LEFT JOIN tasks tk ON tk.id = rk.task_id
  WHERE s.parent_id = r.message_id AND (tk.sibling_ids IS NULL OR s.id = ANY(tk.sibling_ids))`;

async function log(tx: Tx, actorId: string | null, action: string, targetType: string, targetId: string, reason: string) {
  await tx.$executeRaw`
    INSERT INTO moderation_actions (actor_id, action, target_type, target_id, reason, created_at)
    VALUES (${actorId}::uuid, ${action}, ${targetType}, ${targetId}, ${reason.slice(0, 1000)}, ${NOW})`;
}

/** A state change a moderator asked for; an illegal one is a 409, not a 500. */
async function moveTree(tx: Tx, tree: LockedTree, to: TreeState, reason: string, actorId: string | null) {
  try {
    await transitionTree(tx, tree, to, reason, actorId);
  } catch (error) {
    if (error instanceof IllegalTransitionError) throw conflict(`The tree is ${tree.state.replaceAll("_", " ")}: ${error.message}.`);
    throw error;
  }
}

type MessageRow = { id: string; tree_id: string; project_id: string; parent_id: string | null; deleted: boolean };

/** The message (locked) and its tree (locked first), both of this project. */
async function lockMessage(tx: Tx, projectId: string, messageId: string): Promise<{ tree: LockedTree; msg: MessageRow }> {
  assertUuid(messageId, "message");
  const [probe] = await tx.$queryRaw<Array<{ tree_id: string; project_id: string }>>`
    SELECT tree_id, project_id FROM messages WHERE id = ${messageId}::uuid`;
  if (!probe || probe.project_id !== projectId) throw notFound("No such message in this project.");
  const tree = (await lockTree(tx, probe.tree_id))!;
  const [msg] = await tx.$queryRaw<MessageRow[]>`
    SELECT id, tree_id, project_id, parent_id, deleted FROM messages WHERE id = ${messageId}::uuid FOR NO KEY UPDATE`;
  return { tree, msg };
}

/** Deletes a message: its open tasks and those below it are cancelled; a deleted prompt aborts the tree. */
async function deleteLocked(tx: Tx, tree: LockedTree, msg: MessageRow, config: WorkflowConfig, actorId: string | null, action: string, reason: string) {
  await tx.$executeRaw`UPDATE messages SET deleted = true, updated_at = ${NOW} WHERE id = ${msg.id}::uuid`;
  if (msg.parent_id) await tx.$executeRaw`UPDATE messages SET children_count = children_count - 1 WHERE id = ${msg.parent_id}::uuid`;
  await tx.$executeRaw`
    WITH RECURSIVE below AS (
      SELECT id FROM messages WHERE id = ${msg.id}::uuid
      UNION ALL SELECT m.id FROM messages m JOIN below b ON m.parent_id = b.id)
    UPDATE tasks SET state = 'cancelled'
    WHERE message_id IN (SELECT id FROM below) AND state IN ('assigned', 'acknowledged')`;
  await log(tx, actorId, action, "message", msg.id, reason);
  if (msg.parent_id === null) {
    if (!isTerminalState(tree.state)) await moveTree(tx, tree, "aborted_low_grade", TRANSITION_REASONS.rootDeleted, actorId);
  } else if (tree.state === "growing" || tree.state === "ranking") {
    await advanceTree(tx, tree, config);
  }
}

// ─── Reports ────────────────────────────────────────────────────────────────

/**
 * Files a report (a red flag) on a message. At the project's threshold of distinct reporters a
 * reply is deleted, or the tree of a reported prompt is aborted.
 */
export async function reportMessage(
  projectId: string,
  messageId: string,
  userId: string,
  input: { reason: string; text?: string },
): Promise<{ autoAction: "delete_message" | "abort_tree" | null }> {
  if (!(REPORT_REASONS as readonly string[]).includes(input.reason)) {
    throw badInput(`Reason must be one of ${REPORT_REASONS.join(", ")}.`, { reason: "unknown" });
  }
  const text = (input.text ?? "").trim();
  if (text.length > 2000) throw badInput("The report is longer than 2000 characters.", { text: "too long" });
  const config = await projectConfig(projectId);
  return inTransaction(async (tx) => {
    const { tree, msg } = await lockMessage(tx, projectId, messageId);
    if (msg.deleted) throw conflict("This message was already removed.");
    const inserted = await tx.$queryRaw<Array<{ id: string }>>`
      INSERT INTO reports (id, message_id, user_id, reason, text, created_at)
      VALUES (gen_random_uuid(), ${messageId}::uuid, ${userId}::uuid, ${input.reason}, ${text}, ${NOW})
      ON CONFLICT (message_id, user_id, reason) DO NOTHING RETURNING id`;
    if (inserted.length === 0) throw conflict("You already reported this message for this reason.");
    const [{ flags }] = await tx.$queryRaw<Array<{ flags: number }>>`
      SELECT count(DISTINCT user_id)::int AS flags FROM reports
      WHERE message_id = ${messageId}::uuid AND reason <> ${NOT_RANKABLE_REASON} AND resolved_at IS NULL`;
    const actions = autoModerationActions({ isRoot: msg.parent_id === null, redFlags: flags, replySkips: 0 }, config);
    const why = `${flags} red flags`;
    if (actions.includes("abort_tree") && !isTerminalState(tree.state)) {
      await moveTree(tx, tree, "aborted_low_grade", TRANSITION_REASONS.redFlags, null);
      await log(tx, null, "auto_abort_tree", "tree", tree.id, why);
      return { autoAction: "abort_tree" };
    }
    if (actions.includes("delete_message")) {
      await deleteLocked(tx, tree, msg, config, null, "auto_delete_message", why);
      return { autoAction: "delete_message" };
    }
    return { autoAction: null };
  });
}

/** Marks a report handled; it no longer counts as a red flag. */
export async function resolveReport(projectId: string, reportId: string, actorId: string): Promise<void> {
  assertUuid(reportId, "report");
  const n = await prisma.$executeRaw`
    UPDATE reports r SET resolved_at = ${NOW}, resolved_by_id = ${actorId}::uuid
    FROM messages m WHERE r.id = ${reportId}::uuid AND m.id = r.message_id AND m.project_id = ${projectId}::uuid
      AND r.resolved_at IS NULL`;
  if (n === 0) throw notFound("No open report with this id in this project.");
}

/**
 * Open reports, newest first. A not-rankable report is about the replies to its message
 * (`subject` "replies", with how many there were); any other is about the message itself.
 */
export async function openReports(projectId: string, limit = 100) {
  const rows = await prisma.$queryRaw<
    Array<{ id: string; message_id: string; tree_id: string; reason: string; text: string; created_at: Date; reporter: string; excerpt: string; deleted: boolean; replies: number | null }>
  >`
    SELECT r.id, r.message_id, m.tree_id, r.reason, r.text, r.created_at, u.display_name AS reporter,
           left(m.text, 600) AS excerpt, m.deleted,
           CASE WHEN r.reason = ${NOT_RANKABLE_REASON} THEN (SELECT count(*)::int FROM (${REPORTED_REPLIES_SQL}) x) END AS replies
    FROM reports r JOIN messages m ON m.id = r.message_id JOIN users u ON u.id = r.user_id
    WHERE m.project_id = ${projectId}::uuid AND r.resolved_at IS NULL
    ORDER BY r.created_at DESC LIMIT ${limit}`;
  return rows.map(({ replies, ...r }) => ({
    ...r,
    excerpt: excerpt(r.excerpt, 120),
    subject: r.reason === NOT_RANKABLE_REASON ? ("replies" as const) : ("message" as const),
    replies: replies ?? 0,
  }));
}

// ─── Trees and messages ─────────────────────────────────────────────────────

async function lockProjectTree(tx: Tx, projectId: string, treeId: string): Promise<LockedTree> {
  assertUuid(treeId, "tree");
  const tree = await lockTree(tx, treeId);
  if (!tree || tree.projectId !== projectId) throw notFound("No such tree in this project.");
  return tree;
}

export async function haltTree(projectId: string, treeId: string, actorId: string, reason = ""): Promise<void> {
  await inTransaction(async (tx) => {
    const tree = await lockProjectTree(tx, projectId, treeId);
    if (tree.state === "halted_by_moderator") throw conflict("The tree is already halted.");
    await moveTree(tx, tree, "halted_by_moderator", reason.trim() || TRANSITION_REASONS.moderatorHalt, actorId);
    await log(tx, actorId, "halt_tree", "tree", treeId, reason);
  });
}

/** Returns a halted tree to the state it was halted in, and lets it move on if it can. */
export async function resumeTree(projectId: string, treeId: string, actorId: string, reason = ""): Promise<void> {
  const config = await projectConfig(projectId);
  await inTransaction(async (tx) => {
    const tree = await lockProjectTree(tx, projectId, treeId);
    if (tree.state !== "halted_by_moderator" || !tree.stateBeforeHalt) throw conflict("Only a halted tree can be resumed.");
    await moveTree(tx, tree, tree.stateBeforeHalt, reason.trim() || TRANSITION_REASONS.moderatorResume, actorId);
    await log(tx, actorId, "resume_tree", "tree", treeId, reason);
    await advanceTree(tx, tree, config);
  });
}

/** Closes a tree for good (low grade). */
export async function abortTreeByModerator(projectId: string, treeId: string, actorId: string, reason = ""): Promise<void> {
  await inTransaction(async (tx) => {
    const tree = await lockProjectTree(tx, projectId, treeId);
    if (isTerminalState(tree.state)) throw conflict(`The tree is already ${tree.state.replaceAll("_", " ")}.`);
    await moveTree(tx, tree, "aborted_low_grade", reason.trim() || TRANSITION_REASONS.moderatorAbort, actorId);
    await log(tx, actorId, "abort_tree", "tree", treeId, reason);
  });
}

export async function deleteMessage(projectId: string, messageId: string, actorId: string, reason = ""): Promise<void> {
  const config = await projectConfig(projectId);
  await inTransaction(async (tx) => {
    const { tree, msg } = await lockMessage(tx, projectId, messageId);
    if (msg.deleted) throw conflict("The message is already deleted.");
    await deleteLocked(tx, tree, msg, config, actorId, "delete_message", reason);
  });
}

/** Undeletes a message. A tree aborted because its prompt was deleted stays closed. */
export async function restoreMessage(projectId: string, messageId: string, actorId: string, reason = ""): Promise<void> {
  const config = await projectConfig(projectId);
  await inTransaction(async (tx) => {
    const { tree, msg } = await lockMessage(tx, projectId, messageId);
    if (!msg.deleted) throw conflict("The message is not deleted.");
    await tx.$executeRaw`UPDATE messages SET deleted = false, updated_at = ${NOW} WHERE id = ${messageId}::uuid`;
    if (msg.parent_id) await tx.$executeRaw`UPDATE messages SET children_count = children_count + 1 WHERE id = ${msg.parent_id}::uuid`;
    await log(tx, actorId, "restore_message", "message", messageId, reason);
    if (tree.state === "growing" || tree.state === "ranking") await advanceTree(tx, tree, config);
  });
}

/** Everything that happened to a message: text revisions, reports, moderation, labels. */
export async function messageHistory(projectId: string, messageId: string) {
  assertUuid(messageId, "message");
  const message = await prisma.message.findFirst({
    where: { id: messageId, projectId },
    select: {
      id: true, treeId: true, parentId: true, role: true, text: true, deleted: true, createdAt: true, updatedAt: true,
      reviewResult: true, reviewCount: true, consensusRank: true, synthetic: true, modelName: true,
      authorUser: { select: { id: true, displayName: true, email: true, disabled: true } },
      tree: { select: { state: true } },
    },
  });
  if (!message) throw notFound("No such message in this project.");
  const [revisions, reports, actions, labels] = await Promise.all([
    prisma.messageRevision.findMany({
      where: { messageId },
      orderBy: { id: "desc" },
      select: { id: true, text: true, createdAt: true, editedBy: { select: { displayName: true } } },
    }),
    prisma.report.findMany({
      where: { messageId },
      orderBy: { createdAt: "desc" },
      select: { id: true, reason: true, text: true, createdAt: true, resolvedAt: true, user: { select: { displayName: true } } },
    }),
    prisma.moderationAction.findMany({
      where: { targetType: "message", targetId: messageId },
      orderBy: { id: "desc" },
      select: { id: true, action: true, reason: true, createdAt: true, actor: { select: { displayName: true } } },
    }),
    prisma.label.findMany({
      where: { messageId },
      orderBy: { createdAt: "asc" },
      select: { values: true, fullForm: true, createdAt: true, user: { select: { displayName: true } } },
    }),
  ]);
  // Each review as the form showed it, in the order of the project's label schema.
  const schema = (await projectConfig(projectId)).labelSchema;
  const definitions = new Map(schema.map((d) => [d.name, d]));
  const place = (name: string) => (definitions.has(name) ? schema.findIndex((d) => d.name === name) : schema.length);
  return {
    message: { ...message, tree: undefined, treeState: message.tree.state },
    revisions: revisions.map((r) => ({ ...r, id: String(r.id) })),
    // A not-rankable report is about this message's replies, not about the message.
    reports: reports.filter((r) => r.reason !== NOT_RANKABLE_REASON),
    replyReports: reports.filter((r) => r.reason === NOT_RANKABLE_REASON),
    actions: actions.map((a) => ({ ...a, id: String(a.id) })),
    labels: labels.map((l) => ({
      ...l,
      values: undefined,
      answers: Object.entries(l.values as Record<string, unknown>)
        .filter((e): e is [string, number] => typeof e[1] === "number")
        .sort(([a], [b]) => place(a) - place(b) || (a < b ? -1 : 1))
        .map(([name, value]) => formatLabelAnswer(definitions.get(name), name, value)),
    })),
  };
}

// ─── People ─────────────────────────────────────────────────────────────────

/**
 * Disables (or re-enables) an account from a project's moderation page. Only people who work in
 * this project; never an admin, never oneself; only admins and managers may disable a manager.
 */
export async function setLabelerDisabled(
  projectId: string,
  targetUserId: string,
  actor: { id: string; globalRole: "admin" | "user"; projectRole: string | null },
  disabled: boolean,
  reason = "",
): Promise<void> {
  assertUuid(targetUserId, "user");
  if (targetUserId === actor.id) throw badInput("You cannot disable your own account.");
  const target = await prisma.user.findUnique({
    where: { id: targetUserId },
    select: { role: true, memberships: { where: { projectId }, select: { role: true } }, _count: { select: { messages: { where: { projectId } } } } },
  });
  const role = target?.memberships[0]?.role ?? null;
  if (!target || (!role && target._count.messages === 0)) throw notFound("No such person in this project.");
  if (target.role === "admin") throw new LabelingError("forbidden", "Admins cannot be disabled from a project.");
  if (role === "manager" && actor.globalRole !== "admin" && actor.projectRole !== "manager") {
    throw new LabelingError("forbidden", "Only a manager or an admin can disable a manager.");
  }
  await setUserDisabled(targetUserId, disabled, actor.id);
  await prisma.moderationAction.create({
    data: { actorId: actor.id, action: disabled ? "disable_user" : "enable_user", targetType: "user", targetId: targetUserId, reason },
  });
}

/**
 * Authors whose messages in this project were reported most. A flag is one person reporting one
 * message (several reasons count once); a not-rankable report flags each reply it was about,
 * never the parent it is filed on. Model-written messages have no author here.
 */
export async function mostFlaggedUsers(projectId: string, limit = 20) {
  return prisma.$queryRaw<
    Array<{ user_id: string; display_name: string; email: string; disabled: boolean; flags: number; flagged_messages: number; messages: number }>
  >`
    WITH flags AS (
      SELECT r.message_id, r.user_id AS reporter
      FROM reports r JOIN messages m ON m.id = r.message_id
      WHERE m.project_id = ${projectId}::uuid AND r.reason <> ${NOT_RANKABLE_REASON}
      UNION
      SELECT reply.id, r.user_id
      FROM reports r JOIN messages p ON p.id = r.message_id CROSS JOIN LATERAL (${REPORTED_REPLIES_SQL}) reply
      WHERE p.project_id = ${projectId}::uuid AND r.reason = ${NOT_RANKABLE_REASON})
    SELECT u.id AS user_id, u.display_name, u.email, u.disabled,
           count(*)::int AS flags, count(DISTINCT f.message_id)::int AS flagged_messages,
           (SELECT count(*)::int FROM messages x WHERE x.author_user_id = u.id AND x.project_id = ${projectId}::uuid) AS messages
    FROM flags f JOIN messages m ON m.id = f.message_id JOIN users u ON u.id = m.author_user_id
    GROUP BY u.id ORDER BY flags DESC, u.display_name LIMIT ${limit}`;
}
