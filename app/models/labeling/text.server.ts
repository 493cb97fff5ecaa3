// Message text rules shared by prompts, replies and edits: length, blank text, duplicates.
import crypto from "node:crypto";
import type { WorkflowConfig } from "~/domain/projects/workflow.ts";
import { badInput, conflict } from "./errors.server.ts";
import type { Db } from "./config.server.ts";
import { NOW } from "./sql.server.ts";

/** Case and whitespace do not make a text new: "Hello  world" repeats "hello world". */
export function textHash(text: string): string {
  const normalized = text.trim().replace(/\s+/g, " ").toLowerCase();
  return crypto.createHash("sha256").update(normalized).digest("hex");
}

/** Trims the text and checks it against the project's limits; returns the text to store. */
export function checkMessageText(raw: unknown, config: Pick<WorkflowConfig, "maxMessageLength">): string {
  if (typeof raw !== "string") throw badInput("Text is required.", { text: "required" });
  const text = raw.replace(/\r\n/g, "\n").trim();
  if (!text) throw badInput("The text is empty or only whitespace.", { text: "empty" });
  if (text.length > config.maxMessageLength) {
    throw badInput(`The text is ${text.length} characters long; the limit is ${config.maxMessageLength}.`, {
      text: "too long",
    });
  }
  return text;
}

/** Rejects text the same user wrote (anywhere) within the project's duplicate window. */
export async function assertNotDuplicate(
  db: Db,
  userId: string,
  hash: string,
  config: Pick<WorkflowConfig, "duplicateWindowMinutes">,
  exceptMessageId: string | null = null,
): Promise<void> {
  if (config.duplicateWindowMinutes <= 0) return;
  const rows = await db.$queryRaw<{ n: number }[]>`
    SELECT 1 AS n FROM messages
    WHERE author_user_id = ${userId}::uuid AND text_hash = ${hash}
      AND created_at > ${NOW} - make_interval(mins => ${config.duplicateWindowMinutes}::int)
      AND (${exceptMessageId}::uuid IS NULL OR id <> ${exceptMessageId}::uuid)
    LIMIT 1`;
  if (rows.length) {
    throw conflict(`You wrote the same text within the last ${config.duplicateWindowMinutes} minutes.`);
  }
}
