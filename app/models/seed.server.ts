// The demo data the start command creates: a project with an admin and a labeler, and real
// Open-Assistant trees in every working state. Idempotent: what exists is left as it is
// (passwords included).
import { prisma } from "~/db.server.ts";
import { seedDemoTrees } from "./demo-trees.server.ts";
import { createProject, setMember } from "./project.server.ts";
import { signUp } from "./user.server.ts";

export const DEMO_PROJECT_SLUG = "demo";

export type DemoAccount = { email: string; password: string; role: string; created: boolean };

async function ensureUser(email: string, displayName: string, password: string, role: "admin" | "user") {
  const existing = await prisma.user.findUnique({ where: { email } });
  if (existing) return { user: existing, created: false };
  const user = await signUp({ email, displayName, password }, { role, bypassSignupPolicy: true });
  return { user, created: true };
}

export async function seedDemo(passwords: { admin: string; labeler: string }): Promise<{ project: string; accounts: DemoAccount[] }> {
  const admin = await ensureUser("admin@demo.local", "Demo Admin", passwords.admin, "admin");
  const labeler = await ensureUser("labeler@demo.local", "Demo Labeler", passwords.labeler, "user");
  let project = await prisma.project.findUnique({ where: { slug: DEMO_PROJECT_SLUG } });
  project ??= await createProject({
    slug: DEMO_PROJECT_SLUG,
    name: "Demo project",
    description: "Write prompts and replies, review and rank them.",
    // Open-Assistant's default ranks assistant replies only; the demo shows every task type.
    workflowConfig: { rankPrompterReplies: true },
  });
  await seedDemoTrees(project.id);
  for (const [userId, role] of [[admin.user.id, "manager"], [labeler.user.id, "labeler"]] as const) {
    const member = await prisma.projectMember.findUnique({ where: { projectId_userId: { projectId: project.id, userId } } });
    if (!member) await setMember(project.id, userId, role);
  }
  return {
    project: project.slug,
    accounts: [
      { email: admin.user.email, password: passwords.admin, role: "admin", created: admin.created },
      { email: labeler.user.email, password: passwords.labeler, role: "labeler", created: labeler.created },
    ],
  };
}
