import type { ActionFunctionArgs } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { destroySession } from "~/auth/session.server.ts";

export const access = accessOf.signedIn();

export async function loader({ request }: ActionFunctionArgs) {
  await authorize(request, access);
  throw redirect("/");
}

export async function action({ request }: ActionFunctionArgs) {
  await authorize(request, access);
  throw redirect("/login", { headers: { "Set-Cookie": await destroySession(request) } });
}
