import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { DisableUserButton } from "~/components/disable-user-button.tsx";
import { RouteError } from "~/components/route-error.tsx";
import { prisma } from "~/db.server.ts";
import { isSignupOpen, setSignupOpen } from "~/models/settings.server.ts";
import { createInvite, setUserDisabled, setUserRole } from "~/models/user.server.ts";
import { badRequest } from "~/utils/http.server.ts";

export const access = accessOf.global("manage:users");
export const meta: MetaFunction = () => [{ title: "Users · RLHF Studio" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await authorize(request, access);
  const users = await prisma.user.findMany({
    orderBy: { createdAt: "asc" },
    select: { id: true, email: true, displayName: true, role: true, disabled: true, createdAt: true, lastLoginAt: true },
  });
  return { users, signupOpen: await isSignupOpen() };
}

const ActionSchema = z.discriminatedUnion("intent", [
  z.object({ intent: z.literal("set-signup"), open: z.enum(["true", "false"]) }),
  z.object({ intent: z.literal("set-disabled"), userId: z.string().uuid(), disabled: z.enum(["true", "false"]) }),
  z.object({ intent: z.literal("set-role"), userId: z.string().uuid(), role: z.enum(["admin", "user"]) }),
  z.object({ intent: z.literal("invite"), email: z.union([z.literal(""), z.string().trim().email().max(254)]).optional() }),
]);

export async function action({ request }: ActionFunctionArgs) {
  const { viewer } = await authorize(request, access);
  const parsed = ActionSchema.safeParse(Object.fromEntries(await request.formData()));
  if (!parsed.success) return badRequest({ error: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "), invite: null });
  const input = parsed.data;
  switch (input.intent) {
    case "set-signup":
      await setSignupOpen(input.open === "true");
      return { error: null, invite: null };
    case "set-disabled":
    case "set-role": {
      if (input.userId === viewer.id) return badRequest({ error: "You cannot change your own account here.", invite: null });
      const exists = await prisma.user.count({ where: { id: input.userId } });
      if (!exists) return badRequest({ error: "No such user.", invite: null }, 404);
      if (input.intent === "set-disabled") await setUserDisabled(input.userId, input.disabled === "true");
      else await setUserRole(input.userId, input.role);
      return { error: null, invite: null };
    }
    case "invite": {
      const { token, expiresAt } = await createInvite({ createdById: viewer.id, email: input.email || undefined });
      const url = new URL(`/signup?invite=${token}`, request.url).toString();
      return { error: null, invite: { url, expiresAt: expiresAt.toISOString() } };
    }
  }
}

export default function AdminUsers() {
  const { users, signupOpen } = useLoaderData<typeof loader>();
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
        <Form method="post" style={{ display: "flex", gap: ".5rem" }}>
          <input type="hidden" name="intent" value="invite" />
          <input name="email" type="email" placeholder="Email (optional: binds the invite)" maxLength={254} />
          <button type="submit">Create invite</button>
        </Form>
        {result?.invite && (
          <p className="notice">
            Invite link (valid until {new Date(result.invite.expiresAt).toLocaleDateString()}): <code>{result.invite.url}</code>
          </p>
        )}
      </div>
      <table className="card">
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
              <td>
                <DisableUserButton userId={u.id} disabled={u.disabled} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export const ErrorBoundary = RouteError;
