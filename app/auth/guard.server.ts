// Enforces a route's declared Access: who is asking, and may they? Throws a Response
// (redirect to sign-in for pages, 401/403 JSON otherwise) so loaders stay linear.
import { json, redirect } from "@remix-run/node";
import type { Params } from "@remix-run/react";
import { pgPool, preparedName } from "~/db.server.ts";
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

type ViewerRow = {
  expired: boolean;
  id: string;
  email: string;
  display_name: string;
  role: GlobalRole;
  disabled: boolean;
  project_id: string | null;
  project_slug: string | null;
  project_name: string | null;
  member_role: ProjectRole | null;
};

// Requests run this lookup, so it is one statement on the plain pg pool (see
// docs/decisions/0005-hot-path-sql.md); the JSON API's hot requests make the same check inside
// their own statement (app/auth/session-check.server.ts). Nothing is cached: a disabled user or
// a removed member loses access on the next request. With a slug it also reads the project and
// the viewer's role. Expiry is read on the database's clock, as the check in statements reads it.
const VIEWER_SQL = `
  SELECT s.expires_at <= (now() AT TIME ZONE 'UTC') AS expired, u.id, u.email, u.display_name, u.role::text AS role, u.disabled,
         p.id AS project_id, p.slug AS project_slug, p.name AS project_name, pm.role::text AS member_role
  FROM sessions s
  JOIN users u ON u.id = s.user_id
  LEFT JOIN projects p ON p.slug = $2
  LEFT JOIN project_members pm ON pm.project_id = p.id AND pm.user_id = u.id
  WHERE s.id = $1`;
const VIEWER_STATEMENT = preparedName(VIEWER_SQL);

/** The session's user (expired sessions and disabled accounts count as signed out) and, with a
 *  slug, the project and the user's role in it. */
async function lookupViewer(sessionId: string | null, slug: string | null): Promise<{ viewer: Viewer; row: ViewerRow } | null> {
  if (!sessionId) return null;
  const { rows } = await pgPool.query<ViewerRow>({ name: VIEWER_STATEMENT, text: VIEWER_SQL, values: [sessionId, slug] });
  const row = rows[0];
  if (!row || row.expired || row.disabled) return null;
  return { viewer: { id: row.id, email: row.email, displayName: row.display_name, role: row.role, sessionId }, row };
}

/** The signed-in user, or null. Expired sessions and disabled accounts count as signed out. */
export async function getViewer(request: Request): Promise<Viewer | null> {
  return (await lookupViewer(await readSessionId(request), null))?.viewer ?? null;
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
  return authorizeSession(request, await readSessionId(request), access, params);
}

/** authorize() for a caller that read the request's session id already. */
export async function authorizeSession(request: Request, sessionId: string | null, access: Access, params: Params = {}): Promise<Authorized> {
  if (access.kind === "public") throw new Error("authorize() is for non-public routes; use getViewer()");
  const slug = access.kind === "project" ? (params[access.param] ?? null) : null;
  const found = await lookupViewer(sessionId, slug);
  if (!found) return signedOut(request);
  const { viewer, row } = found;

  if (access.kind === "signed-in") return { viewer, project: null };
  if (access.kind === "global") {
    if (!hasGlobalPermission(viewer.role, access.permission)) forbidden();
    return { viewer, project: null };
  }

  if (!slug) forbidden("No project given.");
  const role = row.member_role;
  // Non-members get the same 403 whether or not the project exists: slugs are not probed.
  if (!row.project_id || !hasProjectPermission(viewer.role, role, access.permission)) {
    if (row.project_id || viewer.role !== "admin") forbidden("You do not have this role in the project.");
    throw json({ error: "No such project." }, { status: 404 });
  }
  return { viewer, project: { id: row.project_id, slug: row.project_slug!, name: row.project_name!, role } };
}
