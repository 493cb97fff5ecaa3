// SQL fragments shared by the labeling queries.
import { Prisma } from "~/generated/prisma/client.ts";
import { TASK_TYPE_INFO, TASK_TYPES } from "~/domain/tasks/task-types.ts";

/** The current time as the timestamp columns store it (UTC, like rows Prisma writes), whatever
 *  the server's time zone. */
export const NOW = Prisma.sql`(now() AT TIME ZONE 'UTC')`;

/** The time at which the statement runs (NOW is the transaction's start): for decisions taken
 *  after waiting for a lock. */
export const CLOCK = Prisma.sql`(clock_timestamp() AT TIME ZONE 'UTC')`;

/** An open task (alias k): handed out, not answered or let go, its hold not ended. */
export const OPEN_TASK = Prisma.sql`k.state IN ('assigned', 'acknowledged') AND k.expires_at > ${NOW}`;

/** SQL list of the task types of one kind, e.g. ('label_initial_prompt', …). */
export const sqlTypes = (kind: "label" | "reply" | "rank") =>
  Prisma.raw(`(${TASK_TYPES.filter((t) => TASK_TYPE_INFO[t].kind === kind).map((t) => `'${t}'`).join(", ")})`);

/** A server-side integer (a code constant or a validated config value) as a literal in the SQL
 *  text: a generic plan sees literals but not parameters, so with a parameter here its estimate
 *  came out worse than the custom plans' and Postgres kept planning anew. Never for user input. */
export function sqlInt(n: number): Prisma.Sql {
  if (!Number.isSafeInteger(n)) throw new Error(`Not an integer for SQL: ${n}`);
  return Prisma.raw(String(n));
}

/** Task type → the tree state its tasks belong to, for the tasks of one kind, as JSON for a
 *  stored function (submit_review, submit_ranking, submit_reply). */
export const treeStatesJson = (kind: "label" | "reply" | "rank") =>
  JSON.stringify(Object.fromEntries(TASK_TYPES.filter((t) => TASK_TYPE_INFO[t].kind === kind).map((t) => [t, TASK_TYPE_INFO[t].treeState])));
