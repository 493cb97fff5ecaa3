// Project administration: creating projects, editing the workflow config and label schema
// (validated), members and their roles, and progress figures.
import { prisma } from "~/db.server.ts";
import { Prisma } from "~/generated/prisma/client.ts";
import type { ProjectRole } from "~/auth/permissions.ts";
import { parseWorkflowConfig, type WorkflowConfig } from "~/domain/projects/workflow.ts";
import { createProject, ProjectError, setMember } from "~/models/project.server.ts";
import { forgetProjectConfig, projectConfig } from "./config.server.ts";
import { assertUuid, badInput, conflict, LabelingError, notFound } from "./errors.server.ts";
import { NOW } from "./sql.server.ts";

const ROLES: readonly ProjectRole[] = ["manager", "moderator", "labeler"];

/** Creates a project (default workflow unless one is given) with its creator as manager. */
export async function createManagedProject(
  creatorId: string,
  input: { slug: string; name: string; description?: string; workflowConfigJson?: string },
) {
  const workflowConfig = input.workflowConfigJson?.trim() ? parseConfigJson(input.workflowConfigJson) : undefined;
  try {
    const project = await createProject({ slug: input.slug, name: input.name, description: input.description, workflowConfig });
    await setMember(project.id, creatorId, "manager");
    return project;
  } catch (error) {
    if (error instanceof ProjectError) throw new LabelingError(error.status === 409 ? "conflict" : "bad_input", error.message);
    throw error;
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badInput(`The ${what} is not valid JSON: ${(error as Error).message}`, { json: (error as Error).message });
  }
}

/** Parses and validates a workflow config; field errors come back keyed by their dotted path. */
export function parseConfigJson(text: string): WorkflowConfig {
  const parsed = parseWorkflowConfig(parseJson(text, "workflow config"));
  if (!parsed.success) {
    throw badInput(
      `The workflow config is not valid: ${parsed.errors.map((e) => `${e.path || "(config)"}: ${e.message}`).join("; ")}`,
      Object.fromEntries(parsed.errors.map((e) => [e.path || "(config)", e.message])),
    );
  }
  return parsed.config;
}

async function storeConfig(projectId: string, config: WorkflowConfig): Promise<WorkflowConfig> {
  await prisma.project.update({ where: { id: projectId }, data: { workflowConfig: config as unknown as Prisma.InputJsonValue } });
  forgetProjectConfig(projectId);
  return config;
}

/** Replaces the whole workflow config (missing fields take their defaults). */
export async function updateWorkflowConfig(projectId: string, json: string): Promise<WorkflowConfig> {
  return storeConfig(projectId, parseConfigJson(json));
}

/** Replaces only the label schema, validated with the rest of the config. */
export async function updateLabelSchema(projectId: string, json: string): Promise<WorkflowConfig> {
  const current = await projectConfig(projectId);
  const labelSchema = parseJson(json, "label schema");
  const parsed = parseWorkflowConfig({ ...current, labelSchema });
  if (!parsed.success) {
    throw badInput(
      `The label schema is not valid: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`,
      Object.fromEntries(parsed.errors.map((e) => [e.path, e.message])),
    );
  }
  return storeConfig(projectId, parsed.config);
}

export async function listMembers(projectId: string) {
  const rows = await prisma.projectMember.findMany({
    where: { projectId },
    orderBy: [{ role: "asc" }, { createdAt: "asc" }],
    select: { role: true, createdAt: true, user: { select: { id: true, email: true, displayName: true, disabled: true } } },
  });
  return rows.map((r) => ({ ...r.user, role: r.role, addedAt: r.createdAt.toISOString() }));
}

/** Adds an existing account to the project (or changes its role). */
export async function addMemberByEmail(projectId: string, email: string, role: string) {
  if (!(ROLES as readonly string[]).includes(role)) throw badInput(`Role must be one of ${ROLES.join(", ")}.`, { role: "unknown" });
  const user = await prisma.user.findUnique({ where: { email: email.trim().toLowerCase() }, select: { id: true } });
  if (!user) throw notFound(`No account with the email ${email.trim()}. Invite them first.`);
  await setMember(projectId, user.id, role as ProjectRole);
  return user.id;
}

export async function removeMember(projectId: string, userId: string, actorId: string) {
  assertUuid(userId, "member");
  if (userId === actorId) throw conflict("You cannot remove yourself; ask another manager.");
  const { count } = await prisma.projectMember.deleteMany({ where: { projectId, userId } });
  if (count === 0) throw notFound("No such member.");
}

export interface ProjectProgress {
  trees: Partial<Record<string, number>>;
  messages: { total: number; accepted: number; pending: number; rejected: number; deleted: number };
  labels: number;
  rankings: number;
  tasksDoneLastDay: number;
  openTasks: number;
  labelers: number;
}

export async function projectProgress(projectId: string): Promise<ProjectProgress> {
  const [trees, [m], [other]] = await Promise.all([
    prisma.messageTree.groupBy({ by: ["state"], where: { projectId }, _count: true }),
    prisma.$queryRaw<Array<ProjectProgress["messages"]>>`
      SELECT count(*)::int AS total,
             count(*) FILTER (WHERE NOT deleted AND review_result = 'accepted')::int AS accepted,
             count(*) FILTER (WHERE NOT deleted AND review_result = 'pending')::int AS pending,
             count(*) FILTER (WHERE NOT deleted AND review_result = 'rejected')::int AS rejected,
             count(*) FILTER (WHERE deleted)::int AS deleted
      FROM messages WHERE project_id = ${projectId}::uuid`,
    prisma.$queryRaw<Array<{ labels: number; rankings: number; done: number; open: number; labelers: number }>>`
      SELECT (SELECT count(*)::int FROM labels l JOIN messages x ON x.id = l.message_id WHERE x.project_id = ${projectId}::uuid) AS labels,
             (SELECT count(*)::int FROM rankings r JOIN messages x ON x.id = r.parent_message_id WHERE x.project_id = ${projectId}::uuid) AS rankings,
             (SELECT count(*)::int FROM tasks WHERE project_id = ${projectId}::uuid AND state = 'done'
                AND done_at > ${NOW} - interval '1 day') AS done,
             (SELECT count(*)::int FROM tasks WHERE project_id = ${projectId}::uuid AND state IN ('assigned', 'acknowledged')
                AND expires_at > ${NOW}) AS open,
             (SELECT count(*)::int FROM project_members WHERE project_id = ${projectId}::uuid) AS labelers`,
  ]);
  return {
    trees: Object.fromEntries(trees.map((r) => [r.state, r._count])),
    messages: m,
    labels: other.labels,
    rankings: other.rankings,
    tasksDoneLastDay: other.done,
    openTasks: other.open,
    labelers: other.labelers,
  };
}

/** Every project with its headline progress, for the admins' project list. */
export async function listProjectsWithProgress() {
  const projects = await prisma.project.findMany({
    orderBy: { createdAt: "asc" },
    select: { id: true, slug: true, name: true, archived: true, createdAt: true, _count: { select: { members: true } } },
  });
  const counts = await prisma.messageTree.groupBy({ by: ["projectId", "state"], _count: true });
  return projects.map((p) => {
    const mine = counts.filter((c) => c.projectId === p.id);
    const total = mine.reduce((s, c) => s + c._count, 0);
    const exported = mine.find((c) => c.state === "ready_for_export")?._count ?? 0;
    return { ...p, createdAt: p.createdAt.toISOString(), members: p._count.members, trees: total, readyForExport: exported };
  });
}
