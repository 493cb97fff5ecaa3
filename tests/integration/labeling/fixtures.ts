// Shared set-up for the labeling service tests: projects with a given workflow, labelers, and
// helpers that request and answer tasks the way a labeler would.
import crypto from "node:crypto";
import { prisma } from "~/db.server.ts";
import type { WorkflowConfigInput } from "~/domain/projects/workflow.ts";
import type { TaskType } from "~/domain/tasks/task-types.ts";
import { createProject } from "~/models/project.server.ts";
import { submitLabels } from "~/models/labeling/labels.server.ts";
import { submitRanking } from "~/models/labeling/rankings.server.ts";
import { requestTask, type TaskRecord } from "~/models/labeling/tasks.server.ts";
import { submitPrompt, submitReply } from "~/models/labeling/writing.server.ts";
import { addToProject, createTestUser } from "../../helpers/users.ts";

/** A workflow for fast tests: tiny trees, one review each, no rate limits in the way. */
export const SMALL_WORKFLOW: WorkflowConfigInput = {
  goalTreeSize: 3,
  maxDepth: 2,
  maxChildrenPerMessage: 2,
  reviewsPerPrompt: 1,
  reviewsPerReply: 1,
  rankingsPerSiblingSet: 3,
  rateLimits: {
    taskRequests: { count: 10_000, windowSeconds: 60 },
    replies: { assistant: { count: 10_000, windowSeconds: 60 }, prompter: { count: 10_000, windowSeconds: 60 } },
  },
};

export async function makeProject(workflowConfig: WorkflowConfigInput = SMALL_WORKFLOW) {
  const slug = `p-${crypto.randomBytes(4).toString("hex")}`;
  return createProject({ slug, name: `Project ${slug}`, workflowConfig });
}

export async function makeLabelers(projectId: string, n: number, role: "labeler" | "moderator" | "manager" = "labeler") {
  const out = [];
  for (let i = 0; i < n; i++) {
    const u = await createTestUser();
    await addToProject(projectId, u.user.id, role);
    out.push(u.user);
  }
  return out;
}

export const GOOD_LABELS = { spam: 0, lang_mismatch: 0, quality: 0.75 };
export const SPAM_LABELS = { spam: 1, lang_mismatch: 0, quality: 0 };

let counter = 0;
export const freshText = (what = "text") => `${what} ${++counter} ${crypto.randomBytes(6).toString("hex")}`;

/** Requests a task of `type` and answers it sensibly; returns the task (throws if none). */
export async function doTask(projectId: string, userId: string, type: TaskType, answer: { labels?: Record<string, number>; order?: (ids: string[]) => string[][] } = {}): Promise<TaskRecord> {
  const task = await requestTask({ projectId, userId, type });
  if (!task) throw new Error(`no ${type} task for ${userId}`);
  await answerTask(projectId, userId, task, answer);
  return task;
}

export async function answerTask(projectId: string, userId: string, task: TaskRecord, answer: { labels?: Record<string, number>; order?: (ids: string[]) => string[][] } = {}) {
  switch (task.type) {
    case "initial_prompt":
      return submitPrompt(projectId, task.id, userId, { text: freshText("prompt") });
    case "assistant_reply":
    case "prompter_reply":
      return submitReply(projectId, task.id, userId, { text: freshText("reply") });
    case "label_initial_prompt":
    case "label_assistant_reply":
    case "label_prompter_reply":
      return submitLabels(projectId, task.id, userId, answer.labels ?? GOOD_LABELS);
    default:
      return submitRanking(projectId, task.id, userId, {
        order: (answer.order ?? ((ids) => ids.map((id) => [id])))([...task.siblingIds]),
      });
  }
}

export async function treeState(treeId: string) {
  return (await prisma.messageTree.findUniqueOrThrow({ where: { id: treeId } })).state;
}
