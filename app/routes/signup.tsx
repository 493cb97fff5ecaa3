import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { z } from "zod";
import { authorize, getViewer } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { hitRateLimit } from "~/auth/rate-limit.server.ts";
import { createSession } from "~/auth/session.server.ts";
import { RouteError } from "~/components/route-error.tsx";
import { EMAIL_MAX, NAME_MAX, PASSWORD_MAX, PASSWORD_MIN, SignupSchema, fieldErrors } from "~/domain/accounts/schemas.ts";
import { inviteRefusal } from "~/domain/accounts/invites.ts";
import { isSignupOpen } from "~/models/settings.server.ts";
import { AccountError, acceptInvite, describeInvite, signUp } from "~/models/user.server.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readFormFields } from "~/utils/body.server.ts";

export const access = accessOf.public();
export const meta: MetaFunction = () => [{ title: "Sign up · RLHF Studio" }];

const SIGNUP_LIMIT_PER_CLIENT = { count: 20, windowSeconds: 60 * 60 };

export async function loader({ request }: LoaderFunctionArgs) {
  const invite = new URL(request.url).searchParams.get("invite")?.trim().slice(0, 128) || null;
  const viewer = await getViewer(request);
  // A signed-in user follows a link only to take up a project invite with the account they have.
  if (viewer && !invite) throw redirect("/");
  return {
    open: await isSignupOpen(),
    invite,
    offer: invite ? await describeInvite(invite) : null,
    viewer: viewer && { displayName: viewer.displayName, email: viewer.email },
  };
}

const AcceptSchema = z.object({ intent: z.literal("accept"), invite: z.string().trim().min(1).max(128) });

export async function action({ request }: ActionFunctionArgs) {
  const form = await readFormFields(request);
  if (form.intent === "accept") {
    const { viewer } = await authorize(request, accessOf.signedIn());
    const parsed = AcceptSchema.safeParse(form);
    if (!parsed.success) return badRequest({ fieldErrors: {}, formError: "The invite code is missing." });
    try {
      const { project } = await acceptInvite(parsed.data.invite, viewer);
      throw redirect(`/projects/${project.slug}`);
    } catch (error) {
      if (error instanceof AccountError) return badRequest({ fieldErrors: {}, formError: error.message }, error.status);
      throw error;
    }
  }
  const parsed = SignupSchema.safeParse({ ...form, invite: form.invite || undefined });
  if (!parsed.success) return badRequest({ fieldErrors: fieldErrors(parsed.error), formError: null });

  const client = request.headers.get("X-Forwarded-For")?.split(",")[0]?.trim() || "local";
  const limit = await hitRateLimit(`signup:client:${client}`, SIGNUP_LIMIT_PER_CLIENT);
  if (!limit.allowed) return badRequest({ fieldErrors: {}, formError: "Too many sign-ups from here. Try again later." }, 429);

  try {
    const user = await signUp(parsed.data);
    const cookie = await createSession(user.id, request.headers.get("User-Agent"));
    throw redirect("/", { headers: { "Set-Cookie": cookie } });
  } catch (error) {
    if (error instanceof AccountError) {
      const fieldErrors = error.field === "form" ? {} : { [error.field]: [error.message] };
      return badRequest({ fieldErrors, formError: error.field === "form" ? error.message : null }, error.status);
    }
    throw error;
  }
}

type Offer = NonNullable<ReturnType<typeof useLoaderData<typeof loader>>["offer"]>;

/** What the invite link is for, or why it cannot be used. */
function InviteOffer({ offer }: { offer: Offer | null }) {
  if (!offer) return <p className="notice error" role="alert">This invite code is not valid.</p>;
  const refusal = inviteRefusal(offer.status);
  if (refusal) return <p className="notice error" role="alert">{refusal}</p>;
  return (
    <p className="notice" data-testid="invite-offer">
      {offer.project ? <>You are invited to join <strong>{offer.project.name}</strong> as {offer.projectRole}.</> : "You are invited to create an account."}
      {offer.email && <> The invite is for {offer.email}.</>}
    </p>
  );
}

export default function Signup() {
  const { open, invite, offer, viewer } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const errors: Record<string, string[] | undefined> = actionData?.fieldErrors ?? {};
  if (viewer && invite) {
    return (
      <div className="card auth stack">
        <h1>Join a project</h1>
        <InviteOffer offer={offer} />
        {offer?.project && !inviteRefusal(offer.status) && (
          <Form method="post">
            <input type="hidden" name="intent" value="accept" />
            <input type="hidden" name="invite" value={invite} />
            <p>You are signed in as {viewer.displayName} ({viewer.email}).</p>
            <button type="submit" disabled={busy}>Join {offer.project.name}</button>
          </Form>
        )}
        {actionData?.formError && <p className="notice error" role="alert">{actionData.formError}</p>}
        <p className="muted"><Link to="/">Back to your projects</Link></p>
      </div>
    );
  }
  return (
    <div className="card auth">
      <h1>Create an account</h1>
      {invite && <InviteOffer offer={offer} />}
      {!open && !invite && <p className="notice">Sign-up is by invitation only: paste your invite code below.</p>}
      <Form method="post" className="stack" noValidate>
        <label>
          Email
          <input name="email" type="email" autoComplete="email" required maxLength={EMAIL_MAX} defaultValue={offer?.email ?? ""} />
        </label>
        {errors.email && <p className="error">{errors.email[0]}</p>}
        <label>
          Display name
          <input name="displayName" autoComplete="nickname" required maxLength={NAME_MAX} />
        </label>
        {errors.displayName && <p className="error">{errors.displayName[0]}</p>}
        <label>
          Password
          <input name="password" type="password" autoComplete="new-password" required minLength={PASSWORD_MIN} maxLength={PASSWORD_MAX} />
        </label>
        {errors.password && <p className="error">{errors.password[0]}</p>}
        {(!open || invite) && (
          <label>
            Invite code
            <input name="invite" defaultValue={invite ?? ""} required={!open} />
          </label>
        )}
        {errors.invite && <p className="error">{errors.invite[0]}</p>}
        {actionData?.formError && <p className="notice error" role="alert">{actionData.formError}</p>}
        <button type="submit" disabled={busy}>Sign up</button>
      </Form>
      <p className="muted">
        Have an account? <Link to={invite ? `/login?redirectTo=${encodeURIComponent(`/signup?invite=${invite}`)}` : "/login"}>Sign in</Link>
      </p>
    </div>
  );
}

export const ErrorBoundary = RouteError;
