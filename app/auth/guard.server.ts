// Enforces a route's declared Access: who is asking, and may they? Throws a Response
// (redirect to sign-in for pages, 401/403 JSON otherwise) so loaders stay linear.
import { json, redirect } from "@remix-run/node";
import type { Params } from "@remix-run/react";
import { prisma } from "~/db.server.ts";
import type { Access, GlobalRole, ProjectRole } from "./permissions.ts";
import { hasGlobalPermission, hasProjectPermission } from "./permissions.ts";
import { readSessionId, sessionCookie } from "./session.server.ts";

export type Viewer = {
  id: string;
  email: string;
  displayName: string;
  role: GlobalRole;
  sessionId: string;
};

export type ProjectContext = { id: string; slug: string; name: string; role: ProjectRole | null };

export type Authorized = { viewer: Viewer; project: ProjectContext | null };

/** The signed-in user, or null. Expired sessions and disabled accounts count as signed out. */
export async function getViewer(request: Request): Promise<Viewer | null> {
  const sessionId = await readSessionId(request);
  if (!sessionId) return null;
  const session = await prisma.session.findUnique({
    where: { id: sessionId },
    select: { expiresAt: true, user: { select: { id: true, email: true, displayName: true, role: true, disabled: true } } },
  });
  if (!session || session.expiresAt <= new Date() || session.user.disabled) return null;
  const { id, email, displayName, role } = session.user;
  return { id, email, displayName, role, sessionId };
}

function wantsHtml(request: Request): boolean {
  return request.method === "GET" && (request.headers.get("Accept") ?? "").includes("text/html");
}

async function signedOut(request: Request): Promise<never> {
  const clear = { "Set-Cookie": await sessionCookie.serialize("", { maxAge: 0 }) };
  if (wantsHtml(request)) {
    const url = new URL(request.url);
    const redirectTo = url.pathname + url.search;
    throw redirect(`/login?redirectTo=${encodeURIComponent(redirectTo)}`, { headers: clear });
  }
  throw json({ error: "Sign in first: no valid session." }, { status: 401, headers: clear });
}

export function forbidden(message = "You do not have permission to do this."): never {
  throw json({ error: message }, { status: 403 });
}

/** Checks `access` for this request; returns the viewer (and the project, for project routes). */
export async function authorize(request: Request, access: Access, params: Params = {}): Promise<Authorized> {
  if (access.kind === "public") throw new Error("authorize() is for non-public routes; use getViewer()");
  const viewer = await getViewer(request);
  if (!viewer) return signedOut(request);

  if (access.kind === "signed-in") return { viewer, project: null };
  if (access.kind === "global") {
    if (!hasGlobalPermission(viewer.role, access.permission)) forbidden();
    return { viewer, project: null };
  }

  const slug = params[access.param];
  if (!slug) forbidden("No project given.");
  const project = await prisma.project.findUnique({
    where: { slug },
    select: { id: true, slug: true, name: true, members: { where: { userId: viewer.id }, select: { role: true } } },
  });
  const role = project?.members[0]?.role ?? null;
  // Non-members get the same 403 whether or not the project exists: slugs are not probed.
  if (!project || !hasProjectPermission(viewer.role, role, access.permission)) {
    if (project || viewer.role !== "admin") forbidden("You do not have this role in the project.");
    throw json({ error: "No such project." }, { status: 404 });
  }
  return { viewer, project: { id: project.id, slug: project.slug, name: project.name, role } };
}
