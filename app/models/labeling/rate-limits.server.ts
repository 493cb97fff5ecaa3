// Per-user limits on task requests and replies, from the project's workflow config.
import { hitRateLimit, type RateLimit } from "~/auth/rate-limit.server.ts";
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

/** Initial prompts count as prompter messages. */
export function limitReplies(projectId: string, userId: string, role: MessageRole, config: WorkflowConfig): Promise<void> {
  const limit = config.rateLimits.replies[role];
  // Labelers know the prompter as the user (the roles' names stay those of Open-Assistant's data).
  return enforce(`labeling:${role}:${projectId}:${userId}`, limit, `${role === "prompter" ? "user" : "assistant"} messages`);
}
