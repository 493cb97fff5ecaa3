// The session check of a hot request carried by the request's own statement, so that a task
// request or a submit of the JSON API is one statement, not a lookup and then the work
// (docs/decisions/0024-task-slots.md, "The session check in the statement").
//
// The first request of a session for a project runs authorize() as every route does, and this
// process keeps what it found (the viewer and the project) as a hint. The session's next hot
// request takes the caller's id from the hint, and the statement that does the work reads it
// through authorized_user() (migration 20261212100000), which checks in the database everything
// authorize() checks (the session live, its user enabled, the slug naming that project, the role
// holding the permission) and fails the statement otherwise, before anything is written. A
// refused statement drops the hint, and the request runs again behind a full authorize(), which
// answers 401, 403 or 404 as it always does. So the hint saves the lookup; it never grants what
// the database would not.
import type { Params } from "@remix-run/react";
import { Prisma } from "~/generated/prisma/client.ts";
import { authorizeSession, type Authorized } from "./guard.server.ts";
import { PROJECT_PERMISSIONS, type ProjectAccess } from "./permissions.ts";
import { readSessionId } from "./session.server.ts";

/** The caller's id as a hot statement reads it. */
export type SessionCheck = {
  /** `userId` as a statement's uuid argument, checked against the session there until the session is confirmed. */
  user(userId: string): Prisma.Sql;
  /** Runs authorize() unless the session was checked already; before any work that no checked statement covers. */
  confirm(): Promise<void>;
};

/** A check for a caller authorize() has just confirmed: statements take the id as it is. */
const CONFIRMED: SessionCheck = { user: (userId) => Prisma.sql`${userId}::uuid`, confirm: async () => {} };

/** The SQLSTATE of authorized_user()'s refusal. */
const REFUSED = "AU401";

const isRefusal = (error: unknown) => typeof error === "object" && error !== null && (error as { code?: unknown }).code === REFUSED;

/** Hints by session, project slug and permission. Bounded: the oldest go first. A hint only names
 *  whom to check; a stale one costs a refused statement and a full lookup. */
const HINT_LIMIT = 10_000;
const HINT_TTL_MS = 10 * 60_000;
const hints = new Map<string, { authorized: Authorized; at: number }>();

function remember(key: string, authorized: Authorized): void {
  hints.delete(key);
  hints.set(key, { authorized, at: Date.now() });
  if (hints.size > HINT_LIMIT) hints.delete(hints.keys().next().value!);
}

function recall(key: string): Authorized | null {
  const hint = hints.get(key);
  if (!hint) return null;
  if (Date.now() - hint.at > HINT_TTL_MS) {
    hints.delete(key);
    return null;
  }
  return hint.authorized;
}

/**
 * Runs `handle` for a request that needs `access` in a project. With a hint, the viewer and the
 * project are the hint's and `check` carries the session check into the handler's statements;
 * without one (or after a refused statement), authorize() runs first, as for every other route.
 * The handler passes `check.user(id)` where its one statement takes the caller, and calls
 * `check.confirm()` before any work that statement does not cover. An error, or an answer that is
 * not a success, is given only to a confirmed caller: anyone else gets authorize()'s answer.
 */
export async function withSessionCheck(
  request: Request,
  access: ProjectAccess,
  params: Params,
  handle: (authorized: Authorized, check: SessionCheck) => Promise<Response>,
): Promise<Response> {
  const sessionId = await readSessionId(request);
  const slug = params[access.param];
  const key = sessionId && slug ? `${sessionId} ${slug} ${access.permission}` : null;
  const hint = key ? recall(key) : null;
  if (hint) {
    const check = pendingCheck(request, access, params, sessionId!, hint);
    try {
      const response = await handle(hint, check);
      if (response.status >= 400 || !check.carried) await check.confirm();
      return response;
    } catch (error) {
      if (!isRefusal(error)) {
        await check.confirm();
        throw error;
      }
      hints.delete(key!);
    }
  }
  const authorized = await authorizeSession(request, sessionId, access, params);
  if (key) remember(key, authorized);
  return handle(authorized, CONFIRMED);
}

/** A check still to be made: by the first statement that reads the caller's id through it, or by authorize(). */
function pendingCheck(request: Request, access: ProjectAccess, params: Params, sessionId: string, hint: Authorized) {
  const roles = [...PROJECT_PERMISSIONS[access.permission]];
  const check = {
    confirmed: false,
    /** Whether a statement took the caller's id through the check; had the database refused it, the handler would have thrown. */
    carried: false,
    user(userId: string) {
      if (check.confirmed) return Prisma.sql`${userId}::uuid`;
      check.carried = true;
      return Prisma.sql`authorized_user(${sessionId}, ${userId}::uuid, ${hint.project!.id}::uuid, ${hint.project!.slug}, ${roles}::text[])`;
    },
    async confirm() {
      if (check.confirmed) return;
      await authorizeSession(request, sessionId, access, params);
      check.confirmed = true;
    },
  };
  return check;
}
