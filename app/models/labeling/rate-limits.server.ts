// Per-user limits on task requests and replies, from the project's workflow config. The task draw
// counts requests and reads the reply counters in its own statement (draw_task), under the same
// keys as here.
import { hitRateLimit, peekRateLimits, type RateLimit } from "~/auth/rate-limit.server.ts";
import type { WorkflowConfig } from "~/domain/projects/workflow.ts";
import type { MessageRole } from "~/domain/trees/enums.ts";
import { LabelingError } from "./errors.server.ts";

const window = (seconds: number) => (seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`);

/** The 429 for a limit used up: what, how many per window, and when to try again. */
export function rateLimitError(what: string, limit: RateLimit, retryAfterSeconds: number): LabelingError {
  return new LabelingError(
    "rate_limited",
    `Too many ${what}: at most ${limit.count} per ${window(limit.windowSeconds)}. Try again in ${retryAfterSeconds} s.`,
    {},
    retryAfterSeconds,
  );
}

async function enforce(key: string, limit: RateLimit, what: string): Promise<void> {
  const r = await hitRateLimit(key, limit);
  if (!r.allowed) throw rateLimitError(what, limit, r.retryAfterSeconds);
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

/** The used-up limit of `role`, in words, and when its next message may be sent. */
export function writeLimit(role: MessageRole, config: WorkflowConfig, retryAfterSeconds: number): WriteLimit {
  const limit = config.rateLimits.replies[role];
  const words = `${limit.count} ${roleWords(role)} message${limit.count === 1 ? "" : "s"} per ${window(limit.windowSeconds)}`;
  return {
    role,
    limit: words,
    retryAfterSeconds,
    message: `You reached this project's limit of ${words}: you can send the next one in ${retryAfterSeconds} s.`,
  };
}

/** The roles whose reply limit this labeler has used up, read without counting a hit: pages say
 *  so before the labeler writes. */
export async function writeLimits(projectId: string, userId: string, config: WorkflowConfig): Promise<Partial<Record<MessageRole, WriteLimit>>> {
  const roles: MessageRole[] = ["assistant", "prompter"];
  const states = await peekRateLimits(roles.map((role) => ({ key: writeKey(role, projectId, userId), limit: config.rateLimits.replies[role] })));
  const out: Partial<Record<MessageRole, WriteLimit>> = {};
  roles.forEach((role, i) => {
    if (!states[i].allowed) out[role] = writeLimit(role, config, states[i].retryAfterSeconds);
  });
  return out;
}

/** The key draw_task counts a labeler's task requests under. */
const taskRequestKey = (projectId: string, userId: string) => `labeling:tasks:${projectId}:${userId}`;

/** Says so when this labeler's task requests are used up, read without counting one: the chooser
 *  explains at once why no task opened (after a submit whose next draw was refused, say). */
export async function taskRequestLimit(projectId: string, userId: string, config: WorkflowConfig): Promise<string | null> {
  const limit = config.rateLimits.taskRequests;
  const [state] = await peekRateLimits([{ key: taskRequestKey(projectId, userId), limit }]);
  return state.allowed ? null : rateLimitError("task requests", limit, state.retryAfterSeconds).message;
}

/** The error for a writing task asked for while its role's limit is used up. */
export const writeLimitError = (limit: WriteLimit) => new LabelingError("rate_limited", limit.message, {}, limit.retryAfterSeconds);
