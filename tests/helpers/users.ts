// Test accounts and their session cookies, made through the app's own code paths.
import crypto from "node:crypto";
import { createSession } from "~/auth/session.server.ts";
import type { GlobalRole, ProjectRole } from "~/auth/permissions.ts";
import { setMember } from "~/models/project.server.ts";
import { signUp } from "~/models/user.server.ts";

export async function createTestUser(opts: { role?: GlobalRole; email?: string; password?: string; name?: string } = {}) {
  const email = opts.email ?? `user-${crypto.randomBytes(4).toString("hex")}@test.local`;
  const password = opts.password ?? "correct horse battery";
  const user = await signUp({ email, displayName: opts.name ?? email.split("@")[0], password }, { role: opts.role ?? "user", bypassSignupPolicy: true });
  const setCookie = await createSession(user.id, "vitest");
  return { user, password, cookie: setCookie.split(";")[0] };
}

export async function addToProject(projectId: string, userId: string, role: ProjectRole) {
  await setMember(projectId, userId, role);
}

/** A Request as the browser would send it. */
export function makeRequest(
  path: string,
  opts: { method?: string; cookie?: string; form?: Record<string, string>; accept?: string } = {},
): Request {
  const headers = new Headers({ Accept: opts.accept ?? "text/html" });
  if (opts.cookie) headers.set("Cookie", opts.cookie);
  let body: URLSearchParams | undefined;
  if (opts.form) {
    body = new URLSearchParams(opts.form);
    headers.set("Content-Type", "application/x-www-form-urlencoded");
  }
  return new Request(`http://localhost${path}`, { method: opts.method ?? (body ? "POST" : "GET"), headers, body });
}

/** Runs a loader/action and returns the status and body, whether it returned or threw. */
export async function call(fn: () => Promise<unknown>): Promise<{ status: number; location: string | null; body: unknown }> {
  let result: unknown;
  try {
    result = await fn();
  } catch (thrown) {
    result = thrown;
  }
  if (result instanceof Response) {
    const text = await result.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: result.status, location: result.headers.get("Location"), body };
  }
  // Remix's data() wrapper (single fetch): { type: "DataWithResponseInit", data, init }.
  if (result && typeof result === "object" && (result as { type?: string }).type === "DataWithResponseInit") {
    const r = result as { data: unknown; init: { status?: number } | null };
    return { status: r.init?.status ?? 200, location: null, body: r.data };
  }
  if (result instanceof Error) throw result;
  return { status: 200, location: null, body: result };
}
