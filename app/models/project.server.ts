// Projects and their members.
import { prisma } from "~/db.server.ts";
import { Prisma } from "~/generated/prisma/client.ts";
import type { ProjectRole } from "~/auth/permissions.ts";
import { defaultWorkflowConfig, parseWorkflowConfig } from "~/domain/projects/workflow.ts";

export class ProjectError extends Error {
  constructor(message: string, readonly status = 400) {
    super(message);
  }
}

export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$/;

export async function createProject(input: { slug: string; name: string; description?: string; workflowConfig?: unknown }) {
  if (!SLUG_PATTERN.test(input.slug))
    throw new ProjectError("Slug must be 1–48 lowercase letters, digits or dashes, not starting or ending with a dash.");
  const name = input.name.trim();
  if (!name || name.length > 120) throw new ProjectError("Name must be 1–120 characters.");
  let workflowConfig: unknown = defaultWorkflowConfig();
  if (input.workflowConfig !== undefined) {
    const parsed = parseWorkflowConfig(input.workflowConfig);
    if (!parsed.success) throw new ProjectError(`Invalid workflow config: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`);
    workflowConfig = parsed.config;
  }
  try {
    return await prisma.project.create({
      data: { slug: input.slug, name, description: input.description ?? "", workflowConfig: workflowConfig as Prisma.InputJsonValue },
    });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002")
      throw new ProjectError(`A project with slug "${input.slug}" already exists.`, 409);
    throw error;
  }
}

export async function setMember(projectId: string, userId: string, role: ProjectRole) {
  return prisma.projectMember.upsert({
    where: { projectId_userId: { projectId, userId } },
    create: { projectId, userId, role },
    update: { role },
  });
}

/** Projects the user can see, with their role in each (admins see all). */
export async function listProjectsFor(viewer: { id: string; role: "admin" | "user" }) {
  const projects = await prisma.project.findMany({
    where: viewer.role === "admin" ? { archived: false } : { archived: false, members: { some: { userId: viewer.id } } },
    orderBy: { createdAt: "asc" },
    select: {
      id: true,
      slug: true,
      name: true,
      description: true,
      members: { where: { userId: viewer.id }, select: { role: true } },
      _count: { select: { trees: true, messages: true } },
    },
  });
  return projects.map((p) => ({
    id: p.id,
    slug: p.slug,
    name: p.name,
    description: p.description,
    role: p.members[0]?.role ?? null,
    trees: p._count.trees,
    messages: p._count.messages,
  }));
}
