// Per-user limits on task requests and replies, from the project's workflow config.
import { hitRateLimit, peekRateLimits, type RateLimit } from "~/auth/rate-limit.server.ts";
import type { WorkflowConfig } from "~/domain/projects/workflow.ts";
import type { MessageRole } from "~/domain/trees/enums.ts";
import { LabelingError } from "./errors.server.ts";

const window = (seconds: number) => (seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`);

async function enforce(key: string, limit: RateLimit, what: string): Promise<void> {
  const r = await hitRateLimit(key, limit);
  if (!r.allowed) {
    throw new LabelingError(
      "rate_limited",
      `Too many ${what}: at most ${limit.count} per ${window(limit.windowSeconds)}. Try again in ${r.retryAfterSeconds} s.`,
      {},
      r.retryAfterSeconds,
    );
  }
}

export function limitTaskRequests(projectId: string, userId: string, config: WorkflowConfig): Promise<void> {
  return enforce(`labeling:tasks:${projectId}:${userId}`, config.rateLimits.taskRequests, "task requests");
}

const writeKey = (role: MessageRole, projectId: string, userId: string) => `labeling:${role}:${projectId}:${userId}`;
// Labelers know the prompter as the user (the roles' names stay those of Open-Assistant's data).
const roleWords = (role: MessageRole) => (role === "prompter" ? "user" : "assistant");

/** Initial prompts count as prompter messages. */
export function limitReplies(projectId: string, userId: string, role: MessageRole, config: WorkflowConfig): Promise<void> {
  return enforce(writeKey(role, projectId, userId), config.rateLimits.replies[role], `${roleWords(role)} messages`);
}

/** A message role the labeler cannot write right now: their limit for it is used up. */
export interface WriteLimit {
  role: MessageRole;
  /** The limit in words, e.g. "4 assistant messages per 2 min". */
  limit: string;
  retryAfterSeconds: number;
  /** Says the limit and when the next message may be sent. */
  message: string;
}

/**
 * The roles whose reply limit this labeler has used up, read without counting a hit: the draw
 * does not hand out writing tasks they could not submit now, and pages say so before the
 * labeler writes.
 */
export async function writeLimits(projectId: string, userId: string, config: WorkflowConfig): Promise<Partial<Record<MessageRole, WriteLimit>>> {
  const roles: MessageRole[] = ["assistant", "prompter"];
  const states = await peekRateLimits(roles.map((role) => ({ key: writeKey(role, projectId, userId), limit: config.rateLimits.replies[role] })));
  const out: Partial<Record<MessageRole, WriteLimit>> = {};
  roles.forEach((role, i) => {
    if (states[i].allowed) return;
    const limit = config.rateLimits.replies[role];
    const s = states[i].retryAfterSeconds;
    const words = `${limit.count} ${roleWords(role)} message${limit.count === 1 ? "" : "s"} per ${window(limit.windowSeconds)}`;
    out[role] = {
      role,
      limit: words,
      retryAfterSeconds: s,
      message: `You reached this project's limit of ${words}: you can send the next one in ${s} s.`,
    };
  });
  return out;
}

/** The error for a writing task asked for while its role's limit is used up. */
export const writeLimitError = (limit: WriteLimit) => new LabelingError("rate_limited", limit.message, {}, limit.retryAfterSeconds);
