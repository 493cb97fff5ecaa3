// Label (review) tasks: values checked against the project's label schema, then the review
// decision, which accepts or rejects the message and may move its tree.
import type { SessionCheck } from "~/auth/session-check.server.ts";
import { validateLabels, type WorkflowConfig } from "~/domain/projects/workflow.ts";
import { TASK_TYPE_INFO } from "~/domain/tasks/task-types.ts";
import type { ReviewResult } from "~/domain/trees/enums.ts";
import { reviewDecision, type ReviewLabels } from "~/domain/trees/review.ts";
import { TRANSITION_REASONS } from "~/domain/trees/state-machine.ts";
import { nextStateAfterPromptReview } from "~/domain/trees/transitions.ts";
import { projectConfig } from "./config.server.ts";
import { badInput, conflict, isUuid } from "./errors.server.ts";
import { callerSql, LABEL_TYPES, withOpenTask, type TaskRef } from "./tasks.server.ts";
import { advanceTree, advanceTreeNow, fillGrowingSlots, lockGrowingSlots, transitionTree } from "./tree-state.server.ts";
import { treeFacts } from "./snapshot.server.ts";
import { NOW, treeStatesJson } from "./sql.server.ts";
import { db, inTransaction } from "./transaction.server.ts";

/** Label values from a form or JSON: names to numbers; anything else is refused with a reason. */
export function parseLabelValues(raw: Record<string, unknown>): Record<string, number> {
  const values: Record<string, number> = {};
  const errors: Record<string, string> = {};
  for (const [name, v] of Object.entries(raw)) {
    const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
    if (Number.isFinite(n)) values[name] = n;
    else errors[name] = "value must be a number between 0 and 1";
  }
  if (Object.keys(errors).length) throw badInput("Some labels are not valid.", errors);
  return values;
}

const LABEL_TREE_STATES = treeStatesJson("label");

/**
 * A review in one statement (`submit_review`, migrations 20261208110000 to 20261210100000): one
 * that leaves its message short of the reviews it needs; an initial prompt's last review with the
 * prompt lottery on, which decides the prompt and moves its tree as the full path does (when a
 * growing slot is free, the lottery then runs in its own transaction); a reply's last review,
 * which decides the reply, and when its tree leaves growing, the tree's move follows in its own
 * transaction. The message's review result, "pending" while reviews are missing; null when the
 * submit is anything else (a prompt's last review with the lottery off, a refusal): nothing was
 * written then.
 */
export async function reviewAtOnce(
  projectId: string, taskId: TaskRef, userId: string, values: Record<string, number>, submitKey: string | null, config: WorkflowConfig,
  check?: SessionCheck,
): Promise<ReviewResult | null> {
  const id = typeof taskId === "string" ? taskId : taskId.id;
  if (!isUuid(id)) return null;
  // Which labels apply depends on the task's type, read under its lock: the values as checked for each.
  const byType = Object.fromEntries(
    LABEL_TYPES.flatMap((t) => {
      const checked = validateLabels(config.labelSchema, values, { target: TASK_TYPE_INFO[t].labelTarget! });
      return checked.ok ? [[t, checked.values]] : [];
    }),
  );
  const promptReview = [config.acceptanceThreshold, config.promptLottery.enabled ? 1 : 0, config.maxActiveTrees];
  const [row] = await db.$queryRaw<Array<{ outcome: ReviewOutcome; tree_id: string | null }>>`
    SELECT outcome, tree_id FROM submit_review(
      ${id}::uuid, ${projectId}::uuid, ${callerSql(userId, check)}, ${JSON.stringify(byType)}::jsonb,
      ${LABEL_TREE_STATES}::jsonb, ${[config.reviewsPerPrompt, config.reviewsPerReply]}::int[], ${submitKey}::text,
      ${promptReview}::float8[], ${PROMPT_REVIEW_REASONS}::text[], ${growthLimits(config)}::int[])`;
  switch (row.outcome) {
    case "slow":
      return null;
    case "done":
      return "pending";
    case "accepted_fill":
      // As the full path does after an acceptance; a fill missed here is the expiry sweep's.
      await inTransaction((tx) => fillGrowingSlots(tx, projectId, config));
      return "accepted";
    case "accepted_grown":
    case "rejected_grown":
      // The decision is stored: a move that fails here is logged, not the labeler's error, and
      // one missed (the process died) is the expiry sweep's.
      await advanceTreeNow(row.tree_id!, config).catch((error: Error) =>
        console.error(`after the last review of a reply in tree ${row.tree_id}: ${error.message}`),
      );
      return row.outcome === "accepted_grown" ? "accepted" : "rejected";
    default:
      return row.outcome;
  }
}

type ReviewOutcome = "done" | "accepted" | "accepted_fill" | "rejected" | "accepted_grown" | "rejected_grown" | "slow";

/** The limits tree_leaves_growing takes, in its order. */
export const growthLimits = (config: WorkflowConfig) => [
  config.goalTreeSize,
  config.maxDepth,
  config.maxChildrenPerMessage,
  config.maxPrompterRepliesPerAssistant,
];

const PROMPT_REVIEW_REASONS = [TRANSITION_REASONS.promptAccepted, TRANSITION_REASONS.promptRejected];

/**
 * Stores one review of the task's message. When the last required review is in, the message is
 * accepted or rejected; a rejected initial prompt aborts its tree, an accepted one waits for the
 * prompt lottery (or grows at once when the lottery is off and a slot is free).
 */
export async function submitLabels(
  projectId: string,
  /** The task id, or the task already read with getOwnTask. */
  taskId: TaskRef,
  userId: string,
  rawValues: Record<string, unknown>,
  /** The client's idempotency key (see SubmitReplayed). */
  submitKey: string | null = null,
  /** The session check the one statement carries (the JSON API); the full path confirms it first. */
  check?: SessionCheck,
): Promise<{ reviewResult: ReviewResult }> {
  const config = await projectConfig(projectId);
  const values = parseLabelValues(rawValues);
  const atOnce = await reviewAtOnce(projectId, taskId, userId, values, submitKey, config, check);
  if (atOnce) return { reviewResult: atOnce };
  await check?.confirm();

  return withOpenTask(taskId, { projectId, userId, submitKey }, ["label"], {}, async (tx, t, tree) => {
    // Checked under the task's lock: which labels apply depends on the task, read only there.
    const checked = validateLabels(config.labelSchema, values, { target: TASK_TYPE_INFO[t.type].labelTarget! });
    if (!checked.ok) {
      throw badInput(
        `Some labels are not valid: ${checked.errors.map((e) => `${e.label} (${e.message})`).join(", ")}.`,
        Object.fromEntries(checked.errors.map((e) => [e.label, e.message])),
      );
    }
    // One statement: lock the message, store the label, count it, close the task, and read
    // every review of the message (a CTE's insert is visible only through its RETURNING; data-
    // modifying CTEs run whether or not the outer query reads them).
    const [msg] = await tx.$queryRaw<
      Array<{ parent_id: string | null; deleted: boolean; review_result: ReviewResult; inserted: number; reviews: ReviewLabels[] }>
    >`
      WITH msg AS (
        SELECT id, parent_id, deleted, review_result FROM messages WHERE id = ${t.messageId}::uuid FOR NO KEY UPDATE),
      ins AS (
        INSERT INTO labels (id, message_id, user_id, task_id, "values", full_form, created_at)
        SELECT gen_random_uuid(), msg.id, ${userId}::uuid, ${t.id}::uuid, ${JSON.stringify(checked.values)}::jsonb, ${t.fullForm}, ${NOW}
        FROM msg WHERE NOT msg.deleted AND msg.review_result = 'pending'
        ON CONFLICT (message_id, user_id) DO NOTHING RETURNING "values"),
      counted AS (
        UPDATE messages SET review_count = review_count + 1 WHERE id = ${t.messageId}::uuid AND EXISTS (SELECT 1 FROM ins) RETURNING id),
      done AS (
        UPDATE tasks SET state = 'done', done_at = ${NOW}, acknowledged_at = COALESCE(acknowledged_at, ${NOW})
        WHERE id = ${t.id}::uuid AND EXISTS (SELECT 1 FROM ins) RETURNING id)
      SELECT msg.parent_id, msg.deleted, msg.review_result::text AS review_result,
             (SELECT count(*) FROM ins)::int AS inserted,
             (SELECT coalesce(json_agg(v), '[]'::json) FROM (
                SELECT l."values" AS v FROM labels l WHERE l.message_id = msg.id UNION ALL SELECT "values" FROM ins) x) AS reviews
      FROM msg`;
    if (msg.deleted) throw conflict("This message was deleted by a moderator.");
    if (msg.review_result !== "pending") throw conflict("This message's review is already complete.");
    if (msg.inserted === 0) throw conflict("You already labeled this message.");
    const reviews = msg.reviews;

    const isRoot = msg.parent_id === null;
    const required = isRoot ? config.reviewsPerPrompt : config.reviewsPerReply;
    const decision = reviewDecision(reviews, required, config.acceptanceThreshold);
    if (decision.result === "pending") return { reviewResult: decision.result };
    const decided = tx.$executeRaw`
      UPDATE messages SET review_result = ${decision.result}::"ReviewResult", updated_at = ${NOW} WHERE id = ${t.messageId}::uuid`;
    if (!isRoot) {
      // The tree's facts read right behind the decision, in one round trip: statements on one
      // connection run in the order they are sent, so the read sees the decision.
      const [, facts] = await Promise.all([decided, treeFacts(tx, [tree!.id], null)]);
      await advanceTree(tx, tree!, config, facts.facts.get(tree!.id) ?? []);
    } else {
      await decided;
      // With the lottery off an accepted prompt may take a free slot at once: count under the slot lock.
      const growingTrees =
        decision.result === "accepted" && !config.promptLottery.enabled ? await lockGrowingSlots(tx, projectId) : undefined;
      const outcome = nextStateAfterPromptReview(reviews, config, { growingTrees });
      if (outcome.next && outcome.reason) await transitionTree(tx, tree!, outcome.next, outcome.reason);
      if (outcome.next === "prompt_lottery_waiting") await fillGrowingSlots(tx, projectId, config);
    }
    return { reviewResult: decision.result };
  });
}
