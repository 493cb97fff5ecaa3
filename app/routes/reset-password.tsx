// Opens an admin's one-time reset link: choose a new password, which ends every session of the
// account and signs this browser in.
import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { access as accessOf } from "~/auth/permissions.ts";
import { createSession } from "~/auth/session.server.ts";
import { RouteError } from "~/components/route-error.tsx";
import { PASSWORD_MAX, PASSWORD_MIN, ResetPasswordSchema, fieldErrors, type FieldErrors } from "~/domain/accounts/schemas.ts";
import { describePasswordReset, resetPassword, resetRefusal } from "~/models/password-reset.server.ts";
import { AccountError } from "~/models/user.server.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readFormFields } from "~/utils/body.server.ts";

export const access = accessOf.public();
export const meta: MetaFunction = () => [{ title: "Reset your password · RLHF Studio" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const token = new URL(request.url).searchParams.get("token") ?? "";
  const state = token ? await describePasswordReset(token.slice(0, 128)) : ({ status: "unknown" } as const);
  return { token, email: state.status === "valid" ? state.email : null, refusal: resetRefusal(state) };
}

export async function action({ request }: ActionFunctionArgs) {
  const parsed = ResetPasswordSchema.safeParse(await readFormFields(request));
  if (!parsed.success) return badRequest({ fieldErrors: fieldErrors(parsed.error), formError: null as string | null });
  try {
    const userId = await resetPassword(parsed.data.token, parsed.data.newPassword);
    throw redirect("/", { headers: { "Set-Cookie": await createSession(userId, request.headers.get("User-Agent")) } });
  } catch (error) {
    if (error instanceof AccountError) return badRequest({ fieldErrors: {} as FieldErrors, formError: error.message as string | null }, error.status);
    throw error;
  }
}

export default function ResetPassword() {
  const { token, email, refusal } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const errors: FieldErrors = result?.fieldErrors ?? {};
  return (
    <div className="card auth">
      <h1>Reset your password</h1>
      {refusal ? (
        <p className="notice error" role="alert">{refusal}</p>
      ) : (
        <Form method="post" className="stack">
          <p className="muted">For {email}. Every place you are signed in will be signed out.</p>
          <input type="hidden" name="token" value={token} />
          <label>
            New password
            <input name="newPassword" type="password" autoComplete="new-password" required minLength={PASSWORD_MIN} maxLength={PASSWORD_MAX} />
          </label>
          {errors.newPassword && <p className="error">{errors.newPassword[0]}</p>}
          <label>
            New password again
            <input name="confirmPassword" type="password" autoComplete="new-password" required maxLength={PASSWORD_MAX} />
          </label>
          {errors.confirmPassword && <p className="error">{errors.confirmPassword[0]}</p>}
          {result?.formError && <p className="notice error" role="alert">{result.formError}</p>}
          <button type="submit">Set password</button>
        </Form>
      )}
    </div>
  );
}

export const ErrorBoundary = RouteError;
