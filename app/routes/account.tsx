// The signed-in user's own account: display name, password (other sessions end with it), the
// projects they work in, and where they are signed in (end one session, or all of them).
import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { hitRateLimit, resetRateLimit } from "~/auth/rate-limit.server.ts";
import { destroyAllSessionsOf, endSession, listSessions, sessionCookie } from "~/auth/session.server.ts";
import { RouteError } from "~/components/route-error.tsx";
import { ChangePasswordSchema, DisplayNameSchema, NAME_MAX, PASSWORD_MAX, PASSWORD_MIN, fieldErrors, type FieldErrors } from "~/domain/accounts/schemas.ts";
import { AccountError, accountOverview, changeDisplayName, changePassword } from "~/models/user.server.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readFormFields } from "~/utils/body.server.ts";

export const access = accessOf.signedIn();
export const meta: MetaFunction = () => [{ title: "Your account · RLHF Studio" }];

/** Wrong current passwords, per account: enough for typos, too few for guessing from a stolen session. */
const PASSWORD_CHECK_LIMIT = { count: 10, windowSeconds: 15 * 60 };

export async function loader({ request }: LoaderFunctionArgs) {
  const { viewer } = await authorize(request, access);
  const [account, sessions] = await Promise.all([accountOverview(viewer.id), listSessions(viewer.id, viewer.sessionId)]);
  return { account, sessions };
}

type Intent = "display-name" | "password" | "end-session";
type Result = { intent: Intent | null; fieldErrors: FieldErrors; formError: string | null; done: string | null };

const result = (intent: Intent | null, r: Partial<Result>): Result => ({ intent, fieldErrors: {}, formError: null, done: null, ...r });

export async function action({ request }: ActionFunctionArgs) {
  const { viewer } = await authorize(request, access);
  const form = await readFormFields(request);
  if (form.intent === "display-name") {
    const parsed = DisplayNameSchema.safeParse(form);
    if (!parsed.success) return badRequest(result("display-name", { fieldErrors: fieldErrors(parsed.error) }));
    await changeDisplayName(viewer.id, parsed.data.displayName);
    return result("display-name", { done: `Your name is now ${parsed.data.displayName}.` });
  }
  if (form.intent === "password") {
    const parsed = ChangePasswordSchema.safeParse(form);
    if (!parsed.success) return badRequest(result("password", { fieldErrors: fieldErrors(parsed.error) }));
    const key = `password:user:${viewer.id}`;
    const limit = await hitRateLimit(key, PASSWORD_CHECK_LIMIT);
    if (!limit.allowed) {
      const minutes = Math.ceil(limit.retryAfterSeconds / 60);
      return badRequest(result("password", { formError: `Too many wrong passwords. Try again in ${minutes} minute(s).` }), 429);
    }
    try {
      const { otherSessionsEnded } = await changePassword(viewer.id, viewer.sessionId, parsed.data);
      await resetRateLimit(key);
      const ended = otherSessionsEnded === 0 ? "" : ` ${otherSessionsEnded} other session${otherSessionsEnded === 1 ? " was" : "s were"} signed out.`;
      return result("password", { done: `Password changed.${ended}` });
    } catch (error) {
      if (error instanceof AccountError) {
        const fields = error.field === "form" ? {} : { [error.field]: [error.message] };
        return badRequest(result("password", { fieldErrors: fields, formError: error.field === "form" ? error.message : null }), error.status);
      }
      throw error;
    }
  }
  if (form.intent === "end-session") {
    const handle = typeof form.session === "string" ? form.session : "";
    if (!(await endSession(viewer.id, handle))) return badRequest(result("end-session", { formError: "No such session: it may have ended already." }), 404);
    return result("end-session", { done: "That session is signed out." });
  }
  if (form.intent === "sign-out-everywhere") {
    await destroyAllSessionsOf(viewer.id);
    throw redirect("/login", { headers: { "Set-Cookie": await sessionCookie.serialize("", { maxAge: 0 }) } });
  }
  return badRequest(result(null, { formError: "Unknown action." }));
}

function FieldError({ errors, name }: { errors: FieldErrors; name: string }) {
  const message = errors[name]?.[0];
  return message ? <p className="error" id={`${name}-error`}>{message}</p> : null;
}

export default function Account() {
  const { account, sessions } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const navigation = useNavigation();
  const busy = (intent: Intent) => navigation.state === "submitting" && navigation.formData?.get("intent") === intent;
  const of = (intent: Intent) => (actionData?.intent === intent ? actionData : null);
  const name = of("display-name");
  const password = of("password");
  const ended = of("end-session");
  return (
    <div className="stack">
      <h1>Your account</h1>
      {actionData?.intent === null && actionData.formError && <p className="notice error" role="alert">{actionData.formError}</p>}
      <div className="card">
        <p>
          <strong>{account.displayName}</strong> <span className="muted">{account.email}</span>{" "}
          {account.role === "admin" && <span className="badge">admin</span>}
        </p>
        <p className="muted small">
          Account created {new Date(account.createdAt).toLocaleDateString()} · last sign-in{" "}
          {account.lastLoginAt ? new Date(account.lastLoginAt).toLocaleString() : "never"} · {account.sessions} active session
          {account.sessions === 1 ? "" : "s"}
        </p>
        {account.memberships.length > 0 ? (
          <ul className="plain-list" data-testid="memberships">
            {account.memberships.map((m) => (
              <li key={m.project.slug}>
                <Link to={`/projects/${m.project.slug}`}>{m.project.name}</Link> <span className="badge">{m.role}</span>
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted">
            {account.role === "admin" ? "As an admin you can open every project." : "You are not in any project yet. A project manager or admin can add you, or send you an invite."}
          </p>
        )}
      </div>

      <Form method="post" className="card stack" aria-label="Display name">
        <h2>Display name</h2>
        <p className="muted small">Shown to others beside what you write, review and rank, and in the header.</p>
        <input type="hidden" name="intent" value="display-name" />
        <label>
          Display name
          <input
            name="displayName"
            defaultValue={account.displayName}
            key={account.displayName}
            autoComplete="nickname"
            required
            maxLength={NAME_MAX}
            aria-describedby={name?.fieldErrors.displayName ? "displayName-error" : undefined}
          />
        </label>
        <FieldError errors={name?.fieldErrors ?? {}} name="displayName" />
        {name?.done && <p className="notice" role="status">{name.done}</p>}
        <button type="submit" disabled={busy("display-name")}>Save name</button>
      </Form>

      <Form method="post" className="card stack" aria-label="Password" key={password?.done ?? "password"}>
        <h2>Password</h2>
        <p className="muted small">Changing it signs you out everywhere else; this browser stays signed in.</p>
        <input type="hidden" name="intent" value="password" />
        <label>
          Current password
          <input name="currentPassword" type="password" autoComplete="current-password" required maxLength={PASSWORD_MAX} />
        </label>
        <FieldError errors={password?.fieldErrors ?? {}} name="currentPassword" />
        <label>
          New password
          <input name="newPassword" type="password" autoComplete="new-password" required minLength={PASSWORD_MIN} maxLength={PASSWORD_MAX} />
        </label>
        <FieldError errors={password?.fieldErrors ?? {}} name="newPassword" />
        <label>
          New password again
          <input name="confirmPassword" type="password" autoComplete="new-password" required maxLength={PASSWORD_MAX} />
        </label>
        <FieldError errors={password?.fieldErrors ?? {}} name="confirmPassword" />
        {password?.formError && <p className="notice error" role="alert">{password.formError}</p>}
        {password?.done && <p className="notice" role="status">{password.done}</p>}
        <button type="submit" disabled={busy("password")}>Change password</button>
      </Form>

      <section className="card stack" aria-label="Sessions">
        <h2>Where you are signed in</h2>
        <table data-testid="sessions">
          <thead><tr><th>Browser</th><th>Signed in</th><th>Until</th><th /></tr></thead>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.handle}>
                <td>{s.userAgent ?? <span className="muted">unknown</span>} {s.current && <span className="badge ok">this browser</span>}</td>
                <td>{new Date(s.createdAt).toLocaleString()}</td>
                <td className="muted">{new Date(s.expiresAt).toLocaleDateString()}</td>
                <td>
                  {!s.current && (
                    <Form method="post">
                      <input type="hidden" name="intent" value="end-session" />
                      <input type="hidden" name="session" value={s.handle} />
                      <button type="submit" className="secondary">Sign out</button>
                    </Form>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {ended?.formError && <p className="notice error" role="alert">{ended.formError}</p>}
        {ended?.done && <p className="notice" role="status">{ended.done}</p>}
        <Form method="post">
          <input type="hidden" name="intent" value="sign-out-everywhere" />
          <button type="submit" className="danger">Sign out everywhere</button>
        </Form>
      </section>
    </div>
  );
}

export const ErrorBoundary = RouteError;
