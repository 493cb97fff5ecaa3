// SQL fragments shared by the labeling queries.
import { Prisma } from "~/generated/prisma/client.ts";
import { TASK_TYPE_INFO, TASK_TYPES } from "~/domain/tasks/task-types.ts";

/** The current time as the timestamp columns store it (UTC, like rows Prisma writes), whatever
 *  the server's time zone. */
export const NOW = Prisma.sql`(now() AT TIME ZONE 'UTC')`;

/** An open task (alias k): handed out, not answered, not expired. */
export const OPEN_TASK = Prisma.sql`k.state IN ('assigned', 'acknowledged') AND k.expires_at > ${NOW}`;

/** SQL list of the task types of one kind, e.g. ('label_initial_prompt', …). */
export const sqlTypes = (kind: "label" | "reply" | "rank") =>
  Prisma.raw(`(${TASK_TYPES.filter((t) => TASK_TYPE_INFO[t].kind === kind).map((t) => `'${t}'`).join(", ")})`);
