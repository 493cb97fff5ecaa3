import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { useState } from "react";
import { z } from "zod";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { DisableUserButton } from "~/components/disable-user-button.tsx";
import { RouteError } from "~/components/route-error.tsx";
import { prisma } from "~/db.server.ts";
import { isSignupOpen, setSignupOpen } from "~/models/settings.server.ts";
import { InviteSchema, PROJECT_ROLES, RESET_TTL_HOURS } from "~/domain/accounts/schemas.ts";
import { AccountError, createInvite, listInvites, revokeInvite, setUserDisabled, setUserRole } from "~/models/user.server.ts";
import { createPasswordReset } from "~/models/password-reset.server.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readFormFields } from "~/utils/body.server.ts";

export const access = accessOf.global("manage:users");
export const meta: MetaFunction = () => [{ title: "Users · RLHF Studio" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await authorize(request, access);
  const [users, invites, projects, signupOpen] = await Promise.all([
    prisma.user.findMany({
      orderBy: { createdAt: "asc" },
      select: { id: true, email: true, displayName: true, role: true, disabled: true, createdAt: true, lastLoginAt: true },
    }),
    listInvites(),
    prisma.project.findMany({ where: { archived: false }, orderBy: { name: "asc" }, select: { id: true, name: true } }),
    isSignupOpen(),
  ]);
  return { users, invites, projects, signupOpen };
}

const ActionSchema = z.discriminatedUnion("intent", [
  z.object({ intent: z.literal("set-signup"), open: z.enum(["true", "false"]) }),
  z.object({ intent: z.literal("set-disabled"), userId: z.string().uuid(), disabled: z.enum(["true", "false"]) }),
  z.object({ intent: z.literal("set-role"), userId: z.string().uuid(), role: z.enum(["admin", "user"]) }),
  z.object({ intent: z.literal("invite") }).passthrough(),
  z.object({ intent: z.literal("revoke-invite"), inviteId: z.string().uuid("No such invite.") }),
  z.object({ intent: z.literal("reset-link"), userId: z.string().uuid("No such user.") }),
]);

type Result = {
  error: string | null;
  invite: { url: string; expiresAt: string; project: string | null; role: string | null } | null;
  resetLink?: { url: string; expiresAt: string; email: string };
};
const ok: Result = { error: null, invite: null };
const refuse = (error: string, status = 400) => badRequest<Result>({ error, invite: null }, status);
const issues = (error: z.ZodError) => error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");

export async function action({ request }: ActionFunctionArgs) {
  const { viewer } = await authorize(request, access);
  const parsed = ActionSchema.safeParse(await readFormFields(request));
  if (!parsed.success) return refuse(issues(parsed.error));
  const input = parsed.data;
  try {
    switch (input.intent) {
      case "set-signup":
        await setSignupOpen(input.open === "true");
        return ok;
      case "set-disabled":
      case "set-role": {
        if (input.userId === viewer.id) return refuse("You cannot change your own account here.");
        const exists = await prisma.user.count({ where: { id: input.userId } });
        if (!exists) return refuse("No such user.", 404);
        if (input.intent === "set-disabled") await setUserDisabled(input.userId, input.disabled === "true", viewer.id);
        else await setUserRole(input.userId, input.role, viewer.id);
        return ok;
      }
      case "invite": {
        const invite = InviteSchema.safeParse(input);
        if (!invite.success) return refuse(issues(invite.error));
        const { token, expiresAt } = await createInvite({ createdById: viewer.id, ...invite.data });
        const project = invite.data.projectId ? await prisma.project.findUnique({ where: { id: invite.data.projectId }, select: { name: true } }) : null;
        const url = new URL(`/signup?invite=${token}`, request.url).toString();
        return { error: null, invite: { url, expiresAt: expiresAt.toISOString(), project: project?.name ?? null, role: invite.data.projectRole ?? null } };
      }
      case "revoke-invite":
        await revokeInvite(input.inviteId);
        return ok;
      case "reset-link": {
        const { token, expiresAt, email } = await createPasswordReset(input.userId, viewer.id);
        const url = new URL(`/reset-password?token=${token}`, request.url).toString();
        return { ...ok, resetLink: { url, expiresAt: expiresAt.toISOString(), email } };
      }
    }
  } catch (error) {
    if (error instanceof AccountError) return refuse(error.message, error.status);
    throw error;
  }
}

const STATUS_BADGE = { pending: "", used: "ok", expired: "bad", revoked: "bad" } as const;

export default function AdminUsers() {
  const { users, invites, projects, signupOpen } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <div className="stack">
      <h1>Users</h1>
      {result?.error && <p className="notice error" role="alert">{result.error}</p>}
      <div className="card stack">
        <Form method="post">
          <input type="hidden" name="intent" value="set-signup" />
          <input type="hidden" name="open" value={signupOpen ? "false" : "true"} />
          Sign-up is <strong>{signupOpen ? "open to anyone" : "by invitation only"}</strong>.{" "}
          <button type="submit" className="secondary">{signupOpen ? "Close sign-up" : "Open sign-up"}</button>
        </Form>
      </div>

      <div className="card stack">
        <h2>Invites</h2>
        <p className="muted small">
          An invite link creates one account (or lets someone who has one join the project). With a project, the
          invitee joins it in the role chosen here. Links are valid for 14 days and are shown only once.
        </p>
        {/* A fresh form after each invite: the next one starts empty. */}
        <InviteForm key={result?.invite?.url ?? "invite"} projects={projects} />
        {result?.invite && (
          <div className="notice" role="status" data-testid="new-invite">
            Invite link{result.invite.project ? ` to join ${result.invite.project} as ${result.invite.role}` : ""}, valid until{" "}
            {new Date(result.invite.expiresAt).toLocaleDateString()}:
            <input readOnly value={result.invite.url} aria-label="Invite link" onFocus={(e) => e.currentTarget.select()} className="code" />
          </div>
        )}
        {invites.length > 0 && (
          <table data-testid="invites">
            <thead>
              <tr><th>Created</th><th>For</th><th>Project · role</th><th>Status</th><th /></tr>
            </thead>
            <tbody>
              {invites.map((i) => (
                <tr key={i.id}>
                  <td className="small">{new Date(i.createdAt).toLocaleDateString()}<br /><span className="muted">by {i.createdBy.displayName}</span></td>
                  <td>{i.email ?? <span className="muted">anyone with the link</span>}</td>
                  <td>{i.project ? <>{i.project.name} · {i.projectRole}</> : <span className="muted">account only</span>}</td>
                  <td>
                    <span className={`badge ${STATUS_BADGE[i.status]}`}>{i.status}</span>{" "}
                    <span className="muted small">
                      {i.status === "used" && i.usedBy ? `by ${i.usedBy.displayName}` : i.status === "pending" ? `until ${new Date(i.expiresAt).toLocaleDateString()}` : ""}
                    </span>
                  </td>
                  <td>
                    {i.status === "pending" && (
                      <Form method="post">
                        <input type="hidden" name="intent" value="revoke-invite" />
                        <input type="hidden" name="inviteId" value={i.id} />
                        <button type="submit" className="secondary">Revoke</button>
                      </Form>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>

      {result?.resetLink && (
        <div className="notice" role="status" data-testid="reset-link">
          One-time password reset link for {result.resetLink.email}, valid {RESET_TTL_HOURS} hours (until{" "}
          {new Date(result.resetLink.expiresAt).toLocaleString()}); it is shown only once:
          <input readOnly value={result.resetLink.url} aria-label="Reset link" onFocus={(e) => e.currentTarget.select()} className="code" />
        </div>
      )}
      <table className="card" data-testid="users">
        <thead>
          <tr><th>Name</th><th>Email</th><th>Role</th><th>Status</th><th>Last sign-in</th><th /></tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.id}>
              <td>{u.displayName}</td>
              <td>{u.email}</td>
              <td>
                <Form method="post">
                  <input type="hidden" name="intent" value="set-role" />
                  <input type="hidden" name="userId" value={u.id} />
                  <input type="hidden" name="role" value={u.role === "admin" ? "user" : "admin"} />
                  <span className="badge">{u.role}</span>{" "}
                  <button type="submit" className="secondary">{u.role === "admin" ? "Make user" : "Make admin"}</button>
                </Form>
              </td>
              <td>{u.disabled ? <span className="badge bad">disabled</span> : <span className="badge ok">active</span>}</td>
              <td className="muted">{u.lastLoginAt ? new Date(u.lastLoginAt).toLocaleString() : "never"}</td>
              <td className="actions">
                <DisableUserButton userId={u.id} disabled={u.disabled} />
                <Form method="post">
                  <input type="hidden" name="intent" value="reset-link" />
                  <input type="hidden" name="userId" value={u.id} />
                  <button type="submit" className="secondary" aria-label={`Password reset link for ${u.email}`}>Reset link</button>
                </Form>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A new invite: optional email, optional project, and the role in it (off until a project is
 *  picked: without one the invite grants no role). */
function InviteForm({ projects }: { projects: Array<{ id: string; name: string }> }) {
  const [project, setProject] = useState("");
  return (
    <Form method="post" className="inline-form" aria-label="New invite">
      <input type="hidden" name="intent" value="invite" />
      <label>
        Email (optional)
        <input name="email" type="email" placeholder="anyone with the link" maxLength={254} />
      </label>
      <label>
        Project
        <select name="projectId" value={project} onChange={(e) => setProject(e.currentTarget.value)}>
          <option value="">none (account only)</option>
          {projects.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
        </select>
      </label>
      <label>
        Role in the project
        <select name="projectRole" defaultValue="labeler" disabled={!project}>
          {PROJECT_ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
        </select>
      </label>
      <button type="submit">Create invite</button>
    </Form>
  );
}

export const ErrorBoundary = RouteError;
