import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { Form, Link, useActionData, useNavigation, useSearchParams } from "@remix-run/react";
import { getViewer } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { hitRateLimit, resetRateLimit } from "~/auth/rate-limit.server.ts";
import { createSession } from "~/auth/session.server.ts";
import { RouteError } from "~/components/route-error.tsx";
import { LoginSchema, fieldErrors, safeRedirect } from "~/domain/accounts/schemas.ts";
import { AccountError, verifyLogin } from "~/models/user.server.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readFormFields } from "~/utils/body.server.ts";

export const access = accessOf.public();
export const meta: MetaFunction = () => [{ title: "Sign in · RLHF Studio" }];

/** Per email and per client address: enough for typos, too few for guessing. */
const LOGIN_LIMIT_PER_EMAIL = { count: 10, windowSeconds: 15 * 60 };
const LOGIN_LIMIT_PER_CLIENT = { count: 50, windowSeconds: 15 * 60 };

export async function loader({ request }: LoaderFunctionArgs) {
  if (await getViewer(request)) throw redirect("/");
  return null;
}

function clientKey(request: Request): string {
  return request.headers.get("X-Forwarded-For")?.split(",")[0]?.trim() || "local";
}

export async function action({ request }: ActionFunctionArgs) {
  const form = await readFormFields(request);
  const parsed = LoginSchema.safeParse(form);
  if (!parsed.success) return badRequest({ fieldErrors: fieldErrors(parsed.error), formError: null });
  const { email, password, redirectTo } = parsed.data;

  const perEmail = await hitRateLimit(`login:email:${email}`, LOGIN_LIMIT_PER_EMAIL);
  const perClient = await hitRateLimit(`login:client:${clientKey(request)}`, LOGIN_LIMIT_PER_CLIENT);
  if (!perEmail.allowed || !perClient.allowed) {
    const wait = Math.max(perEmail.allowed ? 0 : perEmail.retryAfterSeconds, perClient.allowed ? 0 : perClient.retryAfterSeconds);
    return badRequest({ fieldErrors: {}, formError: `Too many sign-in attempts. Try again in ${Math.ceil(wait / 60)} minute(s).` }, 429);
  }

  let user;
  try {
    user = await verifyLogin(email, password);
  } catch (error) {
    if (error instanceof AccountError) return badRequest({ fieldErrors: {}, formError: error.message }, error.status);
    throw error;
  }
  if (!user) return badRequest({ fieldErrors: {}, formError: "Wrong email or password." }, 401);
  await resetRateLimit(`login:email:${email}`);
  const cookie = await createSession(user.id, request.headers.get("User-Agent"));
  throw redirect(safeRedirect(redirectTo), { headers: { "Set-Cookie": cookie } });
}

export default function Login() {
  const actionData = useActionData<typeof action>();
  const [params] = useSearchParams();
  const busy = useNavigation().state === "submitting";
  const errors: Record<string, string[] | undefined> = actionData?.fieldErrors ?? {};
  return (
    <div className="card auth">
      <h1>Sign in</h1>
      <Form method="post" className="stack" noValidate>
        <input type="hidden" name="redirectTo" value={params.get("redirectTo") ?? "/"} />
        <label>
          Email
          <input name="email" type="email" autoComplete="email" required maxLength={254} autoFocus />
        </label>
        {errors.email && <p className="error">{errors.email[0]}</p>}
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required maxLength={128} />
        </label>
        {errors.password && <p className="error">{errors.password[0]}</p>}
        {actionData?.formError && <p className="notice error" role="alert">{actionData.formError}</p>}
        <button type="submit" disabled={busy}>Sign in</button>
      </Form>
      <p className="muted">No account? <Link to="/signup">Sign up</Link></p>
    </div>
  );
}

export const ErrorBoundary = RouteError;
